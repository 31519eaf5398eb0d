// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Linear} from "../src/ops/Linear.sol";
import {Base} from "./Base.t.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {ElementChallenge, InferenceOpening, ClaimStatus, GameOutcome, ModelSpec, modelIdOf} from "../src/lib/Types.sol";
import {
    ChallengeWindowClosed,
    ClaimNotPending,
    WrongBond,
    UnknownCommitment,
    RewardNotSettled,
    CommitmentTooFresh,
    GameExists,
    OpOutOfRange,
    ElementOutOfRange,
    ChunkLengthMismatch,
    FineTraceRequired,
    UnknownModel,
    BadLengths
} from "../src/lib/Errors.sol";

contract DisputeGameTest is Base {
    /// x . w = 1 + 2 + 3 + 4 is computed exactly by every order, so its region is the point {10}: the honest
    /// value is inside, 10 + 3 ulp (inside gamma_4 * 10, which a per-layer tolerance would accept) is outside.
    uint32 internal constant INSIDE = TEN;
    uint32 internal constant OUTSIDE = TEN + 3;

    function test_challenge_outsideBound_slashesProver_succeeds() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        bytes32 gid = game.gameIdOf(id, 0, watcher, 0, 0, 0);
        bytes32 salt = commit(watcher, id);
        uint64 rank = uint64(block.number - 1);
        vm.expectEmit(true, true, true, true, address(game));
        emit DisputeGame.GameResolved(gid, id, watcher, 0, 0, 0, 0, OUTSIDE, GameOutcome.ChallengerWon);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ProverSlashed(id, watcher, rank, CLAIM_BOND / 2, CLAIM_BOND / 2);
        vm.prank(watcher);
        assertEq(game.challenge(id, inf, c, salt), gid);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        // the bond back at once; the reward once the grace is over; half the claim bond burned
        assertEq(claims.credit(watcher), CHALLENGE_BOND);
        assertEq(claims.credit(prover), 0);
        assertEq(uint8(game.game(gid).outcome), uint8(GameOutcome.ChallengerWon));
        vm.expectRevert(abi.encodeWithSelector(RewardNotSettled.selector, id, block.timestamp + GRACE));
        claims.payReward(id);
        vm.warp(block.timestamp + GRACE + 1);
        claims.payReward(id);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
        uint256 before = watcher.balance;
        vm.prank(watcher);
        claims.withdraw();
        assertEq(watcher.balance, before + CHALLENGE_BOND + CLAIM_BOND / 2);
        assertEq(address(claims).balance, CLAIM_BOND / 2);
        assertEq(claims.burned(), CLAIM_BOND / 2);
    }

    function test_challenge_insideBound_slashesChallenger_succeeds() public {
        bytes32 id = post(INSIDE);
        ElementChallenge memory c = challengeOf(INSIDE);
        InferenceOpening memory inf = infOf(INSIDE);
        bytes32 salt = commit(watcher, id);
        vm.expectEmit(true, true, true, true, address(claims));
        emit ClaimManager.ChallengerSlashed(id, watcher, prover, CHALLENGE_BOND);
        vm.prank(watcher);
        bytes32 gid = game.challenge(id, inf, c, salt);
        assertEq(uint8(game.game(gid).outcome), uint8(GameOutcome.ProverWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Pending));
        assertEq(claims.credit(prover), CHALLENGE_BOND);
        // the claim still finalizes after its window
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(id);
        assertEq(claims.credit(prover), CHALLENGE_BOND + CLAIM_BOND);
    }

    function test_challenge_nanOutput_slashesProver_succeeds() public {
        uint32 nan = 0x7fc00000;
        bytes32 id = post(nan);
        challenge(id, infOf(nan), challengeOf(nan));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
    }

    function test_challenge_flippedByte_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        c.input.chunks[0].data[5] ^= 0x01;
        bytes32 salt13 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(); // ProofDoesNotVerify(computed, dataRoot)
        game.challenge(id, inf, c, salt13);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Pending));
        assertEq(address(game).balance + claims.credit(watcher), 0);
    }

    function test_challenge_truncatedChunk_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        c.weight.chunks[0].data = hex"0000803f";
        bytes32 salt14 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ChunkLengthMismatch.selector, 0, 4, 16));
        game.challenge(id, inf, c, salt14);
    }

    function test_challenge_afterWindow_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        uint256 closes = block.timestamp + WINDOW;
        vm.warp(closes);
        bytes32 salt15 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ChallengeWindowClosed.selector, id, closes));
        game.challenge(id, inf, c, salt15);
    }

    function test_challenge_slashedClaim_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        challenge(id, inf, c);
        bytes32 salt16 = commit(prover, id);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, id));
        game.challenge(id, inf, c, salt16);
    }

    function test_commitChallenge_wrongBond_reverts() public {
        bytes32 id = post(OUTSIDE);
        bytes32 h = claims.commitmentOf(id, watcher, "salt");
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(WrongBond.selector, 1, CHALLENGE_BOND));
        claims.commitChallenge{value: 1}(h);
    }

    function test_challenge_withoutCommitment_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        bytes32 h = claims.commitmentOf(id, watcher, "salt");
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, h));
        game.challenge(id, inf, c, "salt");
    }

    function test_challenge_commitmentOfTheSameBlock_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        bytes32 h = claims.commitmentOf(id, watcher, "salt");
        vm.startPrank(watcher);
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        vm.expectRevert(abi.encodeWithSelector(CommitmentTooFresh.selector, h, block.number));
        game.challenge(id, inf, c, "salt");
        vm.stopPrank();
    }

    function test_challenge_someoneElsesCommitment_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        bytes32 salt = commit(watcher, id);
        address thief = address(0xC0FFEE);
        bytes32 h = claims.commitmentOf(id, thief, salt);
        vm.prank(thief);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, h));
        game.challenge(id, inf, c, salt);
    }

    function test_challenge_sameElementTwice_reverts() public {
        bytes32 id = post(INSIDE);
        ElementChallenge memory c = challengeOf(INSIDE);
        InferenceOpening memory inf = infOf(INSIDE);
        bytes32 gid = challenge(id, inf, c);
        bytes32 salt18 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(GameExists.selector, gid));
        game.challenge(id, inf, c, salt18);
    }

    function test_challenge_opOutOfRange_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        c.op = 1;
        bytes32 salt19 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(OpOutOfRange.selector, 1, 1));
        game.challenge(id, inf, c, salt19);
    }

    function test_challenge_elementOutOfRange_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        c.col = 1;
        bytes32 salt20 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ElementOutOfRange.selector, 0, 1));
        game.challenge(id, inf, c, salt20);
    }

    /// A model whose ops are not all segment boundaries cannot be disputed at one level: its op outputs are not
    /// in the claim's coarse trace root.
    function test_adjudicate_coarseOnlyModel_reverts() public {
        ModelSpec memory s = spec();
        s.pieceNodes = fixedShape(2);
        bytes32 coarse = registry.register(s);
        assertEq(coarse, modelIdOf(s));
        ElementChallenge memory c = challengeOf(OUTSIDE);
        bytes32 root = traceRoot(OUTSIDE);
        vm.expectRevert(abi.encodeWithSelector(FineTraceRequired.selector, coarse));
        game.adjudicate(coarse, PROMPT, STEPS, root, c);
        // the model with one node per segment adjudicates the same challenge
        (bool inside,) = game.adjudicate(modelId, PROMPT, STEPS, root, c);
        assertFalse(inside, "10 + 3 ulp is outside");
    }

    /// `adjudicate` judges only a registered model, at lengths it serves: a spec nobody registered, or the
    /// registered one at lengths its template was not registered for, decides nothing.
    function test_adjudicate_unregisteredModelOrBadLengths_reverts() public {
        ModelSpec memory s = spec();
        s.profileRoot = keccak256("never registered");
        ElementChallenge memory c = challengeOf(OUTSIDE);
        bytes32 root = traceRoot(OUTSIDE);
        vm.expectRevert(abi.encodeWithSelector(UnknownModel.selector, modelIdOf(s)));
        game.adjudicate(modelIdOf(s), PROMPT, STEPS, root, c);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 2, 1, 1));
        game.adjudicate(modelId, 2, 1, root, c);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 1, 2, 1));
        game.adjudicate(modelId, 1, 2, root, c);
    }

    function test_challenge_forgedNode_reverts() public {
        bytes32 id = post(OUTSIDE);
        ElementChallenge memory c = challengeOf(OUTSIDE);
        InferenceOpening memory inf = infOf(OUTSIDE);
        c.node.params = abi.encode(Linear.MatMulParams(3)); // a descriptor that is not the registered one
        bytes32 salt21 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(); // ProofDoesNotVerify(computed, graphRoot)
        game.challenge(id, inf, c, salt21);
    }
}
