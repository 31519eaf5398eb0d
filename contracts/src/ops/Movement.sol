// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {Fp32} from "../lib/Fp32.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Movement
/// @notice Ops that copy values (Rust: `nao_numerics::op::movement`): the output element is one element of an
///         operand, bit for bit. Output element g has multi-index `idx` in the output's shape; the element it
///         copies is a row of the table (Embedding), the same flat index (Reshape), `idx` with two dims swapped
///         (Transpose), shifted along a dim (Narrow), or in x or x2 along the concatenated dim (Concat).
library Movement {
    /// @notice Embedding's constant: the table's row count (its weight is [vocab, cols]).
    struct EmbeddingParams {
        uint32 vocab;
    }

    /// @notice Reshape's constant: the input's shape.
    struct ReshapeParams {
        uint32[] inShape;
    }

    /// @notice Transpose's constants: the input's shape and the two dims swapped.
    struct TransposeParams {
        uint32[] inShape;
        uint32 dim0;
        uint32 dim1;
    }

    /// @notice Narrow's constants: the input's shape, the dim narrowed and the first index kept along it.
    struct NarrowParams {
        uint32[] inShape;
        uint32 dim;
        uint32 start;
    }

    /// @notice Concat's constants: x's shape (x2's is the output's with `dim` shortened by x's) and the dim.
    struct ConcatParams {
        uint32[] inShape;
        uint32 dim;
    }

    /// @notice Embedding: a row of the table, bit for bit; an id that names no row has no honest output.
    function embedding(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32 vocab = abi.decode(n.params, (EmbeddingParams)).vocab;
        Open.trace(c.input, Open.shape1(n.rows), o.in1);
        (bool ok, uint256 id) = Fp32.toIndex(TensorMerkle.element(c.input, c.row), vocab);
        if (!ok) return false;
        Open.weight(c.weight, Open.shape2(vocab, n.cols), o, n.weight);
        return TensorMerkle.element(c.weight, id * n.cols + c.col) == y;
    }

    function reshape(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        Open.trace(c.input, abi.decode(n.params, (ReshapeParams)).inShape, o.in1);
        return TensorMerkle.element(c.input, Open.flat(n, c.row, c.col)) == y;
    }

    function transpose(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        TransposeParams memory p = abi.decode(c.node.params, (TransposeParams));
        uint256[] memory idx = _index(c);
        (idx[p.dim0], idx[p.dim1]) = (idx[p.dim1], idx[p.dim0]);
        return _copied(c, p.inShape, idx, o, y);
    }

    function narrow(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        NarrowParams memory p = abi.decode(c.node.params, (NarrowParams));
        uint256[] memory idx = _index(c);
        idx[p.dim] += p.start;
        return _copied(c, p.inShape, idx, o, y);
    }

    function concat(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        ConcatParams memory p = abi.decode(c.node.params, (ConcatParams));
        uint256[] memory idx = _index(c);
        uint32 split = p.inShape[p.dim];
        if (idx[p.dim] < split) return _copied(c, p.inShape, idx, o, y);
        // from x2: its shape is the output's with the dim shortened by x's
        idx[p.dim] -= split;
        uint32[] memory s2 = Open.shapeOf(c.node);
        s2[p.dim] -= split;
        Open.trace(c.input2, s2, o.in2);
        return TensorMerkle.element(c.input2, _flatten(idx, s2)) == y;
    }

    /// @dev Whether x (of shape `ins`) holds `y` at multi-index `idx`.
    function _copied(
        ElementChallenge calldata c,
        uint32[] memory ins,
        uint256[] memory idx,
        Operands memory o,
        uint32 y
    ) private pure returns (bool) {
        Open.trace(c.input, ins, o.in1);
        return TensorMerkle.element(c.input, _flatten(idx, ins)) == y;
    }

    /// @dev The output element's multi-index in the output's shape.
    function _index(ElementChallenge calldata c) private pure returns (uint256[] memory idx) {
        uint32[] memory shape = Open.shapeOf(c.node);
        uint256 g = Open.flat(c.node, c.row, c.col);
        idx = new uint256[](shape.length);
        for (uint256 i = shape.length; i > 0; --i) {
            idx[i - 1] = g % shape[i - 1];
            g /= shape[i - 1];
        }
    }

    function _flatten(uint256[] memory idx, uint32[] memory shape) private pure returns (uint256 g) {
        for (uint256 i; i < shape.length; ++i) {
            g = g * shape[i] + idx[i];
        }
    }
}
