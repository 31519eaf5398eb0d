// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fp32} from "../lib/Fp32.sol";
import {ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Clamp
/// @notice y = min(max(x, lo), hi) (Rust: `nao_numerics::op::clamp`; ReLU6 is lo 0, hi 6): it selects values
///         without arithmetic, so its region is the one value every honest run gives, bit for bit. The order
///         is candle's: the max first (x unless x < lo), then the min (hi if it is below the max), so -0 stays
///         -0 against a bound of 0 and NaN passes through.
library Clamp {
    /// @notice Clamp's constants: the bounds' fp32 bits.
    struct ClampParams {
        uint32 lo;
        uint32 hi;
    }

    function clamp(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        ClampParams memory p = abi.decode(c.node.params, (ClampParams));
        return y == clamped(Open.inputElement(c, o), p.lo, p.hi);
    }

    /// @notice The clamped value's bits, as candle computes them on a CPU.
    function clamped(uint32 x, uint32 lo, uint32 hi) internal pure returns (uint32) {
        uint32 m = _lt(x, lo) ? lo : x;
        return _lt(hi, m) ? hi : m;
    }

    /// @dev a < b in IEEE-754: false when either is NaN (so a NaN passes through and a NaN bound clamps nothing).
    function _lt(uint32 a, uint32 b) private pure returns (bool) {
        return !_isNaN(a) && !_isNaN(b) && Fp32.lt(a, b);
    }

    function _isNaN(uint32 v) private pure returns (bool) {
        return Fp32.isNonFinite(v) && (v & 0x7fffff) != 0;
    }
}
