// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {NormBound} from "./lib/NormBound.sol";
import {SoftmaxBound} from "./lib/SoftmaxBound.sol";
import {ActivationBound} from "./lib/ActivationBound.sol";
import {RopeBound} from "./lib/RopeBound.sol";

/// @title Regions
/// @notice The sound regions evaluated in directed-rounding arithmetic (RMSNorm, LayerNorm, mean pooling, softmax, SiLU,
///         GELU, RoPE),
///         in a contract of their own so that the `Adjudicator` that opens their operands stays within the
///         24,576-byte code limit. Stateless and pure; the `Adjudicator` deploys its own.
contract Regions {
    /// @notice `NormBound.rmsnormWithin`.
    function rmsnorm(uint32[] calldata x, uint256 i, uint32 g, uint32 eps, uint32 y) external pure returns (bool) {
        return NormBound.rmsnormWithin(x, i, g, eps, y);
    }

    /// @notice `NormBound.layernormWithin`.
    function layernorm(uint32[] calldata x, uint256 i, uint32 g, uint32 b, uint32 eps, uint32 y)
        external
        pure
        returns (bool)
    {
        return NormBound.layernormWithin(x, i, g, b, eps, y);
    }

    /// @notice `NormBound.meanWithin`.
    function mean(uint32[] calldata x, uint32 y) external pure returns (bool) {
        return NormBound.meanWithin(x, y);
    }

    /// @notice `SoftmaxBound.within`.
    function softmax(uint32[] calldata x, uint256 i, uint32 y) external pure returns (bool) {
        return SoftmaxBound.within(x, i, y);
    }

    /// @notice `ActivationBound.siluWithin`.
    function silu(uint32 x, uint32 y) external pure returns (bool) {
        return ActivationBound.siluWithin(x, y);
    }

    /// @notice `RopeBound.within`.
    function rope(uint32[] calldata x, uint256 j, uint256 p, uint32 theta, uint32 factor, uint32 y)
        external
        pure
        returns (bool)
    {
        return RopeBound.within(x, j, p, theta, factor, y);
    }

    /// @notice `ActivationBound.geluWithin`.
    function gelu(uint32 x, uint32 y) external pure returns (bool) {
        return ActivationBound.geluWithin(x, y);
    }
}
