// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Operator kinds of the graph IR. The numbering is shared with Rust (`nao::graph::OpKind`).
enum OpKind {
    None,
    /// y[r, c] = sum_k x[r, k] * w[c, k]   (x: trace tensor [rows, inner], w: weight [cols, inner])
    MatMul,
    /// y[r, c] = x[r, c] + b[c]            (x: trace tensor [rows, cols], b: weight [cols])
    Add,
    /// y[r, c] = max(x[r, c], 0)           (x: trace tensor [rows, cols])
    Relu
}

/// @notice One node of a registered graph; its ABI encoding is the leaf of the graph root.
/// @dev `input` indexes the trace: 0 is the claim's input tensor, i + 1 the output of node i.
///      `weight` indexes the model's weight tensors (ignored by ops without weights).
///      The output shape is always [rows, cols]; `inner` is the reduction length of a MatMul.
struct OpNode {
    OpKind kind;
    uint32 input;
    uint32 weight;
    uint32 rows;
    uint32 cols;
    uint32 inner;
}

/// @notice What a model owner registers. modelId = keccak256(abi.encode(graphRoot, nodeCount, segmentCount,
///         weightsRoot, weightCount, profileRoot)). The claim's trace root is the coarse trace: the input,
///         the output of each segment's last node, so segmentCount + 1 leaves (the last one the output).
struct ModelSpec {
    bytes32 graphRoot;
    uint32 nodeCount;
    uint32 segmentCount;
    bytes32 weightsRoot;
    uint32 weightCount;
    bytes32 profileRoot;
    string uri;
}

/// @notice The id a model registers under: a content hash of everything that defines its computation.
function modelIdOf(ModelSpec memory spec) pure returns (bytes32) {
    return keccak256(
        abi.encode(
            spec.graphRoot, spec.nodeCount, spec.segmentCount, spec.weightsRoot, spec.weightCount, spec.profileRoot
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

/// @notice A posted claim: "running model `modelId` on the input with root `inputRoot` gives the output
///         with root `outputRoot`, and `traceRoot` commits every op output in order".
struct Claim {
    bytes32 modelId;
    bytes32 inputRoot;
    bytes32 outputRoot;
    bytes32 traceRoot;
    address prover;
    uint64 postedAt;
    ClaimStatus status;
    uint256 bond;
}

/// @notice What a prover posts. The two proofs show that `inputRoot` is leaf 0 and `outputRoot` the
///         last leaf of `traceRoot`, so the three roots can never disagree.
struct ClaimInput {
    bytes32 modelId;
    bytes32 inputRoot;
    bytes32 outputRoot;
    bytes32 traceRoot;
    bytes32[] inputProof;
    bytes32[] outputProof;
    string dataUri;
}

/// @notice One 256-element chunk of a tensor (fp32 little-endian) with its Merkle proof.
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

/// @notice A one-level challenge: op `op`, output element (row, col), with openings of the output element,
///         the input row (or element) and the weight row (or bias element) it depends on.
struct ElementChallenge {
    uint32 op;
    OpNode node;
    bytes32[] nodeProof;
    uint32 row;
    uint32 col;
    TensorOpening output;
    TensorOpening input;
    TensorOpening weight;
}

/// @notice Outcome of a dispute game.
enum GameOutcome {
    None,
    ChallengerWon,
    ProverWon
}

/// @notice A resolved one-level game.
struct Game {
    bytes32 claimId;
    address challenger;
    uint32 op;
    uint32 row;
    uint32 col;
    GameOutcome outcome;
}
