// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Fp32
/// @notice Exact decoding of IEEE-754 binary32 values.
/// @dev A finite fp32 value is (-1)^s * m * 2^e with an integer mantissa m < 2^24 and
///      e = max(E, 1) - 150, where E is the 8-bit biased exponent:
///        normal    (1 <= E <= 254): m = 2^23 | fraction
///        subnormal (E == 0)       : m = fraction            (so +0 and -0 decode to m = 0)
///      E == 255 is infinity (fraction 0) or NaN, which `decode` reports as not finite.
library Fp32 {
    /// @notice Decodes `bits`; `finite` is false for NaN and +-Inf (then the other fields are meaningless).
    function decode(uint32 bits) internal pure returns (bool neg, uint256 m, int256 e, bool finite) {
        neg = (bits >> 31) == 1;
        uint256 biased = (bits >> 23) & 0xff;
        uint256 frac = bits & 0x7fffff;
        if (biased == 0xff) return (neg, 0, 0, false);
        if (biased == 0) return (neg, frac, -149, true);
        // forge-lint: disable-next-line(unsafe-typecast)
        return (neg, frac | 0x800000, int256(biased) - 150, true); // biased <= 254
    }

    /// @notice True for NaN and +-Inf.
    function isNonFinite(uint32 bits) internal pure returns (bool) {
        return ((bits >> 23) & 0xff) == 0xff;
    }

    /// @notice The non-negative integer `bits` encodes, if it is one and below `bound` (a token id, a row
    ///         index); `ok` is false for fractions, negatives, NaN, infinities and values >= bound. -0 is 0.
    function toIndex(uint32 bits, uint256 bound) internal pure returns (bool ok, uint256 index) {
        (bool neg, uint256 m, int256 e, bool finite) = decode(bits);
        if (!finite || (neg && m != 0)) return (false, 0);
        if (e >= 0) {
            // m < 2^24 and 0 <= e <= 104: no overflow
            // forge-lint: disable-next-line(unsafe-typecast)
            index = m << uint256(e);
        } else {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 shift = uint256(-e); // 1 <= -e <= 150
            if (shift >= 24) {
                if (m != 0) return (false, 0); // 0 < value < 1
            } else if (m % (uint256(1) << shift) != 0) {
                return (false, 0); // a fraction
            } else {
                index = m >> shift;
            }
        }
        ok = index < bound;
        if (!ok) index = 0;
    }

    /// @notice True for +0 and -0.
    function isZero(uint32 bits) internal pure returns (bool) {
        return (bits & 0x7fffffff) == 0;
    }

    /// @notice a < b for finite fp32 values (-0 == +0).
    function lt(uint32 a, uint32 b) internal pure returns (bool) {
        if (isZero(a) && isZero(b)) return false;
        bool an = (a >> 31) == 1;
        if (an != ((b >> 31) == 1)) return an;
        return an ? (a & 0x7fffffff) > (b & 0x7fffffff) : a < b;
    }
}
