// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Template} from "../src/lib/Template.sol";
import {Patch} from "../src/lib/Types.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {BadLengths, BadPatch} from "../src/lib/Errors.sol";

/// @dev External entry points, so reverts can be expected.
contract TemplateHarness {
    function count(uint32[3] memory piece, uint32 steps) external pure returns (uint256) {
        return Template.count(piece, steps);
    }

    function checkLengths(uint32[3] memory piece, uint32 context, uint32 prompt, uint32 steps) external pure {
        Template.checkLengths(piece, context, prompt, steps);
    }

    function locate(uint32[3] memory piece, uint32 steps, uint256 i) external pure returns (uint256, uint256, uint256) {
        return Template.locate(piece, steps, i);
    }

    function leafHash(bytes memory concrete, Patch[] memory patches, uint256 prompt, uint256 step, uint256 refStep)
        external
        pure
        returns (bytes32)
    {
        return Template.leafHash(concrete, patches, prompt, step, refStep);
    }
}

contract TemplateTest is PRBTest {
    TemplateHarness internal h = new TemplateHarness();

    event log_named_uint(string key, uint256 val);

    function pieces() internal pure returns (uint32[3] memory) {
        return [uint32(10), 12, 11];
    }

    function test_count_addsPiecesPerStep_succeeds() public {
        assertEq(h.count(pieces(), 1), 10);
        assertEq(h.count(pieces(), 2), 22);
        assertEq(h.count(pieces(), 5), 55);
        assertEq(h.count([uint32(181), 0, 0], 1), 181, "a model that does not generate");
    }

    function test_locate_mapsConcreteToTemplate_succeeds() public {
        uint256[3][8] memory want = [
            [uint256(0), 0, 0],
            [uint256(9), 0, 0],
            [uint256(10), 1, 1],
            [uint256(21), 1, 1],
            [uint256(22), 2, 2],
            [uint256(32), 2, 2],
            [uint256(22), 3, 2],
            [uint256(32), 4, 2]
        ];
        uint256[8] memory at = [uint256(0), 9, 10, 21, 22, 32, 33, 54];
        for (uint256 i; i < 8; ++i) {
            (uint256 index, uint256 step, uint256 refStep) = h.locate(pieces(), 5, at[i]);
            assertEq(index, want[i][0], "template index");
            assertEq(step, want[i][1], "step");
            assertEq(refStep, want[i][2], "reference step");
        }
    }

    function test_checkLengths_inContext_succeeds() public {
        h.checkLengths(pieces(), 8192, 1, 1);
        h.checkLengths(pieces(), 8192, 8000, 193);
        h.checkLengths([uint32(181), 0, 0], 512, 512, 1);
    }

    function test_checkLengths_outside_reverts() public {
        uint32[4][5] memory bad = [
            [uint32(0), 1, 8192, 0],
            [uint32(1), 0, 8192, 0],
            [uint32(8000), 194, 8192, 0],
            [uint32(2), 2, 512, 1],
            [uint32(513), 1, 512, 1]
        ];
        for (uint256 i; i < bad.length; ++i) {
            uint32[3] memory piece = bad[i][3] == 1 ? [uint32(181), 0, 0] : pieces();
            vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, bad[i][0], bad[i][1], bad[i][2]));
            h.checkLengths(piece, bad[i][2], bad[i][0], bad[i][1]);
        }
    }

    function templateLeaf() internal pure returns (bytes memory) {
        // four words: a kind, a row count, a column count, an offset
        return abi.encode(uint256(20), uint256(9), uint256(64), uint256(3));
    }

    function patches() internal pure returns (Patch[] memory p) {
        p = new Patch[](2);
        p[0] = Patch(1, 3, 0); // rows = 9 + 3 (P - 1)
        p[1] = Patch(3, 1, 1); // offset = 3 + (P - 1) + (s - k)
    }

    function test_leafHash_noPatches_isThePlainLeaf_succeeds() public {
        bytes memory leaf = templateLeaf();
        assertEq(h.leafHash(leaf, new Patch[](0), 7, 5, 2), TensorMerkle.leafHash(leaf));
    }

    function test_leafHash_concreteFollowsFromTheTemplate_succeeds() public {
        bytes32 want = TensorMerkle.leafHash(abi.encode(templateLeaf(), patches()));
        // P = 5, step 7 of piece 2 (reference step 2)
        bytes memory concrete = abi.encode(uint256(20), uint256(9 + 3 * 4), uint256(64), uint256(3 + 4 + 5));
        assertEq(h.leafHash(concrete, patches(), 5, 7, 2), want);
        // at the reference lengths the concrete leaf is the template's
        assertEq(h.leafHash(templateLeaf(), patches(), 1, 2, 2), want);
        // another value, or the same value claimed at other lengths, is another leaf
        bytes memory wrong = abi.encode(uint256(20), uint256(9 + 3 * 4), uint256(64), uint256(3 + 4 + 6));
        assertTrue(h.leafHash(wrong, patches(), 5, 7, 2) != want);
        assertTrue(h.leafHash(concrete, patches(), 6, 7, 2) != want);
        // a word no patch names must stay as registered
        bytes memory cols = abi.encode(uint256(20), uint256(9 + 3 * 4), uint256(65), uint256(3 + 4 + 5));
        assertTrue(h.leafHash(cols, patches(), 5, 7, 2) != want);
    }

    function test_leafHash_badPatches_reverts() public {
        Patch[] memory p = patches();
        p[1].word = 4; // past the leaf's four words
        vm.expectRevert(abi.encodeWithSelector(BadPatch.selector, 1, 4));
        h.leafHash(templateLeaf(), p, 1, 0, 0);
        p[1].word = 1; // the same word twice
        vm.expectRevert(abi.encodeWithSelector(BadPatch.selector, 1, 1));
        h.leafHash(templateLeaf(), p, 1, 0, 0);
    }

    /// What deriving a template leaf costs where a game opens a node: a 16-word leaf (an OpNode with params) with
    /// 2 patched words (SmolLM2's patched leaves average 1.6) against hashing the same leaf plainly.
    function test_leafHash_patchCost_succeeds() public {
        bytes memory leaf = new bytes(16 * 32);
        Patch[] memory p = new Patch[](2);
        p[0] = Patch(4, 1, 0);
        p[1] = Patch(9, 0, 1);
        uint256 g = gasleft();
        Template.leafHash(leaf, new Patch[](0), 5, 7, 2);
        uint256 plain = g - gasleft();
        g = gasleft();
        Template.leafHash(leaf, p, 5, 7, 2);
        uint256 patched = g - gasleft();
        emit log_named_uint("plain leaf hash (gas)", plain);
        emit log_named_uint("patched leaf hash (gas)", patched);
        assertLt(patched - plain, 5000, "deriving a template leaf stays a few thousand gas");
    }

    /// Any lengths and coefficients: the concrete leaf built forward hashes back to the template leaf.
    function testFuzz_leafHash_roundTrip_succeeds(
        uint16 prompt,
        uint16 step,
        int16 perToken,
        int16 perStep,
        uint32 base
    ) public {
        prompt = uint16(1 + uint256(prompt) % 8192);
        step = uint16(2 + uint256(step) % 299);
        Patch[] memory p = new Patch[](1);
        p[0] = Patch(2, perToken, perStep);
        int256 value = int256(uint256(base)) + int256(perToken) * (int256(uint256(prompt)) - 1) + int256(perStep)
            * (int256(uint256(step)) - 2);
        vm.assume(value >= 0);
        bytes memory ref = abi.encode(uint256(1), uint256(2), uint256(base));
        bytes memory concrete = abi.encode(uint256(1), uint256(2), uint256(value));
        assertEq(h.leafHash(concrete, p, prompt, step, 2), TensorMerkle.leafHash(abi.encode(ref, p)));
    }
}
