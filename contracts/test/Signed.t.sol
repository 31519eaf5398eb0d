// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Bits} from "./Bits.sol";
import {LibBit} from "solady/utils/LibBit.sol";
import {Ext, LibExt} from "../src/lib/Ext.sol";
import {SExt, LibSigned} from "../src/lib/Signed.sol";
import {Fp32} from "../src/lib/Fp32.sol";

/// @notice LibSigned against exact integer references: signed values +-m 2^e with small-integer mantissas, every
///         sign combination. add / sub / mul rounded down and up must bracket the exact result (lower <= exact <=
///         upper, one or two units of the 128-bit mantissa apart, equal where the result is representable, +0
///         where it cancels); `le` is the total order of the reals (+0 = -0, and it agrees with Fp32.lt on fp32
///         values); `widen` contains the exact widened interval within 2^-120 relatively; `mulInterval` contains all
///         four end products and is exactly their min and max when they are representable.
contract SignedTest is PRBTest {
    using LibExt for Ext;
    using LibSigned for SExt;

    uint256 internal constant TOP = 1 << 127;
    uint256 internal constant SIGN = 1 << 255;

    /// An exact signed real: (-1)^neg m 2^e (neg ignored when m = 0).
    struct Real {
        bool neg;
        uint256 m;
        int256 e;
    }

    // ------------------------------------------------------------------ exact references

    /// The sign of a - b for exact reals.
    function cmpR(Real memory a, Real memory b) internal pure returns (int256) {
        bool an = a.neg && a.m != 0;
        bool bn = b.neg && b.m != 0;
        if (a.m == 0 && b.m == 0) return 0;
        if (an != bn) return an ? -1 : int256(1);
        int256 c = Bits.cmp(a.m, a.e, b.m, b.e);
        return an ? -c : c;
    }

    /// The exact value of `a`.
    function real(SExt a) internal pure returns (Real memory r) {
        (r.m, r.e) = a.mag().parts();
        r.neg = a.isNeg();
    }

    /// The sign of a - v.
    function cmpS(SExt a, Real memory v) internal pure returns (int256) {
        return cmpR(real(a), v);
    }

    /// The exact value as an SExt (m < 2^128).
    function sx(Real memory v) internal pure returns (SExt) {
        return LibSigned.signed(LibExt.exact(v.m, v.e), v.neg);
    }

    /// The integer v 2^e.
    function si(int256 v, int256 e) internal pure returns (SExt) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return LibSigned.signed(LibExt.exact(uint256(v < 0 ? -v : v), e), v < 0);
    }

    /// A fuzzed operand +-m 2^e with 0 < m < 2^100, |e| < 100.
    function operand(bool neg, uint256 m, int256 e) internal pure returns (Real memory) {
        return Real(neg, m % (1 << 100) + 1, e % 100);
    }

    /// a + b exactly, both aligned to the smaller exponent (exponents at most 150 apart: the sum fits 256 bits).
    function exactAdd(Real memory a, Real memory b) internal pure returns (Real memory r) {
        r.e = a.e < b.e ? a.e : b.e;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 x = a.m << uint256(a.e - r.e);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 y = b.m << uint256(b.e - r.e);
        bool an = a.neg && a.m != 0;
        bool bn = b.neg && b.m != 0;
        if (an == bn) (r.neg, r.m) = (an, x + y);
        else if (x > y) (r.neg, r.m) = (an, x - y);
        else (r.neg, r.m) = (bn, y - x);
        if (r.m == 0) r.neg = false;
    }

    function negR(Real memory a) internal pure returns (Real memory) {
        return Real(!a.neg, a.m, a.e);
    }

    function representable(uint256 m) internal pure returns (bool) {
        uint256 b = LibBit.fls(m);
        return b <= 127 || m % (uint256(1) << (b - 127)) == 0;
    }

    /// Units of the last place between two magnitudes (the larger one's exponent at most one above).
    function ulps(Ext a, Ext b) internal pure returns (uint256) {
        if (b.lt(a)) (a, b) = (b, a);
        (uint256 ml, int256 el) = a.parts();
        (uint256 mh, int256 eh) = b.parts();
        assert(eh >= el && eh - el <= 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        return (mh << uint256(eh - el)) - ml;
    }

    /// The representation invariant: the magnitude is a normalized Ext, and zero is the word 0 (never -0).
    function assertCanonical(SExt a) internal {
        (uint256 m,) = a.mag().parts();
        if (m == 0) assertEq(SExt.unwrap(a), 0, "zero is +0, the word 0");
        else assertTrue(m >= TOP && m < TOP << 1, "normalized mantissa");
    }

    /// lo <= v <= hi, both of v's sign, at most maxUlps apart, and both exactly v when v has <= 128 bits.
    function assertBrackets(SExt lo, SExt hi, Real memory v, uint256 maxUlps) internal {
        assertCanonical(lo);
        assertCanonical(hi);
        assertTrue(cmpS(lo, v) <= 0, "lower bound above the exact value");
        assertTrue(cmpS(hi, v) >= 0, "upper bound below the exact value");
        if (v.m == 0) {
            assertEq(SExt.unwrap(lo), 0, "cancelled: lower bound not +0");
            assertEq(SExt.unwrap(hi), 0, "cancelled: upper bound not +0");
            return;
        }
        assertEq(lo.isNeg(), v.neg, "lower bound of the wrong sign");
        assertEq(hi.isNeg(), v.neg, "upper bound of the wrong sign");
        assertLte(ulps(lo.mag(), hi.mag()), maxUlps, "bounds too far apart");
        if (representable(v.m)) {
            assertEq(SExt.unwrap(lo), SExt.unwrap(hi), "representable result rounded");
            assertEq(cmpS(lo, v), 0, "representable result not exact");
        }
    }

    // ------------------------------------------------------------------ signed / of32 / mag / isNeg / neg

    function testFuzz_signed_roundTrips_succeeds(uint128 m, int16 e, bool neg) public {
        Ext a = LibExt.exact(m, e);
        SExt s = LibSigned.signed(a, neg);
        assertCanonical(s);
        assertEq(Ext.unwrap(s.mag()), Ext.unwrap(a), "magnitude");
        assertEq(s.isNeg(), neg && m != 0, "sign");
        assertEq(SExt.unwrap(s), neg && m != 0 ? Ext.unwrap(a) | SIGN : Ext.unwrap(a), "sign in bit 255 only");
    }

    function test_signed_zeroIsPositive_succeeds() public pure {
        assert(SExt.unwrap(LibSigned.signed(Ext.wrap(0), true)) == 0);
        assert(SExt.unwrap(LibSigned.signed(Ext.wrap(0), false)) == 0);
        assert(!LibSigned.signed(Ext.wrap(0), true).isNeg());
        assert(LibSigned.signed(LibExt.exact(1, -1000), true).isNeg());
    }

    /// of32 is the exact value of a finite fp32: |v| = abs32, negative iff the sign bit is set and v != 0.
    function testFuzz_of32_isExact_succeeds(uint32 bits) public {
        vm.assume(!Fp32.isNonFinite(bits));
        (bool neg, uint256 m, int256 e,) = Fp32.decode(bits);
        SExt s = LibSigned.of32(bits);
        assertCanonical(s);
        assertEq(Ext.unwrap(s.mag()), Ext.unwrap(LibExt.abs32(bits)));
        assertEq(s.isNeg(), neg && m != 0);
        assertEq(cmpS(s, Real(neg, m, e)), 0);
        assertEq(SExt.unwrap(LibSigned.of32(bits ^ (uint32(1) << 31))), SExt.unwrap(s.neg()), "of32(-v) = -of32(v)");
    }

    function test_of32_values_succeeds() public pure {
        assert(SExt.unwrap(LibSigned.of32(0x80000000)) == 0); // -0 is +0
        assert(SExt.unwrap(LibSigned.of32(0)) == 0);
        assert(SExt.unwrap(LibSigned.of32(0xbf800000)) == SExt.unwrap(si(-1, 0)));
        assert(SExt.unwrap(LibSigned.of32(0x40400000)) == SExt.unwrap(si(3, 0)));
        assert(SExt.unwrap(LibSigned.of32(0x80000001)) == SExt.unwrap(si(-1, -149))); // -2^-149
        assert(SExt.unwrap(LibSigned.of32(0xff7fffff)) == SExt.unwrap(si(-0xffffff, 104))); // -max finite
    }

    function testFuzz_neg_isInvolution_succeeds(uint128 m, int16 e, bool neg) public {
        SExt a = LibSigned.signed(LibExt.exact(m, e), neg);
        SExt b = a.neg();
        assertCanonical(b);
        assertEq(SExt.unwrap(b.neg()), SExt.unwrap(a));
        assertEq(Ext.unwrap(b.mag()), Ext.unwrap(a.mag()));
        assertEq(b.isNeg(), m != 0 && !neg);
        if (m == 0) assertEq(SExt.unwrap(b), 0, "-0 is +0");
    }

    // ------------------------------------------------------------------ add / sub

    function testFuzz_add_brackets_succeeds(bool na, uint256 ma, int256 ea, bool nb, uint256 mb, int256 eb) public {
        Real memory a = operand(na, ma, ea);
        Real memory b = operand(nb, mb, eb);
        b.e = a.e + (eb % 151); // at most 150 apart
        (SExt sa, SExt sb) = (sx(a), sx(b));
        Real memory want = exactAdd(a, b);
        assertBrackets(sa.add(sb, false), sa.add(sb, true), want, 2);
        assertEq(SExt.unwrap(sa.add(sb, false)), SExt.unwrap(sb.add(sa, false)), "commutative (down)");
        assertEq(SExt.unwrap(sa.add(sb, true)), SExt.unwrap(sb.add(sa, true)), "commutative (up)");
        // negation mirrors the directions: -(a + b) rounded down is -((a + b) rounded up)
        assertEq(SExt.unwrap(sa.neg().add(sb.neg(), false)), SExt.unwrap(sa.add(sb, true).neg()), "mirror");
    }

    function testFuzz_sub_brackets_succeeds(bool na, uint256 ma, int256 ea, bool nb, uint256 mb, int256 eb) public {
        Real memory a = operand(na, ma, ea);
        Real memory b = operand(nb, mb, eb);
        b.e = a.e + (eb % 151);
        (SExt sa, SExt sb) = (sx(a), sx(b));
        Real memory want = exactAdd(a, negR(b));
        assertBrackets(sa.sub(sb, false), sa.sub(sb, true), want, 2);
        // b - a = -(a - b), with the directions swapped
        assertEq(SExt.unwrap(sb.sub(sa, false)), SExt.unwrap(sa.sub(sb, true).neg()), "antisymmetric");
    }

    /// Every sign combination of small integers (with exponents) is exact, both ways.
    function testFuzz_add_smallIntegers_isExact_succeeds(int64 x, int64 y, int8 ex8, int8 ey8) public {
        (int256 ex, int256 ey) = (int256(ex8) % 32, int256(ey8) % 32); // |x|, |y| < 2^63, 62 apart: sum < 2^127
        (SExt a, SExt b) = (si(x, ex), si(y, ey));
        int256 e = ex < ey ? ex : ey;
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 s = (int256(x) << uint256(ex - e)) + (int256(y) << uint256(ey - e));
        SExt want = si(s, e);
        for (uint256 k; k < 2; ++k) {
            bool up = k == 1;
            assertEq(SExt.unwrap(a.add(b, up)), SExt.unwrap(want), "a + b");
            assertEq(SExt.unwrap(a.sub(b.neg(), up)), SExt.unwrap(want), "a - (-b)");
        }
    }

    /// a + (-(a + d)) = -d exactly: full and partial cancellation, every sign of a and d.
    function testFuzz_add_cancellation_succeeds(bool na, uint120 m, int8 e, int16 d) public {
        vm.assume(m > 0);
        SExt a = LibSigned.signed(LibExt.exact(m, e), na);
        for (uint256 k; k < 2; ++k) {
            bool up = k == 1;
            assertEq(SExt.unwrap(a.add(a.neg(), up)), 0, "a + (-a) is +0");
            assertEq(SExt.unwrap(a.sub(a, up)), 0, "a - a is +0");
            assertEq(SExt.unwrap(a.neg().add(a, up)), 0, "-a + a is +0");
        }
        // b = -(a + d 2^e) with |d| small: a + b = -d 2^e
        int256 sgn = na ? int256(-1) : int256(1);
        int256 bm = sgn * int256(uint256(m)) + int256(d);
        SExt b = si(-bm, e);
        SExt want = si(-int256(d), e);
        assertEq(SExt.unwrap(a.add(b, false)), SExt.unwrap(want), "partial cancellation (down)");
        assertEq(SExt.unwrap(a.add(b, true)), SExt.unwrap(want), "partial cancellation (up)");
    }

    /// A tiny b below a's last place: the sum rounds down/up to a's neighbours in the directions of the signs.
    function test_add_directedRounding_succeeds() public {
        SExt one = si(1, 0);
        SExt tiny = si(1, -300);
        Ext below = LibExt.make(type(uint128).max, -128, false); // 1 - 2^-128, the value below 1
        Ext above = LibExt.make((1 << 127) + 1, -127, false); // 1 + 2^-127, the value above 1
        // 1 + tiny in (1, 1 + 2^-127)
        assertEq(SExt.unwrap(one.add(tiny, false)), SExt.unwrap(one));
        assertEq(SExt.unwrap(one.add(tiny, true)), Ext.unwrap(above));
        // 1 - tiny in (1 - 2^-128, 1)
        assertEq(SExt.unwrap(one.sub(tiny, false)), Ext.unwrap(below));
        assertEq(SExt.unwrap(one.sub(tiny, true)), SExt.unwrap(one));
        // -1 + tiny in (-1, -1 + 2^-128): down is -1, up is -(1 - 2^-128)
        assertEq(SExt.unwrap(one.neg().add(tiny, false)), SExt.unwrap(one.neg()));
        assertEq(SExt.unwrap(one.neg().add(tiny, true)), Ext.unwrap(below) | SIGN);
        // -1 - tiny in (-1 - 2^-127, -1): down is -(1 + 2^-127), up is -1
        assertEq(SExt.unwrap(one.neg().sub(tiny, false)), Ext.unwrap(above) | SIGN);
        assertEq(SExt.unwrap(one.neg().sub(tiny, true)), SExt.unwrap(one.neg()));
        // zero operands are identities
        assertEq(SExt.unwrap(one.neg().add(si(0, 0), true)), SExt.unwrap(one.neg()));
        assertEq(SExt.unwrap(si(0, 0).add(one.neg(), false)), SExt.unwrap(one.neg()));
        assertEq(SExt.unwrap(si(0, 0).sub(one, false)), SExt.unwrap(one.neg()));
    }

    // ------------------------------------------------------------------ mul

    function testFuzz_mul_brackets_succeeds(bool na, uint256 ma, int256 ea, bool nb, uint256 mb, int256 eb) public {
        Real memory a = operand(na, ma, ea);
        Real memory b = operand(nb, mb, eb);
        (SExt sa, SExt sb) = (sx(a), sx(b));
        Real memory want = Real(na != nb, a.m * b.m, a.e + b.e);
        assertBrackets(sa.mul(sb, false), sa.mul(sb, true), want, 1);
        assertEq(SExt.unwrap(sa.mul(sb, true)), SExt.unwrap(sb.mul(sa, true)), "commutative");
        assertEq(SExt.unwrap(sa.neg().mul(sb, false)), SExt.unwrap(sa.mul(sb, true).neg()), "mirror");
    }

    function testFuzz_mul_smallIntegers_isExact_succeeds(int64 x, int64 y, int8 ex, int8 ey) public {
        SExt want = si(int256(x) * y, int256(ex) + ey);
        assertEq(SExt.unwrap(si(x, ex).mul(si(y, ey), false)), SExt.unwrap(want));
        assertEq(SExt.unwrap(si(x, ex).mul(si(y, ey), true)), SExt.unwrap(want));
    }

    function test_mul_zeroIsPositive_succeeds() public pure {
        assert(SExt.unwrap(si(-3, 0).mul(si(0, 0), true)) == 0);
        assert(SExt.unwrap(si(0, 0).mul(si(-3, 0), false)) == 0);
        assert(SExt.unwrap(si(-3, 0).mul(si(-5, 2), true)) == SExt.unwrap(si(15, 2)));
    }

    // ------------------------------------------------------------------ le

    function testFuzz_le_matchesExactOrder_succeeds(bool na, uint256 ma, int256 ea, bool nb, uint256 mb, int256 eb)
        public
    {
        Real memory a = operand(na, ma, ea);
        Real memory b = operand(nb, mb, eb);
        if (ma % 7 == 0) a.m = 0; // zeros of either sign
        if (mb % 7 == 0) b.m = 0;
        if (ma % 5 == 0) (b.m, b.e) = (a.m, a.e); // equal magnitudes
        (SExt sa, SExt sb) = (sx(a), sx(b));
        assertEq(sa.le(sb), cmpR(a, b) <= 0, "a <= b");
        assertEq(sb.le(sa), cmpR(b, a) <= 0, "b <= a");
        assertTrue(sa.le(sa), "reflexive");
        assertTrue(sa.le(sb) || sb.le(sa), "total");
        assertEq(sa.neg().le(sb.neg()), sb.le(sa), "negation reverses");
    }

    /// On fp32 values le is the IEEE order (-0 = +0).
    function testFuzz_le_matchesFp32Order_succeeds(uint32 x, uint32 y) public {
        vm.assume(!Fp32.isNonFinite(x) && !Fp32.isNonFinite(y));
        assertEq(LibSigned.of32(x).le(LibSigned.of32(y)), !Fp32.lt(y, x));
    }

    function test_le_zeros_succeeds() public pure {
        (SExt pz, SExt nz) = (LibSigned.of32(0), LibSigned.of32(0x80000000));
        assert(pz.le(nz) && nz.le(pz));
        SExt tiny = si(1, -1000);
        assert(pz.le(tiny) && !tiny.le(pz) && tiny.neg().le(nz) && !nz.le(tiny.neg()));
        assert(si(-5, 0).le(si(-4, 0)) && !si(-4, 0).le(si(-5, 0)) && si(-5, 0).le(si(3, -9)));
    }

    // ------------------------------------------------------------------ widen

    /// lo' <= lo - rel |lo| - abs and hi' >= hi + rel |hi| + abs exactly, each within 2^-120 of the magnitudes
    /// involved (|lo| + rel |lo| + abs); fp32-sized mantissas so that the references fit 256 bits after 2^120.
    function testFuzz_widen_containsAndIsTight_succeeds(
        int32 lo,
        int8 elo,
        int32 hi,
        int8 ehi,
        uint24 rel,
        uint8 erel,
        uint24 ab,
        int8 eab
    ) public {
        int256[2] memory v = [int256(lo) % (1 << 24), int256(hi) % (1 << 24)];
        int256[2] memory ev = [int256(elo) % 21, int256(ehi) % 21];
        int256 er = -int256(uint256(erel) % 41);
        int256 ea = int256(eab) % 21 - 20;
        (SExt wlo, SExt whi) =
            LibSigned.widen(si(v[0], ev[0]), si(v[1], ev[1]), LibExt.exact(rel, er), LibExt.exact(ab, ea));
        assertCanonical(wlo);
        assertCanonical(whi);
        for (uint256 k; k < 2; ++k) {
            // everything at the exponent emin: |v| < 2^24 2^20, rel |v| < 2^48 2^20, abs < 2^24: < 2^128 2^-emin
            int256 emin = ev[k] + er < ea ? ev[k] + er : ea;
            if (ev[k] < emin) emin = ev[k];
            int256 av = v[k] < 0 ? -v[k] : v[k];
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 x = v[k] << uint256(ev[k] - emin);
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 d = av * int256(uint256(rel)) << uint256(ev[k] + er - emin); // rel |v|
            // forge-lint: disable-next-line(unsafe-typecast)
            d += int256(uint256(ab)) << uint256(ea - emin); // + abs
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 scale = (av << uint256(ev[k] - emin)) + d; // |v| + rel |v| + abs
            int256 want = k == 0 ? x - d : x + d;
            SExt got = k == 0 ? wlo : whi;
            int256 c = cmpS(got, toReal(want, emin));
            assertTrue(k == 0 ? c <= 0 : c >= 0, k == 0 ? "lower end not widened" : "upper end not widened");
            // within scale 2^-120 of the exact end
            int256 slack = k == 0 ? (want << 120) - scale : (want << 120) + scale;
            c = cmpS(got, toReal(slack, emin - 120));
            assertTrue(k == 0 ? c >= 0 : c <= 0, "widened by more than 2^-120");
        }
    }

    /// Full-width relative widths (the products rel |v| are not representable, so each rounding direction
    /// matters): rel = m 2^er with a 128-bit m, rel in [2^-33, 1) (close to 1: the lower end of a positive
    /// interval nearly cancels), |v| < 2^63, abs on rel's grid. Everything is an integer at 2^er: the widened
    /// ends contain the exact ones, within (|v| + rel |v| + abs) 2^-120 (+ one unit of 2^er).
    function testFuzz_widen_roundsOutwards_succeeds(int64 lo, int64 hi, uint128 mr, uint8 erel, uint96 ab) public {
        mr |= uint128(1) << 127;
        int256 er = -128 - int256(uint256(erel) % 33);
        (SExt wlo, SExt whi) = LibSigned.widen(si(lo, 0), si(hi, 0), LibExt.exact(mr, er), LibExt.exact(ab, er));
        assertCanonical(wlo);
        assertCanonical(whi);
        int256[2] memory v = [int256(lo), int256(hi)];
        for (uint256 k; k < 2; ++k) {
            int256 av = v[k] < 0 ? -v[k] : v[k];
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 x = v[k] << uint256(-er); // < 2^63 2^161
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 d = av * int256(uint256(mr)) + int256(uint256(ab)); // < 2^191 + 2^96
            int256 want = k == 0 ? x - d : x + d;
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 slack = (((av << uint256(-er)) + d) >> 120) + 1; // (|v| + rel |v| + abs) 2^-120, ceiled
            SExt got = k == 0 ? wlo : whi;
            if (k == 0) {
                assertTrue(cmpS(got, toReal(want, er)) <= 0, "lower end not widened");
                assertTrue(cmpS(got, toReal(want - slack, er)) >= 0, "lower end widened by more than 2^-120");
            } else {
                assertTrue(cmpS(got, toReal(want, er)) >= 0, "upper end not widened");
                assertTrue(cmpS(got, toReal(want + slack, er)) <= 0, "upper end widened by more than 2^-120");
            }
        }
    }

    function toReal(int256 v, int256 e) internal pure returns (Real memory) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return Real(v < 0, uint256(v < 0 ? -v : v), e);
    }

    function test_widen_values_succeeds() public pure {
        // [-3, 5] widened by 1/2 relatively and 1 absolutely: [-5.5, 8.5], exactly
        (SExt lo, SExt hi) = LibSigned.widen(si(-3, 0), si(5, 0), LibExt.exact(1, -1), LibExt.exact(1, 0));
        assert(SExt.unwrap(lo) == SExt.unwrap(si(-11, -1)) && SExt.unwrap(hi) == SExt.unwrap(si(17, -1)));
        // [2, 3] by 1/4 and 4: [2 - 0.5 - 4, 3 + 0.75 + 4] = [-2.5, 7.75]: the lower end crosses zero
        (lo, hi) = LibSigned.widen(si(2, 0), si(3, 0), LibExt.exact(1, -2), LibExt.exact(4, 0));
        assert(SExt.unwrap(lo) == SExt.unwrap(si(-5, -1)) && SExt.unwrap(hi) == SExt.unwrap(si(31, -2)));
        // nothing to widen by: unchanged (a zero interval stays +0)
        (lo, hi) = LibSigned.widen(si(-7, -3), si(0, 0), Ext.wrap(0), Ext.wrap(0));
        assert(SExt.unwrap(lo) == SExt.unwrap(si(-7, -3)) && SExt.unwrap(hi) == 0);
        // an absolute widening of a zero interval: [-abs, abs]
        (lo, hi) = LibSigned.widen(si(0, 0), si(0, 0), LibExt.exact(1, -24), LibExt.exact(1, -149));
        assert(SExt.unwrap(lo) == SExt.unwrap(si(-1, -149)) && SExt.unwrap(hi) == SExt.unwrap(si(1, -149)));
    }

    // ------------------------------------------------------------------ mulInterval

    /// [a0, a1] * [b0, b1] for every sign pattern of both intervals (negative, straddling zero, positive, with
    /// zero ends): exactly the min and max of the four end products.
    function test_mulInterval_everySignPattern_succeeds() public {
        int256[2][7] memory ivs = [
            [int256(-5), -2],
            [int256(-3), 4],
            [int256(2), 7],
            [int256(0), 3],
            [int256(-4), 0],
            [int256(0), 0],
            [int256(-6), 6]
        ];
        for (uint256 i; i < 7; ++i) {
            for (uint256 j; j < 7; ++j) {
                (int256 a0, int256 a1) = (ivs[i][0], ivs[i][1]);
                (int256 b0, int256 b1) = (ivs[j][0] * 3, ivs[j][1] * 3);
                int256[4] memory p = [a0 * b0, a0 * b1, a1 * b0, a1 * b1];
                (int256 mn, int256 mx) = (p[0], p[0]);
                for (uint256 k = 1; k < 4; ++k) {
                    if (p[k] < mn) mn = p[k];
                    if (p[k] > mx) mx = p[k];
                }
                (SExt lo, SExt hi) = LibSigned.mulInterval(si(a0, -2), si(a1, -2), si(b0, 5), si(b1, 5));
                assertEq(SExt.unwrap(lo), SExt.unwrap(si(mn, 3)), "lower end");
                assertEq(SExt.unwrap(hi), SExt.unwrap(si(mx, 3)), "upper end");
            }
        }
    }

    /// Fuzzed intervals of either sign (ends ordered exactly): the bounds contain all four products, and for
    /// 64-bit mantissas (exact products) they are exactly the smallest and largest.
    function testFuzz_mulInterval_containsEveryProduct_succeeds(
        bool[4] memory ns,
        uint256[4] memory ms,
        int256[4] memory es,
        bool small
    ) public {
        Real[4] memory r;
        for (uint256 k; k < 4; ++k) {
            r[k] = operand(ns[k], ms[k], es[k]);
            if (small) r[k].m = ms[k] % (1 << 64);
        }
        if (cmpR(r[0], r[1]) > 0) (r[0], r[1]) = (r[1], r[0]);
        if (cmpR(r[2], r[3]) > 0) (r[2], r[3]) = (r[3], r[2]);
        (SExt lo, SExt hi) = LibSigned.mulInterval(sx(r[0]), sx(r[1]), sx(r[2]), sx(r[3]));
        assertCanonical(lo);
        assertCanonical(hi);
        (Real memory mn, Real memory mx) = (Real(false, 0, 0), Real(false, 0, 0));
        (uint256 kmin, uint256 kmax) = (0, 0);
        for (uint256 k; k < 4; ++k) {
            (Real memory a, Real memory b) = (r[k / 2], r[2 + k % 2]);
            Real memory p = Real(a.neg != b.neg, a.m * b.m, a.e + b.e);
            if (p.m == 0) p.neg = false;
            assertTrue(cmpS(lo, p) <= 0, "a product below the lower bound");
            assertTrue(cmpS(hi, p) >= 0, "a product above the upper bound");
            if (k == 0 || cmpR(p, mn) < 0) (mn, kmin) = (p, k);
            if (k == 0 || cmpR(p, mx) > 0) (mx, kmax) = (p, k);
        }
        if (small) {
            assertEq(cmpS(lo, mn), 0, "lower bound not the smallest product");
            assertEq(cmpS(hi, mx), 0, "upper bound not the largest product");
        }
        // in general: the smallest product rounded down and the largest rounded up (rounding is monotonic)
        assertEq(SExt.unwrap(lo), SExt.unwrap(sx(r[kmin / 2]).mul(sx(r[2 + kmin % 2]), false)), "lower bound");
        assertEq(SExt.unwrap(hi), SExt.unwrap(sx(r[kmax / 2]).mul(sx(r[2 + kmax % 2]), true)), "upper bound");
    }
}
