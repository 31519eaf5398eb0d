// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Position, LibPosition} from "../src/lib/Position.sol";

contract PositionTest is PRBTest {
    /// The table of the NatSpec picture: k = 3, S = 7.
    function test_range_tableK3S7_succeeds() public {
        assertEq(LibPosition.leafDepth(3, 7), 2);
        uint256[2][7] memory want = [
            [uint256(0), 7],
            [uint256(0), 3],
            [uint256(3), 6],
            [uint256(6), 7],
            [uint256(0), 1],
            [uint256(6), 7],
            [uint256(7), 7]
        ];
        uint64[7] memory pos = [uint64(1), 3, 4, 5, 9, 15, 16];
        for (uint256 i; i < 7; ++i) {
            (uint256 lo, uint256 hi) = Position.wrap(pos[i]).range(3, 7);
            assertEq(lo, want[i][0]);
            assertEq(hi, want[i][1]);
        }
        assertEq(Position.wrap(16).depth(3), 2);
        assertEq(Position.wrap(16).index(3), 7);
        assertEq(Position.unwrap(LibPosition.node(3, 2, 6)), 15);
        // k = 3, S = 11: node 4 = [9, 11] fits in its first child [9, 12) -> descends to 12 (depth 2)
        assertEq(Position.unwrap(Position.wrap(4).skipSingleChild(3, 11)), 12);
        assertEq(Position.unwrap(Position.wrap(3).skipSingleChild(3, 11)), 3);
    }

    /// Against a naive reference: a node reached by a path of children has the depth and index of that path,
    /// its children's ranges tile its range, and a full path ends at one segment.
    function testFuzz_child_pathsTileRanges_succeeds(uint8 kSeed, uint16 sSeed, uint256 path) public {
        uint256 k = 2 + kSeed % 15;
        uint256 s = 1 + sSeed % 600;
        uint256 dLeaf = LibPosition.leafDepth(k, s);
        assertTrue(LibPosition.pow(k, dLeaf) >= s && (dLeaf == 0 || LibPosition.pow(k, dLeaf - 1) < s));
        Position p = LibPosition.root();
        uint256 index;
        for (uint256 d; d < dLeaf; ++d) {
            (uint256 lo, uint256 hi) = p.range(k, s);
            uint256 next = hi;
            uint256 nonEmpty;
            for (uint256 j; j < k; ++j) {
                (uint256 clo, uint256 chi) = p.child(k, j).range(k, s);
                if (clo >= s) continue; // empty
                ++nonEmpty;
                assertEq(clo, j == 0 ? lo : next); // tiles: starts where the previous child ended
                next = chi;
            }
            assertEq(next, hi);
            uint256 j = (path % k) % nonEmpty;
            path /= k;
            p = p.child(k, j);
            index = index * k + j;
            assertEq(p.depth(k), d + 1);
            assertEq(p.index(k), index);
            // skipping single children keeps the range and leaves a node with at least two non-empty children
            Position q = p.skipSingleChild(k, s);
            (uint256 plo, uint256 phi) = p.range(k, s);
            (uint256 qlo, uint256 qhi) = q.range(k, s);
            assertEq(qlo, plo);
            assertEq(qhi, phi);
            if (qhi - qlo > 1) {
                uint256 w = LibPosition.pow(k, dLeaf - q.depth(k) - 1);
                assertGt(qhi - qlo, w);
            }
        }
        (uint256 leafLo, uint256 leafHi) = p.range(k, s);
        assertEq(leafHi - leafLo, 1);
        assertEq(leafLo, index);
        assertEq(Position.unwrap(p), Position.unwrap(LibPosition.node(k, dLeaf, index)));
    }
}
