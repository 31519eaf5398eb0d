// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Bits} from "./Bits.sol";
import {LibBit} from "solady/utils/LibBit.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {Ext, LibExt} from "../src/lib/Ext.sol";
import {Fp32} from "../src/lib/Fp32.sol";

/// @notice LibExt against exact integer references: every directed-rounding operation must bracket the exact
///         result (down <= exact <= up) within one or two units of the 128-bit mantissa, and be exact where the
///         result is representable; `exp` must bracket exp(t) (checked against 120-digit values computed offline
///         and against solady's `expWad`) within 2^-64 relatively.
contract ExtTest is PRBTest {
    using LibExt for Ext;

    uint256 internal constant TOP = 1 << 127;
    uint256 internal constant F = 120;
    /// @dev floor(ln 2 * 2^120)
    int256 internal constant LN2 = 921350637599661305226344307672478454;
    /// @dev `exp` puts each end within 2^-65 of exp(t) (Taylor degree 18): hi / lo - 1 < 2^-TIGHT.
    uint256 internal constant TIGHT = 64;

    // ------------------------------------------------------------------ exact references

    /// The sign of a - m 2^e.
    function cmpExt(Ext a, uint256 m, int256 e) internal pure returns (int256) {
        (uint256 am, int256 ae) = a.parts();
        return Bits.cmp(am, ae, m, e);
    }

    /// Asserts the representation invariant: zero is the word 0, else 2^127 <= m < 2^128.
    function assertNormal(Ext a) internal {
        (uint256 m,) = a.parts();
        if (m == 0) assertEq(Ext.unwrap(a), 0, "zero is the word 0");
        else assertTrue(m >= TOP && m < TOP << 1, "normalized mantissa");
    }

    /// hi - lo in units of the last place of lo (lo <= hi, lo nonzero).
    function ulps(Ext lo, Ext hi) internal pure returns (uint256) {
        (uint256 ml, int256 el) = lo.parts();
        (uint256 mh, int256 eh) = hi.parts();
        assert(eh >= el && eh - el <= 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        return (mh << uint256(eh - el)) - ml;
    }

    /// Checks lo <= m 2^e <= hi, hi - lo <= maxUlps, and lo == hi when m 2^e has at most 128 significant bits.
    function assertBrackets(Ext lo, Ext hi, uint256 m, int256 e, uint256 maxUlps) internal {
        assertNormal(lo);
        assertNormal(hi);
        assertTrue(cmpExt(lo, m, e) <= 0, "lower bound above the exact value");
        assertTrue(cmpExt(hi, m, e) >= 0, "upper bound below the exact value");
        if (m == 0) {
            assertEq(Ext.unwrap(lo), 0);
            assertEq(Ext.unwrap(hi), 0);
            return;
        }
        assertLte(ulps(lo, hi), maxUlps, "bounds too far apart");
        if (representable(m)) {
            assertEq(Ext.unwrap(lo), Ext.unwrap(hi), "representable result rounded");
            assertEq(cmpExt(lo, m, e), 0, "representable result not exact");
        }
    }

    function representable(uint256 m) internal pure returns (bool) {
        uint256 b = LibBit.fls(m);
        return b <= 127 || m % (uint256(1) << (b - 127)) == 0;
    }

    /// A fuzzed operand m 2^e with 0 < m < 2^100, |e| < 200.
    function operand(uint256 m, int256 e) internal pure returns (uint256, int256) {
        return (m % (1 << 100) + 1, e % 200);
    }

    // ------------------------------------------------------------------ make / exact / parts

    function test_make_normalizes_succeeds() public {
        (uint256 m, int256 e) = LibExt.exact(1, 0).parts();
        assertEq(m, TOP);
        assertEq(e, -127);
        (m, e) = LibExt.exact(3, -5).parts(); // 3/32 = 3 2^126 * 2^-131
        assertEq(m, 3 << 126);
        assertEq(e, -131);
        (m, e) = LibExt.make(type(uint256).max, 0, false).parts();
        assertEq(m, type(uint128).max);
        assertEq(e, 128);
        assertEq(Ext.unwrap(LibExt.make(0, 77, true)), 0, "zero");
        assertTrue(LibExt.make(0, -5, false).isZero());
    }

    /// Rounding up 2^200 - 1 carries out of the 128 bits: the result is 2^200 exactly, renormalized.
    function test_make_carry_succeeds() public {
        Ext up = LibExt.make((uint256(1) << 200) - 1, 0, true);
        assertEq(Ext.unwrap(up), Ext.unwrap(LibExt.exact(1, 200)));
        Ext down = LibExt.make((uint256(1) << 200) - 1, 0, false);
        (uint256 m, int256 e) = down.parts();
        assertEq(m, type(uint128).max);
        assertEq(e, 72);
    }

    function testFuzz_make_bracketsAnyInteger_succeeds(uint256 m, int16 e) public {
        Ext lo = LibExt.make(m, e, false);
        Ext hi = LibExt.make(m, e, true);
        assertBrackets(lo, hi, m, e, 1);
    }

    function testFuzz_exact_roundTrips_succeeds(uint128 m, int16 e) public {
        Ext a = LibExt.exact(m, e);
        assertNormal(a);
        assertEq(cmpExt(a, m, e), 0);
        assertEq(Ext.unwrap(a), Ext.unwrap(LibExt.make(m, e, true)), "exact ignores the direction");
        assertEq(a.isZero(), m == 0);
    }

    function testFuzz_abs32_isExact_succeeds(uint32 bits) public {
        vm.assume(!Fp32.isNonFinite(bits));
        (, uint256 m, int256 e,) = Fp32.decode(bits);
        Ext a = LibExt.abs32(bits);
        assertNormal(a);
        assertEq(cmpExt(a, m, e), 0);
        assertEq(Ext.unwrap(a), Ext.unwrap(LibExt.abs32(bits ^ (uint32(1) << 31))), "sign ignored");
    }

    function testFuzz_lt_matchesExactComparison_succeeds(uint256 ma, int16 ea, uint256 mb, int16 eb) public {
        Ext a = LibExt.make(ma, ea, false);
        Ext b = LibExt.make(mb, eb, false);
        (uint256 am, int256 ae) = a.parts();
        (uint256 bm, int256 be) = b.parts();
        assertEq(a.lt(b), Bits.cmp(am, ae, bm, be) < 0);
        assertFalse(a.lt(a));
    }

    function test_lt_zero_succeeds() public pure {
        Ext z = Ext.wrap(0);
        Ext tiny = LibExt.exact(1, -10_000);
        assert(z.lt(tiny));
        assert(!tiny.lt(z));
        assert(!z.lt(z));
        assert(LibExt.exact(3, 0).lt(LibExt.exact(1, 2)));
        assert(!LibExt.exact(4, 0).lt(LibExt.exact(1, 2)));
    }

    // ------------------------------------------------------------------ mul / div

    function testFuzz_mul_brackets_succeeds(uint256 ma, int256 ea, uint256 mb, int256 eb) public {
        (ma, ea) = operand(ma, ea);
        (mb, eb) = operand(mb, eb);
        Ext a = LibExt.exact(ma, ea);
        Ext b = LibExt.exact(mb, eb);
        assertBrackets(a.mul(b, false), b.mul(a, true), ma * mb, ea + eb, 1);
    }

    /// Products of small integers (and powers of two) are exact both ways.
    function testFuzz_mul_smallIntegers_isExact_succeeds(uint64 ma, uint64 mb, int8 ea, int8 eb) public {
        Ext lo = LibExt.exact(ma, ea).mul(LibExt.exact(mb, eb), false);
        Ext hi = LibExt.exact(ma, ea).mul(LibExt.exact(mb, eb), true);
        assertEq(Ext.unwrap(lo), Ext.unwrap(hi));
        assertEq(Ext.unwrap(lo), Ext.unwrap(LibExt.exact(uint256(ma) * mb, int256(ea) + eb)));
    }

    function test_mul_byZero_succeeds() public pure {
        assert(LibExt.exact(5, 3).mul(Ext.wrap(0), true).isZero());
        assert(Ext.wrap(0).mul(LibExt.exact(5, 3), false).isZero());
    }

    /// lo * b <= a <= hi * b, checked exactly (the quotient bounds have 128 bits, b below 2^100).
    function testFuzz_div_brackets_succeeds(uint256 ma, int256 ea, uint256 mb, int256 eb) public {
        (ma, ea) = operand(ma, ea);
        (mb, eb) = operand(mb, eb);
        Ext a = LibExt.exact(ma, ea);
        Ext b = LibExt.exact(mb, eb);
        Ext lo = a.div(b, false);
        Ext hi = a.div(b, true);
        assertNormal(lo);
        assertNormal(hi);
        (uint256 ml, int256 el) = lo.parts();
        (uint256 mh, int256 eh) = hi.parts();
        assertTrue(Bits.cmp(ml * mb, el + eb, ma, ea) <= 0, "lo * b > a");
        assertTrue(Bits.cmp(mh * mb, eh + eb, ma, ea) >= 0, "hi * b < a");
        // the quotient has 127 or 128 significant bits: two units of the last place at most
        assertLte(ulps(lo, hi), 2);
        if (ma % mb == 0 && representable(ma / mb)) assertEq(Ext.unwrap(lo), Ext.unwrap(hi));
    }

    /// (p q 2^e) / (q 2^f) = p 2^(e - f) exactly, both ways.
    function testFuzz_div_exactQuotient_succeeds(uint64 p, uint64 q, int8 e, int8 f) public {
        vm.assume(p > 0 && q > 0);
        Ext a = LibExt.exact(uint256(p) * q, e);
        Ext b = LibExt.exact(q, f);
        Ext want = LibExt.exact(p, int256(e) - f);
        assertEq(Ext.unwrap(a.div(b, false)), Ext.unwrap(want));
        assertEq(Ext.unwrap(a.div(b, true)), Ext.unwrap(want));
    }

    function test_div_values_succeeds() public {
        // 1/3: floor and ceil of 2^128 / 3 at 2^-129 (0xaaaa...a and ...b)
        Ext lo = LibExt.exact(1, 0).div(LibExt.exact(3, 0), false);
        Ext hi = LibExt.exact(1, 0).div(LibExt.exact(3, 0), true);
        (uint256 m, int256 e) = lo.parts();
        assertEq(m, type(uint128).max / 3 << 1);
        assertEq(e, -129);
        assertLte(ulps(lo, hi), 2);
        assertTrue(cmpExt(hi, 1, 0) < 0 && cmpExt(lo, 1, -2) > 0);
        assert(Ext.wrap(0).div(LibExt.exact(7, 0), true).isZero());
    }

    // ------------------------------------------------------------------ add / sub

    /// The exact sum (or difference) m 2^e of the two operands, their exponents at most 150 apart.
    function aligned(uint256 ma, int256 ea, uint256 mb, int256 eb) internal pure returns (uint256, uint256, int256) {
        int256 e = ea < eb ? ea : eb;
        // forge-lint: disable-next-line(unsafe-typecast)
        return (ma << uint256(ea - e), mb << uint256(eb - e), e); // < 2^250
    }

    function testFuzz_add_brackets_succeeds(uint256 ma, int256 ea, uint256 mb, int256 eb) public {
        (ma, ea) = operand(ma, ea);
        (mb, eb) = operand(mb, eb);
        eb = ea + (eb % 151); // exponents at most 150 apart: the exact sum fits 256 bits
        Ext a = LibExt.exact(ma, ea);
        Ext b = LibExt.exact(mb, eb);
        (uint256 xa, uint256 xb, int256 e) = aligned(ma, ea, mb, eb);
        assertBrackets(a.add(b, false), b.add(a, true), xa + xb, e, 1);
        assertEq(Ext.unwrap(a.add(b, false)), Ext.unwrap(b.add(a, false)), "commutative");
    }

    /// b below the last place of a: the lower sum is a itself, the upper one the next value up.
    function testFuzz_add_farApart_succeeds(uint128 ma, int8 ea, uint128 mb, uint16 gap) public {
        vm.assume(ma > 0 && mb > 0);
        Ext a = LibExt.exact(ma, ea);
        (, int256 e) = a.parts();
        Ext b = LibExt.exact(mb, e - 129 - int256(uint256(gap))); // b < 2^(e - 1): under half a unit of a
        assertEq(Ext.unwrap(a.add(b, false)), Ext.unwrap(a));
        assertEq(ulps(a, a.add(b, true)), 1);
        assertEq(Ext.unwrap(b.add(a, false)), Ext.unwrap(a));
        assertEq(Ext.unwrap(a.add(Ext.wrap(0), true)), Ext.unwrap(a));
        assertEq(Ext.unwrap(Ext.wrap(0).add(a, false)), Ext.unwrap(a));
    }

    function testFuzz_sub_brackets_succeeds(uint256 ma, int256 ea, uint256 mb, int256 eb) public {
        (ma, ea) = operand(ma, ea);
        (mb, eb) = operand(mb, eb);
        eb = ea + (eb % 151);
        Ext a = LibExt.exact(ma, ea);
        Ext b = LibExt.exact(mb, eb);
        (uint256 xa, uint256 xb, int256 e) = aligned(ma, ea, mb, eb);
        if (xa <= xb) {
            assertTrue(a.sub(b, false).isZero() && a.sub(b, true).isZero(), "max(a - b, 0) = 0");
            (xa, xb) = (xb, xa);
            (a, b) = (b, a);
        }
        // the lower bound of a truncated subtrahend adds a unit before rounding: two units at most
        assertBrackets(a.sub(b, false), a.sub(b, true), xa - xb, e, 2);
    }

    function test_sub_values_succeeds() public {
        Ext one = LibExt.exact(1, 0);
        assertTrue(one.sub(one, false).isZero() && one.sub(one, true).isZero());
        assertEq(Ext.unwrap(one.sub(Ext.wrap(0), false)), Ext.unwrap(one));
        assertTrue(Ext.wrap(0).sub(one, true).isZero());
        // 1 - 2^-300: just below 1 (lower: 1 - 2^-128, the value below 1), upper: 1
        Ext tiny = LibExt.exact(1, -300);
        (uint256 m, int256 e) = one.sub(tiny, false).parts();
        assertEq(m, type(uint128).max);
        assertEq(e, -128);
        assertEq(Ext.unwrap(one.sub(tiny, true)), Ext.unwrap(one));
        // 4 - 3 = 1 exactly
        assertEq(Ext.unwrap(LibExt.exact(4, 0).sub(LibExt.exact(3, 0), false)), Ext.unwrap(one));
    }

    // ------------------------------------------------------------------ sqrt

    function testFuzz_sqrt_brackets_succeeds(uint256 ma, int256 ea) public {
        (ma, ea) = operand(ma, ea);
        Ext a = LibExt.exact(ma, ea);
        Ext lo = a.sqrt(false);
        Ext hi = a.sqrt(true);
        assertNormal(lo);
        assertNormal(hi);
        (uint256 ml, int256 el) = lo.parts();
        (uint256 mh, int256 eh) = hi.parts();
        assertTrue(Bits.cmp(ml * ml, 2 * el, ma, ea) <= 0, "lo^2 > a");
        assertTrue(Bits.cmp(mh * mh, 2 * eh, ma, ea) >= 0, "hi^2 < a");
        assertLte(ulps(lo, hi), 1);
    }

    /// sqrt(k^2 2^(2j)) = k 2^j exactly.
    function testFuzz_sqrt_squares_isExact_succeeds(uint64 k, int8 j) public {
        vm.assume(k > 0);
        Ext a = LibExt.make(uint256(k) * k, 2 * int256(j), false);
        Ext want = LibExt.exact(k, j);
        assertEq(Ext.unwrap(a.sqrt(false)), Ext.unwrap(want));
        assertEq(Ext.unwrap(a.sqrt(true)), Ext.unwrap(want));
    }

    function test_sqrt_values_succeeds() public {
        assert(Ext.wrap(0).sqrt(true).isZero());
        // sqrt 2 = 1.0110101000001001111001100110011111110011101111... : 128-bit floor 0xb504f333f9de6484597d89b3754abe9f
        Ext lo = LibExt.exact(2, 0).sqrt(false);
        (uint256 m, int256 e) = lo.parts();
        assertEq(m, 0xb504f333f9de6484597d89b3754abe9f);
        assertEq(e, -127);
        assertEq(ulps(lo, LibExt.exact(2, 0).sqrt(true)), 1);
        assertEq(Ext.unwrap(LibExt.exact(1, -40).sqrt(false)), Ext.unwrap(LibExt.exact(1, -20)));
        assertEq(Ext.unwrap(LibExt.exact(1, -41).sqrt(true)), Ext.unwrap(LibExt.make(m + 1, e - 21, false)));
    }

    // ------------------------------------------------------------------ onePlusU / gamma

    function test_onePlusU_smallPowersAreExact_succeeds() public {
        for (uint256 k; k <= 5; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 e = -24 * int256(k);
            assertEq(Ext.unwrap(LibExt.onePlusU(k, true)), Ext.unwrap(LibExt.exact(((1 << 24) + 1) ** k, e)));
            assertEq(Ext.unwrap(LibExt.onePlusU(k, false)), Ext.unwrap(LibExt.exact(((1 << 24) - 1) ** k, e)));
        }
        assertEq(Ext.unwrap(LibExt.onePlusU(0, true)), Ext.unwrap(LibExt.exact(1, 0)));
    }

    /// (1 + u)^k needs 24k + 1 bits: above k = 5 it is rounded, and must be rounded outwards.
    function test_onePlusU_largePowersRoundOutwards_succeeds() public {
        for (uint256 k = 6; k <= 8; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 e = -24 * int256(k);
            assertTrue(cmpExt(LibExt.onePlusU(k, true), ((1 << 24) + 1) ** k, e) >= 0, "(1 + u)^k rounded down");
            assertTrue(cmpExt(LibExt.onePlusU(k, false), ((1 << 24) - 1) ** k, e) <= 0, "(1 - u)^k rounded up");
        }
    }

    /// gamma_n = n / (2^24 - n) rounded up: gamma (2^24 - n) >= n, within two units of the last place.
    function testFuzz_gamma_roundsUp_succeeds(uint24 n) public {
        Ext g = LibExt.gamma(n);
        if (n == 0) {
            assertTrue(g.isZero());
            return;
        }
        assertNormal(g);
        (uint256 m, int256 e) = g.parts();
        uint256 d = (1 << 24) - uint256(n);
        assertTrue(Bits.cmp(m * d, e, n, 0) >= 0, "gamma rounded down");
        assertTrue(Bits.cmp((m - 2) * d, e, n, 0) < 0, "gamma more than two units up");
    }

    function test_gamma_values_succeeds() public {
        // gamma_1 = 1 / (2^24 - 1) = 2^-24 (1 + 2^-24 + 2^-48 + ...): a 127-bit quotient (...40000041, rounded
        // up) shifted into the 128-bit mantissa
        (uint256 m, int256 e) = LibExt.gamma(1).parts();
        assertEq(m, 0x80000080000080000080000080000082);
        assertEq(e, -151);
        // gamma_{2^23} = 2^23 / 2^23 = 1 exactly
        assertEq(Ext.unwrap(LibExt.gamma(1 << 23)), Ext.unwrap(LibExt.exact(1, 0)));
    }

    // ------------------------------------------------------------------ fixed32

    function test_fixed32_values_succeeds() public pure {
        int256 one = int256(1) << F;
        assert(LibExt.fixed32(0x3f800000, false) == one && LibExt.fixed32(0x3f800000, true) == one); // 1
        assert(LibExt.fixed32(0xbf800000, false) == -one && LibExt.fixed32(0xbf800000, true) == -one); // -1
        assert(LibExt.fixed32(0x3f000000, true) == one / 2); // 0.5
        assert(LibExt.fixed32(0xc0490fdb, false) == -(int256(0xc90fdb) << 98)); // -3.1415927
        assert(LibExt.fixed32(0, false) == 0 && LibExt.fixed32(0x80000000, true) == 0); // +-0
        // largest finite: (2^24 - 1) 2^104, fits comfortably
        assert(LibExt.fixed32(0x7f7fffff, false) == int256(0xffffff) << 224);
        assert(LibExt.fixed32(0xff7fffff, true) == -(int256(0xffffff) << 224));
        // 2^-120 is the unit; 2^-121 rounds to 0 or 1
        assert(LibExt.fixed32(0x03800000, false) == 1);
        assert(LibExt.fixed32(0x03000000, false) == 0 && LibExt.fixed32(0x03000000, true) == 1);
    }

    /// Subnormals are below the 2^-120 unit: floor/ceil are 0/1 (positive) and -1/0 (negative).
    function test_fixed32_subnormals_succeeds() public pure {
        assert(LibExt.fixed32(0x00000001, false) == 0 && LibExt.fixed32(0x00000001, true) == 1);
        assert(LibExt.fixed32(0x007fffff, false) == 0 && LibExt.fixed32(0x007fffff, true) == 1);
        assert(LibExt.fixed32(0x80000001, false) == -1 && LibExt.fixed32(0x80000001, true) == 0);
        assert(LibExt.fixed32(0x807fffff, false) == -1 && LibExt.fixed32(0x807fffff, true) == 0);
    }

    /// floor <= v 2^120 <= ceil, at most one unit apart and equal when v 2^120 is an integer.
    function testFuzz_fixed32_floorCeil_succeeds(uint32 bits) public {
        vm.assume(!Fp32.isNonFinite(bits));
        (bool neg, uint256 m, int256 e,) = Fp32.decode(bits);
        int256 lo = LibExt.fixed32(bits, false);
        int256 hi = LibExt.fixed32(bits, true);
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 v = neg ? -int256(m) : int256(m); // the value is v 2^e
        int256 sh = e + 120; // F
        if (sh >= 0) {
            // forge-lint: disable-next-line(unsafe-typecast)
            assertEq(lo, v << uint256(sh));
            assertEq(hi, lo);
        } else {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 r = uint256(-sh); // <= 29
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 unit = int256(uint256(1) << r); // < 2^30
            assertTrue(lo * unit <= v && v <= hi * unit, "not floor/ceil");
            assertEq(hi - lo, v % unit == 0 ? int256(0) : int256(1));
        }
    }

    // ------------------------------------------------------------------ inside

    function f32(uint256 v) internal pure returns (uint32) {
        uint256 p = LibBit.fls(v);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(((p + 127) << 23) | ((v << (23 - p)) & 0x7fffff));
    }

    /// Region [a - slack, hi] = [1 - 3, 5] = [-2, 5] crosses zero; neg mirrors it to [-5, 2].
    function test_inside_signCrossingRegion_succeeds() public pure {
        Ext a = LibExt.exact(1, 0);
        Ext slack = LibExt.exact(3, 0);
        Ext hi = LibExt.exact(5, 0);
        uint32 s = 1 << 31;
        uint32 two = f32(2);
        uint32 five = f32(5);
        assert(LibExt.inside(five, false, a, slack, hi));
        assert(!LibExt.inside(five + 1, false, a, slack, hi));
        assert(LibExt.inside(0, false, a, slack, hi) && LibExt.inside(s, false, a, slack, hi));
        assert(LibExt.inside(s | two, false, a, slack, hi)); // -2
        assert(!LibExt.inside(s | (two + 1), false, a, slack, hi)); // just below -2
        assert(LibExt.inside(two + 1, false, a, slack, hi)); // +2.0000002: far inside
        // mirrored
        assert(LibExt.inside(s | five, true, a, slack, hi));
        assert(!LibExt.inside(s | (five + 1), true, a, slack, hi));
        assert(LibExt.inside(two, true, a, slack, hi));
        assert(!LibExt.inside(two + 1, true, a, slack, hi));
        assert(LibExt.inside(0, true, a, slack, hi) && LibExt.inside(s, true, a, slack, hi));
    }

    /// Region [3 - 1, 5] = [2, 5] stays away from zero: zeros and the other sign are outside.
    function test_inside_positiveRegion_succeeds() public pure {
        Ext a = LibExt.exact(3, 0);
        Ext slack = LibExt.exact(1, 0);
        Ext hi = LibExt.exact(5, 0);
        uint32 s = 1 << 31;
        assert(LibExt.inside(f32(2), false, a, slack, hi) && LibExt.inside(f32(5), false, a, slack, hi));
        assert(!LibExt.inside(f32(2) - 1, false, a, slack, hi));
        assert(!LibExt.inside(0, false, a, slack, hi) && !LibExt.inside(s, false, a, slack, hi));
        assert(!LibExt.inside(s | f32(3), false, a, slack, hi));
        assert(!LibExt.inside(f32(3), true, a, slack, hi)); // the other sign
        assert(LibExt.inside(s | f32(3), true, a, slack, hi));
    }

    function test_inside_nonFinite_succeeds() public pure {
        Ext big = LibExt.exact(1, 1000);
        Ext z = Ext.wrap(0);
        assert(!LibExt.inside(0x7fc00000, false, z, big, big)); // NaN
        assert(!LibExt.inside(0x7f800000, false, z, big, big)); // +Inf
        assert(!LibExt.inside(0xff800000, true, z, big, big)); // -Inf
        assert(!LibExt.inside(0xffc00001, true, z, big, big));
    }

    // ------------------------------------------------------------------ exp

    /// Checks lo <= M 2^E + 2^E (the true value is in [M, M + 1) 2^E) and hi >= M 2^E, hi / lo - 1 < 2^-TIGHT.
    function assertExp(int256 t, uint256 m, int256 e) internal {
        (Ext lo, Ext hi) = LibExt.exp(t, t);
        assertNormal(lo);
        assertNormal(hi);
        assertTrue(cmpExt(lo, m + 1, e) <= 0, "lower bound above exp");
        assertTrue(cmpExt(hi, m, e) >= 0, "upper bound below exp");
        assertTight(lo, hi);
    }

    /// lo <= hi <= lo (1 + 2^-TIGHT).
    function assertTight(Ext lo, Ext hi) internal {
        (uint256 ml, int256 el) = lo.parts();
        (uint256 mh, int256 eh) = hi.parts();
        assertTrue(!hi.lt(lo), "hi < lo");
        // hi 2^TIGHT <= lo (2^TIGHT + 1): both sides below 2^256
        assertTrue(
            Bits.cmp(mh << TIGHT, eh, ml * ((uint256(1) << TIGHT) + 1), el) <= 0, "exp bounds wider than 2^-TIGHT"
        );
    }

    /// Reference values: floor(exp(t) 2^-E) with 2^127 <= M < 2^128, from Python's decimal at 120 digits.
    function test_exp_knownValues_succeeds() public {
        int256 one = int256(1) << F;
        assertExp(one, 0xadf85458a2bb4a9aafdc5620273d3cf1, -126); // e
        assertExp(-one, 0xbc5ab1b16779be3575bd8f0520a9f21b, -129); // 1/e
        assertExp(one / 2, 0xd3094c70f034de4b96ff7d5b6f99fcd8, -127); // sqrt(e)
        assertExp(10 * one, 0xac14ee7ca82afcf83f54602b689a645d, -113);
        assertExp(-10 * one, 0xbe6bcdab23e4d4e2d923aa84c4397caf, -142);
        assertExp(100 * one, 0x9a4a54d8b8dfa566112849991214329a, 17);
        assertExp(-100 * one, 0xd460f8a7157ae579eec89bae3a7e5ae6, -272);
        assertExp(511 * one / 2, 0xc32b5cc168fa22bbc61c29f9c7052c10, 241); // 255.5
        assertExp(-511 * one / 2, 0xa7e52ae5351fcb2db1181ce65de1e3fe, -496);
    }

    /// exp(0) = 1: the lower bound is exactly 1 (every term floors to 0), the upper one just above.
    function test_exp_zero_succeeds() public {
        (Ext lo, Ext hi) = LibExt.exp(0, 0);
        assertEq(Ext.unwrap(lo), Ext.unwrap(LibExt.exact(1, 0)));
        assertTrue(cmpExt(hi, 1, 0) >= 0);
        assertTight(lo, hi);
    }

    /// exp(floor(ln 2 2^120) 2^-120) is just below 2 (within 2^-119), exp(ceil(...)) just above.
    function test_exp_ln2_succeeds() public {
        (Ext lo, Ext hi) = LibExt.exp(LN2, LN2);
        assertTrue(cmpExt(lo, 2, 0) < 0, "lower bound of exp(ln2-) >= 2");
        assertTrue(cmpExt(hi, (1 << 120) - 1, -119) >= 0, "upper bound of exp(ln2-) below 2 - 2^-119");
        assertTight(lo, hi);
        (lo, hi) = LibExt.exp(LN2 + 1, LN2 + 1);
        assertTrue(cmpExt(hi, 2, 0) > 0, "upper bound of exp(ln2+) <= 2");
        assertTrue(cmpExt(lo, (1 << 118) + 1, -117) <= 0, "lower bound of exp(ln2+) above 2 + 2^-116");
        assertTight(lo, hi);
        // k ln 2 for k = -3, 5, bracketed by k floor(ln 2) and k ceil(ln 2): the bounds bracket 2^k
        (lo, hi) = LibExt.exp(-3 * (LN2 + 1), -3 * LN2);
        assertTrue(cmpExt(lo, 1, -3) <= 0 && cmpExt(hi, 1, -3) >= 0, "exp of [-3 ln2-, -3 ln2+]");
        (lo, hi) = LibExt.exp(5 * LN2, 5 * (LN2 + 1));
        assertTrue(cmpExt(lo, 1, 5) <= 0 && cmpExt(hi, 1, 5) >= 0, "exp of [5 ln2-, 5 ln2+]");
    }

    /// Beyond |t| >= 256 the bounds saturate: [2^369, huge] above, [0, 2^-369] below.
    function test_exp_outOfRange_succeeds() public {
        int256 r = int256(1) << 128;
        (Ext lo, Ext hi) = LibExt.exp(r, r);
        assertEq(Ext.unwrap(lo), Ext.unwrap(LibExt.exact(1, 369)));
        assertTrue(cmpExt(hi, 1, 1000) > 0);
        (lo, hi) = LibExt.exp(-r, -r);
        assertTrue(lo.isZero());
        assertEq(Ext.unwrap(hi), Ext.unwrap(LibExt.exact(1, -369)));
        // continuity at the edges: the saturated bounds still bracket the values just inside
        (Ext lo2, Ext hi2) = LibExt.exp(r - 1, r - 1);
        assertTrue(!hi2.lt(lo) && !lo2.lt(lo), "exp(256-) below 2^369");
        (lo2, hi2) = LibExt.exp(1 - r, 1 - r);
        assertTrue(!hi.lt(hi2), "exp(-256+) above 2^-369");
    }

    /// Monotonic: t1 <= t2 gives lo(t1) <= lo(t2) and hi(t1) <= hi(t2); every bracket is within 2^-TIGHT.
    function testFuzz_exp_monotonic_succeeds(int136 a, int136 b) public {
        int256 r = int256(1) << 128;
        (int256 t1, int256 t2) = (int256(a) % r, int256(b) % r);
        if (t1 > t2) (t1, t2) = (t2, t1);
        (Ext lo1, Ext hi1) = LibExt.exp(t1, t1);
        (Ext lo2, Ext hi2) = LibExt.exp(t2, t2);
        assertTight(lo1, hi1);
        assertTight(lo2, hi2);
        assertTrue(!lo2.lt(lo1), "lower bound decreasing");
        assertTrue(!hi2.lt(hi1), "upper bound decreasing");
        (Ext lo, Ext hi) = LibExt.exp(t1, t2);
        assertEq(Ext.unwrap(lo), Ext.unwrap(lo1));
        assertEq(Ext.unwrap(hi), Ext.unwrap(hi2));
    }

    /// Monotonic across the range-reduction boundaries k ln 2 (where r wraps from ln 2 to 0).
    function testFuzz_exp_monotonicAcrossLn2Multiples_succeeds(int16 k, uint8 d) public {
        int256 t = (int256(k) % 360) * LN2;
        for (int256 s = -2; s <= 2; ++s) {
            int256 t1 = t + s - int256(uint256(d));
            (Ext lo1, Ext hi1) = LibExt.exp(t1, t1);
            (Ext lo2, Ext hi2) = LibExt.exp(t1 + 1, t1 + 1);
            assertTrue(!lo2.lt(lo1) && !hi2.lt(hi1), "not monotonic at k ln 2");
        }
    }

    /// `expFixed` (exp(t) 2^120 for t <= 1, floored / ceiled; softmax's sums): brackets the 120-digit values and
    /// lies outside `exp`'s bounds by at most the last fixed-point unit.
    function test_expFixed_knownValues_succeeds() public {
        int256 one = int256(1) << F;
        assertFixed(one, 0xadf85458a2bb4a9aafdc5620273d3cf1, -126);
        assertFixed(-one, 0xbc5ab1b16779be3575bd8f0520a9f21b, -129);
        assertFixed(one / 2, 0xd3094c70f034de4b96ff7d5b6f99fcd8, -127);
        assertFixed(-10 * one, 0xbe6bcdab23e4d4e2d923aa84c4397caf, -142);
        assertFixed(-100 * one, 0xd460f8a7157ae579eec89bae3a7e5ae6, -272); // exp(-100) 2^120 < 1: [0, 1]
        assertEq(LibExt.expFixed(0, false), uint256(1) << F);
        int256 r = int256(1) << 128;
        assertEq(LibExt.expFixed(-r, false), 0);
        assertEq(LibExt.expFixed(-r, true), 1);
    }

    function assertFixed(int256 t, uint256 m, int256 e) internal {
        uint256 lo = LibExt.expFixed(t, false);
        uint256 hi = LibExt.expFixed(t, true);
        assertTrue(Bits.cmp(lo, -120, m + 1, e) <= 0, "fixed lower bound above exp");
        assertTrue(Bits.cmp(hi, -120, m, e) >= 0, "fixed upper bound below exp");
    }

    function testFuzz_expFixed_matchesExp_succeeds(int136 a) public {
        int256 t = int256(a) % (int256(1) << 128);
        if (t > int256(1) << F) t = -t; // t <= 1
        uint256 lo = LibExt.expFixed(t, false);
        uint256 hi = LibExt.expFixed(t, true);
        (Ext elo, Ext ehi) = LibExt.exp(t, t);
        assertTrue(cmpExt(elo, lo, -120) >= 0, "fixed lower bound above exp's");
        assertTrue(cmpExt(ehi, hi, -120) <= 0, "fixed upper bound below exp's");
        assertLte(hi - lo, 2 + (hi >> TIGHT), "fixed bounds too far apart");
    }

    /// exp(m 2^e) as a WAD reference: 1e18 exp(t) for t = k 2^-18 (exactly k 5^18 in WAD).
    /// expWad is accurate to ~1e-18 relatively on [0, 80]; exp(-t) is taken as 1 / expWad(t).
    function testFuzz_exp_matchesExpWad_succeeds(int32 k) public {
        int256 kk = int256(k) % (80 << 18);
        int256 t = kk << 102; // k 2^-18 in 2^-120 units
        (Ext lo, Ext hi) = LibExt.exp(t, t);
        assertTight(lo, hi);
        (uint256 ml, int256 el) = lo.parts();
        (uint256 mh, int256 eh) = hi.parts();
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 w = uint256(FixedPointMathLib.expWad((kk < 0 ? -kk : kk) * int256(5 ** 18))); // 1e18 exp(|t|)
        uint256 up = 1e15 + 1;
        uint256 down = 1e15 - 1;
        if (kk >= 0) {
            // value m 2^e (e < 0 here) vs ref = w / 1e18:  m 1e33 <=> w (1e15 +- 1) 2^-e
            assertTrue(mulCmp(ml, 1e33, w * up, pow2(-el)) <= 0, "lower bound above exp (1 + 1e-15)");
            assertTrue(mulCmp(mh, 1e33, w * down, pow2(-eh)) >= 0, "upper bound below exp (1 - 1e-15)");
        } else {
            // ref = 1e18 / w:  m w 1e15 <=> (1e15 +- 1) 1e18 2^-e
            assertTrue(mulCmp(ml, w * 1e15, up * 1e18, pow2(-el)) <= 0, "lower bound above exp (1 + 1e-15)");
            assertTrue(mulCmp(mh, w * 1e15, down * 1e18, pow2(-eh)) >= 0, "upper bound below exp (1 - 1e-15)");
        }
    }

    function pow2(int256 e) internal pure returns (uint256) {
        assert(e >= 0 && e < 256);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint256(1) << uint256(e);
    }

    /// The sign of a b - c d, exactly (512-bit products).
    function mulCmp(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (int256) {
        (uint256 h1, uint256 l1) = mul512(a, b);
        (uint256 h2, uint256 l2) = mul512(c, d);
        if (h1 != h2) return h1 < h2 ? -1 : int256(1);
        if (l1 != l2) return l1 < l2 ? -1 : int256(1);
        return 0;
    }

    function mul512(uint256 a, uint256 b) internal pure returns (uint256 hi, uint256 lo) {
        assembly {
            let mm := mulmod(a, b, not(0))
            lo := mul(a, b)
            hi := sub(sub(mm, lo), lt(mm, lo))
        }
    }
}
