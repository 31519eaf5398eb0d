// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
import {SExt, LibSigned} from "./Signed.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput} from "./Errors.sol";

/// @title NormBound
/// @notice Sound region of one RMSNorm output element, the bound of `nao::region::norms::rmsnorm_row`
///         evaluated in directed-rounding `Ext` arithmetic (so with no widening constant).
/// @dev y_i = x_i / sqrt(sum_j x_j^2 / n + eps) * g_i, for kernels that sum the squares in any order, divide by n
///      (or multiply by 1/n), add eps, take sqrt (correctly rounded) or rsqrt (within 2 ulps), and divide then
///      scale or multiply twice (u = 2^-24, eta = 2^-149):
///        Q^ in [(1 - gamma_n) Q - n eta, (1 + gamma_n) Q + n eta]              Q = sum_j x_j^2 (exact)
///        v^ in [((Q^lo / n)(1 - u)^2 + eps)(1 - u), ((Q^hi / n)(1 + u)^2 + eps)(1 + u)]
///        r^ in [sqrt(v^lo)(1 - 4u), sqrt(v^hi)(1 + 4u)]
///        |y_i| in [|x_i g_i| / r^hi (1 - u)^2 - eta', |x_i g_i| / r^lo (1 + u)^2 + eta'], sign of x_i g_i
///      with eta' = eta (1 + |g_i|) rather than eta: a subnormal x_i / r^ (or x_i * rsqrt) is rounded by up to
///      eta / 2 absolutely, and the product with g_i scales that error before its own rounding adds eta / 2.
///      A zero x_i or g_i has the exactly-zero region {+0, -0}.
library NormBound {
    using LibExt for Ext;
    using LibSigned for SExt;

    /// @notice True iff `y` is inside the region of element `i` of RMSNorm over the row `x` with gain `g` (the
    ///         gain of column i) and epsilon `eps`. A NaN/Inf input reverts with `NonFiniteInput`.
    function rmsnormWithin(uint32[] memory x, uint256 i, uint32 g, uint32 eps, uint32 y) internal pure returns (bool) {
        uint256 n = x.length;
        (Ext qlo, Ext qhi) = _sumSquares(x);
        if (Fp32.isNonFinite(g)) revert NonFiniteInput(g);
        if (Fp32.isNonFinite(eps)) revert NonFiniteInput(eps);
        Ext p = LibExt.abs32(x[i]).mul(LibExt.abs32(g), false); // exact: 48-bit product
        if (p.isZero()) return Fp32.isZero(y);
        (Ext rlo, Ext rhi) = _rms(qlo, qhi, n, LibExt.abs32(eps));
        // eta (1 + |g_i|): the absolute error of a subnormal x_i / r^, scaled by g_i, plus the last rounding's
        Ext slack = LibExt.exact(1, -149).mul(LibExt.exact(1, 0).add(LibExt.abs32(g), true), true);
        Ext a = p.div(rhi, false).mul(LibExt.onePlusU(2, false), false);
        Ext hi = rlo.isZero()
            ? LibExt.exact(1, 1 << 20)
            : p.div(rlo, true).mul(LibExt.onePlusU(2, true), true).add(slack, true);
        bool neg = ((x[i] ^ g) >> 31) == 1;
        return LibExt.inside(y, neg, a, slack, hi);
    }

    /// @notice True iff `y` is inside the region of element `i` of LayerNorm over the row `x` with gain `g` and
    ///         shift `b` (of column i) and epsilon `eps`: the bound of `nao::region::norms::layernorm_row` (mean by
    ///         an any-order sum and a division; variance as sum(x^2)/n - mean^2 or as sum((x - mean)^2)/n; sqrt
    ///         and reciprocal or rsqrt; scale and shift; every rounding an interval), in directed rounding. Its
    ///         relative constants are rounded outwards: 5u for the 2-ulp rsqrt (Rust: 4u (1 + 1e-9)), 1 + 2^-19
    ///         for the variance's error (Rust: 1 + 1e-6), u (1 + 2^-20) for the shift (Rust: u (1 + 1e-9)). A row
    ///         whose variance is within its own error of -eps accepts any finite output. NaN/Inf inputs revert.
    function layernormWithin(uint32[] memory x, uint256 i, uint32 g, uint32 b, uint32 eps, uint32 y)
        internal
        pure
        returns (bool)
    {
        if (Fp32.isNonFinite(g)) revert NonFiniteInput(g);
        if (Fp32.isNonFinite(b)) revert NonFiniteInput(b);
        if (Fp32.isNonFinite(eps)) revert NonFiniteInput(eps);
        Moments memory m = _moments(x); // reverts on a NaN/Inf in x
        // only once every operand is known finite: a non-finite operand is the producing op's dispute, whatever y is
        if (Fp32.isNonFinite(y)) return false;
        Ext u = LibExt.exact(1, -24);
        Ext eta = LibExt.exact(1, -149);
        // e_mean, e_var: the error of the computed mean and variance
        Ext g1 = m.gam.mul(m.a1, true).div(m.nn, true);
        Ext eMean = g1.add(u.mul(LibExt.exact(2, 0), true).mul(m.absMean.add(g1, true), true), true).add(eta, true);
        Ext e2 = eMean.mul(eMean, true);
        Ext qn = m.qhi.div(m.nn, true);
        Ext naive = qn.mul(m.gam.add(LibExt.exact(3, -24), true), true)
            .add(m.absMean.mul(eMean, true).mul(LibExt.exact(2, 0), true), true).add(e2, true)
            .add(u.mul(m.mean2hi, true), true).add(u.mul(m.varHi.add(qn, true), true), true);
        Ext twoPass = m.gam.add(LibExt.exact(5, -24), true).mul(m.varHi.add(e2, true), true).add(e2, true);
        Ext eVar = naive.add(twoPass, true).mul(LibExt.exact((1 << 19) + 1, -19), true).add(eta, true);
        Ext ep = LibExt.abs32(eps);
        // w in [(var - e_var + eps)(1 - u), (var + e_var + eps)(1 + u)]; no bound when its low end is <= 0
        Ext wlo = m.varLo.add(ep, false).sub(eVar, false);
        if (wlo.isZero()) return true;
        wlo = wlo.mul(LibExt.onePlusU(1, false), false);
        Ext whi = m.varHi.add(eVar, true).add(ep, true).mul(LibExt.onePlusU(1, true), true);
        SExt slo = LibSigned.signed(LibExt.exact((1 << 24) - 5, -24).div(whi.sqrt(true), false), false);
        SExt shi = LibSigned.signed(LibExt.exact((1 << 24) + 5, -24).div(wlo.sqrt(false), true), false);
        // c = x_i - mean +- e_mean, widened by u and eta; then c s, then times g, then plus b
        SExt xi = LibSigned.of32(x[i]);
        SExt em = LibSigned.signed(eMean, false);
        (SExt clo, SExt chi) = (xi.sub(m.meanHi, false).sub(em, false), xi.sub(m.meanLo, true).add(em, true));
        (clo, chi) = LibSigned.widen(clo, chi, u, eta);
        (SExt tlo, SExt thi) = LibSigned.mulInterval(clo, chi, slo, shi);
        (tlo, thi) = LibSigned.widen(tlo, thi, u, eta);
        SExt gg = LibSigned.of32(g);
        (tlo, thi) = LibSigned.mulInterval(tlo, thi, gg, gg);
        (tlo, thi) = LibSigned.widen(tlo, thi, u, eta);
        SExt bb = LibSigned.of32(b);
        (tlo, thi) = LibSigned.widen(tlo.add(bb, false), thi.add(bb, true), LibExt.exact((1 << 20) + 1, -44), eta);
        SExt yy = LibSigned.of32(y);
        return tlo.le(yy) && yy.le(thi);
    }

    /// @notice True iff `y` is inside the region of the mean of `x` (mean pooling): an any-order sum then a
    ///         division by n (or a multiplication by 1/n), `|y - mean| <= gamma_n sum|x| / n (1 + u)^2 + 2u |mean| +
    ///         eta` (`nao::region::rope::mean_rows`), the mean and sum|x| exact integer sums, rounded outwards.
    function meanWithin(uint32[] memory x, uint32 y) internal pure returns (bool) {
        if (Fp32.isNonFinite(y)) return false;
        uint256 n = x.length;
        for (uint256 j; j < n; ++j) {
            if (Fp32.isNonFinite(x[j])) revert NonFiniteInput(x[j]);
        }
        Ext nn = LibExt.exact(n, 0);
        (SExt meanLo, SExt meanHi, Ext a) = _mean(x, nn);
        Ext absMean = meanHi.mag().lt(meanLo.mag()) ? meanLo.mag() : meanHi.mag();
        a = a.div(nn, true);
        Ext bound = LibExt.gamma(n).mul(a, true).mul(LibExt.onePlusU(2, true), true)
            .add(LibExt.exact(1, -23).mul(absMean, true), true).add(LibExt.exact(1, -149), true);
        SExt b = LibSigned.signed(bound, false);
        SExt yy = LibSigned.of32(y);
        return meanLo.sub(b, false).le(yy) && yy.le(meanHi.add(b, true));
    }

    /// @dev What a LayerNorm row's region needs of its inputs: bounds of the mean, of |mean| and mean^2, of the
    ///      variance sum((x - mean)^2)/n = sum(x^2)/n - mean^2, of sum|x| and sum x^2, and gamma_n.
    struct Moments {
        SExt meanLo;
        SExt meanHi;
        Ext absMean;
        Ext mean2hi;
        Ext varLo;
        Ext varHi;
        Ext a1;
        Ext qhi;
        Ext nn;
        Ext gam;
    }

    function _moments(uint32[] memory x) private pure returns (Moments memory m) {
        uint256 n = x.length;
        (Ext qlo, Ext qhi) = _sumSquares(x);
        m.nn = LibExt.exact(n, 0);
        m.gam = LibExt.gamma(n);
        m.qhi = qhi;
        (m.meanLo, m.meanHi, m.a1) = _mean(x, m.nn);
        (Ext aLo, Ext aHi) = (m.meanLo.mag(), m.meanHi.mag());
        m.absMean = aHi.lt(aLo) ? aLo : aHi;
        // |mean| >= 0 when the bounds straddle zero, else the smaller end
        Ext absMin = m.meanLo.isNeg() != m.meanHi.isNeg() ? Ext.wrap(0) : (aHi.lt(aLo) ? aHi : aLo);
        m.mean2hi = m.absMean.mul(m.absMean, true);
        m.varLo = qlo.div(m.nn, false).sub(m.mean2hi, false);
        m.varHi = qhi.div(m.nn, true).sub(absMin.mul(absMin, false), true);
    }

    /// @dev Bounds of the mean of `x` (n = `nn`), rounded outwards, and an upper bound of sum |x|, from the exact
    ///      integer sums of `_sums`: the sum is in [pos - neg - cutNeg, pos + cutPos - neg] units of 2^base.
    function _mean(uint32[] memory x, Ext nn) private pure returns (SExt lo, SExt hi, Ext a1) {
        (uint256 pos, uint256 neg, uint256 cutPos, uint256 cutNeg, int256 base) = _sums(x);
        SExt sLo = _diff(pos, neg + cutNeg, base, false);
        SExt sHi = _diff(pos + cutPos, neg, base, true);
        lo = LibSigned.signed(sLo.mag().div(nn, sLo.isNeg()), sLo.isNeg());
        hi = LibSigned.signed(sHi.mag().div(nn, !sHi.isNeg()), sHi.isNeg());
        a1 = LibExt.make(pos + neg + cutPos + cutNeg, base, true);
    }

    /// @dev a - b (integers in units of 2^base) as a signed value, rounded towards +inf (`up`) or -inf.
    function _diff(uint256 a, uint256 b, int256 base, bool up) private pure returns (SExt) {
        return a >= b
            ? LibSigned.signed(LibExt.make(a - b, base, up), false)
            : LibSigned.signed(LibExt.make(b - a, base, !up), true);
    }

    /// @dev The positive and the negative inputs summed as integers in units of 2^base (base: the largest input
    ///      keeps 200 bits), each with the count of inputs that lost bits below 2^base.
    function _sums(uint32[] memory x)
        private
        pure
        returns (uint256 pos, uint256 neg, uint256 cutPos, uint256 cutNeg, int256 base)
    {
        uint256 n = x.length;
        uint256 top;
        for (uint256 j; j < n; ++j) {
            uint256 be = (x[j] >> 23) & 0xff;
            if (be > top) top = be;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        base = (int256(top == 0 ? 1 : top) - 150) + 24 - 200; // top <= 254 (finite: checked by _sumSquares)
        unchecked {
            for (uint256 j; j < n; ++j) {
                uint32 v = x[j];
                uint256 be = (v >> 23) & 0xff;
                uint256 m = v & 0x7fffff;
                if (be == 0) be = 1;
                else m |= 0x800000;
                if (m == 0) continue;
                // forge-lint: disable-next-line(unsafe-typecast)
                int256 sh = (int256(be) - 150) - base; // <= 176
                uint256 a;
                bool cut;
                if (sh >= 0) {
                    // forge-lint: disable-next-line(unsafe-typecast)
                    a = m << uint256(sh);
                } else {
                    // forge-lint: disable-next-line(unsafe-typecast)
                    uint256 r = uint256(-sh);
                    a = r >= 256 ? 0 : m >> r;
                    cut = a << r != m;
                }
                if (v >> 31 == 1) {
                    neg += a;
                    if (cut) ++cutNeg;
                } else {
                    pos += a;
                    if (cut) ++cutPos;
                }
            }
        }
    }

    /// @dev Bounds of Q = sum_j x_j^2: the squares m^2 2^(2e) summed as integers in units of 2^base, base chosen
    ///      so that the largest square keeps 200 bits (the sum of < 2^20 of them fits in 256); the bits of smaller
    ///      squares below 2^base are floored, and the upper bound adds one unit per square that lost any.
    function _sumSquares(uint32[] memory x) private pure returns (Ext lo, Ext hi) {
        uint256 n = x.length;
        uint256 top;
        for (uint256 j; j < n; ++j) {
            uint256 be = (x[j] >> 23) & 0xff;
            if (be == 0xff) revert NonFiniteInput(x[j]);
            if (be > top) top = be;
        }
        // every square is below 2^(2 (max(E, 1) - 150) + 48); base = that - 200
        int256 base = 2 * (int256(top == 0 ? 1 : top) - 150) + 48 - 200;
        uint256 sum;
        uint256 cut;
        unchecked {
            for (uint256 j; j < n; ++j) {
                uint32 b = x[j];
                uint256 be = (b >> 23) & 0xff;
                uint256 m = b & 0x7fffff;
                if (be == 0) be = 1;
                else m |= 0x800000;
                if (m == 0) continue;
                uint256 sq = m * m;
                // forge-lint: disable-next-line(unsafe-typecast)
                int256 sh = 2 * (int256(be) - 150) - base; // <= 200 - 48 + ... < 256
                if (sh >= 0) {
                    // forge-lint: disable-next-line(unsafe-typecast)
                    sum += sq << uint256(sh);
                } else {
                    // forge-lint: disable-next-line(unsafe-typecast)
                    uint256 r = uint256(-sh);
                    uint256 v = r >= 256 ? 0 : sq >> r;
                    if (v << r != sq) ++cut;
                    sum += v;
                }
            }
        }
        return (LibExt.make(sum, base, false), LibExt.make(sum + cut, base, true));
    }

    /// @dev Bounds of the computed root mean square r^ from bounds of the exact sum of squares.
    function _rms(Ext qlo, Ext qhi, uint256 n, Ext eps) private pure returns (Ext rlo, Ext rhi) {
        Ext gam = LibExt.gamma(n);
        Ext one = LibExt.exact(1, 0);
        Ext nn = LibExt.exact(n, 0);
        Ext neta = LibExt.exact(n, -149);
        qlo = qlo.mul(one.sub(gam, false), false).sub(neta, false);
        qhi = qhi.mul(one.add(gam, true), true).add(neta, true);
        Ext vlo = qlo.div(nn, false).mul(LibExt.onePlusU(2, false), false).add(eps, false);
        Ext vhi = qhi.div(nn, true).mul(LibExt.onePlusU(2, true), true).add(eps, true);
        vlo = vlo.mul(LibExt.onePlusU(1, false), false);
        vhi = vhi.mul(LibExt.onePlusU(1, true), true);
        // rsqrt within 2 ulps: relative 4u
        rlo = vlo.sqrt(false).mul(LibExt.exact((1 << 22) - 1, -22), false);
        rhi = vhi.sqrt(true).mul(LibExt.exact((1 << 22) + 1, -22), true);
    }
}
