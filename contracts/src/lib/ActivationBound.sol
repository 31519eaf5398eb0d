// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
import {SExt, LibSigned} from "./Signed.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput} from "./Errors.sol";

/// @title ActivationBound
/// @notice Sound regions of SiLU and GELU output elements, the bounds of `nao::region::norms::silu` and
///         `nao::region::gelu::gelu` evaluated in directed-rounding `Ext` arithmetic, with exp bracketed by
///         `LibExt.exp` and erf by its Taylor series (`erfBounds`).
/// @dev y = x / (1 + exp(-x)) (or x * sigmoid(x)): exp within 2 ulps (relative 4u; its argument -x is exact),
///      then at most three roundings: |y - s| <= ((1 + u)^3 / ((1 - u)(1 - 4u)) - 1) |s| + eta (1 + |x|).
///      The absolute term is eta (1 + |x|) rather than the Rust region's eta: a kernel that forms sigmoid(x)
///      first rounds it in the subnormal range for x < -87, an absolute 2^-150 that the product scales by |x|.
///      Where a 2-ulp exp(-x) may overflow fp32 (exp(-x) >= 2^127, x < -88.03) kernels return -0 for a tiny
///      negative s: the region reaches to zero.
library ActivationBound {
    using LibExt for Ext;
    using LibSigned for SExt;

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

    /// @dev floor(sqrt(2 / pi) * 2^127); the ceiling is one more.
    uint256 private constant SQRT_2_PI_LO = 135753023439836232162591007175785461951;
    /// @dev Fractional bits of the erf series.
    uint256 private constant G = 64;

    /// @notice True iff `y` is inside the region of GELU (erf form) at `x`: `y = x/2 (1 + erf(x / sqrt 2))` with
    ///         the argument carrying two roundings, erf within 2 ulps, then at most three roundings:
    ///         |y - s| <= |x|/2 (E_erf + u (1 + erf z + E_erf)) + 3u |s| + 3 eta,
    ///         E_erf = 2/sqrt(pi) exp(-z^2 (1 - 4u)) |z| 2u + 4u |erf z| + eta, all rounded outwards, times
    ///         1 + 2^-20 (Rust: 1 + 1e-9). A NaN/Inf `x` reverts with `NonFiniteInput`.
    function geluWithin(uint32 x, uint32 y) internal pure returns (bool) {
        if (Fp32.isNonFinite(x)) revert NonFiniteInput(x);
        if (Fp32.isNonFinite(y)) return false;
        Ext ax = LibExt.abs32(x);
        bool neg = (x >> 31) == 1;
        Ext u = LibExt.exact(1, -24);
        Ext eta = LibExt.exact(1, -149);
        Ext one = LibExt.exact(1, 0);
        (Ext elo, Ext ehi) = erfBounds(x);
        // 1 + erf(z) for z = x / sqrt 2 (erf is odd): [1 + elo, 1 + ehi], or [1 - ehi, 1 - elo] for x < 0
        (Ext plo, Ext phi) = neg ? (one.sub(ehi, false), one.sub(elo, true)) : (one.add(elo, false), one.add(ehi, true));
        // |s| = |x|/2 (1 + erf z), with the sign of x
        Ext half = LibExt.exact(1, -1);
        (Ext slo, Ext shi) = (ax.mul(half, false).mul(plo, false), ax.mul(half, true).mul(phi, true));
        // E_erf: the argument's two roundings move erf by 2/sqrt(pi) exp(-z^2 (1 - 4u)) |z| 2u
        //        = sqrt(2/pi) exp(-v (1 - 4u)) |x| 2^-23
        Ext eArg = LibExt.make(SQRT_2_PI_LO + 1, -127, true).mul(_gaussHi(x), true).mul(ax, true)
            .mul(LibExt.exact(1, -23), true);
        Ext eErf = eArg.add(LibExt.exact(1, -22).mul(ehi, true), true).add(eta, true);
        Ext eSum = eErf.add(u.mul(phi.add(eErf, true), true), true);
        Ext bound = ax.mul(half, true).mul(eSum, true).add(LibExt.exact(3, -24).mul(shi, true), true)
            .add(LibExt.exact(3, -149), true);
        bound = bound.mul(LibExt.exact((1 << 20) + 1, -20), true);
        // s - bound <= y <= s + bound, s of the sign of x
        SExt lo = LibSigned.signed(neg ? shi : slo, neg).sub(LibSigned.signed(bound, false), false);
        SExt hi = LibSigned.signed(neg ? slo : shi, neg).add(LibSigned.signed(bound, false), true);
        SExt yy = LibSigned.of32(y);
        return LibSigned.le(lo, yy) && LibSigned.le(yy, hi);
    }

    /// @notice Bounds of erf(|x| / sqrt 2) for the fp32 value `x`: sqrt(2/pi) |x| T(v) with v = x^2 / 2 and
    ///         T(v) = sum_n (-1)^n v^n / (n! (2n + 1)), summed in 64-bit fixed point from floored and ceiled
    ///         term chains until the terms fall below one unit past their peak (an alternating series whose
    ///         terms decrease: the tail is at most the next term). For v >= 32 (|z| >= 5.66) erf is in
    ///         [1 - 2^-49, 1] (erfc(sqrt 32) < 1.25e-15). Both ends are clamped to [0, 1].
    function erfBounds(uint32 x) internal pure returns (Ext lo, Ext hi) {
        Ext ax = LibExt.abs32(x);
        if (ax.isZero()) return (ax, ax);
        Ext one = LibExt.exact(1, 0);
        // v = x^2 / 2 in 2^-64 fixed point, floored and ceiled (x^2 = m^2 2^(2e))
        (, uint256 m, int256 e,) = Fp32.decode(x);
        int256 sh = 2 * e - 1 + int256(G);
        // a normal m has m^2 >= 2^46: sh >= 23 means v >= 2^5
        if (sh >= 23) return (one.sub(LibExt.exact(1, -49), false), one);
        (uint256 vlo, uint256 vhi) = _fixedSquare(m * m, sh);
        if (vlo >= 32 << G) return (one.sub(LibExt.exact(1, -49), false), one);
        (int256 tlo, int256 thi) = _series(vlo, vhi);
        Ext c = LibExt.make(SQRT_2_PI_LO, -127, false);
        // forge-lint: disable-next-line(unsafe-typecast)
        lo = tlo <= 0 ? Ext.wrap(0) : c.mul(ax, false).mul(LibExt.make(uint256(tlo), -int256(G), false), false);
        // forge-lint: disable-next-line(unsafe-typecast)
        hi = LibExt.make(SQRT_2_PI_LO + 1, -127, true).mul(ax, true)
            .mul(LibExt.make(uint256(thi), -int256(G), true), true);
        if (one.lt(lo)) lo = one;
        if (one.lt(hi)) hi = one;
    }

    /// @dev m2 * 2^sh floored and ceiled (sh < 12, m2 < 2^48).
    function _fixedSquare(uint256 m2, int256 sh) private pure returns (uint256 lo, uint256 hi) {
        // forge-lint: disable-next-line(unsafe-typecast)
        if (sh >= 0) return (m2 << uint256(sh), m2 << uint256(sh));
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 r = uint256(-sh);
        if (r >= 256) return (0, 1);
        lo = m2 >> r;
        hi = (lo << r) == m2 ? lo : lo + 1;
    }

    /// @dev Bounds of T(v) * 2^64 for v in [vlo, vhi] / 2^64 (v < 32).
    function _series(uint256 vlo, uint256 vhi) private pure returns (int256 tlo, int256 thi) {
        uint256 one = uint256(1) << G;
        // a_n = v^n / n!: floored chain at vlo (below every a_n(v)), ceiled chain at vhi (above)
        uint256 alo = one;
        uint256 ahi = one;
        // forge-lint: disable-next-line(unsafe-typecast)
        (tlo, thi) = (int256(one), int256(one));
        unchecked {
            // v < 32: the terms fall below one unit by n ~ 130
            for (uint256 n = 1;; ++n) {
                alo = (alo * vlo) / (n << G);
                ahi = (ahi * vhi + (n << G) - 1) / (n << G);
                uint256 d = 2 * n + 1;
                // forge-lint: disable-next-line(unsafe-typecast)
                (int256 fl, int256 ce) = (int256(alo / d), int256((ahi + d - 1) / d));
                if (n & 1 == 0) (tlo, thi) = (tlo + fl, thi + ce);
                else (tlo, thi) = (tlo - ce, thi - fl);
                // past the peak (n > v) and below one unit: the tail is at most the next term, <= this one
                if ((n << G) > vhi && ahi < d) {
                    (tlo, thi) = (tlo - 1, thi + 1);
                    break;
                }
            }
        }
    }

    /// @dev An upper bound of exp(-z^2 (1 - 4u)) for z = x / sqrt 2: exp(-v (1 - 4u)), v = x^2 / 2.
    function _gaussHi(uint32 x) private pure returns (Ext) {
        (, uint256 m, int256 e,) = Fp32.decode(x);
        // v * 2^120 = m^2 2^(2e - 1 + 120), floored; |x| >= 2^5 gives v >= 512: exp(-v(1 - 4u)) < 2^-367
        // x^2 >= 2^(2e + 46) for a normal x: v >= 2^9 gives exp(-v (1 - 4u)) < 2^-367
        if (2 * e + 46 >= 10) return LibExt.exact(1, -367);
        int256 sh = 2 * e - 1 + int256(LibExt.F);
        (uint256 v,) = _fixedSquare(m * m, sh);
        // v (1 - 4u) floored: v - ceil(v / 2^22)
        uint256 w = v - ((v + (1 << 22) - 1) >> 22);
        // forge-lint: disable-next-line(unsafe-typecast)
        (, Ext hi) = LibExt.exp(-int256(w), -int256(w));
        return hi;
    }
}
