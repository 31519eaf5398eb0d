// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {Claim, ClaimStatus, GameOutcome, Inference} from "../src/lib/Types.sol";
import {
    WrongBond,
    ClaimExists,
    UnknownClaim,
    ClaimNotPending,
    ChallengeWindowOpen,
    NotDisputeGame,
    GameBindingRefused,
    NothingToWithdraw,
    UnknownModel,
    ProofDoesNotVerify,
    CommitmentExists,
    CommitmentNotExpired,
    UnknownCommitment,
    ClaimNotSlashed,
    RewardPaid
} from "../src/lib/Errors.sol";

contract ClaimManagerTest is Base {
    function test_postClaim_succeeds() public {
        Inference[] memory batch = batchOf(traceRoot(TEN));
        // a batch of one: its root is its only leaf, the trace root with the lengths
        bytes32 batchRoot = sha256(abi.encodePacked(bytes1(0x00), traceRoot(TEN), uint32(1), uint32(1)));
        assertEq(claims.batchRootOf(packed(batch)), batchRoot);
        bytes32 id = claims.claimIdOf(modelId, batchRoot, prover);
        vm.expectEmit(true, true, true, true, address(claims));
        emit ClaimManager.ClaimPosted(id, modelId, prover, batchRoot, packed(batch), CLAIM_BOND, DATA_URI);
        assertEq(post(TEN), id);
        Claim memory c = claims.claim(id);
        assertEq(uint8(c.status), uint8(ClaimStatus.Pending));
        assertEq(c.batchRoot, batchRoot);
        assertEq(uint256(c.count), 1);
        assertEq(c.prover, prover);
        assertEq(c.bond, CLAIM_BOND);
        assertEq(address(claims).balance, CLAIM_BOND);
    }

    function test_postClaim_wrongBond_reverts() public {
        Inference[] memory batch = batchOf(traceRoot(TEN));
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongBond.selector, 1, CLAIM_BOND));
        claims.postClaim{value: 1}(modelId, packed(batch), DATA_URI);
    }

    function test_postClaim_unknownModel_reverts() public {
        Inference[] memory batch = batchOf(traceRoot(TEN));
        bytes32 model = keccak256("nope");
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(UnknownModel.selector, model));
        claims.postClaim{value: CLAIM_BOND}(model, packed(batch), DATA_URI);
        assertEq(address(claims).balance, 0);
    }

    function test_postClaim_twice_reverts() public {
        bytes32 id = post(TEN);
        Inference[] memory batch = batchOf(traceRoot(TEN));
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ClaimExists.selector, id));
        claims.postClaim{value: CLAIM_BOND}(modelId, packed(batch), DATA_URI);
    }

    function test_finalize_afterWindow_succeeds() public {
        bytes32 id = post(TEN);
        vm.warp(block.timestamp + WINDOW);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ClaimFinalized(id, prover, CLAIM_BOND);
        claims.finalize(id);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Finalized));
        assertEq(claims.credit(prover), CLAIM_BOND);
    }

    function test_finalize_insideWindow_reverts() public {
        bytes32 id = post(TEN);
        uint256 closes = block.timestamp + WINDOW;
        vm.warp(closes - 1);
        vm.expectRevert(abi.encodeWithSelector(ChallengeWindowOpen.selector, id, closes));
        claims.finalize(id);
    }

    function test_finalize_twice_reverts() public {
        bytes32 id = post(TEN);
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(id);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, id));
        claims.finalize(id);
        assertEq(claims.credit(prover), CLAIM_BOND);
    }

    function test_finalize_unknownClaim_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UnknownClaim.selector, bytes32(0)));
        claims.finalize(bytes32(0));
    }

    function test_withdraw_succeeds() public {
        bytes32 id = post(TEN);
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(id);
        uint256 before = prover.balance;
        vm.prank(prover);
        claims.withdraw();
        assertEq(prover.balance, before + CLAIM_BOND);
        assertEq(claims.credit(prover), 0);
        assertEq(address(claims).balance, 0);
    }

    function test_withdraw_nothing_reverts() public {
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NothingToWithdraw.selector, watcher));
        claims.withdraw();
    }

    function test_openGame_notDisputeGame_reverts() public {
        bytes32 id = post(TEN);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NotDisputeGame.selector, watcher));
        claims.openGame(id, watcher, bytes32(0));
    }

    function test_closeGame_notDisputeGame_reverts() public {
        bytes32 id = post(TEN);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NotDisputeGame.selector, watcher));
        claims.closeGame(id, watcher, 0, GameOutcome.ChallengerWon);
    }

    function test_bindDisputeGame_twice_reverts() public {
        vm.expectRevert(GameBindingRefused.selector);
        claims.bindDisputeGame(address(1));
    }

    /// A game naming the claim's inference with a trace root the batch does not hold is refused.
    function test_traceRootOf_wrongTraceRoot_reverts() public {
        bytes32 id = post(TEN);
        Claim memory c = claims.claim(id);
        bytes32 other = traceRoot(TEN + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ProofDoesNotVerify.selector, inferenceLeaf(atFixedLengths(other)), c.batchRoot)
        );
        claims.traceRootOf(c, single(other));
        assertEq(claims.traceRootOf(c, infOf(TEN)), traceRoot(TEN));
    }

    // ------------------------------------------------------------------ commitments and rewards

    function test_commitChallenge_twice_reverts() public {
        bytes32 id = post(TEN);
        bytes32 h = claims.commitmentOf(id, watcher, "s");
        vm.startPrank(watcher);
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        vm.expectRevert(abi.encodeWithSelector(CommitmentExists.selector, h));
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        vm.stopPrank();
        assertEq(claims.committed(), CHALLENGE_BOND);
    }

    /// An unused commitment is burned once every claim it could name is settled, and not before.
    function test_expireCommitment_burnsAfterItsWindow_succeeds() public {
        bytes32 id = post(TEN);
        bytes32 h = claims.commitmentOf(id, watcher, "s");
        vm.prank(watcher);
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        uint256 expires = block.timestamp + WINDOW + GRACE;
        vm.expectRevert(abi.encodeWithSelector(CommitmentNotExpired.selector, h, expires));
        claims.expireCommitment(h);
        vm.warp(expires + 1);
        claims.expireCommitment(h);
        assertEq(claims.burned(), CHALLENGE_BOND);
        assertEq(claims.committed(), 0);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, h));
        claims.expireCommitment(h);
    }

    /// A commitment comes back only when the claim it names was slashed; a pending claim keeps it.
    function test_refundCommitment_claimNotSlashed_reverts() public {
        bytes32 id = post(TEN);
        bytes32 h = claims.commitmentOf(id, watcher, "s");
        vm.startPrank(watcher);
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotSlashed.selector, id));
        claims.refundCommitment(id, "s");
        vm.stopPrank();
        assertEq(claims.credit(watcher), 0);
    }

    function test_payReward_twiceOrUnslashed_reverts() public {
        bytes32 id = post(TEN + 3);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotSlashed.selector, id));
        claims.payReward(id);
        challenge(id, infOf(TEN + 3), challengeOf(TEN + 3));
        payReward(id);
        vm.expectRevert(abi.encodeWithSelector(RewardPaid.selector, id));
        claims.payReward(id);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
    }
}
