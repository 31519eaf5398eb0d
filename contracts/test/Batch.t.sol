// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {Fixture} from "./Fixture.t.sol";
import {GasMeter, calldataGas} from "./GasMeter.t.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {Position, LibPosition} from "../src/lib/Position.sol";
import {
    Claim,
    ClaimStatus,
    GameOutcome,
    Phase,
    PartitionGame,
    Inference,
    InferenceOpening,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    FineChallenge,
    ElementChallenge
} from "../src/lib/Types.sol";
import {
    BadBatchSize,
    BadBatchEncoding,
    WrongBond,
    ClaimExists,
    UnknownClaim,
    ClaimNotPending,
    ChallengeWindowOpen,
    InferenceOutOfRange,
    ProofDoesNotVerify,
    ProofLengthMismatch,
    UnknownCommitment,
    CommitmentTooFresh,
    RewardNotSettled
} from "../src/lib/Errors.sol";

/// @notice A batch root computed independently of `TensorMerkle` (and of the fixture's `Tree`): recursively,
///         straight from sha256, as `nao::commit` defines it (node = sha256(0x01 || l || r), padded with
///         sha256(0x00) to a power of two), over the batch leaves sha256(0x00 || traceRoot || uint32be(prompt) ||
///         uint32be(steps)) that `ClaimManager.batchRootOf` hashes.
library RefMerkle {
    /// The batch leaf of an inference with trace root `r` at lengths (`prompt`, `steps`).
    function leaf(bytes32 r, uint32 prompt, uint32 steps) internal pure returns (bytes32) {
        return sha256(bytes.concat(bytes1(0x00), r, bytes4(prompt), bytes4(steps)));
    }

    /// The batch leaf of a fixed-shape inference (one prompt token, one step) with trace root `r`.
    function leaf(bytes32 r) internal pure returns (bytes32) {
        return leaf(r, 1, 1);
    }

    function node(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), l, r));
    }

    /// The batch root of fixed-shape inferences with trace roots `roots`.
    function root(bytes32[] memory roots) internal pure returns (bytes32) {
        bytes32[] memory leaves = new bytes32[](roots.length);
        for (uint256 i; i < roots.length; ++i) {
            leaves[i] = leaf(roots[i]);
        }
        return rootOfLeaves(leaves);
    }

    /// The batch root of `batch`.
    function root(Inference[] memory batch) internal pure returns (bytes32) {
        bytes32[] memory leaves = new bytes32[](batch.length);
        for (uint256 i; i < batch.length; ++i) {
            leaves[i] = leaf(batch[i].traceRoot, batch[i].prompt, batch[i].steps);
        }
        return rootOfLeaves(leaves);
    }

    /// The root reached from fixed-shape list entry `r` at `index` with siblings `proof` (what a verifier
    /// recomputes).
    function climb(bytes32 r, uint256 index, bytes32[] memory proof) internal pure returns (bytes32) {
        return climbFrom(leaf(r), index, proof);
    }

    /// The root reached from leaf hash `h` at `index` with siblings `proof`.
    function climbFrom(bytes32 h, uint256 index, bytes32[] memory proof) internal pure returns (bytes32) {
        for (uint256 i; i < proof.length; ++i) {
            h = (index >> i) & 1 == 1 ? node(proof[i], h) : node(h, proof[i]);
        }
        return h;
    }

    function rootOfLeaves(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 width = 1;
        while (width < leaves.length) width *= 2;
        return _subtree(leaves, 0, width);
    }

    function _subtree(bytes32[] memory leaves, uint256 start, uint256 width) private pure returns (bytes32) {
        if (width == 1) return start < leaves.length ? leaves[start] : sha256(abi.encodePacked(bytes1(0x00)));
        uint256 half = width / 2;
        return node(_subtree(leaves, start, half), _subtree(leaves, start + half, half));
    }
}

/// @notice Claims on batches of inferences: one bond, one window and one finalization per batch; every game names
///         the inference it disputes, opened against the batch root; a fraud in any one inference slashes the whole
///         claim. The adversarial batch is four distinct inferences of the fixture model (inputs [1, 2, 3, 4 + k]),
///         inference 2 corrupt (its t3 two above the honest value).
contract BatchTest is Fixture {
    /// The corrupt inference of the mixed batch.
    uint256 internal constant BAD = 2;
    address internal griefer = address(0xBAD);
    address internal copier = address(0xC0C0);

    // ------------------------------------------------------------------ helpers

    /// fp32 bits of a small positive integer.
    function f32(uint256 n) internal pure returns (uint32) {
        uint256 e;
        while (n >> (e + 1) != 0) ++e;
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(((127 + e) << 23) | ((n - 2 ** e) << (23 - e)));
    }

    /// Points the fixture at inference k of the mixed batch: input [1, 2, 3, 4 + k], so t1 = t2 = 10 + k,
    /// t3 = t4 = 11 + k (the corrupt t3: 12 + k). The model (weights, graph) is the same for every k.
    function useInference(uint256 k) internal {
        x[3] = f32(4 + k);
        fxDot = f32(10 + k);
        fxDotPlusOne = f32(11 + k);
        fxWrong = f32(12 + k);
    }

    /// Four distinct inferences, inference `BAD` corrupt.
    function mixedBatch() internal returns (bytes32[] memory roots) {
        roots = new bytes32[](4);
        for (uint256 k; k < 4; ++k) {
            useInference(k);
            roots[k] = fxTraceRoot(k == BAD);
        }
        for (uint256 i; i < 4; ++i) {
            for (uint256 j = i + 1; j < 4; ++j) {
                assertTrue(roots[i] != roots[j], "the inferences are distinct");
            }
        }
    }

    function randomRoots(uint256 n, uint256 seed) internal pure returns (bytes32[] memory roots) {
        roots = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            roots[i] = keccak256(abi.encode(seed, i));
        }
    }

    /// The position of a game started at segment `s` of the fixture (3 segments, arity 2: leaf depth 2).
    function segmentPosition(uint256 s) internal pure returns (Position) {
        return LibPosition.node(ARITY, 2, s);
    }

    /// `who` commits and starts a partition game at segment `s` of inference `k` of the mixed batch `roots`.
    function pointAt(address who, bytes32 id, bytes32[] memory roots, uint256 k, uint32 s)
        internal
        returns (bytes32 gid)
    {
        useInference(k);
        InferenceOpening memory inf = inferenceOf(roots, k);
        SegmentPointer memory p = fxPointer(k == BAD, s);
        bytes32 salt = commit(who, id);
        vm.prank(who);
        gid = game.pointSegment(id, inf, p, salt);
    }

    /// The prover posts the fine root of segment 1 of inference `k` and `who` opens its only op (op2) against it.
    function playSegment1(bytes32 gid, address who, uint256 k) internal returns (GameOutcome) {
        useInference(k);
        FineAnswer memory a = fxFine(k == BAD, 1);
        FineChallenge memory c = fxElement(k == BAD, 2);
        vm.prank(prover);
        game.postFine(gid, a);
        vm.prank(who);
        return game.openElement(gid, c);
    }

    function withdraw(address who) internal {
        vm.prank(who);
        claims.withdraw();
    }

    function assertNoClaim(bytes32 id) internal {
        vm.expectRevert(abi.encodeWithSelector(UnknownClaim.selector, id));
        claims.claim(id);
    }

    // ------------------------------------------------------------------ posting

    /// Batches of 1, 3, 64 and the most a claim holds: each stores its count and the reference batch root,
    /// emits its trace roots in order, and locks exactly one claim bond.
    function test_postClaim_batches_storeCountAndReferenceRoot_succeeds() public {
        // odd, 2 mod 4 and 0 mod 4 inferences: the packed log's last word is padded by 24, 16 and 0 bytes
        uint256[5] memory sizes = [uint256(1), 2, 3, 64, claims.MAX_BATCH()];
        for (uint256 i; i < sizes.length; ++i) {
            uint256 n = sizes[i];
            bytes32[] memory roots = randomRoots(n, n);
            bytes32 batchRoot = RefMerkle.root(roots);
            bytes32 id = claims.claimIdOf(fxModel, batchRoot, prover);
            uint256 proverBefore = prover.balance;
            vm.expectEmit(true, true, true, true, address(claims));
            emit ClaimManager.ClaimPosted(id, fxModel, prover, batchRoot, packed(batchOf(roots)), CLAIM_BOND, "fixture");
            assertEq(fxPostBatch(roots), id);
            Claim memory c = claims.claim(id);
            assertEq(c.batchRoot, batchRoot, "the reference batch root");
            assertEq(uint256(c.count), n, "the batch's size");
            assertEq(c.modelId, fxModel);
            assertEq(c.prover, prover);
            assertEq(uint256(c.postedAt), block.timestamp);
            assertEq(uint8(c.status), uint8(ClaimStatus.Pending));
            assertEq(c.bond, CLAIM_BOND, "one bond for the whole batch");
            assertEq(proverBefore - prover.balance, CLAIM_BOND);
            assertEq(address(claims).balance, (i + 1) * CLAIM_BOND);
        }
        // a batch of one is its only leaf
        bytes32[] memory one1 = randomRoots(1, 1);
        assertEq(uint256(claims.claim(claims.claimIdOf(fxModel, RefMerkle.leaf(one1[0]), prover)).count), 1);
    }

    /// The batch root binds the order of the inferences and the id binds the prover: the same roots in another
    /// order, or posted by another prover, are another claim; the same batch twice is refused.
    function test_postClaim_orderAndProverBindTheId_succeeds() public {
        bytes32[] memory roots = randomRoots(3, 7);
        bytes32 id = fxPostBatch(roots);
        bytes32[] memory swapped = randomRoots(3, 7);
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        bytes32 other = fxPostBatch(swapped);
        assertTrue(other != id, "order matters");
        assertTrue(claims.claim(other).batchRoot != claims.claim(id).batchRoot);
        address prover2 = address(0xB0B2);
        vm.deal(prover2, CLAIM_BOND);
        Inference[] memory batch = batchOf(roots);
        vm.prank(prover2);
        bytes32 theirs = claims.postClaim{value: CLAIM_BOND}(fxModel, packed(batch), "fixture");
        assertEq(theirs, claims.claimIdOf(fxModel, RefMerkle.root(roots), prover2));
        assertTrue(theirs != id, "the prover is part of the id");
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ClaimExists.selector, id));
        claims.postClaim{value: CLAIM_BOND}(fxModel, packed(batch), "fixture");
        assertEq(address(claims).balance, 3 * CLAIM_BOND);
    }

    /// An empty batch and one over `MAX_BATCH` are refused; nothing is stored and the bond is not kept.
    function test_postClaim_badBatchSize_reverts() public {
        uint256 max = claims.MAX_BATCH();
        assertEq(max, 1024);
        uint256 proverBefore = prover.balance;
        bytes32[] memory none = new bytes32[](0);
        Inference[] memory empty = batchOf(none);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(BadBatchSize.selector, 0, max));
        claims.postClaim{value: CLAIM_BOND}(fxModel, packed(empty), "fixture");
        assertNoClaim(claims.claimIdOf(fxModel, RefMerkle.root(none), prover));

        bytes32[] memory tooMany = randomRoots(max + 1, 9);
        Inference[] memory tooBig = batchOf(tooMany);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(BadBatchSize.selector, max + 1, max));
        claims.postClaim{value: CLAIM_BOND}(fxModel, packed(tooBig), "fixture");
        assertNoClaim(claims.claimIdOf(fxModel, RefMerkle.root(tooMany), prover));
        // nor was a claim on the first MAX_BATCH of them stored
        assembly {
            mstore(tooMany, max)
        }
        assertNoClaim(claims.claimIdOf(fxModel, RefMerkle.root(tooMany), prover));

        assertEq(prover.balance, proverBefore, "the bond was not kept");
        assertEq(address(claims).balance, 0);
    }

    /// A packed batch that is not a whole number of 40-byte inferences (a byte short, a byte over) is refused by
    /// name; nothing is stored and the bond is not kept.
    function test_postClaim_badBatchEncoding_reverts() public {
        bytes memory whole = packed(batchOf(randomRoots(3, 3)));
        uint256 proverBefore = prover.balance;
        uint256[2] memory lengths = [uint256(119), 121];
        for (uint256 i; i < 2; ++i) {
            bytes memory cut = new bytes(lengths[i]);
            for (uint256 k; k < cut.length && k < whole.length; ++k) {
                cut[k] = whole[k];
            }
            vm.prank(prover);
            vm.expectRevert(abi.encodeWithSelector(BadBatchEncoding.selector, lengths[i]));
            claims.postClaim{value: CLAIM_BOND}(fxModel, cut, "fixture");
        }
        assertEq(address(claims).balance, 0, "the bond was not kept");
        assertEq(prover.balance, proverBefore, "the prover paid nothing");
    }

    /// `pack` is the reference packing, for any batch: each inference's traceRoot, prompt and steps, 40 bytes.
    function testFuzz_pack_matchesReference_succeeds(uint256 seed, uint8 n, uint32 prompt, uint32 steps) public {
        Inference[] memory batch = batchOf(randomRoots(n, seed));
        for (uint256 j; j < batch.length; ++j) {
            (batch[j].prompt, batch[j].steps) = (prompt ^ uint32(j), steps ^ uint32(j << 8));
        }
        bytes memory got = claims.pack(batch);
        assertEq(got, packed(batch));
        assertEq(got.length, 40 * uint256(n));
    }

    /// The bond is checked whatever the batch: too little, too much and none are refused.
    function test_postClaim_batchWrongBond_reverts() public {
        bytes32[] memory roots = randomRoots(3, 3);
        Inference[] memory batch = batchOf(roots);
        uint256[3] memory wrong = [CLAIM_BOND - 1, CLAIM_BOND + 1, 0];
        for (uint256 i; i < 3; ++i) {
            vm.prank(prover);
            vm.expectRevert(abi.encodeWithSelector(WrongBond.selector, wrong[i], CLAIM_BOND));
            claims.postClaim{value: wrong[i]}(fxModel, packed(batch), "fixture");
        }
        // the bond is checked before the batch's size
        Inference[] memory none = new Inference[](0);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongBond.selector, 1, CLAIM_BOND));
        claims.postClaim{value: 1}(fxModel, packed(none), "fixture");
        assertNoClaim(claims.claimIdOf(fxModel, RefMerkle.root(roots), prover));
        assertEq(address(claims).balance, 0);
    }

    // ------------------------------------------------------------------ one corrupt inference among honest ones

    /// The watcher opens the corrupt inference (index 2 of 4) at its bad segment and wins: the whole claim is
    /// slashed, half its bond burned, half escrowed and paid to the watcher after the grace, the watcher's bond
    /// back at once; the prover gets nothing for the three honest inferences.
    function test_batch_corruptInference_slashesTheWholeClaim_succeeds() public {
        bytes32[] memory roots = mixedBatch();
        uint256 prover0 = prover.balance;
        uint256 watcher0 = watcher.balance;
        bytes32 id = fxPostBatch(roots);
        bytes32 gid = pointAt(watcher, id, roots, BAD, 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(gid, game.partitionGameIdOf(id, uint32(BAD), watcher, segmentPosition(1)));
        PartitionGame memory pg = game.partitionGame(gid);
        assertEq(uint256(pg.inference), BAD, "the game names the inference");
        assertEq(pg.traceRoot, roots[BAD], "and holds its trace root");
        assertEq(pg.hiRoot, fxRoot(true, 3), "the corrupt boundary");
        assertEq(claims.openGames(id), 1);
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND, "the claim bond and the game's bond");

        assertEq(uint8(playSegment1(gid, watcher, BAD)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        assertEq(claims.openGames(id), 0);
        assertEq(claims.burned(), CLAIM_BOND / 2, "half the claim bond burned");
        assertEq(claims.escrowed(), CLAIM_BOND / 2, "half held as the reward");
        assertEq(claims.credit(watcher), CHALLENGE_BOND, "the challenge bond back at once");
        assertEq(claims.credit(prover), 0);
        // the reward waits for the grace; the batch can no longer finalize
        vm.expectRevert(abi.encodeWithSelector(RewardNotSettled.selector, id, block.timestamp + GRACE));
        claims.payReward(id);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, id));
        claims.finalize(id);
        payReward(id);
        assertEq(claims.escrowed(), 0);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
        withdraw(watcher);
        // `commit` dealt the watcher the bond it locked
        assertEq(watcher.balance, watcher0 + CHALLENGE_BOND + CLAIM_BOND / 2, "the watcher: its bond and the reward");
        assertEq(prover.balance, prover0 - CLAIM_BOND, "the prover lost the whole bond");
        assertEq(claims.credit(prover), 0);
        assertEq(address(claims).balance, claims.burned(), "only the burned half is left");
    }

    /// A griefer disputes an honest inference (index 1) of the same batch and loses its bond to the prover; the
    /// claim stays pending, and the corrupt inference still slashes it afterwards.
    function test_batch_gameOnAnHonestInference_losesTheBondToTheProver_succeeds() public {
        bytes32[] memory roots = mixedBatch();
        uint256 prover0 = prover.balance;
        bytes32 id = fxPostBatch(roots);
        bytes32 gg = pointAt(griefer, id, roots, 1, 1);
        assertEq(uint8(playSegment1(gg, griefer, 1)), uint8(GameOutcome.ProverWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Pending));
        assertEq(claims.credit(prover), CHALLENGE_BOND, "the griefer's bond goes to the prover");
        assertEq(claims.credit(griefer), 0);
        assertEq(claims.openGames(id), 0);
        assertEq(claims.burned() + claims.escrowed(), 0, "nothing slashed");
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);

        bytes32 wg = pointAt(watcher, id, roots, BAD, 1);
        assertEq(uint8(playSegment1(wg, watcher, BAD)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
        assertEq(claims.credit(prover), CHALLENGE_BOND, "the prover keeps what it won, loses the claim bond");
        withdraw(prover);
        assertEq(prover.balance, prover0 - CLAIM_BOND + CHALLENGE_BOND);
        assertEq(griefer.balance, 0, "`commit` dealt the griefer the bond it lost");
        assertEq(claims.burned(), CLAIM_BOND / 2);
    }

    /// The one-level game on a batch of two (inference 0 honest, inference 1 off by 3 ulp): the same challenger
    /// challenges the same element of each; the ids differ, the honest one loses, the false one slashes.
    function test_batch_oneLevel_sameElementOfTwoInferences_succeeds() public {
        bytes32[] memory roots = new bytes32[](2);
        (roots[0], roots[1]) = (traceRoot(TEN), traceRoot(TEN + 3));
        Inference[] memory batch = batchOf(roots);
        vm.prank(prover);
        bytes32 id = claims.postClaim{value: CLAIM_BOND}(modelId, packed(batch), DATA_URI);
        InferenceOpening memory inf0 = inferenceOf(roots, 0);
        InferenceOpening memory inf1 = inferenceOf(roots, 1);
        ElementChallenge memory c0 = challengeOf(TEN);
        ElementChallenge memory c1 = challengeOf(TEN + 3);
        bytes32 g0 = challenge(id, inf0, c0);
        bytes32 g1 = challenge(id, inf1, c1);
        assertTrue(g0 != g1, "one game per inference");
        assertEq(g0, game.gameIdOf(id, 0, watcher, 0, 0, 0));
        assertEq(g1, game.gameIdOf(id, 1, watcher, 0, 0, 0));
        assertEq(uint8(game.game(g0).outcome), uint8(GameOutcome.ProverWon));
        assertEq(uint8(game.game(g1).outcome), uint8(GameOutcome.ChallengerWon));
        assertEq(uint256(game.game(g1).inference), 1);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        assertEq(claims.credit(prover), CHALLENGE_BOND, "the lost game's bond");
        assertEq(claims.credit(watcher), CHALLENGE_BOND, "the won game's bond back");
        payReward(id);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
        assertEq(claims.burned(), CLAIM_BOND / 2);
    }

    // ------------------------------------------------------------------ naming the inference

    /// A dispute naming inference `count` (one past the batch) is refused by every entry, and changes nothing:
    /// the commitment is still held and opens the game on a real inference afterwards.
    function test_dispute_inferenceOutOfRange_reverts() public {
        bytes32[] memory roots = mixedBatch();
        bytes32 id = fxPostBatch(roots);
        useInference(BAD);
        InferenceOpening memory inf = inferenceOf(roots, BAD);
        inf.index = 4;
        SegmentPointer memory p = fxPointer(true, 1);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(true), fxOutput(true));
        ElementChallenge memory e = fxElement(true, 2).element;
        bytes32 salt = commit(watcher, id);
        bytes32 h = claims.commitmentOf(id, watcher, salt);
        bytes memory outOfRange = abi.encodeWithSelector(InferenceOutOfRange.selector, 4, 4);

        vm.startPrank(watcher);
        vm.expectRevert(outOfRange);
        game.pointSegment(id, inf, p, salt);
        vm.expectRevert(outOfRange);
        game.bisect(id, inf, input, output, salt);
        vm.expectRevert(outOfRange);
        game.escalateOutput(id, inf, output, 0, 0, salt);
        vm.expectRevert(outOfRange);
        game.challenge(id, inf, e, salt);
        vm.expectRevert(outOfRange);
        claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 0, 1);
        inf.index = type(uint32).max;
        vm.expectRevert(abi.encodeWithSelector(InferenceOutOfRange.selector, type(uint32).max, 4));
        game.pointSegment(id, inf, p, salt);
        vm.stopPrank();

        (address holder,,) = claims.commitments(h);
        assertEq(holder, watcher, "the commitment is still held");
        assertEq(claims.committed(), CHALLENGE_BOND);
        assertEq(claims.openGames(id), 0, "no game");
        assertEq(claims.openRequests(id), 0, "no request");
        assertEq(claims.requested(), 0);
        assertEq(uint8(game.partitionGame(game.partitionGameIdOf(id, 4, watcher, segmentPosition(1))).phase), 0);
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);

        // forge-lint: disable-next-line(unsafe-typecast)
        inf.index = uint32(BAD);
        vm.prank(watcher);
        bytes32 gid = game.pointSegment(id, inf, p, salt);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(gid, game.partitionGameIdOf(id, uint32(BAD), watcher, segmentPosition(1)));
        assertEq(claims.committed(), 0);
        assertEq(claims.openGames(id), 1);
    }

    /// In a batch of one, inference 1 is already out of range.
    function test_dispute_batchOfOne_inferenceOne_reverts() public {
        bytes32 id = fxPost(true);
        InferenceOpening memory inf = fxInf(true);
        inf.index = 1;
        SegmentPointer memory p = fxPointer(true, 1);
        bytes32 salt = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(InferenceOutOfRange.selector, 1, 1));
        game.pointSegment(id, inf, p, salt);
        assertEq(claims.committed(), CHALLENGE_BOND);
        assertEq(claims.openGames(id), 0);
    }

    /// A valid index with a trace root or proof the batch does not commit is refused (ProofDoesNotVerify with
    /// the root the opening climbs to), and so is an inference's opening with another inference's boundaries.
    function test_dispute_wrongTraceRootOrProof_reverts() public {
        bytes32[] memory roots = mixedBatch();
        bytes32 batchRoot = RefMerkle.root(roots);
        bytes32 id = fxPostBatch(roots);
        useInference(BAD);
        SegmentPointer memory p = fxPointer(true, 1);
        bytes32 honest = fxTraceRoot(false);
        bytes32 salt = commit(watcher, id);
        vm.startPrank(watcher);

        // the honest trace of inference 2 in place of the committed corrupt one: the root of the list so changed
        InferenceOpening memory inf = inferenceOf(roots, BAD);
        inf.traceRoot = honest;
        bytes32[] memory changed = mixedBatchWith(roots, BAD, honest);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, RefMerkle.root(changed), batchRoot));
        game.pointSegment(id, inf, p, salt);

        // inference 1's trace root and proof, named as inference 2
        inf = inferenceOf(roots, 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        inf.index = uint32(BAD);
        bytes32 got = RefMerkle.climb(roots[1], BAD, inf.proof);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, batchRoot));
        game.pointSegment(id, inf, p, salt);

        // one flipped bit in a sibling
        inf = inferenceOf(roots, BAD);
        inf.proof[1] ^= bytes32(uint256(1));
        got = RefMerkle.climb(roots[BAD], BAD, inf.proof);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, batchRoot));
        game.pointSegment(id, inf, p, salt);

        // a proof one level short
        inf = inferenceOf(roots, BAD);
        bytes32[] memory short = new bytes32[](1);
        short[0] = inf.proof[0];
        inf.proof = short;
        vm.expectRevert(abi.encodeWithSelector(ProofLengthMismatch.selector, 1, 2));
        game.pointSegment(id, inf, p, salt);

        // the right inference with inference 1's input and output: they climb to inference 1's trace root
        inf = inferenceOf(roots, BAD);
        useInference(1);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(false), fxOutput(false));
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, roots[1], roots[BAD]));
        game.bisect(id, inf, input, output, salt);
        vm.stopPrank();

        assertEq(claims.committed(), CHALLENGE_BOND, "the commitment is still held");
        assertEq(claims.openGames(id), 0);
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);
    }

    function mixedBatchWith(bytes32[] memory roots, uint256 i, bytes32 r) internal pure returns (bytes32[] memory c) {
        c = new bytes32[](roots.length);
        for (uint256 j; j < roots.length; ++j) {
            c[j] = j == i ? r : roots[j];
        }
    }

    // ------------------------------------------------------------------ copying and game ids

    /// A copier lands the watcher's exact opening of inference 2 first: the salt is bound to the watcher's
    /// address (UnknownCommitment), and a commitment of its own made on seeing it is too fresh. The watcher's
    /// opening still goes through.
    function test_copycat_copiesTheOpeningOfAnInference_reverts() public {
        bytes32[] memory roots = mixedBatch();
        bytes32 id = fxPostBatch(roots);
        useInference(BAD);
        InferenceOpening memory inf = inferenceOf(roots, BAD);
        SegmentPointer memory p = fxPointer(true, 1);
        bytes32 ws = commit(watcher, id);

        bytes32 stolen = claims.commitmentOf(id, copier, ws);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, stolen));
        game.pointSegment(id, inf, p, ws);

        bytes32 cs = keccak256("copier's own salt");
        bytes32 own = claims.commitmentOf(id, copier, cs);
        vm.deal(copier, CHALLENGE_BOND);
        vm.prank(copier);
        claims.commitChallenge{value: CHALLENGE_BOND}(own);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(CommitmentTooFresh.selector, own, block.number));
        game.pointSegment(id, inf, p, cs);
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes32 copied = game.partitionGameIdOf(id, uint32(BAD), copier, segmentPosition(1));
        assertEq(uint8(game.partitionGame(copied).phase), uint8(Phase.None), "no game for the copier");
        assertEq(claims.openGames(id), 0);

        vm.prank(watcher);
        bytes32 wg = game.pointSegment(id, inf, p, ws);
        assertEq(game.partitionGame(wg).challenger, watcher);
        assertEq(claims.openGames(id), 1);
        assertEq(claims.committed(), CHALLENGE_BOND, "the copier's commitment, unused");
    }

    /// The same challenger at the same segment of two inferences of one claim: two games, two ids, each reading
    /// its own inference's trace; the honest one is lost, the corrupt one slashes.
    function test_gamesOnTwoInferences_haveDistinctIds_succeeds() public {
        bytes32[] memory roots = mixedBatch();
        bytes32 id = fxPostBatch(roots);
        bytes32 g1 = pointAt(watcher, id, roots, 1, 1);
        bytes32 g2 = pointAt(watcher, id, roots, BAD, 1);
        assertTrue(g1 != g2, "distinct ids");
        assertEq(g1, game.partitionGameIdOf(id, 1, watcher, segmentPosition(1)));
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(g2, game.partitionGameIdOf(id, uint32(BAD), watcher, segmentPosition(1)));
        assertEq(claims.openGames(id), 2);
        PartitionGame memory pg1 = game.partitionGame(g1);
        PartitionGame memory pg2 = game.partitionGame(g2);
        assertEq(pg1.traceRoot, roots[1]);
        assertEq(pg2.traceRoot, roots[BAD]);
        assertEq(uint256(pg1.inference), 1);
        assertEq(uint256(pg2.inference), BAD);
        assertTrue(pg1.hiRoot != pg2.hiRoot, "each game's boundaries are its inference's");

        assertEq(uint8(playSegment1(g1, watcher, 1)), uint8(GameOutcome.ProverWon));
        assertEq(uint8(playSegment1(g2, watcher, BAD)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        assertEq(claims.credit(prover), CHALLENGE_BOND, "the lost game's bond");
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2, "the won game's bond and the reward");
        assertEq(claims.openGames(id), 0);
    }

    // ------------------------------------------------------------------ finalization

    /// An unchallenged batch of 64 finalizes in one call, after its window, crediting exactly one claim bond.
    function test_finalize_unchallengedBatch_creditsOneBond_succeeds() public {
        bytes32[] memory roots = randomRoots(64, 64);
        uint256 prover0 = prover.balance;
        bytes32 id = fxPostBatch(roots);
        uint256 closes = block.timestamp + WINDOW;
        vm.warp(closes - 1);
        vm.expectRevert(abi.encodeWithSelector(ChallengeWindowOpen.selector, id, closes));
        claims.finalize(id);
        vm.warp(closes);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ClaimFinalized(id, prover, CLAIM_BOND);
        claims.finalize(id);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Finalized));
        assertEq(claims.credit(prover), CLAIM_BOND, "one bond, not one per inference");
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, id));
        claims.finalize(id);
        withdraw(prover);
        assertEq(prover.balance, prover0);
        assertEq(address(claims).balance, 0);
    }

    // ------------------------------------------------------------------ fuzz

    /// The batch root of n random trace roots (1 .. 300) is the reference root; a random inference's opening
    /// verifies through `traceRootOf`, and the same proof with another trace root does not.
    function testFuzz_listRoot_matchesReferenceAndOpensAnyInference_succeeds(uint256 seed, uint256 n, uint256 index)
        public
    {
        n = 1 + n % 300;
        index %= n;
        bytes32[] memory roots = randomRoots(n, seed);
        bytes32 id = fxPostBatch(roots);
        Claim memory c = claims.claim(id);
        assertEq(c.batchRoot, RefMerkle.root(roots), "the reference root");
        assertEq(uint256(c.count), n);
        InferenceOpening memory inf = inferenceOf(roots, index);
        assertEq(claims.traceRootOf(c, inf), roots[index]);
        inf.traceRoot = keccak256(abi.encode(roots[index]));
        bytes32 got = RefMerkle.climb(inf.traceRoot, index, inf.proof);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, c.batchRoot));
        claims.traceRootOf(c, inf);
    }
}

/// @notice Gas of a batch claim's life without a dispute: postClaim and finalize, as transactions (execution with
///         the contracts cooled + 21000 + calldata), per inference, for batches of 1, 16, 64, 256 and 1024.
///         `forge test --match-contract BatchGasTest -vv` prints the table.
contract BatchGasTest is Fixture, GasMeter {
    /// DSTest's log event, which forge prints with -vv (PRBTest's `LogNamedUint256` it does not).
    // forge-lint: disable-next-line(mixed-case-function)
    event log_named_uint(string key, uint256 val);

    function setUp() public override(Base, Fixture) {
        Fixture.setUp();
    }

    function _cooled() internal view override returns (address[3] memory) {
        return [address(claims), address(game), address(registry)];
    }

    /// Posts and finalizes a batch of n; returns both transactions' gas.
    function _life(uint256 n) internal returns (uint256 post, uint256 fin) {
        bytes32[] memory roots = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            roots[i] = keccak256(abi.encode("inference", n, i));
        }
        bytes32 id = claims.claimIdOf(fxModel, RefMerkle.root(roots), prover);
        bytes memory data = abi.encodeCall(claims.postClaim, (fxModel, packed(batchOf(roots)), "fixture"));
        string memory size = vm.toString(n);
        post = _tx(string.concat("postClaim, n = ", size), prover, address(claims), CLAIM_BOND, data);
        vm.warp(block.timestamp + WINDOW);
        fin = _tx(
            string.concat("finalize, n = ", size), prover, address(claims), 0, abi.encodeCall(claims.finalize, (id))
        );
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Finalized));
        emit log_named_uint(string.concat("postClaim tx gas, n = ", size), post);
        emit log_named_uint(string.concat("  of which calldata, n = ", size), calldataGas(data));
        emit log_named_uint(string.concat("finalize tx gas, n = ", size), fin);
        emit log_named_uint(string.concat("postClaim gas per inference, n = ", size), post / n);
        emit log_named_uint(string.concat("finalize gas per inference, n = ", size), fin / n);
        emit log_named_uint(string.concat("post + finalize gas per inference, n = ", size), (post + fin) / n);
    }

    function test_gas_batchPostAndFinalize_perInference_succeeds() public {
        uint256[5] memory sizes = [uint256(1), 16, 64, 256, 1024];
        uint256 last = type(uint256).max;
        uint256 fin1;
        for (uint256 i; i < sizes.length; ++i) {
            (uint256 post, uint256 fin) = _life(sizes[i]);
            if (i == 0) fin1 = fin;
            uint256 per = (post + fin) / sizes[i];
            assertLt(per, last, "batching makes each inference cheaper");
            last = per;
            // finalization does not grow with the batch (the first one pays for the prover's fresh credit slot)
            assertLte(fin, fin1, "one finalize per batch");
        }
        assertEq(claims.credit(prover), sizes.length * CLAIM_BOND);
    }
}
