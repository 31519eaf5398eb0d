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
///        |y_i| in [|x_i g_i| / r^hi (1 - u)^2 - eta, |x_i g_i| / r^lo (1 + u)^2 + eta], sign of x_i g_i
///      A zero x_i or g_i has the exactly-zero region {+0, -0}.
library NormBound {
    using LibExt for Ext;

    /// @notice True iff `y` is inside the region of element `i` of RMSNorm over the row `x` with gain `g` (the
    ///         gain of column i) and epsilon `eps`. A NaN/Inf input reverts with `NonFiniteInput`.
    function rmsnormWithin(uint32[] memory x, uint256 i, uint32 g, uint32 eps, uint32 y) internal pure returns (bool) {
        uint256 n = x.length;
        Ext qlo;
        Ext qhi;
        for (uint256 j; j < n; ++j) {
            (, uint256 m, int256 e, bool finite) = Fp32.decode(x[j]);
            if (!finite) revert NonFiniteInput(x[j]);
            Ext sq = LibExt.exact(m * m, 2 * e);
            (qlo, qhi) = (qlo.add(sq, false), qhi.add(sq, true));
        }
        if (Fp32.isNonFinite(g)) revert NonFiniteInput(g);
        if (Fp32.isNonFinite(eps)) revert NonFiniteInput(eps);
        Ext p = LibExt.abs32(x[i]).mul(LibExt.abs32(g), false); // exact: 48-bit product
        if (p.isZero()) return Fp32.isZero(y);
        (Ext rlo, Ext rhi) = _rms(qlo, qhi, n, LibExt.abs32(eps));
        Ext eta = LibExt.exact(1, -149);
        Ext a = p.div(rhi, false).mul(LibExt.onePlusU(2, false), false);
        Ext hi = rlo.isZero()
            ? LibExt.exact(1, 1 << 20)
            : p.div(rlo, true).mul(LibExt.onePlusU(2, true), true).add(eta, true);
        bool neg = ((x[i] ^ g) >> 31) == 1;
        return LibExt.inside(y, neg, a, eta, hi);
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
