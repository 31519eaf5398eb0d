// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LibBit} from "solady/utils/LibBit.sol";
import {Fp32} from "./Fp32.sol";
import {NonFiniteInput, ReductionTooLong} from "./Errors.sol";

/// @title SoundBound
/// @notice Exact adjudication of IEEE-754 worst-case bounds; mirrored bit for bit by `nao::region::sound`.
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
library SoundBound {
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
        // INVARIANT: one weight per input.
        if (w.length != x.length) revert ReductionTooLong(n);
        uint256 xs;
        uint256 ws;
        // element i is the low 4 bytes of word i: the 4 bytes at offset 32 + 32 i + 28
        assembly {
            xs := add(x, 0x3c)
            ws := add(w, 0x3c)
        }
        return _within(xs, ws, 32, x.length, yBits, n, underflow);
    }

    /// @notice `within` over packed vectors: element i is the big-endian uint32 at bytes [4 i, 4 i + 4) (what
    ///         `TensorMerkle.packed` returns). The cheap form for long dot products: 4 bytes of memory per element.
    function withinPacked(bytes memory x, bytes memory w, uint32 yBits, uint256 n, bool underflow)
        internal
        pure
        returns (bool)
    {
        // INVARIANT: one weight per input, whole elements only.
        if (w.length != x.length || x.length % 4 != 0) revert ReductionTooLong(n);
        uint256 xs;
        uint256 ws;
        assembly {
            xs := add(x, 0x20)
            ws := add(w, 0x20)
        }
        return _within(xs, ws, 4, x.length / 4, yBits, n, underflow);
    }

    /// @dev The check of `within` over `len` elements at memory `xs` and `ws`, `stride` bytes apart, each read as
    ///      the 4 bytes at its address. The sums come from `_sums`: one exact pass into exponent buckets for an
    ///      ordinary row (`_fast`), or the two-pass definition (`_general`, then `_sum`); both give the same
    ///      units of 2^base, so the decision below is the same either way.
    function _within(uint256 xs, uint256 ws, uint256 stride, uint256 len, uint32 yBits, uint256 n, bool underflow)
        private
        pure
        returns (bool)
    {
        if (((yBits >> 23) & 0xff) == 0xff) return false;
        if (n >= MAX_TERMS) revert ReductionTooLong(n);
        unchecked {
            // y = (-1)^yNeg * yM * 2^(yE - 300)
            uint256 yE = (yBits >> 23) & 0xff;
            uint256 yM = yBits & 0x7fffff;
            if (yE == 0) yE = 1;
            else yM |= 0x800000;
            yE += 150;
            uint256 top = yM == 0 ? MIN_BIASED : yE + _bitLength(yM);

            (uint256 pos, uint256 neg, bool inexact, uint256 gf, uint256 base) = _sums(xs, ws, stride, len, top);
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

    /// @notice `dotWithin` over packed vectors (see `withinPacked`).
    function dotWithinPacked(bytes memory x, bytes memory w, uint32 yBits) internal pure returns (bool) {
        return withinPacked(x, w, yBits, x.length / 4, true);
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

    /// @dev The sums of `_within` in units of 2^base: of the positive products, of the negative ones, whether a
    ///      term lost bits below 2^base, the grid facts (see `_general`) and base, from `top` (y's highest bit).
    function _sums(uint256 xs, uint256 ws, uint256 stride, uint256 len, uint256 top)
        private
        pure
        returns (uint256 pos, uint256 neg, bool inexact, uint256 gf, uint256 base)
    {
        unchecked {
            // Fast path: every factor normal or zero, every nonzero product on the 2^-149 grid (e >= 151), some
            // product spanning more than 24 significant bits (which rules the point region out: grid 0), and no
            // product below the unit 2^base (nothing truncated). Real rows take it: one pass adds each product
            // into the bucket of its exponent's top bits (16 words: 8 for positive products, 8 for negative),
            // exactly. Anything else takes `_general` and `_sum`, which are the definition.
            (uint256 peak, uint256 low, bool general, uint256 buckets) = _fast(xs, ws, stride, len);
            if (!general) {
                if (peak == 0) gf = NO_GRID;
                else if (peak + 47 > top) top = peak + 47;
                base = top > WINDOW + MIN_BIASED ? top - WINDOW : MIN_BIASED;
                // every product at or above 2^base: the buckets scale to units of 2^base exactly
                if (low >= base) (pos, neg) = _fromBuckets(buckets, base);
                else general = true;
            }
            if (general) {
                uint256 terms;
                assembly {
                    terms := mload(0x40)
                    mstore(0x40, add(terms, mul(len, 0x20)))
                }
                (top, gf) = _general(xs, ws, stride, len, terms, top);
                base = top > WINDOW + MIN_BIASED ? top - WINDOW : MIN_BIASED;
                (pos, neg, inexact) = _sum(terms, len, base);
            }
        }
    }

    /// @dev Pass 1 of `_within`'s fast path: every product added into the bucket of its exponent's top bits
    ///      (`buckets`: 16 words, bucket b of the positive products at word b, of the negative ones at 8 + b,
    ///      holding sum m * 2^(e - 64 b)); `peak` the max of e + (m >> 47) over nonzero products (0: none), `low`
    ///      the min of e; `general` when a row is not for the fast path (a subnormal or non-finite factor, a
    ///      product off the 2^-149 grid, or only products of <= 24 significant bits).
    function _fast(uint256 xs, uint256 ws, uint256 stride, uint256 len)
        private
        pure
        returns (uint256 peak, uint256 low, bool general, uint256 buckets)
    {
        low = type(uint256).max;
        assembly {
            buckets := mload(0x40)
            mstore(0x40, add(buckets, 0x200))
            for { let b := 0 } lt(b, 0x200) { b := add(b, 0x20) } { mstore(add(buckets, b), 0) }
            let wide := 0 // nonzero iff some product has more than 24 significant bits
            for { let o := 0 } lt(o, mul(len, stride)) { o := add(o, stride) } {
                let xb := shr(224, mload(add(xs, o)))
                let wb := shr(224, mload(add(ws, o)))
                let xe := and(shr(23, xb), 0xff)
                let we := and(shr(23, wb), 0xff)
                // biased exponent 0 (zero, subnormal) or 0xff (NaN, Inf) wraps above 253
                switch or(gt(sub(xe, 1), 253), gt(sub(we, 1), 253))
                case 0 {
                    let m := mul(or(and(xb, 0x7fffff), 0x800000), or(and(wb, 0x7fffff), 0x800000))
                    let e := add(xe, we)
                    let h := shr(47, m)
                    if gt(add(e, h), peak) { peak := add(e, h) }
                    if lt(e, low) { low := e }
                    // the bits below the product's top 24
                    wide := or(wide, and(m, sub(shl(add(23, h), 1), 1)))
                    // bucket e >> 6 holds sum m * 2^(e & 63); negative products 8 words on
                    let a := add(buckets, add(shl(5, shr(6, e)), shl(8, shr(31, xor(xb, wb)))))
                    mstore(a, add(mload(a), shl(and(e, 63), m)))
                }
                default {
                    // a zero factor adds nothing; a non-finite factor, or two nonzero ones (so a subnormal)
                    if or(
                        or(eq(xe, 0xff), eq(we, 0xff)),
                        and(iszero(iszero(and(xb, 0x7fffffff))), iszero(iszero(and(wb, 0x7fffffff))))
                    ) {
                        general := 1
                        break
                    }
                }
            }
            if iszero(general) {
                general := or(lt(low, GRID_BIASED), and(iszero(iszero(peak)), iszero(wide)))
            }
        }
    }

    /// @dev The sums of the positive and the negative buckets of `_within`'s fast path in units of 2^base (bucket
    ///      b holds products of exponent 64 b + j as m * 2^j; all of them at or above 2^base, so a right shift
    ///      drops only zero bits).
    function _fromBuckets(uint256 buckets, uint256 base) private pure returns (uint256 pos, uint256 neg) {
        assembly {
            for { let b := 0 } lt(b, 8) { b := add(b, 1) } {
                let s := shl(6, b)
                let p := mload(add(buckets, shl(5, b)))
                let q := mload(add(buckets, shl(5, add(b, 8))))
                switch lt(s, base)
                case 0 {
                    pos := add(pos, shl(sub(s, base), p))
                    neg := add(neg, shl(sub(s, base), q))
                }
                default {
                    pos := add(pos, shr(sub(base, s), p))
                    neg := add(neg, shr(sub(base, s), q))
                }
            }
        }
    }

    /// @dev Pass 2 of `_within` in general: the sums of the positive and the negative terms (packed words
    ///      sign << 255 | e << 64 | m at `terms`) in units of 2^base, each term truncated below 2^base
    ///      (`inexact` when a bit is lost).
    function _sum(uint256 terms, uint256 len, uint256 base)
        private
        pure
        returns (uint256 pos, uint256 neg, bool inexact)
    {
        assembly {
            for { let p := terms } lt(p, add(terms, mul(len, 0x20))) { p := add(p, 0x20) } {
                let t := mload(p)
                let m := and(t, 0xffffffffffffffff)
                let e := and(shr(64, t), 0x3ff)
                // m * 2^(e - base), truncated below 2^base (shr by >= 256 is 0, so is shl)
                let v
                switch lt(e, base)
                case 0 { v := shl(sub(e, base), m) }
                default {
                    let r := sub(base, e)
                    v := shr(r, m)
                    if iszero(eq(shl(r, v), m)) { inexact := 1 }
                }
                switch shr(255, t)
                case 0 { pos := add(pos, v) }
                default { neg := add(neg, v) }
            }
        }
    }

    /// @dev The first pass of `_within` in general: the highest bit of any term (from `top`, y's) and the grid
    ///      facts (bit 255: some product is off the 2^-149 grid; low 128 bits: the biased exponent of the finest
    ///      grid all nonzero products lie on, NO_GRID for none, 0 when some product rules the point region out).
    ///      Reverts with `NonFiniteInput` at the first NaN/Inf factor (x before w).
    function _general(uint256 xs, uint256 ws, uint256 stride, uint256 len, uint256 terms, uint256 top)
        private
        pure
        returns (uint256, uint256 gf)
    {
        bytes4 nonFinite = NonFiniteInput.selector;
        gf = NO_GRID;
        unchecked {
            for (uint256 i; i < len; ++i) {
                uint256 m;
                uint256 e;
                // the exact product of two fp32 values: m * 2^(e - 300), stored packed as term i
                assembly {
                    let o := mul(i, stride)
                    let xb := shr(224, mload(add(xs, o)))
                    let wb := shr(224, mload(add(ws, o)))
                    let xe := and(shr(23, xb), 0xff)
                    let we := and(shr(23, wb), 0xff)
                    if eq(xe, 0xff) {
                        mstore(0, nonFinite)
                        mstore(4, xb)
                        revert(0, 0x24)
                    }
                    if eq(we, 0xff) {
                        mstore(0, nonFinite)
                        mstore(4, wb)
                        revert(0, 0x24)
                    }
                    let xn := iszero(iszero(xe))
                    let wn := iszero(iszero(we))
                    m := mul(or(and(xb, 0x7fffff), shl(23, xn)), or(and(wb, 0x7fffff), shl(23, wn)))
                    e := add(add(xe, iszero(xn)), add(we, iszero(wn)))
                    mstore(add(terms, mul(i, 0x20)), or(shl(255, shr(31, xor(xb, wb))), or(shl(64, e), m)))
                }
                if (m == 0) continue;
                uint256 t = e + _bitLength(m);
                if (t > top) top = t;
                if (e < GRID_BIASED && (m & ((uint256(1) << (GRID_BIASED - e)) - 1)) != 0) gf |= OFF_GRID;
                if (gf & NO_GRID != 0) gf = (gf & OFF_GRID) | _grid(gf & NO_GRID, m, e, t - e);
            }
        }
        return (top, gf);
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
