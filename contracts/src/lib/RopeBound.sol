// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
import {SExt, LibSigned} from "./Signed.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput} from "./Errors.sol";

/// @title RopeBound
/// @notice Sound region of one rotary-embedding output element (rotate-half), the bound of
///         `nao::region::rope::rope` evaluated in directed rounding: pair k < d/2 of a row at position p turns by
///         a = p theta^(-2k/d) / f, f the pair's frequency factor (Llama 3's rope scaling; 1 without);
///         y_k = x_k cos a - x_{k+d/2} sin a, y_{k+d/2} = x_{k+d/2} cos a + x_k sin a. The angle carries a
///         relative error da = 8u |a| (kernels' tables; 40u when f != 1: kernels derive the factors in f32 from
///         the scaling's parameters), sin/cos are within 2 ulps:
///         |c^ - cos a| <= |sin a| da + da^2 / 2 + 4u |cos a| + eta (and symmetrically), and the two products and
///         the sum add gamma_2 (|x_k c^| + |x_j s^|); the bound is widened by 1 + 2^-20 (Rust: 1 + 1e-9) plus eta.
/// @dev In 120-bit fixed point: ln theta = E ln 2 + 2 atanh((m - 1)/(m + 1)) (series in z^2 <= 1/9), the frequency
///      exp(-(2k/d) ln theta - ln f) by `LibExt.exp` (ln f as ln theta), a = p freq, reduced by pi/2 (its 120-bit bracket; the reduction
///      adds one unit per multiple), cos and sin of the remainder (<= pi/2) by their alternating Taylor series from
///      floored and ceiled term chains; every uncertainty of a (its bracket and the reduction) widens cos and sin
///      by as many units (both are 1-Lipschitz).
library RopeBound {
    using LibExt for Ext;
    using LibSigned for SExt;

    uint256 private constant F = 120;
    /// @dev floor(ln 2 * 2^120) and floor(pi / 2 * 2^120); the ceilings are one more.
    uint256 private constant LN2 = 921350637599661305226344307672478454;
    uint256 private constant HALF_PI = 2087946453251888179413438228831778873;
    /// @dev 1.0f, the factor of an unscaled pair.
    uint32 private constant ONE = 0x3f800000;

    /// @notice True iff `y` is inside the region of element `j` of the rope of row `x` (d = x.length, even) at
    ///         position `p` with base `theta` and the pair's frequency factor `factor` (fp32 bits, both >= 1).
    ///         NaN/Inf inputs, a base or a factor below 1 revert with `NonFiniteInput`.
    function within(uint32[] memory x, uint256 j, uint256 p, uint32 theta, uint32 factor, uint32 y)
        internal
        pure
        returns (bool)
    {
        if (Fp32.isNonFinite(y)) return false;
        uint256 half = x.length / 2;
        uint256 k = j % half;
        (uint32 p1, uint32 p2) = j < half ? (x[k], x[k + half]) : (x[k + half], x[k]);
        if (Fp32.isNonFinite(p1)) revert NonFiniteInput(p1);
        if (Fp32.isNonFinite(p2)) revert NonFiniteInput(p2);
        (SExt clo, SExt chi, SExt slo, SExt shi, Ext aHi) = _cosSin(2 * k, x.length, p, theta, factor);
        // centre: p1 c - p2 s (first half) or p1 c + p2 s (second half)
        SExt a1 = LibSigned.of32(p1);
        SExt a2 = LibSigned.of32(p2);
        (SExt lo, SExt hi) = LibSigned.mulInterval(a1, a1, clo, chi);
        (SExt tlo, SExt thi) = LibSigned.mulInterval(a2, a2, slo, shi);
        (lo, hi) = j < half ? (lo.sub(thi, false), hi.sub(tlo, true)) : (lo.add(tlo, false), hi.add(thi, true));
        // the angle's relative budget: 8u = 2^-21, or 40u for a scaled pair
        Ext da = aHi.mul(LibExt.exact(factor == ONE ? 1 : 5, -21), true);
        Ext b = _bound(a1.mag(), a2.mag(), _absMax(clo, chi), _absMax(slo, shi), da);
        SExt bs = LibSigned.signed(b, false);
        SExt yy = LibSigned.of32(y);
        return lo.sub(bs, false).le(yy) && yy.le(hi.add(bs, true));
    }

    /// @dev |p1| dc + |p2| ds + gamma_2 (|p1| (|c| + dc) + |p2| (|s| + ds)), widened by 1 + 2^-20, plus eta; `da`
    ///      bounds the angle's error.
    function _bound(Ext x1, Ext x2, Ext c, Ext s, Ext da) private pure returns (Ext) {
        Ext eta = LibExt.exact(1, -149);
        Ext da2 = da.mul(da, true).mul(LibExt.exact(1, -1), true);
        Ext dc = s.mul(da, true).add(da2, true).add(c.mul(LibExt.exact(1, -22), true), true).add(eta, true);
        Ext ds = c.mul(da, true).add(da2, true).add(s.mul(LibExt.exact(1, -22), true), true).add(eta, true);
        Ext g2 = LibExt.gamma(2);
        Ext b = x1.mul(dc, true).add(x2.mul(ds, true), true);
        b = b.add(g2.mul(x1.mul(c.add(dc, true), true).add(x2.mul(s.add(ds, true), true), true), true), true);
        return b.mul(LibExt.exact((1 << 20) + 1, -20), true).add(eta, true);
    }

    function _absMax(SExt lo, SExt hi) private pure returns (Ext) {
        return lo.mag().lt(hi.mag()) ? hi.mag() : lo.mag();
    }

    /// @dev Bounds of cos a and sin a for a = p theta^(-i/d) / factor, and an upper bound of |a|.
    function _cosSin(uint256 i, uint256 d, uint256 p, uint32 theta, uint32 factor)
        private
        pure
        returns (SExt clo, SExt chi, SExt slo, SExt shi, Ext aHi)
    {
        (uint256 lnLo, uint256 lnHi) = _ln(theta);
        // the exponent -(i/d) ln theta - ln factor in fixed point, floored and ceiled
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 eLo = -int256((i * lnHi + d - 1) / d);
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 eHi = -int256((i * lnLo) / d);
        if (factor != ONE) {
            (uint256 lnFLo, uint256 lnFHi) = _ln(factor);
            // forge-lint: disable-next-line(unsafe-typecast)
            (eLo, eHi) = (eLo - int256(lnFHi), eHi - int256(lnFLo));
        }
        (Ext fLo, Ext fHi) = LibExt.exp(eLo, eHi);
        Ext pp = LibExt.exact(p, 0);
        uint256 aLo = _toFixed(pp.mul(fLo, false), false);
        aHi = pp.mul(fHi, true);
        uint256 w = _toFixed(aHi, true) - aLo;
        // a = q pi/2 + r: r from the floor of pi/2 is above the true remainder by at most q units
        uint256 q = aLo / (HALF_PI + 1);
        uint256 r = aLo - q * HALF_PI;
        w += q + 2;
        (int256 cl, int256 ch, int256 sl, int256 sh) = _cosSinFixed(r);
        // quadrant q mod 4: cos a = cos r, -sin r, -cos r, sin r; sin a = sin r, cos r, -sin r, -cos r
        uint256 quad = q % 4;
        if (quad == 1) (cl, ch, sl, sh) = (-sh, -sl, cl, ch);
        else if (quad == 2) (cl, ch, sl, sh) = (-ch, -cl, -sh, -sl);
        else if (quad == 3) (cl, ch, sl, sh) = (sl, sh, -ch, -cl);
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 ww = int256(w); // < 2^140
        (clo, chi) = (_signedFixed(cl - ww, false), _signedFixed(ch + ww, true));
        (slo, shi) = (_signedFixed(sl - ww, false), _signedFixed(sh + ww, true));
    }

    /// @dev Bounds of ln(theta) * 2^120 for theta >= 1 (a base or a factor): E ln 2 + 2 atanh(z), z = (m - 1)/(m + 1), m in [1, 2).
    function _ln(uint32 theta) private pure returns (uint256 lo, uint256 hi) {
        (bool neg, uint256 m, int256 e, bool finite) = Fp32.decode(theta);
        if (!finite || neg || ((theta >> 23) & 0xff) < 127) revert NonFiniteInput(theta);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 ex = uint256(e + 23); // theta = (m / 2^23) 2^ex, ex >= 0
        uint256 one = uint256(1) << 23;
        uint256 zLo = ((m - one) << F) / (m + one);
        uint256 zHi = zLo + 1;
        uint256 z2Lo = (zLo * zLo) >> F;
        uint256 z2Hi = ((zHi * zHi) >> F) + 1;
        (uint256 pLo, uint256 pHi) = (zLo, zHi);
        for (uint256 n = 1; pHi > 1; n += 2) {
            lo += pLo / n;
            hi += (pHi + n - 1) / n;
            pLo = (pLo * z2Lo) >> F;
            pHi = ((pHi * z2Hi) >> F) + 1;
        }
        // the tail: at most pHi (z^2 <= 1/9) summed geometrically, <= 2 units
        hi += 2;
        (lo, hi) = (2 * lo + ex * LN2, 2 * hi + ex * (LN2 + 1));
    }

    /// @dev Bounds of cos r and sin r (r * 2^120, 0 <= r < 1.6) in fixed point.
    function _cosSinFixed(uint256 r) private pure returns (int256 cl, int256 ch, int256 sl, int256 sh) {
        uint256 one = uint256(1) << F;
        (uint256 tLo, uint256 tHi) = (one, one);
        // forge-lint: disable-next-line(unsafe-typecast)
        (cl, ch) = (int256(one), int256(one));
        for (uint256 n = 1; n <= 40; ++n) {
            tLo = (tLo * r) / (n << F);
            tHi = (tHi * r + (n << F) - 1) / (n << F);
            // forge-lint: disable-next-line(unsafe-typecast)
            (int256 l, int256 h) = (int256(tLo), int256(tHi));
            uint256 m4 = n % 4;
            if (m4 == 1) (sl, sh) = (sl + l, sh + h);
            else if (m4 == 2) (cl, ch) = (cl - h, ch - l);
            else if (m4 == 3) (sl, sh) = (sl - h, sh - l);
            else (cl, ch) = (cl + l, ch + h);
        }
        // the alternating tails (terms decreasing from n = 2 on for r < 2): below the 41st term, < 1 unit
        (cl, ch, sl, sh) = (cl - 1, ch + 1, sl - 1, sh + 1);
    }

    /// @dev a * 2^120 floored (or ceiled) as an integer (a < 2^130).
    function _toFixed(Ext a, bool up) private pure returns (uint256) {
        (uint256 m, int256 e) = a.parts();
        if (m == 0) return 0;
        int256 sh = e + int256(F);
        // forge-lint: disable-next-line(unsafe-typecast)
        if (sh >= 0) return m << uint256(sh);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 rr = uint256(-sh);
        if (rr >= 256) return up ? 1 : 0;
        uint256 v = m >> rr;
        return up && (v << rr) != m ? v + 1 : v;
    }

    /// @dev v / 2^120 as a signed value, rounded towards +inf (`up`) or -inf.
    function _signedFixed(int256 v, bool up) private pure returns (SExt) {
        // forge-lint: disable-next-line(unsafe-typecast)
        if (v >= 0) return LibSigned.signed(LibExt.make(uint256(v), -int256(F), up), false);
        // forge-lint: disable-next-line(unsafe-typecast)
        return LibSigned.signed(LibExt.make(uint256(-v), -int256(F), !up), true);
    }
}
