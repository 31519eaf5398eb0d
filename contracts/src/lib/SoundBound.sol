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
///   Addition y = fl(a + b) is the case n = 1 with terms a and b and no underflow term (IEEE addition is
///   exact whenever its result is subnormal): |y - (a + b)| <= u |a + b| <= gamma_1 (|a| + |b|).
library SoundBound {
    /// @notice A product (or addend) exactly: (-1)^neg * m * 2^e.
    struct Term {
        bool neg;
        uint256 m;
        int256 e;
    }

    uint256 internal constant TWO24 = 1 << 24;
    uint256 internal constant MAX_TERMS = 1 << 20;
    int256 internal constant WINDOW = 190;
    int256 internal constant MIN_EXP = -298;
    int256 internal constant GRID_EXP = -149;

    /// @notice The exact product x * w of two finite fp32 values; reverts on NaN/Inf inputs.
    function product(uint32 xBits, uint32 wBits) internal pure returns (Term memory t) {
        (bool xn, uint256 xm, int256 xe, bool xf) = Fp32.decode(xBits);
        (bool wn, uint256 wm, int256 we, bool wf) = Fp32.decode(wBits);
        // INVARIANT: bounds are defined over finite inputs; a non-finite input is the fault of the op before.
        if (!xf) revert NonFiniteInput(xBits);
        if (!wf) revert NonFiniteInput(wBits);
        t = Term(xn != wn, xm * wm, xe + we);
    }

    /// @notice The exact value of one finite fp32 value as a term; reverts on NaN/Inf.
    function value(uint32 bits) internal pure returns (Term memory t) {
        (bool n, uint256 m, int256 e, bool f) = Fp32.decode(bits);
        if (!f) revert NonFiniteInput(bits);
        t = Term(n, m, e);
    }

    /// @notice True iff `yBits` is inside the sound region of fl(sum of `terms`) with rounding length `n`;
    ///         `underflow` enables the underflow term (products; false for additions). A NaN/Inf y is outside.
    function within(Term[] memory terms, uint32 yBits, uint256 n, bool underflow) internal pure returns (bool) {
        if (Fp32.isNonFinite(yBits)) return false;
        if (n >= MAX_TERMS) revert ReductionTooLong(n);
        (bool yNeg, uint256 yM, int256 yE,) = Fp32.decode(yBits);

        // Pass 1: the highest bit of any term, and whether any product is off the 2^-149 grid.
        int256 top = yM == 0 ? MIN_EXP : yE + int256(_bitLength(yM));
        bool offGrid;
        for (uint256 i; i < terms.length; ++i) {
            if (terms[i].m == 0) continue;
            int256 t = terms[i].e + int256(_bitLength(terms[i].m));
            if (t > top) top = t;
            if (terms[i].e < GRID_EXP && _trailingBelow(terms[i].m, GRID_EXP - terms[i].e)) offGrid = true;
        }
        int256 base = top - WINDOW > MIN_EXP ? top - WINDOW : MIN_EXP;

        // Pass 2: exact (or truncated, with slack) sums in units of 2^base.
        uint256 pos;
        uint256 negSum;
        bool inexact;
        for (uint256 i; i < terms.length; ++i) {
            if (terms[i].m == 0) continue;
            (uint256 v, bool cut) = _align(terms[i].m, terms[i].e, base);
            inexact = inexact || cut;
            if (terms[i].neg) negSum += v;
            else pos += v;
        }
        (uint256 yv, bool yCut) = _align(yM, yE, base);
        inexact = inexact || yCut;

        // d = |y - s| with s = pos - negSum, y = +-yv.
        uint256 yPos = yNeg ? 0 : yv;
        uint256 yNegPart = yNeg ? yv : 0;
        uint256 left = yPos + negSum; // y - s = (yPos + negSum) - (pos + yNegPart)
        uint256 right = pos + yNegPart;
        uint256 d = left > right ? left - right : right - left;
        uint256 a = pos + negSum;

        if (inexact) {
            d = d > n + 1 ? d - (n + 1) : 0;
            a += n;
        }
        uint256 lhs = (TWO24 - n) * d;
        uint256 rhs = n * a;
        if (underflow && offGrid) {
            uint256 u = (TWO24 - n) * n;
            int256 sh = GRID_EXP - base;
            if (sh >= 0) {
                rhs += u << uint256(sh);
            } else {
                uint256 r = uint256(-sh);
                rhs += (u + (uint256(1) << r) - 1) >> r;
            }
        }
        return lhs <= rhs;
    }

    /// @notice Sound region of a dot product: y = fl(sum x_i * w_i) over n = x.length terms.
    function dotWithin(uint32[] memory x, uint32[] memory w, uint32 yBits) internal pure returns (bool) {
        Term[] memory terms = new Term[](x.length);
        for (uint256 i; i < x.length; ++i) {
            terms[i] = product(x[i], w[i]);
        }
        return within(terms, yBits, x.length, true);
    }

    /// @notice Sound region of an addition: y = fl(a + b).
    function addWithin(uint32 aBits, uint32 bBits, uint32 yBits) internal pure returns (bool) {
        Term[] memory terms = new Term[](2);
        terms[0] = value(aBits);
        terms[1] = value(bBits);
        return within(terms, yBits, 1, false);
    }

    /// @notice ReLU is exact: y = x for x > 0, y = +-0 otherwise.
    function reluWithin(uint32 xBits, uint32 yBits) internal pure returns (bool) {
        if (Fp32.isNonFinite(xBits)) revert NonFiniteInput(xBits);
        bool positive = (xBits >> 31) == 0 && !Fp32.isZero(xBits);
        return positive ? yBits == xBits : Fp32.isZero(yBits);
    }

    function _align(uint256 m, int256 e, int256 base) private pure returns (uint256 v, bool cut) {
        if (m == 0) return (0, false);
        if (e >= base) return (m << uint256(e - base), false);
        uint256 r = uint256(base - e);
        if (r >= 256) return (0, true);
        v = m >> r;
        cut = (v << r) != m;
    }

    function _trailingBelow(uint256 m, int256 bits) private pure returns (bool) {
        if (bits >= 256) return m != 0;
        return (m & ((uint256(1) << uint256(bits)) - 1)) != 0;
    }

    function _bitLength(uint256 x) private pure returns (uint256) {
        return x == 0 ? 0 : LibBit.fls(x) + 1;
    }
}
