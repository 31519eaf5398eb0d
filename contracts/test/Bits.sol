// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {LibBit} from "solady/utils/LibBit.sol";
import {Fp32} from "../src/lib/Fp32.sol";

/// @title Bits
/// @notice fp32 test vectors: decoding the packed tables the offline generators wrote, and exact encodings.
library Bits {
    uint32 internal constant SIGN = 0x80000000;

    /// Big-endian uint32 words of `b`.
    function words(bytes memory b) internal pure returns (uint32[] memory v) {
        v = new uint32[](b.length / 4);
        for (uint256 i; i < v.length; ++i) {
            uint256 w;
            assembly {
                w := mload(add(add(b, 32), mul(i, 4)))
            }
            // forge-lint: disable-next-line(unsafe-typecast)
            v[i] = uint32(w >> 224);
        }
    }

    /// Record k of a list of 6-byte (uint16 index, uint32 fp32) records.
    function record6(bytes memory b, uint256 k) internal pure returns (uint256 i, uint32 y) {
        uint256 w;
        assembly {
            w := mload(add(add(b, 32), mul(k, 6)))
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        (i, y) = (w >> 240, uint32(w >> 208));
    }

    /// fp32 bits of an integer |v| < 2^24 (exact).
    function f32(int256 v) internal pure returns (uint32) {
        if (v == 0) return 0;
        uint32 sign = v < 0 ? SIGN : 0;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 m = uint256(v < 0 ? -v : v);
        uint256 e;
        while ((m >> (e + 1)) != 0) ++e;
        // forge-lint: disable-next-line(unsafe-typecast)
        return sign | uint32((127 + e) << 23) | uint32((m << (23 - e)) & 0x7fffff);
    }

    /// The fp32 value of y * num / den rounded towards zero (y normal, the result normal).
    function scaled(uint32 y, uint256 num, uint256 den) internal pure returns (uint32) {
        (bool neg, uint256 m, int256 e,) = Fp32.decode(y);
        uint256 q = m * num / den;
        if (q >= 1 << 24) {
            (q, e) = (m * num / (2 * den), e + 1);
        } else if (q < 1 << 23) {
            (q, e) = (2 * m * num / den, e - 1);
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        return (neg ? SIGN : 0) | uint32(uint256(e + 150) << 23) | uint32(q & 0x7fffff);
    }

    /// fp32 bits of K 2^-s (2^23 <= K < 2^24, a normal result).
    function encode(uint256 k, int256 s) internal pure returns (uint32) {
        assert(k >> 23 == 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(uint256(150 - s) << 23) | uint32(k & 0x7fffff);
    }

    /// The sign of m1 2^e1 - m2 2^e2 (-1, 0, 1) for any m1, m2 < 2^256: exact, no LibExt involved (the reference
    ///      of the Ext and Signed suites).
    function cmp(uint256 m1, int256 e1, uint256 m2, int256 e2) internal pure returns (int256) {
        if (m1 == 0 || m2 == 0) {
            if (m1 == m2) return 0;
            return m1 == 0 ? -1 : int256(1);
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 t1 = int256(LibBit.fls(m1)) + e1;
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 t2 = int256(LibBit.fls(m2)) + e2;
        if (t1 != t2) return t1 < t2 ? -1 : int256(1);
        // same top bit: the one with the larger exponent has fewer bits, shifting it left cannot overflow
        // forge-lint: disable-next-line(unsafe-typecast)
        if (e1 > e2) m1 <<= uint256(e1 - e2);
        // forge-lint: disable-next-line(unsafe-typecast)
        else m2 <<= uint256(e2 - e1);
        if (m1 == m2) return 0;
        return m1 < m2 ? -1 : int256(1);
    }
}

/// @notice The fp32 constants the bound suites share.
abstract contract Fp32Constants {
    uint32 internal constant NAN = 0x7fc00000;
    uint32 internal constant INF = 0x7f800000;
    uint32 internal constant NEG_INF = 0xff800000;
    uint32 internal constant SIGN = 0x80000000;
    uint32 internal constant EPS5 = 0x3727c5ac; // 1e-5f = 0xa7c5ac * 2^-40
    uint256 internal constant EPS5_M = 0xa7c5ac;
}
