// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput} from "./Errors.sol";

/// @title ActivationBound
/// @notice Sound region of a SiLU output element, the bound of `nao::region::norms::silu` evaluated in
///         directed-rounding `Ext` arithmetic, with exp bracketed by `LibExt.exp`.
/// @dev y = x / (1 + exp(-x)) (or x * sigmoid(x)): exp within 2 ulps (relative 4u; its argument -x is exact),
///      then at most three roundings: |y - s| <= ((1 + u)^3 / ((1 - u)(1 - 4u)) - 1) |s| + eta (1 + |x|).
///      The absolute term is eta (1 + |x|) rather than the Rust region's eta: a kernel that forms sigmoid(x)
///      first rounds it in the subnormal range for x < -87, an absolute 2^-150 that the product scales by |x|.
///      Where a 2-ulp exp(-x) may overflow fp32 (exp(-x) >= 2^127, x < -88.03) kernels return -0 for a tiny
///      negative s: the region reaches to zero.
library ActivationBound {
    using LibExt for Ext;

    /// @notice True iff `y` is inside the region of SiLU at `x`. A NaN/Inf `x` reverts with `NonFiniteInput`.
    function siluWithin(uint32 x, uint32 y) internal pure returns (bool) {
        if (Fp32.isNonFinite(x)) revert NonFiniteInput(x);
        Ext ax = LibExt.abs32(x);
        Ext one = LibExt.exact(1, 0);
        Ext slack = LibExt.exact(1, -149).mul(one.add(ax, true), true);
        if (ax.isZero()) return LibExt.inside(y, false, ax, slack, slack);
        // exp(-x) for -x in [-ceil(x), -floor(x)]
        (Ext elo, Ext ehi) = LibExt.exp(-LibExt.fixed32(x, true), -LibExt.fixed32(x, false));
        Ext slo = ax.div(one.add(ehi, true), false);
        Ext shi = ax.div(one.add(elo, false), true);
        Ext fhi = LibExt.onePlusU(3, true).div(LibExt.exact((1 << 48) - (5 << 24) + 4, -48), true);
        Ext a = slo.mul(LibExt.exact(2, 0).sub(fhi, false), false);
        if (!ehi.lt(LibExt.exact(1, 127))) a = Ext.wrap(0);
        return LibExt.inside(y, (x >> 31) == 1, a, slack, shi.mul(fhi, true).add(slack, true));
    }
}
