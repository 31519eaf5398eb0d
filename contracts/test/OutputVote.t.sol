// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./Fixture.t.sol";
import {Position} from "../src/lib/Position.sol";
import {
    ClaimStatus,
    GameOutcome,
    Phase,
    PartitionGame,
    ModelSpec,
    InferenceOpening,
    BoundaryOpening
} from "../src/lib/Types.sol";
import {
    NoOutputTolerance,
    ChallengeWindowClosed,
    UnknownCommitment,
    GameExists,
    NoValidators
} from "../src/lib/Errors.sol";
import {DisputeGame} from "../src/DisputeGame.sol";

/// @notice #18: the output vote. A steering network whose trigger is parked below a ReLU kink, or opened only
///         by inputs the attacker picks, passes every element check and still moves the output: no element is
///         outside its region for `openElement` or `escalate` to name. The claim's output is held to the
///         model's declared tolerance instead: the watcher asks the committee about one output element, the
///         validators re-run the claim's input and vote. The committee's verdicts are played here as the
///         validators cast them; the balances are what matter.
contract OutputVoteTest is Fixture {
    address internal griefer = address(0xBAD);

    /// The honest claim's inference and its output (the last coarse leaf), opened.
    function output() internal view returns (InferenceOpening memory inf, BoundaryOpening memory out) {
        inf = fxInf(false);
        out = fxBoundary(false, FX_SEGMENTS);
    }

    function escalateOutput(address who, bytes32 id, uint32 row, uint32 col) internal returns (bytes32 gid) {
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        bytes32 salt = commit(who, id);
        vm.prank(who);
        gid = game.escalateOutput(id, inf, out, row, col, salt);
    }

    function withdraw(address who) internal {
        vm.prank(who);
        claims.withdraw();
    }

    function drawn(bytes32 gid) internal {
        vm.roll(block.number + committee.DRAW_DELAY() + 1);
        committee.draw(gid);
    }

    function test_escalateOutput_opensAVoteOnTheOutput_succeeds() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 gid = escalateOutput(watcher, id, 0, 0);
        assertEq(
            gid,
            game.partitionGameIdOf(id, 0, watcher, Position.wrap(0)),
            "game id from claim, inference, challenger, 0"
        );
        PartitionGame memory pg = game.partitionGame(gid);
        assertEq(uint8(pg.phase), uint8(Phase.Vote));
        assertEq(pg.reqOp, game.OUTPUT_OP());
        assertEq(pg.hiRoot, fxRoot(false, 4), "the claim's output root");
        assertEq(pg.traceRoot, fxTraceRoot(false), "the inference's trace root");
        assertEq(uint256(pg.inference), 0, "the batch's only inference");
        assertEq(claims.openGames(id), 1);
    }

    /// The attack the vote exists for: every element passes, the output is off (the committee's re-run says
    /// so). The prover loses its bond; the watcher gets its bond back and the reward.
    function test_outputVote_steeredOutput_slashesProver_succeeds() public {
        stakeValidators();
        uint256 proverBefore = prover.balance;
        bytes32 id = fxPost(false);
        uint256 watcherBefore = watcher.balance;
        bytes32 gid = escalateOutput(watcher, id, 0, 0);
        drawn(gid);
        voteAll(gid, true);
        assertEq(uint8(game.partitionGame(gid).outcome), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        withdraw(watcher);
        assertEq(claims.credit(prover), 0, "nothing for the prover");
        // `commit` deals the watcher its bond before it pays it: it ends with the bond back and half the claim bond
        assertEq(watcher.balance, watcherBefore + CHALLENGE_BOND + CLAIM_BOND / 2, "the watcher");
        assertEq(prover.balance, proverBefore - CLAIM_BOND, "the prover lost its bond");
    }

    /// A griefer asking about an honest claim's output loses its bond to the prover; the claim finalizes.
    function test_outputVote_honestOutput_slashesGriefer_succeeds() public {
        stakeValidators();
        uint256 proverBefore = prover.balance;
        bytes32 id = fxPost(false);
        uint256 grieferBefore = griefer.balance;
        bytes32 gid = escalateOutput(griefer, id, 0, 0);
        drawn(gid);
        voteAll(gid, false);
        assertEq(uint8(game.partitionGame(gid).outcome), uint8(GameOutcome.ProverWon));
        vm.warp(block.timestamp + WINDOW + 1);
        claims.finalize(id);
        withdraw(prover);
        assertEq(prover.balance, proverBefore + CHALLENGE_BOND, "the prover: its bond back and the griefer's");
        // `commit` dealt the griefer its bond, and the prover has it now
        assertEq(griefer.balance, grieferBefore, "the griefer lost its bond");
    }

    /// A copier that sees the watcher's vote and asks the same question ranks behind it: the watcher's
    /// earlier commitment takes the reward.
    function test_outputVote_copier_ranksBehindTheWatcher_succeeds() public {
        // enough free stake for two concurrent votes (each seat reserves the penalty)
        address[] memory v = stakeValidators();
        for (uint256 i; i < v.length; ++i) {
            vm.prank(v[i]);
            committee.stake{value: 2 * MIN_STAKE}();
        }
        bytes32 id = fxPost(false);
        bytes32 gw = escalateOutput(watcher, id, 0, 0);
        bytes32 gc = escalateOutput(griefer, id, 0, 0);
        drawn(gw);
        committee.draw(gc);
        voteAll(gc, true);
        voteAll(gw, true);
        payReward(id);
        (address winner,,,,) = claims.rewards(id);
        assertEq(winner, watcher, "the earlier commitment wins");
        assertEq(claims.credit(griefer), CHALLENGE_BOND, "the copier only gets its bond back");
    }

    function test_escalateOutput_modelWithoutTolerance_reverts() public {
        stakeValidators();
        ModelSpec memory s = fxSpec();
        s.profileRoot = keccak256("no tolerance");
        s.outputTolerance = 0;
        bytes32 model = registry.register(s);
        fxModel = model;
        bytes32 id = fxPost(false);
        bytes32 salt = commit(watcher, id);
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        vm.expectRevert(abi.encodeWithSelector(NoOutputTolerance.selector, model));
        vm.prank(watcher);
        game.escalateOutput(id, inf, out, 0, 0, salt);
        assertEq(claims.openGames(id), 0, "nothing changed");
    }

    function test_escalateOutput_windowClosed_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 salt = commit(watcher, id);
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert();
        vm.prank(watcher);
        game.escalateOutput(id, inf, out, 0, 0, salt);
    }

    function test_escalateOutput_withoutCommitment_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 salt = keccak256("never committed");
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, claims.commitmentOf(id, watcher, salt)));
        vm.prank(watcher);
        game.escalateOutput(id, inf, out, 0, 0, salt);
    }

    function test_escalateOutput_twice_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 gid = escalateOutput(watcher, id, 0, 0);
        bytes32 salt = commit(watcher, id);
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        vm.expectRevert(abi.encodeWithSelector(GameExists.selector, gid));
        vm.prank(watcher);
        game.escalateOutput(id, inf, out, 0, 1, salt);
    }

    function test_escalateOutput_noValidators_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 salt = commit(watcher, id);
        (InferenceOpening memory inf, BoundaryOpening memory out) = output();
        vm.expectRevert(NoValidators.selector);
        vm.prank(watcher);
        game.escalateOutput(id, inf, out, 0, 0, salt);
    }
}
