// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture, Tree} from "./Fixture.t.sol";
import {RefMerkle} from "./Batch.t.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Patch,
    Segment,
    Claim,
    Inference,
    InferenceOpening,
    PartitionGame,
    Phase,
    SegmentOpening,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    ElementRequest
} from "../src/lib/Types.sol";
import {
    BadLengths,
    BadPatch,
    BadSegment,
    OpOutOfRange,
    OpNotInSegment,
    ProofDoesNotVerify,
    SegmentOutOfRange,
    UnknownClaim
} from "../src/lib/Errors.sol";

/// @notice One registration for every length (issue #20), played against a small generating template built here:
///
///     piece 0 (prefill, nodes 0-2, segments [0, 1) [1, 3)):  t0 relu(x), rows = P (patched: word 6 per token)
///                                                             t1 relu, t2 add (plain leaves)
///     piece 1 (step 1, nodes 3-4, segment [3, 5)):            t3 relu, t4 add (plain)
///     piece 2 (each step s >= 2, 2 nodes, segment [5, 7)):    t5 relu of the step's first input, which moves by
///                                                             2 nodes a step (patched: word 2 per step),
///                                                             t6 add reading the claim input (plain)
///
///   context 16. A claim's lengths fix its concrete graph; the registry maps a concrete node or segment back to
///   its template leaf, and every entry (posting, naming an inference, the node and segment checks of a game)
///   holds a claim to the lengths it was posted at.
contract LengthsTest is Fixture {
    uint32 internal constant CONTEXT = 16;
    /// Words of `abi.encode(OpNode)` (word 0 is the struct's offset): the input and the row count.
    uint32 internal constant INPUT_WORD = 2;
    uint32 internal constant ROWS_WORD = 6;

    bytes32 internal genModel;
    /// Proofs of the template leaves (built once: a cheatcode's expectation or prank would be spent on the
    /// SHA-256 precompile calls that build them).
    bytes32[][7] internal nodeProofs;

    function setUp() public override {
        super.setUp();
        genModel = registry.register(genSpec());
        for (uint256 t; t < 7; ++t) {
            nodeProofs[t] = Tree.proof(nodeLeaves(), t);
        }
    }

    // ------------------------------------------------------------------ the template

    function pieceNodes() internal pure returns (uint32[3] memory) {
        return [uint32(3), 2, 2];
    }

    /// Template node `t` (its concrete node at one prompt token and its piece's reference step).
    function templateNode(uint256 t) internal pure returns (OpNode memory) {
        if (t == 0) return OpNode(OpKind.Relu, 0, 0, 0, 0, 1, 4, "");
        if (t == 1) return OpNode(OpKind.Relu, 1, 0, 0, 0, 1, 4, "");
        if (t == 2) return OpNode(OpKind.Add, 2, 0, 1, 0, 1, 4, "");
        if (t == 3) return OpNode(OpKind.Relu, 3, 0, 0, 0, 1, 4, "");
        if (t == 4) return OpNode(OpKind.Add, 4, 0, 1, 0, 1, 4, "");
        if (t == 5) return OpNode(OpKind.Relu, 5, 0, 0, 0, 1, 4, "");
        return OpNode(OpKind.Add, 0, 0, 1, 0, 1, 4, "");
    }

    function patchesOf(uint256 t) internal pure returns (Patch[] memory p) {
        if (t == 0) {
            p = new Patch[](1);
            p[0] = Patch(ROWS_WORD, 1, 0);
        } else if (t == 5) {
            p = new Patch[](1);
            p[0] = Patch(INPUT_WORD, 0, 2);
        } else {
            p = new Patch[](0);
        }
    }

    /// The template leaf: the plain leaf, or the reference leaf with its patches.
    function templateLeaf(uint256 t) internal pure returns (bytes memory) {
        bytes memory plain = abi.encode(templateNode(t));
        Patch[] memory p = patchesOf(t);
        return p.length == 0 ? plain : abi.encode(plain, p);
    }

    function nodeLeaves() internal pure returns (bytes32[] memory l) {
        l = new bytes32[](7);
        for (uint256 t; t < 7; ++t) {
            l[t] = TensorMerkle.leafHash(templateLeaf(t));
        }
    }

    function templateSegment(uint256 i) internal pure returns (Segment memory) {
        if (i == 0) return Segment(0, 1);
        if (i == 1) return Segment(1, 3);
        if (i == 2) return Segment(3, 5);
        return Segment(5, 7);
    }

    function segmentLeaves() internal pure returns (bytes32[] memory l) {
        l = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            l[i] = TensorMerkle.leafHash(abi.encode(templateSegment(i)));
        }
    }

    function genSpec() internal view returns (ModelSpec memory) {
        return ModelSpec({
            graphRoot: Tree.root(nodeLeaves()),
            pieceNodes: pieceNodes(),
            pieceSegments: [uint32(2), 1, 1],
            context: CONTEXT,
            segmentsRoot: Tree.root(segmentLeaves()),
            weightsRoot: Tree.root(fxWeightLeaves()),
            weightCount: 2,
            profileRoot: keccak256("generating profile"),
            outputTolerance: 0,
            uri: "generating"
        });
    }

    // ------------------------------------------------------------------ concrete graphs, computed independently

    /// Concrete node count for `steps` steps: 3 + 2 (steps - 1).
    function nodesAt(uint32 steps) internal pure returns (uint32) {
        return 3 + 2 * (steps - 1);
    }

    /// Where concrete op `op` sits: its template node and its step.
    function whereIs(uint256 op) internal pure returns (uint256 t, uint256 step) {
        if (op < 3) return (op, 0);
        if (op < 5) return (op, 1);
        return (5 + (op - 5) % 2, 2 + (op - 5) / 2);
    }

    /// Concrete node of template node `t` at `prompt` tokens and step `step`.
    function concreteNode(uint256 t, uint32 prompt, uint256 step) internal pure returns (OpNode memory n) {
        n = templateNode(t);
        if (t == 0) n.rows = prompt;
        // forge-lint: disable-next-line(unsafe-typecast)
        if (t == 5) n.input = uint32(5 + 2 * (step - 2));
    }

    function checkNode(uint32 prompt, uint32 steps, uint32 op, OpNode memory n, uint256 t) internal view {
        registry.checkNode(genModel, prompt, steps, op, abi.encode(n), patchesOf(t), nodeProofs[t]);
    }

    /// The root a verifier climbs to from leaf hash `h` at `index` with `proof`.
    function climbed(bytes32 h, uint256 index, bytes32[] memory proof) internal pure returns (bytes32) {
        return RefMerkle.climbFrom(h, index, proof);
    }

    function word(bytes memory data, uint256 w) internal pure returns (uint256 v) {
        assembly {
            v := mload(add(data, add(32, mul(32, w))))
        }
    }

    // ------------------------------------------------------------------ checkNode

    /// The patched words are what they claim to be: a node's input and its row count.
    function test_patchedWords_areInputAndRows_succeeds() public {
        OpNode memory n = OpNode(OpKind.Relu, 77, 0, 0, 0, 99, 4, "");
        bytes memory leaf = abi.encode(n);
        assertEq(word(leaf, INPUT_WORD), 77);
        assertEq(word(leaf, ROWS_WORD), 99);
    }

    /// Every concrete node of every served length checks: the prefill's patched row count follows the prompt,
    /// each later step's first node reads the step's own input.
    function test_checkNode_everyNodeAtItsLengths_succeeds() public {
        uint32[2][6] memory lengths =
            [[uint32(1), 1], [uint32(16), 1], [uint32(1), 2], [uint32(5), 4], [uint32(12), 5], [uint32(1), 16]];
        for (uint256 k; k < lengths.length; ++k) {
            (uint32 prompt, uint32 steps) = (lengths[k][0], lengths[k][1]);
            (uint32 nodes,) = registry.counts(genModel, prompt, steps);
            assertEq(uint256(nodes), uint256(nodesAt(steps)));
            for (uint32 op; op < nodes; ++op) {
                (uint256 t, uint256 step) = whereIs(op);
                checkNode(prompt, steps, op, concreteNode(t, prompt, step), t);
            }
        }
        // the brief's example: P = 5, T = 4, the first node of step 3 is op 7 and reads trace tensor 7
        OpNode memory n = concreteNode(5, 5, 3);
        assertEq(uint256(n.input), 7);
        checkNode(5, 4, 7, n, 5);
    }

    /// The same concrete node claimed at other lengths, with a changed word, at another template index, or past
    /// the concrete graph is refused.
    function test_checkNode_otherLengthsOrWords_reverts() public {
        bytes32 root = registry.model(genModel).graphRoot;
        bytes32[] memory proof0 = Tree.proof(nodeLeaves(), 0);
        bytes32[] memory proof5 = Tree.proof(nodeLeaves(), 5);

        // t0 at P = 5 (rows 5) claimed at P = 6: its template leaf would have rows 0
        OpNode memory n0 = concreteNode(0, 5, 0);
        checkNode(5, 4, 0, n0, 0);
        OpNode memory back = templateNode(0);
        back.rows = 0;
        bytes32 got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(back), patchesOf(0))), 0, proof0);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        checkNode(6, 4, 0, n0, 0);

        // t5 of step 3 (op 7, input 7) claimed as step 4's (op 9 at T = 5): its template input would be 3
        OpNode memory n7 = concreteNode(5, 5, 3);
        back = templateNode(5);
        back.input = 3;
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(back), patchesOf(5))), 5, proof5);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        checkNode(5, 5, 9, n7, 5);

        // a changed patched word (input 8 at step 3) and a changed word no patch names (cols 5)
        OpNode memory changed = concreteNode(5, 5, 3);
        changed.input = 8;
        back = templateNode(5);
        back.input = 6; // 8 - 2 (3 - 2)
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(back), patchesOf(5))), 5, proof5);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        checkNode(5, 4, 7, changed, 5);
        changed = concreteNode(5, 5, 3);
        changed.cols = 5;
        back = templateNode(5);
        back.cols = 5;
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(back), patchesOf(5))), 5, proof5);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        checkNode(5, 4, 7, changed, 5);

        // the patches are part of the template leaf: another coefficient that lands on the same reference word,
        // or none at all, is another leaf
        Patch[] memory steeper = patchesOf(5);
        steeper[0].perStep = 3;
        OpNode memory n8 = concreteNode(5, 5, 3);
        n8.input = 8; // 8 - 3 (3 - 2) = 5, the reference input
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(templateNode(5)), steeper)), 5, proof5);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkNode(genModel, 5, 4, 7, abi.encode(n8), steeper, proof5);
        OpNode memory ref5 = concreteNode(5, 5, 2); // step 2 is the reference step: the leaf is the template's
        got = climbed(TensorMerkle.leafHash(abi.encode(ref5)), 5, proof5);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkNode(genModel, 5, 4, 5, abi.encode(ref5), new Patch[](0), proof5);
        // patches on a plain leaf make it another leaf too: t6 of step 3 (op 8) made to read tensor 2, not the
        // claim input, by a patch that moves its input back to the registered 0
        bytes32[] memory proof6 = Tree.proof(nodeLeaves(), 6);
        OpNode memory moved = templateNode(6);
        moved.input = 2;
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(templateNode(6)), patchesOf(5))), 6, proof6);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkNode(genModel, 5, 4, 8, abi.encode(moved), patchesOf(5), proof6);

        // step 3's t5 named as op 8 (template t6) with t6's proof: the wrong template index
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(templateNode(5)), patchesOf(5))), 6, proof6);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkNode(genModel, 5, 4, 8, abi.encode(n7), patchesOf(5), proof6);

        // past the concrete graph: op 9 at T = 4 (9 nodes), a step-1 node of a prefill-only claim
        vm.expectRevert(abi.encodeWithSelector(OpOutOfRange.selector, 9, 9));
        checkNode(5, 4, 9, concreteNode(5, 5, 4), 5);
        vm.expectRevert(abi.encodeWithSelector(OpOutOfRange.selector, 3, 3));
        checkNode(5, 1, 3, templateNode(3), 3);

        // lengths the template does not serve, and patches out of order
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 12, 6, CONTEXT));
        checkNode(12, 6, 7, n7, 5);
        Patch[] memory twice = new Patch[](2);
        (twice[0], twice[1]) = (Patch(INPUT_WORD, 0, 2), Patch(INPUT_WORD, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(BadPatch.selector, 1, INPUT_WORD));
        registry.checkNode(genModel, 5, 4, 7, abi.encode(n7), twice, proof5);
    }

    // ------------------------------------------------------------------ checkSegment

    /// Concrete segment `i` of `steps` steps: the template's, a later step's moved by whole steps of piece 2.
    function concreteSegment(uint256 i) internal pure returns (Segment memory s, uint256 t) {
        if (i < 3) return (templateSegment(i), i);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 shift = uint32(2 * (i - 3));
        return (Segment(5 + shift, 7 + shift), 3);
    }

    function test_checkSegment_everySegmentAtItsLengths_succeeds() public {
        uint32[3] memory stepsList = [uint32(1), 4, 16];
        for (uint256 k; k < 3; ++k) {
            uint32 steps = stepsList[k];
            (, uint32 segments) = registry.counts(genModel, 1, steps);
            assertEq(uint256(segments), steps == 1 ? 2 : 1 + uint256(steps));
            for (uint32 i; i < segments; ++i) {
                (Segment memory s, uint256 t) = concreteSegment(i);
                registry.checkSegment(genModel, steps, i, s, Tree.proof(segmentLeaves(), t));
            }
        }
        // T = 4: segment 4 is step 3's, nodes [7, 9)
        registry.checkSegment(genModel, 4, 4, Segment(7, 9), Tree.proof(segmentLeaves(), 3));
    }

    /// A segment off by a node, another step's range at this index, or past the concrete graph is refused.
    function test_checkSegment_offByANodeOrStep_reverts() public {
        bytes32 root = registry.model(genModel).segmentsRoot;
        bytes32[] memory proof3 = Tree.proof(segmentLeaves(), 3);
        // [7, 8) and [6, 8) at step 3 move back to [5, 6) and [4, 6): not the template's [5, 7)
        bytes32 got = climbed(TensorMerkle.leafHash(abi.encode(Segment(5, 6))), 3, proof3);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkSegment(genModel, 4, 4, Segment(7, 8), proof3);
        got = climbed(TensorMerkle.leafHash(abi.encode(Segment(4, 6))), 3, proof3);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkSegment(genModel, 4, 4, Segment(6, 8), proof3);
        // step 2's range [5, 7) named as step 3's segment
        got = climbed(TensorMerkle.leafHash(abi.encode(Segment(3, 5))), 3, proof3);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkSegment(genModel, 4, 4, Segment(5, 7), proof3);
        // step 3's range at T = 4 is right at index 4 and wrong at index 3 (step 2)
        got = climbed(TensorMerkle.leafHash(abi.encode(Segment(7, 9))), 3, proof3);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        registry.checkSegment(genModel, 4, 3, Segment(7, 9), proof3);
        // one node past the graph, a range before its step, an empty range, an index past the segments
        vm.expectRevert(abi.encodeWithSelector(BadSegment.selector, 8, 10));
        registry.checkSegment(genModel, 4, 4, Segment(8, 10), proof3);
        vm.expectRevert(abi.encodeWithSelector(BadSegment.selector, 1, 3));
        registry.checkSegment(genModel, 4, 4, Segment(1, 3), proof3);
        vm.expectRevert(abi.encodeWithSelector(BadSegment.selector, 7, 7));
        registry.checkSegment(genModel, 4, 4, Segment(7, 7), proof3);
        vm.expectRevert(abi.encodeWithSelector(SegmentOutOfRange.selector, 5, 5));
        registry.checkSegment(genModel, 4, 5, Segment(9, 11), proof3);
    }

    // ------------------------------------------------------------------ posting lengths

    function assertNoClaim(bytes32 id) internal {
        vm.expectRevert(abi.encodeWithSelector(UnknownClaim.selector, id));
        claims.claim(id);
    }

    function batchAt(uint32[2][] memory lengths) internal pure returns (Inference[] memory b) {
        b = new Inference[](lengths.length);
        for (uint256 i; i < lengths.length; ++i) {
            b[i] = Inference(keccak256(abi.encode("trace", i)), lengths[i][0], lengths[i][1]);
        }
    }

    /// A batch with one inference at lengths the model does not serve is refused whole, wherever that inference
    /// sits (first, behind a run of equal valid lengths, last): no claim, no ETH kept.
    function test_postClaim_lengthsTheModelDoesNotServe_reverts() public {
        // (model: 0 the generating one, 1 the fixed-shape fixture), prompt, steps, its context
        uint32[4][6] memory bad = [
            [uint32(0), 0, 3, CONTEXT],
            [uint32(0), 3, 0, CONTEXT],
            [uint32(0), 10, 8, CONTEXT],
            [uint32(0), 1, 17, CONTEXT],
            [uint32(1), 1, 2, 1],
            [uint32(1), 2, 1, 1]
        ];
        uint256 prover0 = prover.balance;
        for (uint256 k; k < bad.length; ++k) {
            bytes32 model = bad[k][0] == 0 ? genModel : fxModel;
            for (uint256 where; where < 3; ++where) {
                uint32[2][] memory lengths = new uint32[2][](3);
                for (uint256 i; i < 3; ++i) {
                    lengths[i] = i == where ? [bad[k][1], bad[k][2]] : [uint32(1), 1];
                }
                Inference[] memory batch = batchAt(lengths);
                bytes32 id = claims.claimIdOf(model, claims.batchRootOf(packed(batch)), prover);
                vm.prank(prover);
                vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, bad[k][1], bad[k][2], bad[k][3]));
                claims.postClaim{value: CLAIM_BOND}(model, packed(batch), "lengths");
                assertNoClaim(id);
            }
        }
        assertEq(prover.balance, prover0, "no bond kept");
        assertEq(address(claims).balance, 0);
    }

    /// A batch of inferences at different lengths the model serves posts: one bond, the reference batch root over
    /// the trace roots with their lengths, the lengths in the log. The lengths are bound: the same trace roots at
    /// other lengths are another batch.
    function test_postClaim_mixedValidLengths_succeeds() public {
        uint32[2][] memory lengths = new uint32[2][](5);
        (lengths[0], lengths[1], lengths[2], lengths[3], lengths[4]) =
        ([uint32(5), 4], [uint32(1), 1], [uint32(12), 5], [uint32(5), 4], [uint32(1), 16]);
        Inference[] memory batch = batchAt(lengths);
        bytes32 batchRoot = RefMerkle.root(batch);
        assertEq(claims.batchRootOf(packed(batch)), batchRoot, "the reference batch root");
        bytes32 id = claims.claimIdOf(genModel, batchRoot, prover);
        uint256 prover0 = prover.balance;
        vm.expectEmit(true, true, true, true, address(claims));
        emit ClaimManager.ClaimPosted(id, genModel, prover, batchRoot, packed(batch), CLAIM_BOND, "lengths");
        vm.prank(prover);
        assertEq(claims.postClaim{value: CLAIM_BOND}(genModel, packed(batch), "lengths"), id);
        Claim memory c = claims.claim(id);
        assertEq(c.batchRoot, batchRoot);
        assertEq(uint256(c.count), 5);
        assertEq(prover0 - prover.balance, CLAIM_BOND, "one bond");

        batch[2].steps = 4;
        bytes32 other = claims.batchRootOf(packed(batch));
        assertTrue(other != batchRoot, "the lengths are part of the batch root");
        vm.prank(prover);
        assertEq(
            claims.postClaim{value: CLAIM_BOND}(genModel, packed(batch), "lengths"), claims.claimIdOf(genModel, other, prover)
        );
        assertEq(address(claims).balance, 2 * CLAIM_BOND);
    }

    // ------------------------------------------------------------------ naming an inference at other lengths

    /// Coarse trace root i of the synthetic inference at (5, 4): 5 segments, 6 coarse leaves.
    function coarseRoot(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("coarse", i));
    }

    function coarseLeaves() internal pure returns (bytes32[] memory l) {
        l = new bytes32[](6);
        for (uint256 i; i < 6; ++i) {
            l[i] = listLeaf(coarseRoot(i));
        }
    }

    function boundary(uint256 i) internal pure returns (BoundaryOpening memory) {
        return BoundaryOpening(coarseRoot(i), Tree.proof(coarseLeaves(), i));
    }

    /// The prover posts inference 0 at (5, 4) and inference 1 at (1, 1).
    function postGenerating() internal returns (bytes32 id, Inference[] memory batch) {
        batch = new Inference[](2);
        batch[0] = Inference(Tree.root(coarseLeaves()), 5, 4);
        batch[1] = Inference(keccak256("another trace"), 1, 1);
        vm.prank(prover);
        id = claims.postClaim{value: CLAIM_BOND}(genModel, packed(batch), "lengths");
    }

    /// The inference at (5, 4) opened at (5, 3), (6, 4) or (5, 5), lengths the model serves, does not verify
    /// against the batch root, by `traceRootOf`, by every game entry and by a coarse data request; at lengths the
    /// model does not serve the data request is refused first (BadLengths). Nothing changes; the watcher's
    /// commitment still opens a game at the posted lengths afterwards.
    function test_inferenceOpening_otherLengths_reverts() public {
        (bytes32 id, Inference[] memory batch) = postGenerating();
        Claim memory c = claims.claim(id);
        InferenceOpening memory honest = inferenceOf(batch, 0);
        assertEq(claims.traceRootOf(c, honest), batch[0].traceRoot);
        bytes32 salt = commit(watcher, id);
        uint32[2][3] memory other = [[uint32(5), 3], [uint32(6), 4], [uint32(5), 5]];
        for (uint256 k; k < 3; ++k) {
            InferenceOpening memory inf = inferenceOf(batch, 0);
            (inf.prompt, inf.steps) = (other[k][0], other[k][1]);
            bytes32 got = RefMerkle.climbFrom(RefMerkle.leaf(inf.traceRoot, inf.prompt, inf.steps), 0, inf.proof);
            bytes memory refused = abi.encodeWithSelector(ProofDoesNotVerify.selector, got, c.batchRoot);
            vm.expectRevert(refused);
            claims.traceRootOf(c, inf);
            SegmentPointer memory p = SegmentPointer(3, boundary(3), boundary(4));
            (BoundaryOpening memory input, BoundaryOpening memory output) = (boundary(0), boundary(5));
            vm.startPrank(watcher);
            vm.expectRevert(refused);
            game.pointSegment(id, inf, p, salt);
            vm.expectRevert(refused);
            game.bisect(id, inf, input, output, salt);
            vm.expectRevert(refused);
            claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 1, 0, 1);
            vm.stopPrank();
        }
        InferenceOpening memory unserved = inferenceOf(batch, 0);
        unserved.prompt = 0;
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 0, 4, CONTEXT));
        claims.requestData{value: DATA_BOND}(id, bytes32(0), unserved, 1, 0, 1);
        assertEq(claims.openGames(id), 0, "no game");
        assertEq(claims.openRequests(id), 0, "no request");
        assertEq(claims.committed(), CHALLENGE_BOND, "the commitment is still held");
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);

        // at the posted lengths: 5 segments, the game keeps the lengths
        SegmentPointer memory last = SegmentPointer(4, boundary(4), boundary(5));
        vm.prank(watcher);
        bytes32 gid = game.pointSegment(id, honest, last, salt);
        PartitionGame memory g = game.partitionGame(gid);
        assertEq(uint256(g.prompt), 5);
        assertEq(uint256(g.steps), 4);
        assertEq(uint256(g.segments), 5);
        assertEq(claims.openGames(id), 1);
        assertEq(claims.committed(), 0);
    }

    /// A game on the inference at (5, 4), disputed at its last segment (step 3, nodes [7, 9)): the prover must
    /// answer with that step's node range (step 2's is refused), and the watcher can only ask for a node described
    /// as the template gives it at step 3 (step 2's description of the same template node is refused).
    function test_game_checksNodesAndSegmentsAtTheClaimsLengths_succeeds() public {
        (bytes32 id, Inference[] memory batch) = postGenerating();
        bytes32 salt = commit(watcher, id);
        InferenceOpening memory inf = inferenceOf(batch, 0);
        SegmentPointer memory p = SegmentPointer(4, boundary(4), boundary(5));
        vm.prank(watcher);
        bytes32 gid = game.pointSegment(id, inf, p, salt);
        // the fine trace: boundary 4 (trace tensor 7), tensor 8, boundary 5 (trace tensor 9)
        bytes32[] memory fine = new bytes32[](3);
        (fine[0], fine[1], fine[2]) = (listLeaf(coarseRoot(4)), listLeaf(keccak256("t8")), listLeaf(coarseRoot(5)));
        bytes32[] memory proof3 = Tree.proof(segmentLeaves(), 3);
        FineAnswer memory a = FineAnswer(
            Tree.root(fine), SegmentOpening(4, Segment(5, 7), proof3), Tree.proof(fine, 0), Tree.proof(fine, 2)
        );
        bytes32 got = climbed(TensorMerkle.leafHash(abi.encode(Segment(3, 5))), 3, proof3);
        bytes32 segmentsRoot = registry.model(genModel).segmentsRoot;
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, segmentsRoot));
        game.postFine(gid, a);
        a.segment.segment = Segment(7, 9);
        vm.prank(prover);
        game.postFine(gid, a);
        PartitionGame memory g = game.partitionGame(gid);
        assertEq(uint256(g.segStart), 7);
        assertEq(uint256(g.segEnd), 9);

        ElementRequest memory r;
        r.op = 7;
        r.node = concreteNode(5, 5, 2); // input 5: the node as step 2 has it
        r.nodePatches = patchesOf(5);
        r.nodeProof = nodeProofs[5];
        OpNode memory back = templateNode(5);
        back.input = 3; // 5 - 2 (3 - 2)
        got = climbed(TensorMerkle.leafHash(abi.encode(abi.encode(back), patchesOf(5))), 5, nodeProofs[5]);
        bytes32 graphRoot = registry.model(genModel).graphRoot;
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, graphRoot));
        game.requestElement(gid, r);
        r.op = 5;
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(OpNotInSegment.selector, 5, 7, 9));
        game.requestElement(gid, r);
        r.op = 7;
        r.node = concreteNode(5, 5, 3);
        vm.prank(watcher);
        game.requestElement(gid, r);
        g = game.partitionGame(gid);
        assertEq(uint8(g.phase), uint8(Phase.Open));
        assertEq(uint256(g.reqOp), 7);
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);
    }
}
