// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";
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
