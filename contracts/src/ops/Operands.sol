// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {Regions} from "../Regions.sol";
import {OpNode, ElementChallenge, TensorOpening, Loc} from "../lib/Types.sol";

/// @notice Where the operands of one element are committed, for the op libraries to open what they read: the
///         first and second trace operands at `in1` / `in2`, the weights under `weightsRoot`, and the contract
///         that evaluates the directed-rounding regions.
struct Operands {
    Loc in1;
    Loc in2;
    bytes32 weightsRoot;
    uint32 weightCount;
    Regions regions;
}

/// @title Open
/// @notice What every op library does with its operands: verifies an opening against where the operand is
///         committed, and builds the shapes it opens them with.
library Open {
    /// @notice Verifies `t` as a tensor of `shape` at `loc` (a trace operand).
    function trace(TensorOpening calldata t, uint32[] memory shape, Loc memory loc) internal pure {
        TensorMerkle.verifyOpening(t, shape, loc.root, loc.index, loc.count);
    }

    /// @notice Verifies `t` as weight tensor `index` of shape `shape`.
    function weight(TensorOpening calldata t, uint32[] memory shape, Operands memory o, uint32 index) internal pure {
        TensorMerkle.verifyOpening(t, shape, o.weightsRoot, index, o.weightCount);
    }

    /// @notice The input element an elementwise op's output element reads (the input has the output's shape).
    function inputElement(ElementChallenge calldata c, Operands memory o) internal pure returns (uint32) {
        OpNode calldata n = c.node;
        trace(c.input, shapeOf(n), o.in1);
        return TensorMerkle.element(c.input, flat(n, c.row, c.col));
    }

    /// @notice The input row a row-wise op's output element reads (the input has the output's shape).
    function inputRow(ElementChallenge calldata c, Operands memory o) internal pure returns (uint32[] memory) {
        OpNode calldata n = c.node;
        trace(c.input, shapeOf(n), o.in1);
        return TensorMerkle.elements(c.input, uint256(c.row) * n.cols, n.cols);
    }

    /// @notice The shape of `n`'s output viewed as its trace tensor: [rows, cols] or [batch, rows / batch, cols].
    function shapeOf(OpNode calldata n) internal pure returns (uint32[] memory s) {
        if (n.batch == 0) return shape2(n.rows, n.cols);
        s = new uint32[](3);
        (s[0], s[1], s[2]) = (n.batch, n.rows / n.batch, n.cols);
    }

    /// @notice The flat index of element (row, col) of `n`'s [rows, cols] output.
    function flat(OpNode calldata n, uint32 row, uint32 col) internal pure returns (uint256) {
        return uint256(row) * n.cols + col;
    }

    /// @notice The rows of one batch of `n`'s output (all rows when it has no batch dim).
    function rowsPerBatch(OpNode calldata n) internal pure returns (uint256) {
        return n.batch == 0 ? n.rows : n.rows / n.batch;
    }

    function shape1(uint32 a) internal pure returns (uint32[] memory s) {
        s = new uint32[](1);
        s[0] = a;
    }

    function shape2(uint32 a, uint32 b) internal pure returns (uint32[] memory s) {
        s = new uint32[](2);
        (s[0], s[1]) = (a, b);
    }

    function shape3(uint32 a, uint32 b, uint32 c) internal pure returns (uint32[] memory s) {
        s = new uint32[](3);
        (s[0], s[1], s[2]) = (a, b, c);
    }
}
