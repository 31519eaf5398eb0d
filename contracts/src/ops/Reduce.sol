// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../lib/TensorMerkle.sol";
import {Fp32} from "../lib/Fp32.sol";
import {OpNode, ElementChallenge} from "../lib/Types.sol";
import {NonFiniteInput} from "../lib/Errors.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Reduce
/// @notice Reductions over a row or a column (Rust: `nao_numerics::op::reduce`): Argmax decided exactly with the
///         challenger's witness, MeanRows in directed-rounding arithmetic (`NormBound.meanWithin`, evaluated by
///         `Regions`).
library Reduce {
    /// @notice Argmax's constant: the length of the rows it reduces (x: [rows, length]).
    struct ArgmaxParams {
        uint32 length;
    }

    /// @notice MeanRows' constant: the number of rows it averages (x: [rows, cols]).
    struct MeanRowsParams {
        uint32 rows;
    }

    /// @notice Argmax: the claimed index must name a column of the row, and no witness column may hold more.
    function argmax(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32 length = abi.decode(n.params, (ArgmaxParams)).length;
        (bool ok, uint256 id) = Fp32.toIndex(y, length);
        if (!ok) return false;
        uint32[] memory shape = Open.shape2(n.rows, length);
        Open.trace(c.input, shape, o.in1);
        Open.trace(c.input2, shape, o.in2);
        uint256 base = uint256(c.row) * length;
        uint32 best = TensorMerkle.element(c.input, base + id);
        uint32 witness = TensorMerkle.element(c.input2, base + c.col);
        if (Fp32.isNonFinite(best)) revert NonFiniteInput(best);
        if (Fp32.isNonFinite(witness)) revert NonFiniteInput(witness);
        return !Fp32.lt(best, witness);
    }

    /// @notice MeanRows: the input column.
    function meanRows(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        OpNode calldata n = c.node;
        uint32 rows = abi.decode(n.params, (MeanRowsParams)).rows;
        Open.trace(c.input, Open.shape2(rows, n.cols), o.in1);
        uint32[] memory x = new uint32[](rows);
        for (uint256 r; r < rows; ++r) {
            x[r] = TensorMerkle.element(c.input, r * n.cols + c.col);
        }
        return o.regions.mean(x, y);
    }
}
