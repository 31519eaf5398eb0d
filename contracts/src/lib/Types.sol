// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Position} from "./Position.sol";
import {Clock, Side} from "./Clock.sol";

/// @notice Operator kinds of the graph IR. The numbering is shared with Rust (`nao_numerics::op::OpKind`); each
///         kind's check lives in the library of its family under `contracts/src/ops/` (the same families as the
///         Rust modules of `nao_numerics::op`), with its parameter struct when it has constants.
/// @dev Shapes: the output is [rows, cols], or [batch, rows / batch, cols] when `batch` is not 0 (rows counts
///      the rows of every batch); an element (row, col) indexes the output viewed as [rows, cols]. Argmax's
///      output is [rows] and `col` names the challenger's witness column; MeanRows' is [cols].
enum OpKind {
    None,
    /// y[r, c] = sum_k x[r, k] * w[c, k]   (x: trace tensor [rows, inner], w: weight [cols, inner];
    ///                                      `Linear.MatMulParams`)
    MatMul,
    /// y[r, c] = x[r, c] + b[c]            (x: trace tensor [rows, cols], b: weight [cols])
    Add,
    /// y[r, c] = max(x[r, c], 0)           (x: trace tensor [rows, cols])
    Relu,
    /// y[r, c] = w[ids[r], c], bit-exact    (ids: trace tensor [rows] of integral fp32 ids, w: weight
    ///                                       [vocab, cols]; `Movement.EmbeddingParams`)
    Embedding,
    /// y = x + x2, elementwise over two trace tensors of the output's shape (a residual connection)
    Residual,
    /// y = x * x2, elementwise over two trace tensors of the output's shape (a gated activation)
    Mul,
    /// y = x * factor (`Elementwise.ScaleParams`)
    Scale,
    /// y[r, c] = x[r, c] / sqrt(mean_k x[r, k]^2 + eps) * g[c]   (g: weight [cols]; `Norm.RmsNormParams`)
    RmsNorm,
    /// y[r, c] = exp(x[r, c]) / sum_k exp(x[r, k]) over the last dim
    Softmax,
    /// y = x / (1 + exp(-x))
    Silu,
    /// y = -inf where c > offset + (r mod rows / batch) (key position after the query's), else x, bit-exact
    ///     (`Attention.CausalMaskParams`)
    CausalMask,
    /// y[r] = an index of a maximum of x[r, :] (x: [rows, length]; `input2` = `input`), ties allowed: the
    ///        challenger names a column `col` with x[r, col] > x[r, y[r]]   (`Reduce.ArgmaxParams`)
    Argmax,
    /// y[r, c] = (x[r, c] - mean_k x[r, k]) / sqrt(var_k x[r, k] + eps) * g[c] + b[c]   (g: weight [cols]; b:
    ///        weight [cols]; `Norm.LayerNormParams`)
    LayerNorm,
    /// y = x / 2 (1 + erf(x / sqrt 2))
    Gelu,
    /// y = x, the same flat element of the input, bit-exact   (`Movement.ReshapeParams`)
    Reshape,
    /// y[.., i, .., j, ..] = x[.., j, .., i, ..], two dims swapped, bit-exact   (`Movement.TransposeParams`)
    Transpose,
    /// y[.., i, ..] = x[.., i + start, ..] along one dim, bit-exact   (`Movement.NarrowParams`)
    Narrow,
    /// y = x then x2 along one dim, bit-exact   (`Movement.ConcatParams`)
    Concat,
    /// y[c] = mean_r x[r, c]   (x: [rows of the params, cols]; output [cols], elements (0, c);
    ///        `Reduce.MeanRowsParams`)
    MeanRows,
    /// rotary embedding (rotate-half) of rows of `cols` at position start + (r mod rows / batch), scaled: each
    ///     pair's frequency divided by its factor, the weight `[cols / 2]`   (`Attention.RopeParams`)
    Rope,
    /// y[b, i, j] = sum_k x[b, i, k] * x2[b, j, k] (transposed: x2 is [batch, cols, inner]) or x2[b, k, j]
    ///        (x2 is [batch, inner, cols]); x is [batch, rows / batch, inner]   (`Linear.BatchMatMulParams`)
    BatchMatMul,
    /// y = min(max(x, lo), hi) as a max then a min, bit-exact (ReLU6 is lo 0, hi 6)   (`Clamp.ClampParams`)
    Clamp
}

/// @notice One node of a registered graph; its ABI encoding is the leaf of the graph root.
/// @dev Every field has one meaning: `input` / `input2` index the trace (0 is the claim's input tensor, i + 1
///      the output of node i; `input2` only for ops with two trace operands, see `readsInput2`), `weight` the
///      model's weight tensors (ops that read one), `batch` / `rows` / `cols` the output shape. What else a
///      kind needs is `params`: the ABI encoding of the kind's parameter struct, declared next to its check in
///      its family's library (e.g. `Linear.MatMulParams`), and empty for kinds without constants.
struct OpNode {
    OpKind kind;
    uint32 input;
    uint32 input2;
    uint32 weight;
    uint32 batch;
    uint32 rows;
    uint32 cols;
    bytes params;
}

/// @notice Whether ops of `kind` read a second trace operand (`OpNode.input2`).
function readsInput2(OpKind kind) pure returns (bool) {
    return kind == OpKind.Residual || kind == OpKind.Mul || kind == OpKind.Argmax || kind == OpKind.Concat
        || kind == OpKind.BatchMatMul;
}

/// @notice Where a tensor sits: leaf `index` of a list of `count` tensor roots with root `root`.
struct Loc {
    bytes32 root;
    uint256 index;
    uint256 count;
}

/// @notice How one 32-byte word of a node's leaf moves with a claim's lengths: word `word` of the leaf at
///         prompt length P and step s is the template's word + perToken * (P - 1) + perStep * (s - k), k the
///         reference step of the node's piece. Mirrors Rust's `nao_numerics::graph::template::Patch`.
struct Patch {
    uint32 word;
    int64 perToken;
    int64 perStep;
}

/// @notice What a model owner registers: one template serving every length (`Template.sol`). modelId =
///         keccak256(abi.encode(graphRoot, pieceNodes, pieceSegments, context, segmentsRoot, weightsRoot,
///         weightCount, profileRoot)). The concrete graph of a claim's lengths (P prompt tokens, T steps) is
///         the prefill piece, then the first-step piece (T >= 2), then the later-step piece T - 2 times; its
///         nodes are tiled by segments, and an inference's trace root is its coarse trace: the input, the output
///         of each segment's last node, so segments + 1 leaves (the last one the output). `graphRoot` is the
///         list root over the template leaves (piece by piece), `segmentsRoot` over `abi.encode(Segment)` of the
///         template segments, in template numbering (a later step's segment is the template's moved by whole
///         steps of the last piece).
struct ModelSpec {
    bytes32 graphRoot;
    /// @notice Nodes of the prefill, the first step and each later step (0, 0 for a model that does not
    ///         generate).
    uint32[3] pieceNodes;
    /// @notice Segments of each piece.
    uint32[3] pieceSegments;
    /// @notice The most positions a claim uses: prompt + steps - 1.
    uint32 context;
    bytes32 segmentsRoot;
    bytes32 weightsRoot;
    uint32 weightCount;
    bytes32 profileRoot;
    /// @notice The declared output tolerance (fp32 bits; 0: none): how far an element of a claim's output may
    ///         be from an honest run of its input. The output vote (`DisputeGame.escalateOutput`) holds claims to
    ///         it. Part of the id: nobody can register an owner's graph first with another tolerance in its place.
    uint32 outputTolerance;
    string uri;
}

/// @notice The id a model registers under: a content hash of everything that defines its computation.
function modelIdOf(ModelSpec memory spec) pure returns (bytes32) {
    return keccak256(
        abi.encode(
            spec.graphRoot,
            spec.pieceNodes,
            spec.pieceSegments,
            spec.context,
            spec.segmentsRoot,
            spec.weightsRoot,
            spec.weightCount,
            spec.profileRoot,
            spec.outputTolerance
        )
    );
}

/// @notice Lifecycle of a claim.
enum ClaimStatus {
    None,
    Pending,
    Finalized,
    Slashed
}

/// @notice A posted claim: a batch of `count` inferences of model `modelId`, "running the model on each input
///         gives its output, and its trace root commits the run". `batchRoot` is the list root over the
///         inferences' trace roots, in order (leaf i: inference i's coarse trace root, whose first leaf is its
///         input and last leaf its output). A fraud in any inference slashes the whole claim.
struct Claim {
    bytes32 modelId;
    bytes32 batchRoot;
    address prover;
    uint96 bond;
    uint64 postedAt;
    ClaimStatus status;
    uint32 count;
}

/// @notice One inference of a claim's batch: its coarse trace root and its lengths (prompt tokens, steps), which
///         fix its concrete graph. Leaf data in the batch root: `abi.encodePacked(traceRoot, prompt, steps)`.
struct Inference {
    bytes32 traceRoot;
    uint32 prompt;
    uint32 steps;
}

/// @notice Inference `index` of a claim's batch with the proof against the claim's batch root. Every game names
///         the inference it disputes with one.
struct InferenceOpening {
    uint32 index;
    bytes32 traceRoot;
    uint32 prompt;
    uint32 steps;
    bytes32[] proof;
}

/// @notice One 1024-element chunk of a tensor (fp32 little-endian) with its Merkle proof.
struct ChunkOpening {
    uint32 index;
    bytes data;
    bytes32[] proof;
}

/// @notice Consecutive chunks of one tensor, its data root, and the proof of its tensor root in a list root
///         (the claim's trace root or the model's weights root).
struct TensorOpening {
    bytes32 dataRoot;
    bytes32[] rootProof;
    ChunkOpening[] chunks;
}

/// @notice A one-level challenge: op `op` (its descriptor: `node` at the claim's lengths, with the template leaf's
///         `nodePatches` and proof against the graph root), output element (row, col), with openings of the output element,
///         the input row (or element) and the weight row (or bias element) it depends on, and of the second
///         operand's elements: the second trace operand's (ops that read one) or the second weight's
///         (LayerNorm's shift); empty otherwise.
struct ElementChallenge {
    uint32 op;
    OpNode node;
    bytes32[] nodeProof;
    Patch[] nodePatches;
    uint32 row;
    uint32 col;
    TensorOpening output;
    TensorOpening input;
    TensorOpening weight;
    TensorOpening input2;
}

/// @notice Outcome of a dispute game. `Moot`: the claim was settled by another game first; the challenger's
///         bond went back to it.
enum GameOutcome {
    None,
    ChallengerWon,
    ProverWon,
    Moot
}

/// @notice A resolved one-level game.
struct Game {
    bytes32 claimId;
    address challenger;
    uint32 inference;
    uint32 op;
    uint32 row;
    uint32 col;
    GameOutcome outcome;
}

/// @notice Segment s of a model: its nodes [start, end). Segments tile the nodes in order; the coarse trace
///         leaf s is the segment's input boundary (trace tensor `start`), leaf s + 1 its output boundary
///         (trace tensor `end`). Its ABI encoding is leaf s of the model's segments root.
struct Segment {
    uint32 start;
    uint32 end;
}

/// @notice Segment `index` with its proof against the model's segments root.
struct SegmentOpening {
    uint32 index;
    Segment segment;
    bytes32[] proof;
}

/// @notice One leaf of the coarse trace (a boundary tensor root) with its proof; the index is implied by the
///         move that carries it.
struct BoundaryOpening {
    bytes32 root;
    bytes32[] proof;
}

/// @notice Direct pointing: the challenger disputes the transition of segment `segment`, opening its two
///         boundaries (coarse leaves `segment` and `segment + 1`) against the claim's trace root.
struct SegmentPointer {
    uint32 segment;
    BoundaryOpening lo;
    BoundaryOpening hi;
}

/// @notice The prover's answer to a disputed segment: the fine-trace root of the segment (the list root over
///         trace tensors start..end, both boundaries included) with proofs that its first and last leaves are
///         the disputed boundaries, and the segment's node range opened against the segments root.
struct FineAnswer {
    bytes32 fineRoot;
    SegmentOpening segment;
    bytes32[] firstProof;
    bytes32[] lastProof;
}

/// @notice The element level against a fine root: `element` opens the op's output and input against the
///         segment's fine root; an input read from an earlier segment's boundary is opened against the claim's
///         coarse root instead, with `inputSegment` (the segment ending at that trace tensor; `input2Segment` for the
///         second trace operand) proving where it
///         sits (ignored otherwise).
struct FineChallenge {
    ElementChallenge element;
    SegmentOpening inputSegment;
    SegmentOpening input2Segment;
}

/// @notice Where a partition game stands; the phase says whose turn it is.
enum Phase {
    None,
    /// prover: reveal the interior boundaries of the current range
    Reveal,
    /// challenger: pick a sub-range of the revealed boundaries
    Pick,
    /// prover: post the disputed segment's fine-trace root
    Fine,
    /// challenger: open an op output element against the fine root (adjudicated in the same move), or request
    /// the prover to open one
    Element,
    /// decided
    Ended,
    /// prover: open the element the challenger requested (adjudicated in the same move)
    Open,
    /// the committee votes on the element the challenger escalated (no clock runs)
    Vote
}

/// @notice A partition game (storage layout; nine slots).
/// @dev `clock` holds each side's seconds left and when the side to move (given by `phase`) started thinking
///      (`LibClock`). `lo`/`hi` are the boundary (coarse leaf) indices of the
///      disputed range with their roots `loRoot`/`hiRoot`; `pending` is keccak256 of the roots revealed in a
///      `Reveal` move (while picking) or the fine-trace root (from `Fine` on). `segStart`/`segEnd` are the
///      node range of the disputed segment once the prover opened it; `segments` the model's segment count;
///      `reqOp`, `reqRow`, `reqCol` the element the challenger requested (phase `Open`); `rank` the block of the
///      challenger's commitment (`ClaimManager.openGame`), which orders winners for the reward; `inference` the
///      disputed inference of the claim's batch and `traceRoot` its coarse trace root.
struct PartitionGame {
    bytes32 claimId;
    bytes32 traceRoot;
    uint32 inference;
    uint32 prompt;
    uint32 steps;
    address challenger;
    Phase phase;
    GameOutcome outcome;
    Position position;
    Clock clock;
    uint32 lo;
    uint32 hi;
    address prover;
    uint32 segments;
    uint32 segStart;
    uint32 segEnd;
    bytes32 loRoot;
    bytes32 hiRoot;
    bytes32 pending;
    uint32 reqOp;
    uint32 reqRow;
    uint32 reqCol;
    uint64 rank;
}

/// @notice The challenger's request that the prover open output element (row, col) of op `op`: the descriptor
///         (against the graph root) and, for an input read from an earlier segment's boundary, that segment,
///         so the contract can check the prover is able to answer before making it.
struct ElementRequest {
    uint32 op;
    OpNode node;
    bytes32[] nodeProof;
    Patch[] nodePatches;
    uint32 row;
    uint32 col;
    SegmentOpening inputSegment;
    SegmentOpening input2Segment;
}

/// @notice An element escalated to the committee without openings, because none can decide it on-chain: its op's
///         leaf in the graph root (`leaf`, at index `op`) is no descriptor the contracts know, or describes an op
///         that reads an interior tensor of an earlier segment (`inputSegment` / `input2Segment`: the segment that
///         computes it, whose output boundary it is not), or one whose openings exceed a block or a transaction.
struct Unopenable {
    uint32 op;
    uint32 row;
    uint32 col;
    bytes leaf;
    bytes32[] leafProof;
    Patch[] leafPatches;
    SegmentOpening inputSegment;
    SegmentOpening input2Segment;
}
