// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LibBit} from "solady/utils/LibBit.sol";
import {Fp32} from "../src/lib/Fp32.sol";
import {NonFiniteInput, ReductionTooLong} from "../src/lib/Errors.sol";

/// @title SoundBoundReference
/// @notice The straightforward two-pass implementation of `SoundBound.within` (decode every product, find the
///         highest bit, sum in units of 2^base), kept as the reference the optimised library is fuzzed against.
/// @dev Sums of products. For y = fl(sum_{i<n} x_i * w_i) evaluated in fp32 in any order, with or without FMA:
///
///        |y - s| <= gamma_n * A + [k > 0] * n * 2^-149,   s = sum x_i w_i,  A = sum |x_i w_i|,
///        gamma_n = n u / (1 - n u),  u = 2^-24                                      (Higham, ASNA 2nd ed., 3.1)
///
///   The second term covers underflow: a product or FMA whose exact result is not a multiple of 2^-149
///   (k counts products whose exact value is not; sums of multiples of 2^-149 stay exact in the subnormal
///   range) may round with an absolute error <= 2^-150 instead of a relative one. When every product is on
///   the 2^-149 grid the term is 0, so an all-zero dot product has the exactly-zero region {+0, -0}.
///   Multiplying by (2^24 - n) turns the check into integer arithmetic with no division and no rounding:
///
///        (2^24 - n) * |y - s|  <=  n * A  +  [k > 0] * (2^24 - n) * n * 2^-149
///
///   Every fp32 product is m * 2^e with m < 2^48 and e >= -298, so all quantities are integers in units of
///   2^base. base = max(top - 190, -298), top the highest bit position of any term; whenever base > -298
///   terms below 2^base are truncated (each by < 1 unit) and the check is relaxed by exactly that slack,
///   in the prover's favour: the judge never condemns an honest result; it could only miss a deviation
///   smaller than 2^-150 of the largest term, which no in-range model can produce.
///   Addition y = fl(a + b) is the dot product [a, b] . [1, 1] with rounding length n = 1 and no underflow
///   term (IEEE addition is exact whenever its result is subnormal): |y - (a + b)| <= u|a + b| <= gamma_1 (|a| + |b|).
///
///   Point regions: when every nonzero product is a multiple of one grid g = 2^G >= 2^-149 and both the sum
///   of the positive products and the sum of the negative ones stay below 2^24 g, every partial sum of any
///   subset is a multiple of g below 2^24 g, exactly representable: every evaluation order computes s with no
///   rounding at all, so the region is {s} (+-0 for s = 0). This is what closes the hidden channel of the
///   non-composability note (a trigger M a - M b with a = b, an exact identity or amplifier layer).
///
///   Exponents are kept biased so everything is unsigned: a product of fp32 values with biased exponents
///   Ex, Ew (subnormals count as 1) is m * 2^(Ex + Ew - 300); y is my * 2^((Ey + 150) - 300). The unit 2^base
///   is biased B = max(top - 190, 2), top the highest (biased) bit position of any nonzero term or y.
library SoundBoundReference {
    uint256 internal constant TWO24 = 1 << 24;
    uint256 internal constant MAX_TERMS = 1 << 20;
    uint256 internal constant WINDOW = 190;
    /// @dev Biased exponent of the smallest product unit (2^-298).
    uint256 internal constant MIN_BIASED = 2;
    /// @dev Biased exponent of the subnormal grid 2^-149.
    uint256 internal constant GRID_BIASED = 151;
    uint32 internal constant ONE = 0x3f800000;
    uint256 internal constant NO_GRID = type(uint128).max;
    uint256 internal constant OFF_GRID = uint256(1) << 255;

    /// @notice True iff `yBits` is inside the sound region of fl(sum_i x_i * w_i) with rounding length `n`;
    ///         `underflow` enables the underflow term (false for additions). A NaN/Inf y is outside; a NaN/Inf
    ///         input reverts with `NonFiniteInput`.
    function within(uint32[] memory x, uint32[] memory w, uint32 yBits, uint256 n, bool underflow)
        internal
        pure
        returns (bool)
    {
        if (((yBits >> 23) & 0xff) == 0xff) return false;
        if (n >= MAX_TERMS) revert ReductionTooLong(n);
        uint256 len = x.length;
        // INVARIANT: one weight per input.
        if (w.length != len) revert ReductionTooLong(n);
        unchecked {
            // y = (-1)^yNeg * yM * 2^(yE - 300)
            uint256 yE = (yBits >> 23) & 0xff;
            uint256 yM = yBits & 0x7fffff;
            if (yE == 0) yE = 1;
            else yM |= 0x800000;
            yE += 150;

            // Pass 1: decode every product once into a packed word (sign << 255 | e << 64 | m), and find the
            // highest bit of any term and whether any product is off the 2^-149 grid.
            uint256 top = yM == 0 ? MIN_BIASED : yE + _bitLength(yM);
            // bit 255: some product is off the 2^-149 grid; low 128 bits: biased exponent of the finest grid all
            // nonzero products lie on (NO_GRID: no product yet; 0: some product rules the point region out).
            // One word for both keeps the stack shallow.
            uint256 gf = NO_GRID;
            uint256[] memory terms = new uint256[](len);
            for (uint256 i; i < len; ++i) {
                uint256 xb;
                uint256 wb;
                assembly {
                    let o := mul(add(i, 1), 0x20)
                    xb := mload(add(x, o))
                    wb := mload(add(w, o))
                }
                (uint256 m, uint256 e, bool sNeg) = _product(xb, wb);
                if (m == 0) continue;
                // products of two normals have 47 or 48 bits; only subnormal factors need the general bit length
                uint256 t = e + ((m >> 46) != 0 ? 47 + (m >> 47) : _bitLength(m));
                if (t > top) top = t;
                if (e < GRID_BIASED && (m & ((uint256(1) << (GRID_BIASED - e)) - 1)) != 0) gf |= OFF_GRID;
                if (gf & NO_GRID != 0) gf = (gf & OFF_GRID) | _grid(gf & NO_GRID, m, e, t - e);
                uint256 packed = (sNeg ? uint256(1) << 255 : 0) | (e << 64) | m;
                assembly {
                    mstore(add(terms, mul(add(i, 1), 0x20)), packed)
                }
            }
            uint256 base = top > WINDOW + MIN_BIASED ? top - WINDOW : MIN_BIASED;

            // Pass 2: exact (or truncated, with slack) sums in units of 2^base.
            uint256 pos;
            uint256 neg;
            bool inexact;
            for (uint256 i; i < len; ++i) {
                uint256 packed;
                assembly {
                    packed := mload(add(terms, mul(add(i, 1), 0x20)))
                }
                uint256 m = packed & 0xffffffffffffffff;
                if (m == 0) continue;
                // _align inlined: this loop is the hot path of every adjudication
                uint256 e = (packed >> 64) & 0x3ff;
                uint256 v;
                if (e >= base) {
                    v = m << (e - base);
                } else {
                    uint256 r = base - e;
                    v = r >= 256 ? 0 : m >> r;
                    if (v << r != m) inexact = true;
                }
                if (packed >> 255 == 1) neg += v;
                else pos += v;
            }
            (uint256 yv, bool yCut) = _align(yM, yE, base);
            // d = |y - s|, s = pos - neg
            (uint256 left, uint256 right) = (yBits >> 31) == 1 ? (neg, pos + yv) : (yv + neg, pos);
            uint256 d = left > right ? left - right : right - left;
            // point region: every order computes s exactly (grid - base <= WINDOW, so the shift is < 256)
            uint256 grid = gf & NO_GRID;
            if (grid != NO_GRID && grid >= GRID_BIASED && grid >= base && !inexact) {
                uint256 cap = uint256(1) << (24 + grid - base);
                if (pos < cap && neg < cap) return !yCut && d == 0;
            }
            if (yCut) inexact = true;
            uint256 a = pos + neg;
            if (inexact) {
                d = d > n + 1 ? d - (n + 1) : 0;
                a += n;
            }
            uint256 rhs = n * a;
            if (underflow && gf & OFF_GRID != 0) {
                uint256 u = (TWO24 - n) * n;
                if (GRID_BIASED >= base) rhs += u << (GRID_BIASED - base);
                else rhs += (u + (uint256(1) << (base - GRID_BIASED)) - 1) >> (base - GRID_BIASED);
            }
            return (TWO24 - n) * d <= rhs;
        }
    }

    /// @notice Sound region of a dot product: y = fl(sum x_i * w_i) over n = x.length terms.
    function dotWithin(uint32[] memory x, uint32[] memory w, uint32 yBits) internal pure returns (bool) {
        return within(x, w, yBits, x.length, true);
    }

    /// @notice Sound region of an addition: y = fl(a + b).
    function addWithin(uint32 aBits, uint32 bBits, uint32 yBits) internal pure returns (bool) {
        uint32[] memory x = new uint32[](2);
        uint32[] memory w = new uint32[](2);
        (x[0], x[1], w[0], w[1]) = (aBits, bBits, ONE, ONE);
        return within(x, w, yBits, 1, false);
    }

    /// @notice ReLU is exact: y = x for x > 0, y = +-0 otherwise.
    function reluWithin(uint32 xBits, uint32 yBits) internal pure returns (bool) {
        if (Fp32.isNonFinite(xBits)) revert NonFiniteInput(xBits);
        bool positive = (xBits >> 31) == 0 && !Fp32.isZero(xBits);
        return positive ? yBits == xBits : Fp32.isZero(yBits);
    }

    /// @dev The exact product of two fp32 values: m * 2^(e - 300), sign; reverts on NaN/Inf.
    function _product(uint256 xb, uint256 wb) private pure returns (uint256 m, uint256 e, bool neg) {
        unchecked {
            uint256 xe = (xb >> 23) & 0xff;
            uint256 we = (wb >> 23) & 0xff;
            // INVARIANT: bounds are defined over finite inputs; a non-finite input is the fault of the op before.
            // forge-lint: disable-next-line(unsafe-typecast)
            if (xe == 0xff) revert NonFiniteInput(uint32(xb)); // xb came from a uint32 array
            // forge-lint: disable-next-line(unsafe-typecast)
            if (we == 0xff) revert NonFiniteInput(uint32(wb));
            uint256 xm = xb & 0x7fffff;
            uint256 wm = wb & 0x7fffff;
            if (xe == 0) xe = 1;
            else xm |= 0x800000;
            if (we == 0) we = 1;
            else wm |= 0x800000;
            return (xm * wm, xe + we, ((xb ^ wb) >> 31) == 1);
        }
    }

    /// @dev The finest grid (biased exponent) all products so far lie on, after the product m * 2^(e - 300) of
    ///      bit length bl; 0 when a product spans more than 24 significant bits, which alone rules the point
    ///      region out (it is >= 2^24 g). Random data returns 0 at the first product, so ffs runs at most once.
    function _grid(uint256 grid, uint256 m, uint256 e, uint256 bl) private pure returns (uint256) {
        unchecked {
            if (bl > 24 && (m & ((uint256(1) << (bl - 24)) - 1)) != 0) return 0;
            uint256 g = e + LibBit.ffs(m);
            return g < grid ? g : grid;
        }
    }

    /// @dev m * 2^(e - base) as an integer, truncated (cut = true) when bits fall below 2^base.
    function _align(uint256 m, uint256 e, uint256 base) private pure returns (uint256 v, bool cut) {
        unchecked {
            if (e >= base) return (m << (e - base), false);
            uint256 r = base - e;
            v = r >= 256 ? 0 : m >> r;
            cut = v << r != m;
        }
    }

    function _bitLength(uint256 x) private pure returns (uint256) {
        return x == 0 ? 0 : LibBit.fls(x) + 1;
    }
}
