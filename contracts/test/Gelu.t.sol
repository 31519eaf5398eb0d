// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Regions} from "../src/Regions.sol";
import {ActivationBound} from "../src/lib/ActivationBound.sol";
import {Ext, LibExt} from "../src/lib/Ext.sol";
import {NonFiniteInput} from "../src/lib/Errors.sol";

/// @notice GELU's region on-chain (`ActivationBound.geluWithin`, through `Regions.gelu`): honest outputs of four
///         fp32 implementations (erf of the rounded argument then scale in two groupings, x (1 + e) then halve,
///         float64 rounded once; generated with python3, `math.erf` in double and every step rounded to fp32) are
///         inside, the tanh approximation is outside wherever it differs by more than 1e-5 |x|, moved outputs
///         are outside, and `erfBounds` brackets known values of erf.
contract GeluTest is PRBTest {
    using LibExt for Ext;

    Regions internal regions = new Regions();

    function _honest() internal pure returns (uint32[85] memory, uint32[85] memory) {
        uint32[85] memory hx = [
            uint32(0x00000000),
            0x80000000,
            0x3f800000,
            0x3f800000,
            0xbf800000,
            0x3f000000,
            0xbf000000,
            0x40400000,
            0xc0400000,
            0xc0400000,
            0x40b00000,
            0xc0b00000,
            0xc0b00000,
            0x40fccccd,
            0xc0fccccd,
            0xc0fccccd,
            0x411fd70a,
            0xc11fd70a,
            0x41a00000,
            0xc1a00000,
            0x3a83126f,
            0xba83126f,
            0x1e3ce508,
            0x9e3ce508,
            0x00000012,
            0xc0617e7b,
            0xc0617e7b,
            0xc0df74df,
            0xc0df74df,
            0x40413235,
            0xc108d205,
            0x3f37b743,
            0x3f37b743,
            0xc02beb0e,
            0xc02beb0e,
            0xc10d70ba,
            0x3e1848a8,
            0xc114005b,
            0xbfa9ddf7,
            0xc109a572,
            0xc102f8ca,
            0xc102f8ca,
            0xbfc13b1b,
            0xbfc13b1b,
            0x40d12f74,
            0xc0f0c449,
            0xc0f0c449,
            0xc0b12087,
            0xc0b12087,
            0x40231d51,
            0x40231d51,
            0x410f4451,
            0x3fc56230,
            0xc0043fbe,
            0xc0043fbe,
            0x411866d1,
            0xc11117f2,
            0x40e56b79,
            0xc086a66a,
            0xc086a66a,
            0xc0e3ad3f,
            0xc0e3ad3f,
            0xc0f49ceb,
            0xc0f49ceb,
            0xc07524ad,
            0xc07524ad,
            0x40ca5225,
            0xc0cc55ca,
            0xc0cc55ca,
            0x3fd0e57c,
            0x4031cf2a,
            0xc02354c6,
            0xc02354c6,
            0x3f7473a0,
            0xc10be854,
            0xc10ced79,
            0xc0bc2fb9,
            0xc0bc2fb9,
            0x4066e977,
            0x4066e977,
            0xbfb95d1b,
            0xbfb95d1b,
            0xc06de441,
            0xc06de441,
            0x3fdb09d3
        ];
        uint32[85] memory hy = [
            uint32(0x00000000),
            0x80000000,
            0x3f57625e,
            0x3f57625f,
            0xbe227686,
            0x3eb103af,
            0xbe1df8a2,
            0x403fbda6,
            0xbb84b340,
            0xbb84b34c,
            0x40b00000,
            0xb4300000,
            0xb3e049ec,
            0x40fccccd,
            0x80000000,
            0xa8458000,
            0x411fd70a,
            0x80000000,
            0x41a00000,
            0x80000000,
            0x3a032d35,
            0xba02f7a9,
            0x1dbce508,
            0x9dbce508,
            0x00000009,
            0xba44c8c9,
            0xba44cb82,
            0x80000000,
            0xad3175c2,
            0x4040f36d,
            0x80000000,
            0x3f0c44dc,
            0x3f0c44db,
            0xbc1f0606,
            0xbc1f05f4,
            0x80000000,
            0x3daa4978,
            0x80000000,
            0xbdfab25f,
            0x80000000,
            0x80000000,
            0xa682f8ca,
            0xbdcab97e,
            0xbdcab979,
            0x40d12f74,
            0x80000000,
            0xaa613fa2,
            0xb4312087,
            0xb3b8be21,
            0x40223b8a,
            0x40223b8b,
            0x410f4451,
            0x3fb93d15,
            0xbd242a30,
            0xbd242a36,
            0x411866d1,
            0x80000000,
            0x40e56b79,
            0xb863bf79,
            0xb8638a4c,
            0x80000000,
            0xac8c2f8c,
            0x80000000,
            0xa9b497d9,
            0xb9807f29,
            0xb9807ac5,
            0x40ca5225,
            0x80000000,
            0xb015f503,
            0x3fc62bfc,
            0x403152c9,
            0xbc5fe3d6,
            0xbc5fe3b2,
            0x3f4af08d,
            0x80000000,
            0x80000000,
            0x80000000,
            0xb24e37fe,
            0x4066e058,
            0x4066e059,
            0xbddad6c8,
            0xbddad6c4,
            0xb9c46c57,
            0xb9c465f8,
            0x3fd18191
        ];
        return (hx, hy);
    }

    function _tanh() internal pure returns (uint32[24] memory, uint32[24] memory) {
        uint32[24] memory tx = [
            uint32(0x3f800000),
            0xbf800000,
            0x3f000000,
            0xbf000000,
            0x40400000,
            0xc0400000,
            0xc0617e7b,
            0x40413235,
            0x3f37b743,
            0xc02beb0e,
            0xbfa9ddf7,
            0xbfc13b1b,
            0x40231d51,
            0x3fc56230,
            0xc0043fbe,
            0xc07524ad,
            0x3fd0e57c,
            0x4031cf2a,
            0xc02354c6,
            0x3f7473a0,
            0x4066e977,
            0xbfb95d1b,
            0xc06de441,
            0x3fdb09d3
        ];
        uint32[24] memory ty = [
            uint32(0x3f57585c),
            0xbe229e91,
            0x3eb1016d,
            0xbe1dfd26,
            0x403fc468,
            0xbb6e6150,
            0xba134d95,
            0x4040fa12,
            0x3f0c40ee,
            0xbc17459a,
            0xbdfb2c49,
            0xbdcb2a4e,
            0x402242fd,
            0x3fb93657,
            0xbd238727,
            0xb921565d,
            0x3fc6266d,
            0x40315a75,
            0xbc586e46,
            0x3f4ae796,
            0x4066e2ec,
            0xbddb4e20,
            0xb9847ebd,
            0x3fd17d70
        ];
        return (tx, ty);
    }

    function test_gelu_honestVectors_succeeds() public {
        (uint32[85] memory hx, uint32[85] memory hy) = _honest();
        for (uint256 i; i < hx.length; ++i) {
            assertTrue(regions.gelu(hx[i], hy[i]), "an honest GELU output is inside");
        }
    }

    function test_gelu_movedOutput_isOutside() public {
        (uint32[85] memory hx, uint32[85] memory hy) = _honest();
        uint256 moved;
        for (uint256 i; i < hx.length; ++i) {
            uint32 y = hy[i];
            // 64 ulps up, for outputs well inside the normal range; not for x <= -1, where erf's own 2-ulp error
            // near -1, times |x| / 2, dwarfs the tiny output
            if (((y >> 23) & 0xff) < 40 || (hx[i] >> 31 == 1 && hx[i] & 0x7fffffff >= 0x3f800000)) continue;
            assertFalse(regions.gelu(hx[i], y + 64), "64 ulps away is outside");
            ++moved;
        }
        assertGt(moved, 20);
    }

    function test_gelu_tanhApproximation_isOutside() public {
        (uint32[24] memory tx, uint32[24] memory ty) = _tanh();
        for (uint256 i; i < tx.length; ++i) {
            assertFalse(regions.gelu(tx[i], ty[i]), "the tanh approximation is a different function");
        }
    }

    function test_gelu_nonFinite_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(NonFiniteInput.selector, uint32(0x7fc00000)));
        regions.gelu(0x7fc00000, 0);
        assertFalse(regions.gelu(0x3f800000, 0x7f800000), "an infinite output is outside");
    }

    /// erf(1/sqrt 2) = 0.682689492137086, erf(2/sqrt 2) = 0.954499736103642, erf(5/sqrt 2) = 0.999999426696856
    function test_erfBounds_knownValues_succeeds() public {
        uint32[3] memory x = [uint32(0x3f800000), 0x40000000, 0x40a00000];
        uint256[3] memory ref = [uint256(682689492137086), 954499736103642, 999999426696856];
        for (uint256 i; i < 3; ++i) {
            (Ext lo, Ext hi) = ActivationBound.erfBounds(x[i]);
            // ref * 1e-15 within [lo - 1e-15, hi + 1e-15]
            Ext r = LibExt.exact(ref[i], 0).div(LibExt.exact(1e15, 0), false);
            Ext tol = LibExt.exact(1, 0).div(LibExt.exact(1e15, 0), true);
            assertFalse(r.add(tol, true).lt(lo), "lower bound below erf");
            assertFalse(hi.add(tol, true).lt(r), "upper bound above erf");
            assertTrue(hi.sub(lo, true).lt(LibExt.exact(1, -50)), "bounds within 2^-50");
        }
    }

    function testFuzz_gelu_isMonotoneForPositiveInputs(uint32 a) public {
        // x in [0.5, 8): y = fl(gelu(x)) lies between x/2 and x, and 0 is outside
        uint32 x = 0x3f000000 + (a % 0x2000000);
        assertFalse(regions.gelu(x, 0), "zero is not gelu(x) for x >= 0.5");
        assertFalse(regions.gelu(x, x + 0x01000000), "4x is not gelu(x)");
    }

    function test_gas_gelu_succeeds() public {
        uint256 g = gasleft();
        regions.gelu(0x40400000, 0x403fe6bf);
        emit LogNamedUint256("Regions.gelu gas, x = 3", g - gasleft());
    }
}
