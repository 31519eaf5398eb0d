// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Fp32} from "../src/lib/Fp32.sol";

contract Fp32Test is PRBTest {
    function check(uint32 bits, bool neg, uint256 m, int256 e) internal pure {
        (bool n, uint256 gm, int256 ge, bool f) = Fp32.decode(bits);
        assert(f);
        assert(n == neg);
        assert(gm == m);
        assert(ge == e);
    }

    function test_decode_normals_succeeds() public pure {
        check(0x3f800000, false, 1 << 23, -23); // 1.0
        check(0xc0000000, true, 1 << 23, -22); // -2.0
        check(0x7f7fffff, false, (1 << 24) - 1, 104); // max finite
        check(0x00800000, false, 1 << 23, -149); // smallest normal 2^-126
    }

    function test_decode_zerosAndSubnormals_succeeds() public pure {
        check(0x00000000, false, 0, -149); // +0
        check(0x80000000, true, 0, -149); // -0
        check(0x00000001, false, 1, -149); // 2^-149
        check(0x807fffff, true, (1 << 23) - 1, -149); // largest negative subnormal
        assert(Fp32.isZero(0x80000000) && Fp32.isZero(0));
    }

    function test_decode_nanAndInf_succeeds() public pure {
        (,,, bool f) = Fp32.decode(0x7f800000); // +Inf
        assert(!f);
        (,,, f) = Fp32.decode(0xff800000); // -Inf
        assert(!f);
        (,,, f) = Fp32.decode(0x7fc00000); // NaN
        assert(!f);
        assert(Fp32.isNonFinite(0x7f800001));
    }

    /// Decoding is exact: re-encoding (m, e) gives the same bits for every finite value.
    function testFuzz_decode_roundTrips_succeeds(uint32 bits) public {
        vm.assume(!Fp32.isNonFinite(bits));
        (bool n, uint256 m, int256 e,) = Fp32.decode(bits);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 biased = m >= (1 << 23) ? uint32(uint256(e + 150)) : 0;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 back = (n ? uint32(1) << 31 : 0) | (biased << 23) | uint32(m & 0x7fffff);
        assertEq(uint256(back), uint256(bits));
        assert(m < (1 << 24));
    }

    /// The fp32 encoding of an integer below 2^24 (exact).
    function encode(uint256 v) internal pure returns (uint32) {
        if (v == 0) return 0;
        uint256 p;
        while ((v >> (p + 1)) != 0) ++p;
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(((p + 127) << 23) | ((v << (23 - p)) & 0x7fffff));
    }

    function test_toIndex_integers_succeeds() public pure {
        (bool ok, uint256 id) = Fp32.toIndex(0x3f800000, 10); // 1.0
        assert(ok && id == 1);
        (ok, id) = Fp32.toIndex(0x80000000, 10); // -0
        assert(ok && id == 0);
        (ok, id) = Fp32.toIndex(0x46fffe00, 32768); // 32767
        assert(ok && id == 32767);
        (ok, id) = Fp32.toIndex(0x4b800000, 1 << 25); // 2^24
        assert(ok && id == 1 << 24);
    }

    function test_toIndex_nonIndicesAreRefused_succeeds() public pure {
        (bool ok,) = Fp32.toIndex(0x3fc00000, 10); // 1.5
        assert(!ok);
        (ok,) = Fp32.toIndex(0x3f000000, 10); // 0.5
        assert(!ok);
        (ok,) = Fp32.toIndex(0x00000001, 10); // 2^-149
        assert(!ok);
        (ok,) = Fp32.toIndex(0xbf800000, 10); // -1
        assert(!ok);
        (ok,) = Fp32.toIndex(0x41200000, 10); // 10 = bound
        assert(!ok);
        (ok,) = Fp32.toIndex(0x7fc00000, 10); // NaN
        assert(!ok);
        (ok,) = Fp32.toIndex(0x7f800000, type(uint256).max); // +Inf
        assert(!ok);
    }

    /// Every integer below 2^24 comes back from its encoding; anything accepted re-encodes to its bits.
    function testFuzz_toIndex_roundTrips_succeeds(uint24 v, uint32 bits) public pure {
        (bool ok, uint256 id) = Fp32.toIndex(encode(v), 1 << 24);
        assert(ok && id == v);
        (ok, id) = Fp32.toIndex(bits, 1 << 24);
        if (ok) assert(encode(id) == bits || (id == 0 && bits == 0x80000000));
    }
}
