// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Linear} from "../src/ops/Linear.sol";
import {Base} from "./Base.t.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Inference,
    InferenceOpening,
    ElementChallenge,
    TensorOpening,
    ChunkOpening,
    Segment,
    SegmentOpening,
    BoundaryOpening,
    SegmentPointer,
    FineAnswer,
    FineChallenge,
    ElementRequest
} from "../src/lib/Types.sol";

/// @notice Merkle trees over leaf hashes, level by level (the naive reference of `TensorMerkle`).
library Tree {
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = _padded(leaves);
        for (uint256 width = level.length; width > 1;) {
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = TensorMerkle.nodeHash(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        bytes32[] memory level = _padded(leaves);
        p = new bytes32[](TensorMerkle.depth(leaves.length));
        uint256 width = level.length;
        for (uint256 l; l < p.length; ++l) {
            p[l] = level[index ^ 1];
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = TensorMerkle.nodeHash(level[2 * i], level[2 * i + 1]);
            }
            index >>= 1;
        }
    }

    function _padded(bytes32[] memory leaves) private pure returns (bytes32[] memory level) {
        uint256 width = 1;
        while (width < leaves.length) width <<= 1;
        level = new bytes32[](width);
        for (uint256 i; i < width; ++i) {
            level[i] = i < leaves.length ? leaves[i] : TensorMerkle.emptyLeaf();
        }
    }
}

/// @notice A four-op model in three segments, every tensor one chunk, so every root and proof is built here:
///
///     t0 = x = [1, 2, 3, 4]                       segment 0 = nodes [0, 2): fine leaves t0 t1 t2
///     op0: t1 = x . w0,  w0 = [1, 1, 1, 1]  (10)  segment 1 = nodes [2, 3): fine leaves t2 t3
///     op1: t2 = relu(t1)                    (10)  segment 2 = nodes [3, 4): fine leaves t3 t4
///     op2: t3 = t2 + b,  b = [1]            (11)  coarse trace: t0 t2 t3 t4
///     op3: t4 = t2 + b                      (11)  (reads segment 0's output boundary from segment 2)
///
///   The corrupt claim has t3 = 12 (op2 outside its bound; the output t4 = 11 is still right).
abstract contract Fixture is Base {
    uint32 internal constant ELEVEN = 0x41300000;
    uint32 internal constant TWELVE = 0x41400000;
    uint32 internal constant FX_SEGMENTS = 3;
    /// The fixture's declared output tolerance: 1e-3 (fp32 bits).
    uint32 internal constant FX_OUTPUT_TOLERANCE = 0x3a83126f;

    bytes32 internal fxModel;
    /// Honest t1 = t2 (x . w) and t3 = t4 (x . w + 1), the corrupt t3.
    uint32 internal fxDot = TEN;
    uint32 internal fxDotPlusOne = ELEVEN;
    uint32 internal fxWrong = TWELVE;

    function setUp() public virtual override {
        super.setUp();
        fxPrepare();
        fxModel = registry.register(fxSpec());
    }

    /// Hook to change x, w and the fixture's values before the model registers.
    function fxPrepare() internal virtual {}

    function fxNode(uint256 op) internal view returns (OpNode memory) {
        // forge-lint: disable-next-line(unsafe-typecast)
        if (op == 0) return OpNode(OpKind.MatMul, 0, 0, 0, 0, 1, 1, abi.encode(Linear.MatMulParams(uint32(x.length))));
        if (op == 1) return OpNode(OpKind.Relu, 1, 0, 0, 0, 1, 1, "");
        if (op == 2) return OpNode(OpKind.Add, 2, 0, 1, 0, 1, 1, "");
        return OpNode(OpKind.Add, 2, 0, 1, 0, 1, 1, "");
    }

    function fxSegment(uint256 s) internal pure returns (Segment memory) {
        if (s == 0) return Segment(0, 2);
        if (s == 1) return Segment(2, 3);
        return Segment(3, 4);
    }

    function fxNodeLeaves() internal view returns (bytes32[] memory l) {
        l = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            l[i] = TensorMerkle.leafHash(abi.encode(fxNode(i)));
        }
    }

    function fxSegmentLeaves() internal pure returns (bytes32[] memory l) {
        l = new bytes32[](FX_SEGMENTS);
        for (uint256 i; i < FX_SEGMENTS; ++i) {
            l[i] = TensorMerkle.leafHash(abi.encode(fxSegment(i)));
        }
    }

    function fxBias() internal pure returns (uint32[] memory) {
        return one(ONE);
    }

    function fxBiasShape() internal pure returns (uint32[] memory s) {
        s = new uint32[](1);
        s[0] = 1;
    }

    function fxWeightLeaves() internal view returns (bytes32[] memory l) {
        l = new bytes32[](2);
        l[0] = listLeaf(rootOf(w, fxShape(0)));
        l[1] = listLeaf(rootOf(fxBias(), fxBiasShape()));
    }

    function fxSpec() internal view returns (ModelSpec memory) {
        return ModelSpec({
            graphRoot: Tree.root(fxNodeLeaves()),
            pieceNodes: fixedShape(4),
            pieceSegments: fixedShape(FX_SEGMENTS),
            context: 1,
            segmentsRoot: Tree.root(fxSegmentLeaves()),
            weightsRoot: Tree.root(fxWeightLeaves()),
            weightCount: 2,
            profileRoot: keccak256("profile"),
            outputTolerance: FX_OUTPUT_TOLERANCE,
            uri: "fixture"
        });
    }

    /// Trace tensor t of the honest or corrupt claim.
    function fxTensor(bool corrupt, uint256 t) internal view returns (uint32[] memory) {
        if (t == 0) return x;
        if (t == 1 || t == 2) return one(fxDot);
        if (t == 3) return one(corrupt ? fxWrong : fxDotPlusOne);
        return one(fxDotPlusOne);
    }

    function fxShape(uint256 t) internal view returns (uint32[] memory) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return t == 0 ? shape2(1, uint32(x.length)) : shape2(1, 1);
    }

    function fxRoot(bool corrupt, uint256 t) internal view returns (bytes32) {
        return rootOf(fxTensor(corrupt, t), fxShape(t));
    }

    /// Trace index of coarse leaf i.
    function fxCoarseIndex(uint256 i) internal pure returns (uint256) {
        return i == 0 ? 0 : fxSegment(i - 1).end;
    }

    function fxCoarseLeaves(bool corrupt) internal view returns (bytes32[] memory l) {
        l = new bytes32[](FX_SEGMENTS + 1);
        for (uint256 i; i <= FX_SEGMENTS; ++i) {
            l[i] = listLeaf(fxRoot(corrupt, fxCoarseIndex(i)));
        }
    }

    function fxFineLeaves(bool corrupt, uint256 s) internal view returns (bytes32[] memory l) {
        Segment memory seg = fxSegment(s);
        l = new bytes32[](seg.end - seg.start + 1);
        for (uint256 i; i < l.length; ++i) {
            l[i] = listLeaf(fxRoot(corrupt, seg.start + i));
        }
    }

    /// The coarse trace root of the honest or corrupt inference.
    function fxTraceRoot(bool corrupt) internal view returns (bytes32) {
        return Tree.root(fxCoarseLeaves(corrupt));
    }

    /// The honest or corrupt inference as the only one of its claim's batch.
    function fxInf(bool corrupt) internal view returns (InferenceOpening memory) {
        return single(fxTraceRoot(corrupt));
    }

    /// The batch of trace roots `roots`, every inference at the fixed-shape lengths.
    function batchOf(bytes32[] memory roots) internal pure returns (Inference[] memory batch) {
        batch = new Inference[](roots.length);
        for (uint256 j; j < roots.length; ++j) {
            batch[j] = atFixedLengths(roots[j]);
        }
    }

    /// Inference `i` of `batch`, opened against its batch root.
    function inferenceOf(Inference[] memory batch, uint256 i) internal pure returns (InferenceOpening memory inf) {
        bytes32[] memory leaves = new bytes32[](batch.length);
        for (uint256 j; j < batch.length; ++j) {
            leaves[j] = inferenceLeaf(batch[j]);
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        inf.index = uint32(i);
        inf.traceRoot = batch[i].traceRoot;
        inf.prompt = batch[i].prompt;
        inf.steps = batch[i].steps;
        inf.proof = Tree.proof(leaves, i);
    }

    /// Inference `i` of the batch with trace roots `roots` (at the fixed-shape lengths), opened against its
    /// batch root.
    function inferenceOf(bytes32[] memory roots, uint256 i) internal pure returns (InferenceOpening memory) {
        return inferenceOf(batchOf(roots), i);
    }

    /// Posts the claim on `batch` of the fixture model.
    function fxPostBatch(Inference[] memory batch) internal returns (bytes32 id) {
        vm.prank(prover);
        id = claims.postClaim{value: CLAIM_BOND}(fxModel, packed(batch), "fixture");
    }

    /// Posts the claim on a batch of `roots` (at the fixed-shape lengths) of the fixture model.
    function fxPostBatch(bytes32[] memory roots) internal returns (bytes32 id) {
        return fxPostBatch(batchOf(roots));
    }

    /// Posts the claim on a batch of one honest or corrupt inference.
    function fxPost(bool corrupt) internal returns (bytes32 id) {
        id = fxPostBatch(batchOf(fxTraceRoot(corrupt)));
    }

    function fxBoundary(bool corrupt, uint256 i) internal view returns (BoundaryOpening memory b) {
        b.root = fxRoot(corrupt, fxCoarseIndex(i));
        b.proof = Tree.proof(fxCoarseLeaves(corrupt), i);
    }

    /// The honest or corrupt inference's input (coarse leaf 0), opened.
    function fxInput(bool corrupt) internal view returns (BoundaryOpening memory) {
        return fxBoundary(corrupt, 0);
    }

    /// The honest or corrupt inference's output (the last coarse leaf), opened.
    function fxOutput(bool corrupt) internal view returns (BoundaryOpening memory) {
        return fxBoundary(corrupt, FX_SEGMENTS);
    }

    /// `who` commits and starts a partition game by bisection on the honest or corrupt inference of claim `id`
    /// (a batch of one).
    function fxBisect(address who, bytes32 id, bool corrupt) internal returns (bytes32 gid) {
        InferenceOpening memory inf = fxInf(corrupt);
        BoundaryOpening memory input = fxInput(corrupt);
        BoundaryOpening memory output = fxOutput(corrupt);
        bytes32 salt = commit(who, id);
        vm.prank(who);
        gid = game.bisect(id, inf, input, output, salt);
    }

    /// `who` commits and starts a partition game at segment `s` of the honest or corrupt inference of claim `id`
    /// (a batch of one).
    function fxPoint(address who, bytes32 id, bool corrupt, uint32 s) internal returns (bytes32 gid) {
        InferenceOpening memory inf = fxInf(corrupt);
        SegmentPointer memory p = fxPointer(corrupt, s);
        bytes32 salt = commit(who, id);
        vm.prank(who);
        gid = game.pointSegment(id, inf, p, salt);
    }

    function fxPointer(bool corrupt, uint32 s) internal view returns (SegmentPointer memory p) {
        p.segment = s;
        p.lo = fxBoundary(corrupt, s);
        p.hi = fxBoundary(corrupt, uint256(s) + 1);
    }

    /// The boundaries lo + j w, j = 1 .. count, opened.
    function fxReveal(bool corrupt, uint256 lo, uint256 w, uint256 count)
        internal
        view
        returns (BoundaryOpening[] memory r, bytes32[] memory roots)
    {
        r = new BoundaryOpening[](count);
        roots = new bytes32[](count);
        for (uint256 j; j < count; ++j) {
            r[j] = fxBoundary(corrupt, lo + (j + 1) * w);
            roots[j] = r[j].root;
        }
    }

    function fxSegmentOpening(uint256 s) internal pure returns (SegmentOpening memory o) {
        // forge-lint: disable-next-line(unsafe-typecast)
        o.index = uint32(s);
        o.segment = fxSegment(s);
        o.proof = Tree.proof(fxSegmentLeaves(), s);
    }

    function fxFine(bool corrupt, uint256 s) internal view returns (FineAnswer memory a) {
        bytes32[] memory leaves = fxFineLeaves(corrupt, s);
        a.fineRoot = Tree.root(leaves);
        a.segment = fxSegmentOpening(s);
        a.firstProof = Tree.proof(leaves, 0);
        a.lastProof = Tree.proof(leaves, leaves.length - 1);
    }

    function fxOpening(uint32[] memory bits, bytes32[] memory rootProof)
        internal
        pure
        returns (TensorOpening memory t)
    {
        t.dataRoot = TensorMerkle.leafHash(le(bits));
        t.rootProof = rootProof;
        t.chunks = new ChunkOpening[](1);
        t.chunks[0] = ChunkOpening(0, le(bits), new bytes32[](0));
    }

    function fxSegmentOf(uint256 op) internal pure returns (uint256) {
        return op < 2 ? 0 : op - 1;
    }

    /// The element challenge of element (0, 0) of `op` against its segment's fine root.
    function fxElement(bool corrupt, uint256 op) internal view returns (FineChallenge memory c) {
        uint256 s = fxSegmentOf(op);
        Segment memory seg = fxSegment(s);
        bytes32[] memory fine = fxFineLeaves(corrupt, s);
        OpNode memory n = fxNode(op);
        ElementChallenge memory e;
        // forge-lint: disable-next-line(unsafe-typecast)
        e.op = uint32(op);
        e.node = n;
        e.nodeProof = Tree.proof(fxNodeLeaves(), op);
        e.output = fxOpening(fxTensor(corrupt, op + 1), Tree.proof(fine, op + 1 - seg.start));
        if (n.input >= seg.start) {
            e.input = fxOpening(fxTensor(corrupt, n.input), Tree.proof(fine, n.input - seg.start));
        } else {
            // from an earlier segment's boundary: open against the coarse root
            uint256 cs = fxSegmentOf(n.input - 1);
            e.input = fxOpening(fxTensor(corrupt, n.input), Tree.proof(fxCoarseLeaves(corrupt), cs + 1));
            c.inputSegment = fxSegmentOpening(cs);
        }
        if (n.kind == OpKind.MatMul) e.weight = fxOpening(w, Tree.proof(fxWeightLeaves(), 0));
        if (n.kind == OpKind.Add) e.weight = fxOpening(fxBias(), Tree.proof(fxWeightLeaves(), 1));
        c.element = e;
    }

    /// The request that the prover open element (0, 0) of `op`.
    function fxRequest(uint256 op) internal view returns (ElementRequest memory r) {
        // forge-lint: disable-next-line(unsafe-typecast)
        r.op = uint32(op);
        r.node = fxNode(op);
        r.nodeProof = Tree.proof(fxNodeLeaves(), op);
        Segment memory seg = fxSegment(fxSegmentOf(op));
        if (r.node.input < seg.start && r.node.input != 0) {
            r.inputSegment = fxSegmentOpening(fxSegmentOf(r.node.input - 1));
        }
    }

    /// Three validators, each with the minimum stake.
    function stakeValidators() internal returns (address[] memory v) {
        v = new address[](3);
        for (uint256 i; i < 3; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            v[i] = address(uint160(0x2000 + i));
            vm.deal(v[i], 10 ether);
            vm.prank(v[i]);
            committee.stake{value: MIN_STAKE}();
        }
    }

    /// Every drawn member commits and reveals `outside`; the vote is resolved.
    function voteAll(bytes32 gid, bool outside) internal {
        (address[] memory m,,,,,,,) = committee.vote(gid);
        for (uint256 i; i < m.length; ++i) {
            bytes32 commitment = keccak256(abi.encode(gid, m[i], outside, bytes32(i)));
            vm.prank(m[i]);
            committee.commit(gid, commitment);
        }
        for (uint256 i; i < m.length; ++i) {
            vm.prank(m[i]);
            committee.reveal(gid, outside, bytes32(i));
        }
        committee.resolve(gid);
    }
}
