// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {SoundBound} from "../lib/SoundBound.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Elementwise
/// @notice Sums and products element by element (Rust: `nao_numerics::op::elementwise`): a one- or two-term
///         sound region (`SoundBound.addWithin`, a one-term dot product).
library Elementwise {
    /// @notice Scale's constant: the factor's fp32 bits.
    struct ScaleParams {
        uint32 factor;
    }

    /// @notice Add (bias): the input element and the bias element of its column.
    function add(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        uint32 x = Open.inputElement(c, o);
        Open.weight(c.weight, Open.shape1(c.node.cols), o, c.node.weight);
        return SoundBound.addWithin(x, TensorMerkle.element(c.weight, c.col), y);
    }

    /// @notice Residual: the same element of both trace operands.
    function residual(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        (uint32 a, uint32 b) = _pair(c, o);
        return SoundBound.addWithin(a, b, y);
    }

    /// @notice Mul: the same element of both trace operands.
    function mul(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        (uint32 a, uint32 b) = _pair(c, o);
        return product(a, b, y);
    }

    /// @notice Scale: the input element and the factor.
    function scale(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        uint32 x = Open.inputElement(c, o);
        return product(x, abi.decode(c.node.params, (ScaleParams)).factor, y);
    }

    /// @notice y = fl(a * b): a one-term dot product.
    function product(uint32 a, uint32 b, uint32 y) internal pure returns (bool) {
        uint32[] memory x = new uint32[](1);
        uint32[] memory w = new uint32[](1);
        (x[0], w[0]) = (a, b);
        return SoundBound.within(x, w, y, 1, true);
    }

    function _pair(ElementChallenge calldata c, Operands memory o) private pure returns (uint32 a, uint32 b) {
        OpNode calldata n = c.node;
        uint32[] memory shape = Open.shapeOf(n);
        uint256 g = Open.flat(n, c.row, c.col);
        Open.trace(c.input, shape, o.in1);
        Open.trace(c.input2, shape, o.in2);
        (a, b) = (TensorMerkle.element(c.input, g), TensorMerkle.element(c.input2, g));
    }
}
