// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Committee, IVoteSettler} from "../src/Committee.sol";
import {
    BadCommitteeParams,
    GameBindingRefused,
    NotDisputeGame,
    NothingToWithdraw,
    StakeTooSmall,
    NoValidators,
    VoteExists,
    UnknownVote,
    NotSelected,
    CommitClosed,
    AlreadyCommitted,
    RevealClosed,
    NotCommitted,
    AlreadyRevealed,
    VoteMismatch,
    VoteNotOver,
    StakeLocked,
    WithdrawalNotRequested,
    WithdrawalNotReady,
    DrawNotReady,
    AlreadyDrawn,
    NotDrawn
} from "../src/lib/Errors.sol";

/// @notice The cheatcode that fixes a past block's hash (PRBTest's `Vm` predates it).
interface VmBlocks {
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
}

/// @notice The committee on its own: this test contract is its bound game (it opens votes and records the
///         verdicts it is sent).
contract CommitteeTest is PRBTest, IVoteSettler {
    Committee internal c;
    uint256 internal constant MIN = 1 ether;
    uint256 internal constant PENALTY = 0.5 ether;
    uint64 internal constant DELAY = 7 days;
    uint64 internal constant WINDOW = 1 hours;
    bytes32 internal constant VOTE = keccak256("vote");

    address[] internal vals;
    mapping(bytes32 => uint8) internal verdict; // 0 none, 1 inside, 2 outside

    function settleVote(bytes32 voteId, bool outside) external {
        require(msg.sender == address(c), "only the committee");
        verdict[voteId] = outside ? 2 : 1;
    }

    function setUp() public {
        c = new Committee(MIN, DELAY, 3, WINDOW, WINDOW, PENALTY);
        c.bindGame(address(this));
        for (uint256 i; i < 5; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            address v = address(uint160(0x1000 + i));
            vals.push(v);
            vm.deal(v, 10 ether);
        }
    }

    function stakeAll(uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            vm.prank(vals[i]);
            c.stake{value: MIN}();
        }
    }

    /// Commits as `v` (the commitment hashed here, as a validator does off-chain: `commitmentOf`'s formula).
    function commitAs(address v, bytes32 id, bool outside) internal {
        bytes32 commitment = keccak256(abi.encode(id, v, outside, bytes32(uint256(uint160(v)))));
        vm.prank(v);
        c.commit(id, commitment);
    }

    function revealAs(address v, bytes32 id, bool outside) internal {
        vm.prank(v);
        c.reveal(id, outside, bytes32(uint256(uint160(v))));
    }

    /// Opens vote `id` and draws it once its draw block is sealed.
    function openDrawn(bytes32 id) internal returns (address[] memory) {
        c.open(id, bytes32(0));
        return drawNow(id);
    }

    /// Draws vote `id` in the block after its draw block (whose hash is set to one derived from the id).
    function drawNow(bytes32 id) internal returns (address[] memory) {
        (, uint64 drawBlock,,,,,,) = c.vote(id);
        if (block.number <= drawBlock) vm.roll(drawBlock + 1);
        VmBlocks(address(vm)).setBlockhash(drawBlock, keccak256(abi.encode("block", id)));
        return c.draw(id);
    }

    function stakeOf(address v) internal view returns (uint256 s) {
        (s,,) = c.validator(v);
    }

    /// ETH held = every stake + every credit (validators, and the deployer's treasury: this contract).
    function conserved() internal view returns (bool) {
        uint256 sum = c.credit(address(this));
        for (uint256 i; i < vals.length; ++i) {
            sum += stakeOf(vals[i]) + c.credit(vals[i]);
        }
        return sum == address(c).balance;
    }

    // ------------------------------------------------------------------ constructor, bindGame

    function test_constructor_penaltyAboveStake_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(BadCommitteeParams.selector, 3, 2 ether, MIN));
        new Committee(MIN, DELAY, 3, WINDOW, WINDOW, 2 ether);
    }

    function test_bindGame_twice_reverts() public {
        vm.expectRevert(GameBindingRefused.selector);
        c.bindGame(address(0xBEEF));
    }

    function test_commitmentOf_isTheAbiEncodedHash_succeeds() public {
        bytes32 salt = keccak256("salt");
        assertEq(c.commitmentOf(VOTE, vals[0], true, salt), keccak256(abi.encode(VOTE, vals[0], true, salt)));
    }

    // ------------------------------------------------------------------ stake

    function test_stake_entersPool_succeeds() public {
        vm.expectEmit(true, false, false, true, address(c));
        emit Committee.Staked(vals[0], MIN, MIN);
        stakeAll(1);
        assertEq(c.poolSize(), 1);
        assertEq(stakeOf(vals[0]), MIN);
    }

    function test_stake_belowMinimum_staysOutOfPool_succeeds() public {
        vm.prank(vals[0]);
        c.stake{value: MIN / 2}();
        assertEq(c.poolSize(), 0);
        vm.prank(vals[0]);
        c.stake{value: MIN / 2}();
        assertEq(c.poolSize(), 1, "listed once it reaches the minimum");
    }

    function test_stake_zero_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(StakeTooSmall.selector, 0, MIN));
        vm.prank(vals[0]);
        c.stake();
    }

    // ------------------------------------------------------------------ open

    function test_open_drawsDistinctMembersAndLocksThem_succeeds() public {
        stakeAll(5);
        address[] memory m = openDrawn(VOTE);
        assertEq(m.length, 3);
        for (uint256 i; i < 3; ++i) {
            for (uint256 j = i + 1; j < 3; ++j) {
                assertTrue(m[i] != m[j], "members are distinct");
            }
            (,, uint32 locks) = c.validator(m[i]);
            assertEq(locks, 1);
        }
    }

    function test_open_fewerValidatorsThanSeats_drawsAll_succeeds() public {
        stakeAll(2);
        assertEq(openDrawn(VOTE).length, 2);
    }

    function test_open_notGame_reverts() public {
        stakeAll(3);
        vm.prank(vals[0]);
        vm.expectRevert(abi.encodeWithSelector(NotDisputeGame.selector, vals[0]));
        c.open(VOTE, bytes32(0));
    }

    function test_open_noValidators_reverts() public {
        vm.expectRevert(NoValidators.selector);
        c.open(VOTE, bytes32(0));
    }

    function test_open_twice_reverts() public {
        stakeAll(3);
        c.open(VOTE, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(VoteExists.selector, VOTE));
        c.open(VOTE, bytes32(0));
    }

    // ------------------------------------------------------------------ draw

    function test_draw_beforeItsBlockIsSealed_reverts() public {
        stakeAll(3);
        c.open(VOTE, bytes32(0));
        uint64 drawBlock = uint64(block.number) + c.DRAW_DELAY();
        vm.roll(drawBlock);
        vm.expectRevert(abi.encodeWithSelector(DrawNotReady.selector, VOTE, drawBlock));
        c.draw(VOTE);
    }

    function test_draw_twice_reverts() public {
        stakeAll(3);
        openDrawn(VOTE);
        vm.expectRevert(abi.encodeWithSelector(AlreadyDrawn.selector, VOTE));
        c.draw(VOTE);
    }

    function test_commit_beforeTheDraw_reverts() public {
        stakeAll(3);
        c.open(VOTE, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(NotDrawn.selector, VOTE, uint64(block.number) + c.DRAW_DELAY()));
        commitAs(vals[0], VOTE, true);
    }

    /// The draw block's hash is gone after 256 blocks: the draw moves to a fresh block instead of drawing from
    /// a zero hash.
    function test_draw_after256Blocks_isDeferred_succeeds() public {
        stakeAll(3);
        c.open(VOTE, bytes32(0));
        vm.roll(block.number + 300);
        vm.expectEmit(true, false, false, true, address(c));
        emit Committee.DrawDeferred(VOTE, uint64(block.number) + c.DRAW_DELAY());
        assertEq(c.draw(VOTE).length, 0);
        address[] memory m = drawNow(VOTE);
        assertEq(m.length, 3);
    }

    /// The same vote drawn from two different block hashes seats different members: the draw is fixed by a
    /// block sealed after the escalation, not by anything known when it was sent.
    function test_draw_dependsOnTheDrawBlocksHash_succeeds() public {
        stakeAll(5);
        c.open(VOTE, bytes32(0));
        c.open(keccak256("other"), bytes32(0));
        (, uint64 drawBlock,,,,,,) = c.vote(VOTE);
        vm.roll(drawBlock + 1);
        VmBlocks(address(vm)).setBlockhash(drawBlock, keccak256("a"));
        address[] memory a = c.draw(VOTE);
        VmBlocks(address(vm)).setBlockhash(drawBlock, keccak256("b"));
        address[] memory b = c.draw(keccak256("other"));
        bool differ;
        for (uint256 i; i < 3; ++i) {
            differ = differ || a[i] != b[i];
        }
        assertTrue(differ);
    }

    /// #17 attack 5: a validator silent on several seats loses the full penalty of every seat. Its seats
    /// reserve the penalties, and a validator whose free stake falls below the minimum is not drawn again.
    function test_draw_everySeatsPenaltyCovered_succeeds() public {
        vm.prank(vals[0]);
        c.stake{value: 2 ether}();
        openDrawn(VOTE);
        // 2 ETH with 0.5 reserved per seat and a 1 ETH minimum free: three seats, then out of the draw
        assertEq(c.seatsOf(VOTE, vals[0]), 3);
        (uint256 reserved, uint256 weight) = c.reservation(vals[0]);
        assertEq(reserved, 3 * PENALTY);
        assertEq(weight, 0);
        vm.expectRevert(NoValidators.selector);
        c.open(keccak256("another"), bytes32(0));
        (, uint64 revealEnd) = windows();
        vm.warp(revealEnd + 1);
        c.resolve(VOTE);
        assertEq(stakeOf(vals[0]), 2 ether - 3 * PENALTY, "every silent seat paid its penalty");
        assertTrue(conserved());
    }

    /// Every validator leaves between the escalation and the draw: the vote ends as a tie (the claim stands).
    function test_draw_nobodyLeft_endsAsATie_succeeds() public {
        stakeAll(1);
        c.open(VOTE, bytes32(0));
        vm.prank(vals[0]);
        c.requestWithdrawal();
        assertEq(drawNow(VOTE).length, 0);
        assertEq(verdict[VOTE], 1, "the claim stands");
    }

    /// #17 attack 7: a Sybil pool of a thousand validators does not push a draw over any limit (the draw walks a
    /// Fenwick tree, not the pool).
    function test_draw_thousandValidators_gasStaysLogarithmic_succeeds() public {
        for (uint256 i; i < 1000; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            address v = address(uint160(0x100000 + i));
            vm.deal(v, MIN);
            vm.prank(v);
            c.stake{value: MIN}();
        }
        assertEq(c.poolSize(), 1000);
        uint256 g = gasleft();
        c.open(VOTE, bytes32(0));
        uint256 openGas = g - gasleft();
        vm.roll(block.number + c.DRAW_DELAY() + 1);
        g = gasleft();
        c.draw(VOTE);
        uint256 drawGas = g - gasleft();
        emit LogNamedUint256("open, 1000 validators", openGas);
        emit LogNamedUint256("draw of 3 seats, 1000 validators", drawGas);
        assertLt(openGas, 100_000);
        assertLt(drawGas, 600_000);
        uint256 pool = c.poolSize();
        vm.prank(address(uint160(0x100000 + 999)));
        c.requestWithdrawal();
        assertLte(c.poolSize(), pool);
    }

    // ------------------------------------------------------------------ commit

    function test_commit_notMember_reverts() public {
        stakeAll(3);
        openDrawn(VOTE);
        vm.expectRevert(abi.encodeWithSelector(NotSelected.selector, VOTE, vals[4]));
        commitAs(vals[4], VOTE, true);
    }

    function test_commit_twice_reverts() public {
        stakeAll(3);
        address v = openDrawn(VOTE)[0];
        commitAs(v, VOTE, true);
        vm.expectRevert(abi.encodeWithSelector(AlreadyCommitted.selector, VOTE, v));
        commitAs(v, VOTE, false);
    }

    function test_commit_afterWindow_reverts() public {
        stakeAll(3);
        address v = openDrawn(VOTE)[0];
        (uint64 commitEnd,) = windows();
        vm.warp(commitEnd + 1);
        vm.expectRevert(abi.encodeWithSelector(CommitClosed.selector, VOTE, commitEnd));
        commitAs(v, VOTE, true);
    }

    function test_commit_unknownVote_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UnknownVote.selector, VOTE));
        commitAs(vals[0], VOTE, true);
    }

    function windows() internal view returns (uint64 commitEnd, uint64 revealEnd) {
        (,, commitEnd, revealEnd,,,,) = c.vote(VOTE);
    }

    // ------------------------------------------------------------------ ballotOf

    function test_ballotOf_tracksCommitThenReveal_succeeds() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        (bytes32 commitment, uint8 ballot) = c.ballotOf(VOTE, m[0]);
        assertEq(commitment, bytes32(0));
        assertEq(ballot, 0);
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, i != 1);
        }
        (commitment, ballot) = c.ballotOf(VOTE, m[0]);
        assertEq(commitment, c.commitmentOf(VOTE, m[0], true, bytes32(uint256(uint160(m[0])))));
        assertEq(ballot, 0, "nothing revealed yet");
        revealAs(m[0], VOTE, true);
        revealAs(m[1], VOTE, false);
        (, ballot) = c.ballotOf(VOTE, m[0]);
        assertEq(ballot, 2, "outside");
        (, ballot) = c.ballotOf(VOTE, m[1]);
        assertEq(ballot, 1, "inside");
    }

    // ------------------------------------------------------------------ reveal

    function test_reveal_beforeEveryoneCommitted_reverts() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        commitAs(m[0], VOTE, true);
        (uint64 commitEnd,) = windows();
        vm.expectRevert(abi.encodeWithSelector(CommitClosed.selector, VOTE, commitEnd));
        revealAs(m[0], VOTE, true);
    }

    function test_reveal_notMatchingCommit_reverts() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, true);
        }
        vm.expectRevert(abi.encodeWithSelector(VoteMismatch.selector, VOTE, m[0]));
        revealAs(m[0], VOTE, false);
    }

    function test_reveal_twice_reverts() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, true);
        }
        revealAs(m[0], VOTE, true);
        vm.expectRevert(abi.encodeWithSelector(AlreadyRevealed.selector, VOTE, m[0]));
        revealAs(m[0], VOTE, true);
    }

    function test_reveal_withoutCommit_reverts() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        commitAs(m[0], VOTE, true);
        (uint64 commitEnd,) = windows();
        vm.warp(commitEnd + 1);
        vm.expectRevert(abi.encodeWithSelector(NotCommitted.selector, VOTE, m[1]));
        revealAs(m[1], VOTE, true);
    }

    function test_reveal_afterWindow_reverts() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, true);
        }
        (, uint64 revealEnd) = windows();
        vm.warp(revealEnd + 1);
        vm.expectRevert(abi.encodeWithSelector(RevealClosed.selector, VOTE, revealEnd));
        revealAs(m[0], VOTE, true);
    }

    // ------------------------------------------------------------------ resolve

    function test_resolve_majorityOutside_slashesMinorityToMajority_succeeds() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        bool[3] memory ballot = [true, true, false];
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, ballot[i]);
        }
        for (uint256 i; i < 3; ++i) {
            revealAs(m[i], VOTE, ballot[i]);
        }
        vm.expectEmit(true, true, false, true, address(c));
        emit Committee.MemberSlashed(VOTE, m[2], PENALTY);
        assertTrue(c.resolve(VOTE));
        assertEq(verdict[VOTE], 2, "the game got `outside`");
        assertEq(stakeOf(m[2]), MIN - PENALTY);
        assertEq(c.credit(m[0]), PENALTY / 2);
        assertEq(c.credit(m[1]), PENALTY / 2);
        assertEq(c.poolSize(), 2, "a stake below the minimum leaves the draw");
        (,, uint32 locks) = c.validator(m[0]);
        assertEq(locks, 0);
        assertTrue(conserved());
    }

    function test_resolve_silentMemberIsSlashed_succeeds() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        commitAs(m[0], VOTE, false);
        commitAs(m[1], VOTE, false);
        (uint64 commitEnd, uint64 revealEnd) = windows();
        vm.warp(commitEnd + 1);
        revealAs(m[0], VOTE, false);
        revealAs(m[1], VOTE, false);
        vm.expectRevert(abi.encodeWithSelector(VoteNotOver.selector, VOTE, revealEnd));
        c.resolve(VOTE);
        vm.warp(revealEnd + 1);
        assertFalse(c.resolve(VOTE));
        assertEq(verdict[VOTE], 1, "the claim stands");
        assertEq(stakeOf(m[2]), MIN - PENALTY);
        assertTrue(conserved());
    }

    function test_resolve_tieKeepsTheClaim_succeeds() public {
        stakeAll(2);
        address[] memory m = openDrawn(VOTE);
        commitAs(m[0], VOTE, true);
        commitAs(m[1], VOTE, false);
        revealAs(m[0], VOTE, true);
        revealAs(m[1], VOTE, false);
        assertFalse(c.resolve(VOTE));
        assertEq(verdict[VOTE], 1);
        assertTrue(conserved());
    }

    function test_resolve_twice_reverts() public {
        stakeAll(1);
        address[] memory m = openDrawn(VOTE);
        commitAs(m[0], VOTE, true);
        revealAs(m[0], VOTE, true);
        c.resolve(VOTE);
        vm.expectRevert(abi.encodeWithSelector(UnknownVote.selector, VOTE));
        c.resolve(VOTE);
    }

    /// Any ballots (none, inside, outside per member): the majority of revealed ballots decides (ties keep the
    /// claim), every slashed wei lands in someone's credit, and no stake stays locked.
    function testFuzz_resolve_majorityAndConservation_succeeds(uint8 b0, uint8 b1, uint8 b2, uint8 n) public {
        n = 1 + n % 5;
        stakeAll(n);
        address[] memory m = openDrawn(VOTE);
        uint8[3] memory b = [b0 % 3, b1 % 3, b2 % 3];
        uint256 outs;
        uint256 ins;
        for (uint256 i; i < m.length; ++i) {
            if (b[i] != 0) commitAs(m[i], VOTE, b[i] == 2);
        }
        (uint64 commitEnd, uint64 revealEnd) = windows();
        vm.warp(commitEnd + 1);
        for (uint256 i; i < m.length; ++i) {
            if (b[i] != 0) {
                revealAs(m[i], VOTE, b[i] == 2);
                if (b[i] == 2) ++outs;
                else ++ins;
            }
        }
        vm.warp(revealEnd + 1);
        assertEq(c.resolve(VOTE), outs > ins);
        assertTrue(conserved());
        for (uint256 i; i < m.length; ++i) {
            (,, uint32 locks) = c.validator(m[i]);
            assertEq(locks, 0);
        }
    }

    // ------------------------------------------------------------------ withdrawals

    function test_withdrawStake_afterDelay_succeeds() public {
        stakeAll(1);
        vm.startPrank(vals[0]);
        c.requestWithdrawal();
        assertEq(c.poolSize(), 0, "out of the draw at once");
        vm.warp(block.timestamp + DELAY);
        uint256 before = vals[0].balance;
        assertEq(c.withdrawStake(), MIN);
        assertEq(vals[0].balance, before + MIN);
        vm.stopPrank();
    }

    function test_withdrawStake_beforeDelay_reverts() public {
        stakeAll(1);
        vm.startPrank(vals[0]);
        c.requestWithdrawal();
        vm.expectRevert(abi.encodeWithSelector(WithdrawalNotReady.selector, vals[0], uint64(block.timestamp) + DELAY));
        c.withdrawStake();
        vm.stopPrank();
    }

    function test_withdrawStake_notRequested_reverts() public {
        stakeAll(1);
        vm.expectRevert(abi.encodeWithSelector(WithdrawalNotRequested.selector, vals[0]));
        vm.prank(vals[0]);
        c.withdrawStake();
    }

    function test_withdrawStake_whileOnAVote_reverts() public {
        stakeAll(1);
        openDrawn(VOTE);
        vm.startPrank(vals[0]);
        c.requestWithdrawal();
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(StakeLocked.selector, vals[0], 1));
        c.withdrawStake();
        vm.stopPrank();
    }

    function test_withdrawCredit_nothing_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(NothingToWithdraw.selector, vals[0]));
        vm.prank(vals[0]);
        c.withdrawCredit();
    }

    function test_withdrawCredit_reward_succeeds() public {
        stakeAll(3);
        address[] memory m = openDrawn(VOTE);
        bool[3] memory ballot = [true, false, false];
        for (uint256 i; i < 3; ++i) {
            commitAs(m[i], VOTE, ballot[i]);
        }
        for (uint256 i; i < 3; ++i) {
            revealAs(m[i], VOTE, ballot[i]);
        }
        c.resolve(VOTE);
        uint256 before = m[1].balance;
        vm.prank(m[1]);
        assertEq(c.withdrawCredit(), PENALTY / 2);
        assertEq(m[1].balance, before + PENALTY / 2);
        assertTrue(conserved());
    }
}
