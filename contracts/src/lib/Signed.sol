// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ext, LibExt} from "./Ext.sol";

/// @notice A signed real: an `Ext` magnitude with the sign in bit 255 (zero is never negative).
type SExt is uint256;

/// @title LibSigned
/// @notice Directed-rounding arithmetic on signed `Ext` values, for regions whose intermediate quantities change
///         sign (LayerNorm's centred input, GELU's 1 + erf). `up` rounds the signed result towards +inf, else
///         towards -inf: the magnitude is rounded up for a positive result rounded up or a negative one rounded
///         down, and towards zero otherwise.
library LibSigned {
    using LibExt for Ext;

    uint256 private constant SIGN = 1 << 255;

    /// @notice `m` with sign `neg` (a zero magnitude is +0).
    function signed(Ext m, bool negative) internal pure returns (SExt) {
        return SExt.wrap(negative && !m.isZero() ? Ext.unwrap(m) | SIGN : Ext.unwrap(m));
    }

    /// @notice The fp32 value `bits` (finite), exactly.
    function of32(uint32 bits) internal pure returns (SExt) {
        return signed(LibExt.abs32(bits), (bits >> 31) == 1);
    }

    /// @notice |a|.
    function mag(SExt a) internal pure returns (Ext) {
        return Ext.wrap(SExt.unwrap(a) & ~SIGN);
    }

    /// @notice a < 0.
    function isNeg(SExt a) internal pure returns (bool) {
        return SExt.unwrap(a) & SIGN != 0;
    }

    /// @notice -a.
    function neg(SExt a) internal pure returns (SExt) {
        return signed(mag(a), !isNeg(a));
    }

    /// @notice a + b, rounded towards +inf (`up`) or -inf.
    function add(SExt a, SExt b, bool up) internal pure returns (SExt) {
        (Ext ma, Ext mb) = (mag(a), mag(b));
        (bool na, bool nb) = (isNeg(a), isNeg(b));
        if (na == nb) return signed(ma.add(mb, up != na), na);
        // opposite signs: the larger magnitude gives the sign
        if (mb.lt(ma)) return signed(ma.sub(mb, up != na), na);
        return signed(mb.sub(ma, up != nb), nb);
    }

    /// @notice a - b, rounded.
    function sub(SExt a, SExt b, bool up) internal pure returns (SExt) {
        return add(a, neg(b), up);
    }

    /// @notice a * b, rounded.
    function mul(SExt a, SExt b, bool up) internal pure returns (SExt) {
        bool n = isNeg(a) != isNeg(b);
        return signed(mag(a).mul(mag(b), up != n), n);
    }

    /// @notice a <= b.
    function le(SExt a, SExt b) internal pure returns (bool) {
        (bool na, bool nb) = (isNeg(a), isNeg(b));
        if (na != nb) return na;
        return na ? !mag(a).lt(mag(b)) : !mag(b).lt(mag(a));
    }

    /// @notice [lo - rel |lo| - abs, hi + rel |hi| + abs], rounded outwards (rel, abs >= 0).
    function widen(SExt lo, SExt hi, Ext rel, Ext abs) internal pure returns (SExt, SExt) {
        SExt dlo = signed(mag(lo).mul(rel, true).add(abs, true), true);
        SExt dhi = signed(mag(hi).mul(rel, true).add(abs, true), false);
        return (add(lo, dlo, false), add(hi, dhi, true));
    }

    /// @notice The bounds of [alo, ahi] * [blo, bhi] (every sign), rounded outwards.
    function mulInterval(SExt alo, SExt ahi, SExt blo, SExt bhi) internal pure returns (SExt lo, SExt hi) {
        (lo, hi) = (mul(alo, blo, false), mul(alo, blo, true));
        SExt[3] memory p = [mul(alo, bhi, false), mul(ahi, blo, false), mul(ahi, bhi, false)];
        SExt[3] memory q = [mul(alo, bhi, true), mul(ahi, blo, true), mul(ahi, bhi, true)];
        for (uint256 i; i < 3; ++i) {
            if (le(p[i], lo)) lo = p[i];
            if (le(hi, q[i])) hi = q[i];
        }
    }
}
