// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fp32} from "../lib/Fp32.sol";
import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {NonFiniteInput} from "../lib/Errors.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Attention
/// @notice The ops of attention that are not matmuls (Rust: `nao_numerics::op::attention`): softmax and RoPE
///         over the input row in directed-rounding arithmetic (`SoftmaxBound`, `RopeBound`, evaluated by
///         `Regions`), the causal mask bit-exact.
library Attention {
    uint32 private constant NEG_INF = 0xff800000;

    /// @notice CausalMask's constant: the position of the first query row (keys after `offset` + the row's index
    ///         in its batch are masked).
    struct CausalMaskParams {
        uint32 offset;
    }

    /// @notice RoPE's constants: the position of the first row, the base's fp32 bits, and whether each pair's
    ///         frequency is divided by its factor (Llama 3's rope scaling): element col % (cols / 2) of the node's
    ///         weight, `[cols / 2]`.
    struct RopeParams {
        uint32 start;
        uint32 theta;
        bool scaled;
    }

    function softmax(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        return o.regions.softmax(Open.inputRow(c, o), c.col, y);
    }

    function causalMask(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32 x = Open.inputElement(c, o);
        if (Fp32.isNonFinite(x) && x != NEG_INF) revert NonFiniteInput(x);
        uint256 offset = abi.decode(n.params, (CausalMaskParams)).offset;
        return c.col > offset + c.row % Open.rowsPerBatch(n) ? y == NEG_INF : y == x;
    }

    function rope(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        RopeParams memory p = abi.decode(n.params, (RopeParams));
        uint256 pos = uint256(p.start) + c.row % Open.rowsPerBatch(n);
        uint32 factor = 0x3f800000; // 1.0f
        if (p.scaled) {
            uint32 half = n.cols / 2;
            Open.weight(c.weight, Open.shape1(half), o, n.weight);
            factor = TensorMerkle.element(c.weight, c.col % half);
        }
        return o.regions.rope(Open.inputRow(c, o), c.col, pos, p.theta, factor, y);
    }
}
