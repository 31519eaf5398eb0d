// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Norm
/// @notice Row normalizations (Rust: `nao_numerics::op::norm`): the input row and the gain (and shift) element of
///         the column, in directed-rounding arithmetic (`NormBound`, evaluated by `Regions`).
library Norm {
    /// @notice RmsNorm's constant: epsilon's fp32 bits.
    struct RmsNormParams {
        uint32 eps;
    }

    /// @notice LayerNorm's constants: epsilon's fp32 bits and the weight index of the shift (the gain is the
    ///         node's `weight`).
    struct LayerNormParams {
        uint32 eps;
        uint32 shift;
    }

    function rmsNorm(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32[] memory x = Open.inputRow(c, o);
        Open.weight(c.weight, Open.shape1(n.cols), o, n.weight);
        uint32 gain = TensorMerkle.element(c.weight, c.col);
        return o.regions.rmsnorm(x, c.col, gain, abi.decode(n.params, (RmsNormParams)).eps, y);
    }

    function layerNorm(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        LayerNormParams memory p = abi.decode(n.params, (LayerNormParams));
        uint32[] memory x = Open.inputRow(c, o);
        Open.weight(c.weight, Open.shape1(n.cols), o, n.weight);
        Open.weight(c.input2, Open.shape1(n.cols), o, p.shift);
        uint32 gain = TensorMerkle.element(c.weight, c.col);
        uint32 shift = TensorMerkle.element(c.input2, c.col);
        return o.regions.layernorm(x, c.col, gain, shift, p.eps, y);
    }
}
