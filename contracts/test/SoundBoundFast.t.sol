// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {SoundBound} from "../src/lib/SoundBound.sol";
import {SoundBoundReference} from "./SoundBoundReference.sol";

/// @notice Both implementations as external calls: the optimised library over uint32 arrays and over packed
///         bytes, and the straightforward reference.
contract FastHarness {
    function fast(uint32[] calldata x, uint32[] calldata w, uint32 y) external pure returns (bool) {
        return SoundBound.dotWithin(x, w, y);
    }

    function packed(uint32[] calldata x, uint32[] calldata w, uint32 y) external pure returns (bool) {
        bytes memory xb = new bytes(x.length * 4);
        bytes memory wb = new bytes(w.length * 4);
        for (uint256 i; i < x.length; ++i) {
            for (uint256 b; b < 4; ++b) {
                xb[4 * i + b] = bytes1(uint8(x[i] >> (24 - 8 * b)));
                wb[4 * i + b] = bytes1(uint8(w[i] >> (24 - 8 * b)));
            }
        }
        return SoundBound.dotWithinPacked(xb, wb, y);
    }

    function definition(uint32[] calldata x, uint32[] calldata w, uint32 y) external pure returns (bool) {
        return SoundBoundReference.dotWithin(x, w, y);
    }
}

/// @notice `SoundBound` (one pass into exponent buckets for ordinary rows, the two-pass definition otherwise)
///         decides exactly as the reference two-pass implementation, at the edge of every region: random rows of
///         normal values over several exponent spans, with zeros, some with products below the 2^-149 grid or
///         subnormal factors (the general path, also after the fast pass started), and short-mantissa rows.
contract SoundBoundFastTest is PRBTest {
    FastHarness internal h;

    function setUp() public {
        h = new FastHarness();
    }

    /// A row of n values from `seed`: exponents (biased) lo .. lo + span - 1, a zero with probability 1/8 when
    /// `zeros`, a mantissa of `bits` significant bits.
    function _row(uint256 seed, uint256 n, uint256 lo, uint256 span, bool zeros, uint256 bits)
        internal
        pure
        returns (uint32[] memory v)
    {
        v = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (zeros && r % 8 == 0) continue;
            uint256 frac = (r >> 8) & 0x7fffff & ~((uint256(1) << (23 - bits)) - 1);
            // forge-lint: disable-next-line(unsafe-typecast)
            v[i] = uint32(((r >> 40) & 1) << 31 | ((lo + (r >> 48) % span) << 23) | frac);
        }
    }

    /// fl(s) truncated: the exact dot product as an fp32 bit pattern near it (0 when it is not a normal).
    function _near(uint32[] memory x, uint32[] memory w) internal pure returns (uint32) {
        int256 s;
        uint256 minE = type(uint256).max;
        for (uint256 i; i < x.length; ++i) {
            (uint256 xe, uint256 we) = ((x[i] >> 23) & 0xff, (w[i] >> 23) & 0xff);
            if (xe != 0 && we != 0 && xe + we < minE) minE = xe + we;
        }
        for (uint256 i; i < x.length; ++i) {
            (uint256 xe, uint256 we) = ((x[i] >> 23) & 0xff, (w[i] >> 23) & 0xff);
            if (xe == 0 || we == 0) continue; // zeros (subnormals are not drawn here)
            uint256 m = uint256((x[i] & 0x7fffff) | 0x800000) * ((w[i] & 0x7fffff) | 0x800000);
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 v = int256(m << (xe + we - minE)); // spans stay below 150 bits here
            s += ((x[i] ^ w[i]) >> 31) == 1 ? -v : v;
        }
        if (s == 0) return 0;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 a = uint256(s < 0 ? -s : s);
        uint256 bl;
        while ((a >> bl) != 0) ++bl;
        // value = a * 2^(minE - 300): m_x m_w 2^(xe + we - 254 - 46)
        int256 exp = int256(bl) - 1 + int256(minE) - 300 + 127;
        if (exp < 1 || exp > 254) return 0;
        uint256 frac = (bl > 24 ? a >> (bl - 24) : a << (24 - bl)) & 0x7fffff;
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32((s < 0 ? uint256(1) << 31 : 0) | (uint256(exp) << 23) | frac);
    }

    function _agree(uint32[] memory x, uint32[] memory w, uint32 y) internal returns (bool want) {
        want = h.definition(x, w, y);
        assertEq(h.fast(x, w, y), want, "uint32[] form");
        assertEq(h.packed(x, w, y), want, "packed form");
    }

    /// Both sides of the region's edge, found from fl(s) outwards by galloping and bisection on the reference.
    function testFuzz_within_matchesReferenceAtTheEdge_succeeds(uint256 seed, uint8 len, uint8 mode, bool up) public {
        uint256 n = 1 + (len % 48);
        uint256 m = mode % 6;
        // mode: 0 narrow span, 1 wide span, 2 with zeros, 3 short mantissas, 4 tiny products (general path),
        //       5 one tiny product after ordinary ones
        uint256 lo = m == 4 ? 40 : 100;
        uint256 span = m == 1 ? 70 : 12;
        uint32[] memory x = _row(seed, n, lo, span, m == 2, m == 3 ? 4 : 23);
        uint32[] memory w = _row(seed ^ 1, n, lo + (m == 4 ? 20 : 0), span, m == 2, m == 3 ? 3 : 23);
        if (m == 5) x[n - 1] = (x[n - 1] & 0x807fffff) | (30 << 23);
        uint32 y0 = _near(x, w);
        // fl(s) truncated errs by < 1 ulp <= 2u |s| <= 2u A < gamma_n A for n >= 2: inside
        if (n >= 2 && m <= 3) assertTrue(h.definition(x, w, y0), "fl(s) is inside");
        // a sign-magnitude step away from y0 (up: larger magnitude)
        uint256 dir = up ? 1 : 0;
        uint256 hi = 1;
        while (hi < (1 << 24) && _agree(x, w, _step(y0, hi, dir))) hi <<= 1;
        uint256 lo2 = hi >> 1;
        while (hi - lo2 > 1) {
            uint256 mid = (lo2 + hi) / 2;
            if (_agree(x, w, _step(y0, mid, dir))) lo2 = mid;
            else hi = mid;
        }
        _agree(x, w, _step(y0, lo2, dir));
        _agree(x, w, _step(y0, hi, dir));
        _agree(x, w, y0);
    }

    function _step(uint32 y, uint256 k, uint256 dir) internal pure returns (uint32) {
        uint256 mag = y & 0x7fffffff;
        uint256 s = y & 0x80000000;
        if (dir == 1) mag = mag + k >= 0x7f800000 ? 0x7f7fffff : mag + k;
        else if (mag >= k) mag -= k;
        else (mag, s) = (k - mag, s ^ 0x80000000); // through zero to the other side
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(s | mag);
    }

    /// Real-sized rows (576 and 1536 terms of ordinary values) decide like the reference at fl(s) and far away.
    function test_within_longRows_matchReference_succeeds() public {
        for (uint256 k; k < 2; ++k) {
            uint256 n = k == 0 ? 576 : 1536;
            uint32[] memory x = _row(7 + k, n, 119, 8, true, 23);
            uint32[] memory w = _row(9 + k, n, 115, 8, false, 23);
            uint32 y0 = _near(x, w);
            assertTrue(_agree(x, w, y0), "fl(s) is inside");
            assertFalse(_agree(x, w, y0 ^ 0x80000000) && y0 & 0x7fffffff > 0x3a000000, "-fl(s) is outside");
            _agree(x, w, _step(y0, 1 << 12, 1));
        }
    }
}
