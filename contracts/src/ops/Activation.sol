// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {SoundBound} from "../lib/SoundBound.sol";
import {ElementChallenge} from "../lib/Types.sol";
import {Operands, Open} from "./Operands.sol";

/// @title Activation
/// @notice Pointwise nonlinearities (Rust: `nao_numerics::op::activation`): ReLU bit-exact, SiLU and GELU in
///         directed-rounding arithmetic (`ActivationBound`, evaluated by `Regions`).
library Activation {
    function relu(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        return SoundBound.reluWithin(Open.inputElement(c, o), y);
    }

    function silu(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        return o.regions.silu(Open.inputElement(c, o), y);
    }

    function gelu(ElementChallenge calldata c, Operands memory o, uint32 y) internal pure returns (bool) {
        return o.regions.gelu(Open.inputElement(c, o), y);
    }
}
