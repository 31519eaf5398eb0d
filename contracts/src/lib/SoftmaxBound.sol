// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput} from "./Errors.sol";

/// @title SoftmaxBound
/// @notice Sound region of one softmax output element, the bound of `nao::region::softmax::softmax_row`
///         evaluated in directed-rounding `Ext` arithmetic, with exp bracketed by `LibExt.exp`.
/// @dev m = max_j x_j (exact); e_j = exp(x_j - m); S = sum_j e_j (any order); y_i = e_i / S (or e_i * (1/S)).
///      exp sees t_j (1 + a), |a| <= 2u (two roundings in its argument) and is within 2 ulps (relative 4u), or
///      2^-149 absolutely when subnormal; with r_j = (1 + 4u) exp(2u |t_j|) - 1 <= (1 + 4u) / (1 - 2u |t_j|) - 1:
///        e_j (1 - r_j) - eta <= e^_j <= e_j (1 + r_j) + eta
///        (1 - gamma_n) sum lo_j <= S^ <= (1 + gamma_n) sum hi_j
///        lo_i / S^hi (1 - u)^2 - eta <= y_i <= hi_i / S^lo (1 + u)^2 + eta
///      A -inf input (a masked score) has e = 0 exactly, so its region is {+0, -0}; a row of -inf only has no
///      defined softmax, and any output is accepted. Where 2u |t_j| >= 1/4 (|t_j| >= 2^21) e_j is below 2^-369
///      and its bounds are [0, 2^-148].
library SoftmaxBound {
    using LibExt for Ext;

    uint32 private constant NEG_INF = 0xff800000;

    /// @notice True iff `y` is inside the region of element `i` of softmax over the row `x`. A NaN or +inf input
    ///         reverts with `NonFiniteInput`.
    function within(uint32[] memory x, uint256 i, uint32 y) internal pure returns (bool) {
        (uint32 m, bool any) = _max(x);
        if (!any) return true;
        (int256 mlo, int256 mhi) = (LibExt.fixed32(m, false), LibExt.fixed32(m, true));
        Ext eta = LibExt.exact(1, -149);
        // the sum in 120-bit fixed point (every term is at most 1 + 2^-20); element i's own term in `Ext`
        uint256 slo;
        uint256 shi;
        Ext loI;
        Ext hiI;
        for (uint256 j; j < x.length; ++j) {
            if (x[j] == NEG_INF) continue;
            // an input of biased exponent >= 30 (|x| >= 2^-97) is exact in 2^-120 units: one conversion
            int256 xlo = LibExt.fixed32(x[j], false);
            int256 xhi = (x[j] >> 23) & 0xff >= 30 ? xlo : LibExt.fixed32(x[j], true);
            (int256 tlo, int256 thi) = (xlo - mhi, xhi - mlo);
            (uint256 lo, uint256 hi) = _fixedTerm(tlo, thi);
            (slo, shi) = (slo + lo, shi + hi);
            if (j == i) (loI, hiI) = _term(tlo, thi, eta);
        }
        if (hiI.isZero()) return Fp32.isZero(y);
        Ext sLo = LibExt.make(slo, -int256(LibExt.F), false);
        Ext sHi = LibExt.make(shi, -int256(LibExt.F), true);
        Ext gam = LibExt.gamma(x.length);
        Ext one = LibExt.exact(1, 0);
        sLo = sLo.mul(one.sub(gam, false), false);
        sHi = sHi.mul(one.add(gam, true), true);
        Ext a = loI.div(sHi, false).mul(LibExt.onePlusU(2, false), false);
        Ext hi2 = sLo.isZero() ? LibExt.exact(1, 1 << 20) : hiI.div(sLo, true).mul(LibExt.onePlusU(2, true), true);
        return LibExt.inside(y, false, a, eta, hi2.add(eta, true));
    }

    /// @dev Bounds of the computed e^_j in units of 2^-120, from t_j in [tlo, thi] (the same bound as `_term`,
    ///      with eta rounded up to one unit): e (1 - r) - 1 <= e^ <= e (1 + r) + 1, r <= (4u + z) / (1 - z), z = 2u|t|.
    function _fixedTerm(int256 tlo, int256 thi) private pure returns (uint256 lo, uint256 hi) {
        uint256 mag = _mag(tlo, thi);
        if (mag >= uint256(1) << (LibExt.F + 21)) return (0, 1);
        uint256 one = uint256(1) << LibExt.F;
        // unchecked: mag < 2^141, so z < 2^118 < one, num < 2^241, r < 2^121 and e* < 2^122 (e <= 1 + 2^-20)
        unchecked {
            uint256 z = (mag + (1 << 23) - 1) >> 23;
            // r * 2^120, rounded up: (4u + z) / (1 - z) with 4u = 2^-22
            uint256 num = ((one >> 22) + z) << LibExt.F;
            uint256 r = (num + (one - z) - 1) / (one - z);
            uint256 elo = LibExt.expFixed(tlo, false);
            uint256 ehi = LibExt.expFixed(thi, true);
            uint256 dlo = ((elo * r + one - 1) >> LibExt.F) + 1;
            lo = elo > dlo ? elo - dlo : 0;
            hi = ehi + ((ehi * r + one - 1) >> LibExt.F) + 1;
        }
    }

    /// @dev max(|tlo|, |thi|) (thi > 0 only by the rounding of the fixed-point conversion).
    function _mag(int256 tlo, int256 thi) private pure returns (uint256 mag) {
        // forge-lint: disable-next-line(unsafe-typecast)
        mag = uint256(tlo < 0 ? -tlo : tlo); // |tlo| < 2^249
        // forge-lint: disable-next-line(unsafe-typecast)
        if (thi > 0 && uint256(thi) > mag) mag = uint256(thi);
    }

    /// @dev Bounds of the computed e^_j from t_j in [tlo, thi] (fixed point, 2^-120).
    function _term(int256 tlo, int256 thi, Ext eta) private pure returns (Ext lo, Ext hi) {
        (Ext elo, Ext ehi) = LibExt.exp(tlo, thi);
        uint256 mag = _mag(tlo, thi);
        // 2u|t| in 2^-120 units: at * 2^-23
        if (mag >= uint256(1) << (LibExt.F + 21)) return (Ext.wrap(0), LibExt.exact(1, -148));
        Ext z = LibExt.make(mag, -int256(LibExt.F) - 23, true);
        Ext one = LibExt.exact(1, 0);
        // (1 + 4u) / (1 - 2u|t|) >= (1 + 4u) exp(2u|t|) = 1 + r
        Ext fac = LibExt.exact((1 << 22) + 1, -22).div(one.sub(z, false), true);
        lo = elo.mul(LibExt.exact(2, 0).sub(fac, false), false).sub(eta, false);
        hi = ehi.mul(fac, true).add(eta, true);
    }

    /// @dev The largest input that is not -inf (`any` false when every input is -inf); reverts on NaN/+inf.
    function _max(uint32[] memory x) private pure returns (uint32 m, bool any) {
        for (uint256 j; j < x.length; ++j) {
            uint32 v = x[j];
            if (v == NEG_INF) continue;
            if (Fp32.isNonFinite(v)) revert NonFiniteInput(v);
            if (!any || Fp32.lt(m, v)) (m, any) = (v, true);
        }
    }
}
