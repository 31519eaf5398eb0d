// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Regions} from "../src/Regions.sol";
import {NonFiniteInput} from "../src/lib/Errors.sol";

/// @notice Llama 3's scaled rope on-chain (`RopeBound.within` with a frequency factor, through `Regions.rope`): one
///         row of 8 (base 10,000) with the factors llama.cpp's converter writes for factor 8, low 1, high 4 and an
///         original context of 64 (pair 0 kept, pair 1 in the band: 7.667..., pairs 2 and 3 slowed 8 times), at
///         positions 3, 1000 and 8191. Vectors generated with python3: the rotation in double, rounded once to
///         fp32; moved outputs are y + 0.05 (|y| + 1).
contract RopeTest is PRBTest {
    Regions internal regions = new Regions();

    uint32 internal constant THETA = 0x461c4000; // 10000
    uint32 internal constant ONE = 0x3f800000;
    uint32[4] internal factors = [uint32(0x3f800000), 0x40f55b38, 0x41000000, 0x41000000];
    uint32[3] internal positions = [uint32(3), 1000, 8191];

    function _x() internal pure returns (uint32[] memory x) {
        uint32[8] memory v =
            [uint32(0xbf874be3), 0xc00612ec, 0x3f67d5da, 0xc0242f39, 0x3e5c7583, 0xbf4e4d44, 0xc029ba79, 0x3d36bd97];
        x = new uint32[](8);
        for (uint256 i; i < 8; ++i) {
            x[i] = v[i];
        }
    }

    /// @dev Row i: the scaled rope at positions[i / 3] (i % 3: 0 honest, 1 moved, 2 the unscaled rotation).
    function _y(uint256 i) internal pure returns (uint32[8] memory) {
        uint32[8][9] memory ys = [
            [uint32(0x3f820db6), 0xc003f42e, 0x3f6a6131, 0xc0242f7e, 0xbeb97f9f, 0xbf631f41, 0xc0298287, 0x3d32ccd6],
            [uint32(0x3f8ef4cc), 0xbff44ff1, 0x3f817307, 0xc018c6b8, 0xbe969fa4, 0xbf4af74b, 0xc01dd59a, 0x3dc44524],
            [uint32(0x3f820db6), 0xbfe1b030, 0x3f7c186c, 0xc024313a, 0xbeb97f9f, 0xbfb1c974, 0xc027e9dd, 0x3d173766],
            [uint32(0xbf45bfc0), 0xbfbf18de, 0x4033586a, 0xc023426a, 0xbf40c098, 0xbfd688f3, 0x3cbdcf27, 0xbe8d17c7],
            [uint32(0xbf2f0fc3), 0xbfaf246c, 0x403f833c, 0xc017e57e, 0xbf2a5090, 0xbfc56880, 0x3d983994, 0xbe58e060],
            [uint32(0xbf45bfc0), 0xc00dbb02, 0xc00cf7ab, 0xbfb6394d, 0xbf40c098, 0x3ebb53d6, 0x3fddc453, 0xc0089d1d],
            [uint32(0x3f58f62a), 0xc0054970, 0xc0233103, 0xbfafa633, 0x3f2ad6aa, 0xbf564e71, 0x3f94cd52, 0xc00abff8],
            [uint32(0x3f709c12), 0xbff6d855, 0xc017d4f6, 0xbfa0777d, 0x3f402e32, 0xbf3eca85, 0x3fa2a463, 0xc0009cc5],
            [uint32(0x3f58f62a), 0x3ffdb4cf, 0x3fbdd335, 0x3f4e6346, 0x3f2ad6aa, 0xbf86d1fa, 0xc0182dee, 0xc01be475]
        ];
        return ys[i];
    }

    /// @notice Every honest element is inside with its pair's factor; every moved one is outside.
    function test_scaledRopeHoldsTheHonestRowAndNotAMovedOne() public {
        uint32[] memory x = _x();
        for (uint256 i; i < 3; ++i) {
            (uint32[8] memory honest, uint32[8] memory moved) = (_y(3 * i), _y(3 * i + 1));
            for (uint256 j; j < 8; ++j) {
                uint32 f = factors[j % 4];
                assertTrue(regions.rope(x, j, positions[i], THETA, f, honest[j]), "honest element inside");
                assertFalse(regions.rope(x, j, positions[i], THETA, f, moved[j]), "moved element outside");
            }
        }
    }

    /// @notice The unscaled rotation is outside the scaled region at long positions wherever the factor is not 1
    ///         (pairs 1-3), and inside where it is (pair 0); with factor 1 it is the plain rope's region.
    function test_theUnscaledRotationIsOutsideWhereTheFactorIsNotOne() public {
        uint32[] memory x = _x();
        for (uint256 i = 1; i < 3; ++i) {
            uint32[8] memory plain = _y(3 * i + 2);
            for (uint256 j; j < 8; ++j) {
                uint32 f = factors[j % 4];
                assertEq(regions.rope(x, j, positions[i], THETA, f, plain[j]), f == ONE, "scaled region");
                assertTrue(regions.rope(x, j, positions[i], THETA, ONE, plain[j]), "plain region");
            }
        }
    }

    /// @notice A factor below 1 (the contract takes its logarithm) reverts, naming it.
    function test_aFactorBelowOneReverts() public {
        uint32[] memory x = _x();
        vm.expectRevert(abi.encodeWithSelector(NonFiniteInput.selector, uint32(0x3f000000)));
        regions.rope(x, 1, 1000, THETA, 0x3f000000, 0);
    }

    /// @notice A factor of 2^60 stops the rotation at any position below 2^24: the input row itself is inside,
    ///         and a moved input outside.
    function testFuzz_aHugeFactorStopsTheRotation(uint24 p, uint8 jj) public {
        uint32[] memory x = _x();
        uint256 j = jj % 8;
        uint32[8] memory moved =
            [uint32(0xbf744362), 0xbff85727, 0x3f801d12, 0xc018c676, 0x3e8d574b, 0xbf372fcd, 0xc01e0ac0, 0x3dc656bc];
        uint32 huge = 0x5d800000; // 2^60
        assertTrue(regions.rope(x, j, p, THETA, huge, x[j]), "unrotated");
        assertFalse(regions.rope(x, j, p, THETA, huge, moved[j]), "moved");
    }
}
