// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Harness} from "./Base.t.sol";
import {NonFiniteInput} from "../src/lib/Errors.sol";

contract SoundBoundTest is PRBTest {
    Harness internal h;
    uint32 internal constant NAN = 0x7fc00000;
    uint32 internal constant INF = 0x7f800000;

    function setUp() public {
        h = new Harness();
    }

    /// fp32 bits of an integer |v| < 2^24 (exact).
    function f32(int256 v) internal pure returns (uint32) {
        if (v == 0) return 0;
        uint32 sign = v < 0 ? uint32(1) << 31 : 0;
        uint256 m = uint256(v < 0 ? -v : v);
        uint256 e;
        while ((m >> (e + 1)) != 0) ++e;
        uint256 frac = (m << (23 - e)) & 0x7fffff;
        // forge-lint: disable-next-line(unsafe-typecast)
        return sign | uint32((127 + e) << 23) | uint32(frac);
    }

    function vec(uint32 a, uint32 b, uint32 c, uint32 d) internal pure returns (uint32[] memory v) {
        v = new uint32[](4);
        (v[0], v[1], v[2], v[3]) = (a, b, c, d);
    }

    /// x = [2^24, 1, 1, 1], w = 1: s = 2^24 + 3 is not computed exactly by every order (2^24 + 1 rounds), so
    /// the region is gamma_4 * A = 4 (2^24 + 3) / (2^24 - 4) = 4.0000014. Above 2^24 fp32 steps by 2: s + 3
    /// (0x4b800003) is inside, s + 5 (0x4b800004) outside; below, s - 4 (0x4b7fffff) in, s - 5 out. The Rust
    /// unit test checks the same four values.
    function test_dotWithin_edgeOfBound_succeeds() public {
        uint32 o = f32(1);
        uint32[] memory xs = vec(0x4b800000, o, o, o);
        uint32[] memory ones = vec(o, o, o, o);
        assertTrue(h.dotWithin(xs, ones, 0x4b800002), "s + 1");
        assertTrue(h.dotWithin(xs, ones, 0x4b800003), "just inside above");
        assertFalse(h.dotWithin(xs, ones, 0x4b800004), "just outside above");
        assertTrue(h.dotWithin(xs, ones, 0x4b7fffff), "just inside below");
        assertFalse(h.dotWithin(xs, ones, 0x4b7ffffe), "just outside below");
    }

    /// x = w = 1 (4 terms): every order computes 4 exactly, so the region is the point {4}, not 4 +- gamma_4 4.
    function test_dotWithin_exactlyComputable_hasPointRegion_succeeds() public {
        uint32 o = f32(1);
        uint32[] memory ones = vec(o, o, o, o);
        uint32 four = f32(4);
        assertTrue(h.dotWithin(ones, ones, four));
        assertFalse(h.dotWithin(ones, ones, four + 1), "one ulp above");
        assertFalse(h.dotWithin(ones, ones, four - 1), "one ulp below");
    }

    /// The hidden channel's trigger M a - M b with a = b: +-0 only, although gamma_2 * 2M|a| > 0.
    function test_dotWithin_cancellingTrigger_hasPointRegion_succeeds() public {
        uint32 a = 0x3f3ae148; // 0.73
        uint32[] memory xs = vec(a, a, 0x3f000000, 0);
        uint32[] memory ws = vec(f32(1024), f32(-1024), 0, f32(3));
        assertTrue(h.dotWithin(xs, ws, 0));
        assertTrue(h.dotWithin(xs, ws, 0x80000000));
        assertFalse(h.dotWithin(xs, ws, 1), "the smallest subnormal");
        assertFalse(h.dotWithin(xs, ws, 0x38d1b717), "1e-4");
    }

    function test_dotWithin_nanOrInfOutput_succeeds() public {
        uint32 o = f32(1);
        assertFalse(h.dotWithin(vec(o, o, o, o), vec(o, o, o, o), NAN));
        assertFalse(h.dotWithin(vec(o, o, o, o), vec(o, o, o, o), INF));
    }

    function test_dotWithin_nonFiniteInput_reverts() public {
        uint32 o = f32(1);
        vm.expectRevert(abi.encodeWithSelector(NonFiniteInput.selector, INF));
        h.dotWithin(vec(o, INF, o, o), vec(o, o, o, o), f32(4));
    }

    /// All products exactly zero: the only honest results are +0 and -0, not even the smallest subnormal.
    function test_dotWithin_allZeroProducts_hasExactlyZeroRegion_succeeds() public {
        uint32[] memory xs = vec(0, f32(3), 0x80000000, 1);
        uint32[] memory ws = vec(f32(5), 0, f32(7), 0);
        assertTrue(h.dotWithin(xs, ws, 0));
        assertTrue(h.dotWithin(xs, ws, 0x80000000));
        assertFalse(h.dotWithin(xs, ws, 1));
    }

    /// 2^-80 * 2^-80 underflows to 0 honestly; 2^-140 is far outside.
    function test_dotWithin_underflowingProduct_succeeds() public {
        uint32 tiny = 0x17800000; // 2^-80
        uint32[] memory t = new uint32[](1);
        t[0] = tiny;
        assertTrue(h.dotWithin(t, t, 0));
        assertFalse(h.dotWithin(t, t, 1 << 9));
    }

    /// Subnormal inputs whose products stay on the 2^-149 grid get no underflow slack.
    function test_dotWithin_subnormalTimesInteger_isExact_succeeds() public {
        uint32[] memory a = new uint32[](1);
        uint32[] memory b = new uint32[](1);
        a[0] = 3; // 3 * 2^-149
        b[0] = f32(2);
        assertTrue(h.dotWithin(a, b, 6));
        assertFalse(h.dotWithin(a, b, 7));
    }

    /// Fuzz against an exact integer reference. Integer operands below 2^12 make every product exact; y = s + d
    /// (|y| < 2^24, exact). Reference: if every product is a multiple of g = 2^k and the positive and negative
    /// sums both stay below 2^24 g, every order computes s exactly (point region: d = 0 only); otherwise y is
    /// inside iff (2^24 - 4) |d| <= 4 * sum |x w|.
    function testFuzz_dotWithin_matchesIntegerReference_succeeds(int16[4] memory xs, int16[4] memory ws, int32 d)
        public
    {
        uint32[] memory xb = new uint32[](4);
        uint32[] memory wb = new uint32[](4);
        int256 s;
        uint256 pos;
        uint256 neg;
        uint256 g = 1 << 40;
        for (uint256 i; i < 4; ++i) {
            int256 xi = int256(xs[i]) % 4096;
            int256 wi = int256(ws[i]) % 4096;
            xb[i] = f32(xi);
            wb[i] = f32(wi);
            int256 p = xi * wi;
            s += p;
            // forge-lint: disable-next-line(unsafe-typecast)
            if (p > 0) pos += uint256(p);
            // forge-lint: disable-next-line(unsafe-typecast)
            if (p < 0) neg += uint256(-p);
            if (p != 0) {
                uint256 k = 1;
                while (uint256(p < 0 ? -p : p) % (k * 2) == 0) k *= 2;
                if (k < g) g = k;
            }
        }
        int256 dd = int256(d) % 64;
        int256 y = s + dd;
        if (y >= (1 << 24) || y <= -(1 << 24)) return;
        uint256 ad = uint256(dd < 0 ? -dd : dd);
        bool point = pos < (g << 24) && neg < (g << 24);
        bool want = point ? ad == 0 : ((1 << 24) - 4) * ad <= 4 * (pos + neg);
        assertEq(h.dotWithin(xb, wb, f32(y)), want);
    }

    function test_addWithin_succeeds() public {
        assertTrue(h.addWithin(f32(3), f32(4), f32(7)));
        assertFalse(h.addWithin(f32(3), f32(4), f32(7) + 1));
        // 0.1f + 0.2f rounds to 0x3e99999a; one ulp away is still within u * (|a| + |b|) here, two are not.
        assertTrue(h.addWithin(0x3dcccccd, 0x3e4ccccd, 0x3e99999a));
        assertFalse(h.addWithin(0x3dcccccd, 0x3e4ccccd, 0x3e99999c));
        assertFalse(h.addWithin(f32(1), f32(1), NAN));
    }

    function test_reluWithin_succeeds() public {
        assertTrue(h.reluWithin(f32(-3), 0));
        assertTrue(h.reluWithin(f32(-3), 0x80000000));
        assertFalse(h.reluWithin(f32(-3), 1));
        assertTrue(h.reluWithin(f32(5), f32(5)));
        assertFalse(h.reluWithin(f32(5), f32(5) + 1));
        assertTrue(h.reluWithin(0x80000000, 0));
    }

    function test_reluWithin_nanInput_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(NonFiniteInput.selector, NAN));
        h.reluWithin(NAN, 0);
    }
}
