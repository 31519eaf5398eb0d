// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {SoundBound} from "../lib/SoundBound.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Linear
/// @notice The dot-product ops (Rust: `nao_numerics::op::linear`): an element is a dot product of a row of its
///         input with a row or column of its other operand, inside `SoundBound.dotWithin`'s region.
library Linear {
    /// @notice MatMul's constants: `inner` is the reduction length (x: [rows, inner], w: [cols, inner]).
    struct MatMulParams {
        uint32 inner;
    }

    /// @notice BatchMatMul's constants: `inner` is the reduction length; `transposed`: x2 is [batch, cols, inner]
    ///         (its rows are read), else [batch, inner, cols] (its columns are read).
    struct BatchMatMulParams {
        uint32 inner;
        bool transposed;
    }

    /// @notice MatMul: the input row and the weight row.
    function matMul(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32 k = abi.decode(n.params, (MatMulParams)).inner;
        Open.trace(c.input, Open.shape2(n.rows, k), o.in1);
        Open.weight(c.weight, Open.shape2(n.cols, k), o, n.weight);
        bytes memory x = TensorMerkle.packed(c.input, uint256(c.row) * k, k);
        bytes memory w = TensorMerkle.packed(c.weight, uint256(c.col) * k, k);
        return SoundBound.dotWithinPacked(x, w, y);
    }

    /// @notice BatchMatMul: the row of x and the row (transposed) or column of x2 in the element's batch.
    function batchMatMul(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        BatchMatMulParams memory p = abi.decode(n.params, (BatchMatMulParams));
        uint256 m = n.rows / n.batch;
        uint256 b = c.row / m;
        uint256 k = p.inner;
        // forge-lint: disable-next-line(unsafe-typecast)
        Open.trace(c.input, Open.shape3(n.batch, uint32(m), p.inner), o.in1); // m <= rows
        bytes memory x = TensorMerkle.packed(c.input, uint256(c.row) * k, k);
        bytes memory w;
        if (p.transposed) {
            Open.trace(c.input2, Open.shape3(n.batch, n.cols, p.inner), o.in2);
            w = TensorMerkle.packed(c.input2, (b * n.cols + c.col) * k, k);
        } else {
            Open.trace(c.input2, Open.shape3(n.batch, p.inner, n.cols), o.in2);
            w = TensorMerkle.gathered(c.input2, b * k * n.cols + c.col, n.cols, k);
        }
        return SoundBound.dotWithinPacked(x, w, y);
    }
}
