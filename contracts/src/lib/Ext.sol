// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LibBit} from "solady/utils/LibBit.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {Fp32} from "./Fp32.sol";

/// @notice A non-negative real m * 2^e with m = 0 or 2^127 <= m < 2^128, packed as (e + 2^64) << 128 | m.
type Ext is uint256;

/// @title LibExt
/// @notice Directed-rounding arithmetic on `Ext`, for sound interval bounds of the ops whose regions are not
///         sums of products (norms, softmax, activations). Every operation takes `up`: the result is rounded
///         towards +inf (an upper bound of the exact result) or towards 0 (a lower bound). With 128-bit
///         mantissas each rounding is within 2^-127 relatively, 2^103 times finer than fp32's u = 2^-24, so a
///         region evaluated with lower bounds for its low end and upper bounds for its high end contains the
///         exact region and exceeds it by a relative ~2^-120 per operation: the judge never condemns an honest
///         result because of its own arithmetic, and needs no widening constant.
/// @dev `exp` is evaluated in 120-bit fixed point: exp(t) = 2^k exp(r), k chosen so that r is in [0, ln 2), with
///      ln 2 bracketed by its floor and ceiling at 2^-120; exp(r) is the Taylor polynomial of degree 18, every
///      term floored (lower bound) or ceiled (upper bound; plus the tail bound 2 r^19 / 19! < 1.6e-20): both
///      ends are within 2^-65 relatively of exp(t), 2^41 times finer than fp32's rounding.
library LibExt {
    uint256 private constant BIAS = 1 << 64;
    uint256 private constant MASK = (1 << 128) - 1;
    uint256 private constant TOP = 1 << 127;
    /// @dev Fractional bits of the fixed-point arguments of `exp`.
    uint256 internal constant F = 120;
    /// @dev floor(ln 2 * 2^120); the ceiling is one more.
    int256 private constant LN2 = 921350637599661305226344307672478454;
    uint256 private constant TERMS = 18;
    /// @dev ceil(2 * ln2^19 / 19! * 2^120) + 2: the Taylor tail beyond the last term, in units of 2^-120.
    uint256 private constant TAIL = 20664200830218647;
    /// @dev |t| >= 2^8 (2^128 fixed-point units): exp(t) is below 2^-369 or above 2^369.
    int256 private constant RANGE = int256(1) << 128;

    /// @notice m * 2^e for any m < 2^256, rounded to 128 bits down (towards zero) or up.
    function make(uint256 m, int256 e, bool up) internal pure returns (Ext) {
        if (m == 0) return Ext.wrap(0);
        uint256 b = LibBit.fls(m);
        unchecked {
            if (b > 127) {
                uint256 s = b - 127;
                uint256 r = m >> s;
                if (up && (r << s) != m) {
                    r += 1;
                    if (r == 1 << 128) (r, s) = (TOP, s + 1);
                }
                // forge-lint: disable-next-line(unsafe-typecast)
                (m, e) = (r, e + int256(s)); // s <= 128
            } else {
                uint256 s = 127 - b;
                // forge-lint: disable-next-line(unsafe-typecast)
                (m, e) = (m << s, e - int256(s)); // s <= 127
            }
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        return Ext.wrap((uint256(e + int256(BIAS)) << 128) | m); // |e| stays far below 2^63 (values of fp32 ops)
    }

    /// @notice The exact value m * 2^e (m < 2^128).
    function exact(uint256 m, int256 e) internal pure returns (Ext) {
        return make(m, e, false);
    }

    /// @notice |v| of the fp32 value `bits` (finite), exactly.
    function abs32(uint32 bits) internal pure returns (Ext) {
        (, uint256 m, int256 e,) = Fp32.decode(bits);
        return make(m, e, false);
    }

    /// @notice Mantissa and exponent.
    function parts(Ext a) internal pure returns (uint256 m, int256 e) {
        uint256 w = Ext.unwrap(a);
        m = w & MASK;
        // forge-lint: disable-next-line(unsafe-typecast)
        e = int256(w >> 128) - int256(BIAS); // w >> 128 < 2^128
    }

    function isZero(Ext a) internal pure returns (bool) {
        return Ext.unwrap(a) & MASK == 0;
    }

    /// @notice a * b, rounded.
    function mul(Ext a, Ext b, bool up) internal pure returns (Ext) {
        (uint256 ma, int256 ea) = parts(a);
        (uint256 mb, int256 eb) = parts(b);
        if (ma == 0 || mb == 0) return Ext.wrap(0);
        unchecked {
            return make(ma * mb, ea + eb, up);
        }
    }

    /// @notice a / b, rounded; b must not be zero.
    function div(Ext a, Ext b, bool up) internal pure returns (Ext) {
        (uint256 ma, int256 ea) = parts(a);
        (uint256 mb, int256 eb) = parts(b);
        if (ma == 0) return Ext.wrap(0);
        unchecked {
            uint256 num = ma << 127;
            uint256 q = num / mb;
            if (up && q * mb != num) q += 1;
            return make(q, ea - eb - 127, up);
        }
    }

    /// @notice a + b, rounded.
    function add(Ext a, Ext b, bool up) internal pure returns (Ext) {
        (uint256 ma, int256 ea) = parts(a);
        (uint256 mb, int256 eb) = parts(b);
        if (mb == 0) return a;
        if (ma == 0) return b;
        if (ea < eb) (ma, ea, mb, eb) = (mb, eb, ma, ea);
        (uint256 bb, bool lost) = _align(mb, ea - eb);
        unchecked {
            uint256 s = (ma << 127) + bb;
            if (up && lost) s += 1;
            return make(s, ea - 127, up);
        }
    }

    /// @notice max(a - b, 0), rounded.
    function sub(Ext a, Ext b, bool up) internal pure returns (Ext) {
        (uint256 ma, int256 ea) = parts(a);
        (uint256 mb, int256 eb) = parts(b);
        if (mb == 0) return a;
        if (ma == 0 || ea < eb) return Ext.wrap(0);
        (uint256 bb, bool lost) = _align(mb, ea - eb);
        // a lower bound subtracts an upper bound of the truncated b
        if (!up && lost) bb += 1;
        uint256 aa = ma << 127;
        if (bb >= aa) return Ext.wrap(0);
        unchecked {
            return make(aa - bb, ea - 127, up);
        }
    }

    /// @notice sqrt(a), rounded.
    function sqrt(Ext a, bool up) internal pure returns (Ext) {
        (uint256 ma, int256 ea) = parts(a);
        if (ma == 0) return a;
        unchecked {
            // M * 2^E with E even and M >= 2^254
            (uint256 m, int256 e) = (ea & 1 == 0) ? (ma << 128, ea - 128) : (ma << 127, ea - 127);
            uint256 s = FixedPointMathLib.sqrt(m);
            if (up && s * s != m) s += 1;
            return make(s, e / 2, up);
        }
    }

    /// @notice a < b.
    function lt(Ext a, Ext b) internal pure returns (bool) {
        (uint256 ma, int256 ea) = parts(a);
        (uint256 mb, int256 eb) = parts(b);
        if (mb == 0) return false;
        if (ma == 0) return true;
        return ea < eb || (ea == eb && ma < mb);
    }

    /// @notice Whether the fp32 value `y` is inside sigma * [a - slack, hi] (sigma = -1 when `neg`): the region of
    ///         a result of known sign whose magnitude is at least a - slack and at most hi (when a < slack it
    ///         reaches across zero). A NaN or infinite `y` is outside.
    function inside(uint32 y, bool neg, Ext a, Ext slack, Ext hi) internal pure returns (bool) {
        if (Fp32.isNonFinite(y)) return false;
        Ext ay = abs32(y);
        if (isZero(ay) || ((y >> 31) == 1) == neg) return !lt(add(ay, slack, true), a) && !lt(hi, ay);
        // the other sign: -|y| >= a - slack
        return !lt(slack, add(ay, a, false));
    }

    /// @notice (1 + u)^k (up) or (1 - u)^k (down) for u = 2^-24, k <= 8: exact for k <= 5 (24k + 1 bits), rounded
    ///         outwards (up, resp. towards 0) above.
    function onePlusU(uint256 k, bool up) internal pure returns (Ext) {
        uint256 f = up ? (1 << 24) + 1 : (1 << 24) - 1;
        // forge-lint: disable-next-line(unsafe-typecast)
        return make(f ** k, -24 * int256(k), up); // (2^24 + 1)^8 < 2^193
    }

    /// @notice gamma_n = n u / (1 - n u) for u = 2^-24, rounded up (n < 2^24).
    function gamma(uint256 n) internal pure returns (Ext) {
        return div(make(n, 0, false), make((1 << 24) - n, 0, false), true);
    }

    /// @notice The fixed-point value floor(v * 2^120) (`up`: ceil) of the fp32 value `bits` (finite).
    function fixed32(uint32 bits, bool up) internal pure returns (int256 x) {
        (bool neg, uint256 m, int256 e,) = Fp32.decode(bits);
        int256 sh = e + int256(F);
        bool lost;
        uint256 v;
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            if (sh >= 0) {
                v = m << uint256(sh); // e <= 104: < 2^248
            } else {
                // forge-lint: disable-next-line(unsafe-typecast)
                uint256 r = uint256(-sh); // <= 29
                v = m >> r;
                lost = (v << r) != m;
            }
        }
        // the magnitude was floored: rounding up a positive value (or down a negative one) adds one unit
        if (lost && up != neg) v += 1;
        // forge-lint: disable-next-line(unsafe-typecast)
        x = neg ? -int256(v) : int256(v);
    }

    /// @notice Bounds of exp(t) for t in [lo, hi] / 2^120 (fixed point).
    function exp(int256 lo, int256 hi) internal pure returns (Ext, Ext) {
        return (_exp(lo, false), _exp(hi, true));
    }

    /// @notice exp(t) * 2^120 for t = x / 2^120 <= 1, floored (`up`: ceiled): the fixed-point exp of sums of
    ///         terms below one (softmax).
    function expFixed(int256 x, bool up) internal pure returns (uint256) {
        if (x <= -RANGE) return up ? 1 : 0;
        (uint256 s, int256 k) = _taylor(x, up);
        // forge-lint: disable-next-line(unsafe-typecast)
        if (k >= 0) return s << uint256(k); // k <= 1 for t <= 1
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 r = uint256(-k);
        if (r >= 256) return up ? 1 : 0;
        uint256 v = s >> r;
        return up && (v << r) != s ? v + 1 : v;
    }

    function _exp(int256 x, bool up) private pure returns (Ext) {
        if (x >= RANGE) return up ? make(1, 1 << 20, true) : make(1, 369, false);
        if (x <= -RANGE) return up ? make(1, -369, true) : Ext.wrap(0);
        (uint256 s, int256 k) = _taylor(x, up);
        return make(s, k - int256(F), up);
    }

    /// @dev exp(x / 2^120) = 2^k * s / 2^120 with s bounding exp(r) * 2^120 from below (or above), |x| < 2^128.
    function _taylor(int256 x, bool up) private pure returns (uint256 s, int256 k) {
        // r = x - k ln2 in [0, ln2 + 2^-120), with ln2 taken at whichever end makes r a bound of the true one
        int256 l = (x >= 0) == up ? LN2 : LN2 + 1;
        k = x / l;
        if (k * l > x) k -= 1;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 r = uint256(x - k * l); // 0 <= r < l
        // term i = term (i - 1) * r / i, floored (ceiled when `up`); t < 2^121 and r < 2^120, so t * r < 2^241
        assembly {
            let one := shl(F, 1)
            let t := one
            s := one
            let d := 0
            for { let i := 0 } lt(i, TERMS) { i := add(i, 1) } {
                d := add(d, one)
                t := div(add(mul(t, r), mul(up, sub(d, 1))), d)
                s := add(s, t)
            }
            if up { s := add(s, TAIL) }
        }
    }

    /// @dev m * 2^-shift as an integer (shift >= 0), floored; `lost` when bits fell off.
    function _align(uint256 m, int256 shift) private pure returns (uint256 v, bool lost) {
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 s = uint256(shift);
            if (s <= 127) return (m << (127 - s), false);
            s -= 127;
            if (s >= 256) return (0, m != 0);
            v = m >> s;
            lost = (v << s) != m;
        }
    }
}
