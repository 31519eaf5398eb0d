// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {Regions} from "./Regions.sol";
import {OpKind, OpNode, ElementChallenge, Loc} from "./lib/Types.sol";
import {UnsupportedOp} from "./lib/Errors.sol";
import {Operands, Open} from "./ops/Operands.sol";
import {Linear} from "./ops/Linear.sol";
import {Elementwise} from "./ops/Elementwise.sol";
import {Activation} from "./ops/Activation.sol";
import {Norm} from "./ops/Norm.sol";
import {Attention} from "./ops/Attention.sol";
import {Movement} from "./ops/Movement.sol";
import {Reduce} from "./ops/Reduce.sol";
import {Clamp} from "./ops/Clamp.sol";

/// @title Adjudicator
/// @notice The last level of every dispute: opens one output element of one op with the operands it depends on
///         and decides whether it is inside the op's sound region. Stateless; `DisputeGame` calls it with the
///         places (roots, leaf indices) its own checks fixed for the output and the trace operands.
/// @dev Each kind's check is one function of its family's library under `ops/` (what it opens and how it
///      decides is documented there); `_decide` is the registry, one line a kind. The regions in
///      directed-rounding arithmetic (norms, softmax, RoPE, mean pooling, SiLU, GELU) run in `Regions`, a
///      contract this one deploys, so that both stay within the code-size limit.
contract Adjudicator {
    /// @dev Calldata of one opened chunk: 4 KiB of data, a proof of up to 24 levels, its ABI framing.
    uint256 private constant CHUNK_BYTES = 4096 + 32 * 24 + 96;

    /// @notice Most calldata an element's openings may take: a 128 KiB transaction less room for the rest of it.
    uint256 public constant MAX_OPENING_BYTES = 120_000;
    /// @notice Most gas an element's adjudication may be estimated at: a 30M block less a margin.
    uint256 public constant MAX_OPENING_GAS = 25_000_000;

    /// @notice The regions evaluated in directed-rounding arithmetic (deployed with this contract).
    Regions public immutable regions;

    constructor() {
        regions = new Regions();
    }

    /// @notice Verifies the openings of `c` (output at `out`, trace operands at `in1` / `in2`, weights against
    ///         `weightsRoot`) and decides the element. Reverts on any invalid opening or an unknown kind.
    /// @return inside True iff the claimed element is inside the op's sound region.
    /// @return yBits The claimed element's fp32 bits.
    function adjudicate(
        bytes32 weightsRoot,
        uint32 weightCount,
        ElementChallenge calldata c,
        Loc calldata out,
        Loc calldata in1,
        Loc calldata in2
    ) external view returns (bool inside, uint32 yBits) {
        OpNode calldata n = c.node;
        TensorMerkle.verifyOpening(c.output, outputShape(n), out.root, out.index, out.count);
        uint256 g = n.kind == OpKind.Argmax ? c.row : n.kind == OpKind.MeanRows ? c.col : Open.flat(n, c.row, c.col);
        yBits = TensorMerkle.element(c.output, g);
        inside = _decide(c, Operands(in1, in2, weightsRoot, weightCount, regions), yBits);
    }

    /// @dev The registry: each kind's check in its family's library.
    function _decide(ElementChallenge calldata c, Operands memory o, uint32 y) private pure returns (bool) {
        OpKind k = c.node.kind;
        if (k == OpKind.MatMul) return Linear.matMul(c, o, y);
        if (k == OpKind.BatchMatMul) return Linear.batchMatMul(c, o, y);
        if (k == OpKind.Add) return Elementwise.add(c, o, y);
        if (k == OpKind.Residual) return Elementwise.residual(c, o, y);
        if (k == OpKind.Mul) return Elementwise.mul(c, o, y);
        if (k == OpKind.Scale) return Elementwise.scale(c, o, y);
        if (k == OpKind.Relu) return Activation.relu(c, o, y);
        if (k == OpKind.Silu) return Activation.silu(c, o, y);
        if (k == OpKind.Gelu) return Activation.gelu(c, o, y);
        if (k == OpKind.RmsNorm) return Norm.rmsNorm(c, o, y);
        if (k == OpKind.LayerNorm) return Norm.layerNorm(c, o, y);
        if (k == OpKind.Softmax) return Attention.softmax(c, o, y);
        if (k == OpKind.CausalMask) return Attention.causalMask(c, o, y);
        if (k == OpKind.Rope) return Attention.rope(c, o, y);
        if (k == OpKind.Embedding) return Movement.embedding(c, o, y);
        if (k == OpKind.Reshape) return Movement.reshape(c, o, y);
        if (k == OpKind.Transpose) return Movement.transpose(c, o, y);
        if (k == OpKind.Narrow) return Movement.narrow(c, o, y);
        if (k == OpKind.Concat) return Movement.concat(c, o, y);
        if (k == OpKind.Argmax) return Reduce.argmax(c, o, y);
        if (k == OpKind.MeanRows) return Reduce.meanRows(c, o, y);
        if (k == OpKind.Clamp) return Clamp.clamp(c, o, y);
        revert UnsupportedOp(uint8(k));
    }

    /// @notice Whether the sound region of an op of this kind is a point (bit-exact ops): the exact check then
    ///         decides every element both ways, and a vote never does.
    function exact(OpKind k) public pure returns (bool) {
        return k == OpKind.Relu || k == OpKind.Embedding || k == OpKind.CausalMask || k == OpKind.Argmax
            || k == OpKind.Reshape || k == OpKind.Transpose || k == OpKind.Narrow || k == OpKind.Concat
            || k == OpKind.Clamp;
    }

    /// @notice The descriptor a graph leaf encodes and its `openingCost`; reverts if the leaf is no ABI-encoded
    ///         `OpNode` of a known kind whose params decode as that kind's struct (`DisputeGame` treats such a
    ///         leaf as an op no opening can decide: every check of it would revert).
    function describe(bytes calldata leaf) external pure returns (OpNode memory n, uint256 gas, uint256 size) {
        n = abi.decode(leaf, (OpNode));
        _decodeParams(n);
        (gas, size) = openingCost(n);
    }

    /// @dev Reverts unless `n.params` decodes as its kind's parameter struct (kinds without one ignore them): a
    ///      leaf whose params no check can read is an op no opening can decide.
    function _decodeParams(OpNode memory n) private pure {
        OpKind k = n.kind;
        bytes memory p = n.params;
        if (k == OpKind.MatMul) abi.decode(p, (Linear.MatMulParams));
        else if (k == OpKind.BatchMatMul) abi.decode(p, (Linear.BatchMatMulParams));
        else if (k == OpKind.Scale) abi.decode(p, (Elementwise.ScaleParams));
        else if (k == OpKind.RmsNorm) abi.decode(p, (Norm.RmsNormParams));
        else if (k == OpKind.LayerNorm) abi.decode(p, (Norm.LayerNormParams));
        else if (k == OpKind.CausalMask) abi.decode(p, (Attention.CausalMaskParams));
        else if (k == OpKind.Rope) abi.decode(p, (Attention.RopeParams));
        else if (k == OpKind.Embedding) abi.decode(p, (Movement.EmbeddingParams));
        else if (k == OpKind.Reshape) abi.decode(p, (Movement.ReshapeParams));
        else if (k == OpKind.Transpose) abi.decode(p, (Movement.TransposeParams));
        else if (k == OpKind.Narrow) abi.decode(p, (Movement.NarrowParams));
        else if (k == OpKind.Concat) abi.decode(p, (Movement.ConcatParams));
        else if (k == OpKind.Argmax) abi.decode(p, (Reduce.ArgmaxParams));
        else if (k == OpKind.MeanRows) abi.decode(p, (Reduce.MeanRowsParams));
        else if (k == OpKind.Clamp) abi.decode(p, (Clamp.ClampParams));
    }

    /// @notice An upper estimate of what adjudicating one element of op `n` costs: its openings' calldata and
    ///         the gas of the transaction that carries them (calldata, chunk hashing, the region's arithmetic:
    ///         ~500 gas a dot-product term, ~10k a softmax key, ~4k a normalized or averaged element). The
    ///         figures are the measured ones of docs/PROTOCOL.md (Gas), rounded up.
    function openingCost(OpNode memory n) public pure returns (uint256 gas, uint256 size) {
        OpKind k = n.kind;
        uint256 chunks;
        uint256 work = 200_000;
        if (k == OpKind.MatMul) {
            uint256 inner = abi.decode(n.params, (Linear.MatMulParams)).inner;
            (chunks, work) = (2 * _rowChunks(inner), 500 * inner);
        } else if (k == OpKind.BatchMatMul) {
            Linear.BatchMatMulParams memory p = abi.decode(n.params, (Linear.BatchMatMulParams));
            uint256 other = p.transposed ? _rowChunks(p.inner) : _columnChunks(p.inner, n.cols);
            (chunks, work) = (_rowChunks(p.inner) + other, 500 * uint256(p.inner));
        } else if (k == OpKind.Softmax) {
            (chunks, work) = (_rowChunks(n.cols), 10_000 * uint256(n.cols));
        } else if (k == OpKind.RmsNorm || k == OpKind.LayerNorm) {
            (chunks, work) = (_rowChunks(n.cols) + 2, 4_000 * uint256(n.cols));
        } else if (k == OpKind.Rope) {
            // the row, and the factor's chunk when scaled
            chunks = _rowChunks(n.cols) + (abi.decode(n.params, (Attention.RopeParams)).scaled ? 1 : 0);
        } else if (k == OpKind.MeanRows) {
            uint256 rows = abi.decode(n.params, (Reduce.MeanRowsParams)).rows;
            (chunks, work) = (_columnChunks(rows, n.cols), 4_000 * rows);
        } else {
            chunks = 4; // elementwise, data movement, argmax: a few single elements
        }
        chunks += 1; // the output element's own chunk
        size = chunks * CHUNK_BYTES;
        gas = 21_000 + 16 * size + 3_000 * chunks + work;
    }

    /// @dev Chunks a row of `n` consecutive elements can touch (it may straddle a chunk boundary).
    function _rowChunks(uint256 n) private pure returns (uint256) {
        return n / 1024 + 2;
    }

    /// @dev Chunks a column of `rows` elements `stride` apart can touch.
    function _columnChunks(uint256 rows, uint256 stride) private pure returns (uint256) {
        uint256 spanned = rows * stride / 1024 + 2;
        return spanned < rows ? spanned : rows;
    }

    /// @notice The shape of the op's output tensor (as its tensor root commits it).
    function outputShape(OpNode calldata n) public pure returns (uint32[] memory) {
        if (n.kind == OpKind.Argmax) return Open.shape1(n.rows);
        if (n.kind == OpKind.MeanRows) return Open.shape1(n.cols);
        return Open.shapeOf(n);
    }
}
