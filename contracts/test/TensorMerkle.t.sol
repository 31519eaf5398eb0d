// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Harness} from "./Base.t.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {ProofDoesNotVerify, ProofLengthMismatch, LeafIndexOutOfRange, ElementNotOpened} from "../src/lib/Errors.sol";
import {TensorOpening, ChunkOpening} from "../src/lib/Types.sol";

contract TensorMerkleTest is PRBTest {
    Harness internal h;

    function setUp() public {
        h = new Harness();
    }

    /// Naive reference: the root of `leaves` padded with the empty leaf, level by level.
    function naiveRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 width = 1;
        while (width < leaves.length) width <<= 1;
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < width; ++i) {
            level[i] = i < leaves.length ? leaves[i] : TensorMerkle.emptyLeaf();
        }
        while (width > 1) {
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = TensorMerkle.nodeHash(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    function naiveProof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        uint256 width = 1;
        uint256 d;
        while (width < leaves.length) {
            width <<= 1;
            ++d;
        }
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < width; ++i) {
            level[i] = i < leaves.length ? leaves[i] : TensorMerkle.emptyLeaf();
        }
        proof = new bytes32[](d);
        for (uint256 l; l < d; ++l) {
            proof[l] = level[index ^ 1];
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = TensorMerkle.nodeHash(level[2 * i], level[2 * i + 1]);
            }
            index >>= 1;
        }
    }

    function test_emptyLeaf_isHashOfZeroByte_succeeds() public pure {
        assert(TensorMerkle.emptyLeaf() == sha256(hex"00"));
    }

    /// Fixed table: three leaves "a", "b", "c" (the same tree as the Rust unit test).
    function test_verify_threeLeafTable_succeeds() public {
        bytes32[] memory leaves = new bytes32[](3);
        leaves[0] = TensorMerkle.leafHash("a");
        leaves[1] = TensorMerkle.leafHash("b");
        leaves[2] = TensorMerkle.leafHash("c");
        bytes32 root = TensorMerkle.nodeHash(
            TensorMerkle.nodeHash(leaves[0], leaves[1]), TensorMerkle.nodeHash(leaves[2], TensorMerkle.emptyLeaf())
        );
        assertEq(naiveRoot(leaves), root);
        for (uint256 i; i < 3; ++i) {
            h.verify(root, leaves[i], i, 3, naiveProof(leaves, i));
        }
    }

    function testFuzz_verify_everyLeafOfRandomTrees_succeeds(uint8 count, uint256 seed) public {
        uint256 n = 1 + uint256(count) % 40;
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = TensorMerkle.leafHash(abi.encode(seed, i));
        }
        uint256 index = seed % n;
        h.verify(naiveRoot(leaves), leaves[index], index, n, naiveProof(leaves, index));
    }

    function test_verify_flippedByte_reverts() public {
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = TensorMerkle.leafHash(hex"00010203");
        leaves[1] = TensorMerkle.leafHash(hex"04050607");
        bytes32 root = naiveRoot(leaves);
        bytes32 flipped = TensorMerkle.leafHash(hex"00010303");
        bytes32 got = TensorMerkle.nodeHash(flipped, leaves[1]);
        bytes32[] memory proof = naiveProof(leaves, 0);
        // (hashes are precompile calls: compute everything before expectRevert)
        vm.expectRevert(abi.encodeWithSelector(ProofDoesNotVerify.selector, got, root));
        h.verify(root, flipped, 0, 2, proof);
    }

    function test_verify_wrongProofLength_reverts() public {
        bytes32[] memory leaves = new bytes32[](4);
        bytes32 root = naiveRoot(leaves);
        vm.expectRevert(abi.encodeWithSelector(ProofLengthMismatch.selector, 1, 2));
        h.verify(root, leaves[0], 0, 4, new bytes32[](1));
    }

    function test_verify_indexOutOfRange_reverts() public {
        bytes32[] memory leaves = new bytes32[](3);
        bytes32 root = naiveRoot(leaves);
        bytes32 empty = TensorMerkle.emptyLeaf();
        vm.expectRevert(abi.encodeWithSelector(LeafIndexOutOfRange.selector, 3, 3));
        h.verify(root, empty, 3, 3, new bytes32[](2));
    }

    function test_tensorRoot_bindsShape_succeeds() public pure {
        uint32[] memory a = new uint32[](2);
        a[0] = 2;
        a[1] = 3;
        uint32[] memory b = new uint32[](2);
        b[0] = 3;
        b[1] = 2;
        assert(TensorMerkle.tensorRoot(bytes32(0), a) != TensorMerkle.tensorRoot(bytes32(0), b));
        assert(
            TensorMerkle.tensorRoot(bytes32(0), a)
                == sha256(abi.encodePacked(hex"02", bytes32(0), uint32(2), uint32(2), uint32(3)))
        );
    }
}

/// @notice The element readers over a real calldata opening (proofs are not read by them).
contract OpeningReader {
    function elements(TensorOpening calldata t, uint256 start, uint256 n) external pure returns (uint32[] memory) {
        return TensorMerkle.elements(t, start, n);
    }

    function element(TensorOpening calldata t, uint256 g) external pure returns (uint32) {
        return TensorMerkle.element(t, g);
    }

    function packed(TensorOpening calldata t, uint256 start, uint256 n) external pure returns (bytes memory) {
        return TensorMerkle.packed(t, start, n);
    }

    function gathered(TensorOpening calldata t, uint256 start, uint256 step, uint256 n)
        external
        pure
        returns (bytes memory)
    {
        return TensorMerkle.gathered(t, start, step, n);
    }
}

/// @notice `packed` and `gathered` (the readers of long rows and columns) give exactly what `elements` and
///         `element` give, across chunk boundaries, and refuse what was not opened.
contract TensorMerkleReadersTest is PRBTest {
    OpeningReader internal r;

    function setUp() public {
        r = new OpeningReader();
    }

    /// Chunks 1 and 2 of a tensor of 2048 + tail elements, opened (chunk 2 the short last one when tail > 0).
    function _opening(uint256 seed, uint256 tail) internal pure returns (TensorOpening memory t) {
        t.chunks = new ChunkOpening[](2);
        for (uint256 c; c < 2; ++c) {
            uint256 len = c == 1 && tail != 0 ? tail * 4 : 4096;
            bytes memory d = new bytes(len);
            for (uint256 i; i < len; i += 32) {
                bytes32 word = keccak256(abi.encode(seed, c, i));
                for (uint256 b; b < 32 && i + b < len; ++b) {
                    d[i + b] = word[b];
                }
            }
            t.chunks[c] = ChunkOpening(uint32(1 + c), d, new bytes32[](0));
        }
    }

    /// `packed` and `elements` (built on it) both give what `element` reads, element by element.
    function testFuzz_packed_matchesElement_succeeds(uint256 seed, uint16 start, uint16 n, uint16 tail) public {
        uint256 tl = tail % 1024;
        TensorOpening memory t = _opening(seed, tl);
        uint256 end = 2048 + (tl == 0 ? 1024 : tl); // one past the last opened element
        uint256 s = 1024 + start % (end - 1024);
        uint256 k = n % 64 == 0 ? n % (end - s + 1) : (n % 64) % (end - s + 1);
        uint32[] memory words = r.elements(t, s, k);
        bytes memory got = r.packed(t, s, k);
        assertEq(got.length, 4 * k);
        assertEq(words.length, k);
        for (uint256 i; i < k; ++i) {
            uint256 v = uint256(uint8(got[4 * i])) << 24 | uint256(uint8(got[4 * i + 1])) << 16
                | uint256(uint8(got[4 * i + 2])) << 8 | uint256(uint8(got[4 * i + 3]));
            uint32 want = r.element(t, s + i);
            assertEq(v, want);
            assertEq(words[i], want);
        }
    }

    function testFuzz_gathered_matchesElement_succeeds(uint256 seed, uint16 start, uint8 step, uint8 n) public {
        TensorOpening memory t = _opening(seed, 0);
        uint256 st = 1 + step % 64;
        uint256 k = 1 + n % 32;
        uint256 s = 1024 + start % (2048 - (k - 1) * st);
        bytes memory got = r.gathered(t, s, st, k);
        assertEq(got.length, 4 * k);
        for (uint256 i; i < k; ++i) {
            uint256 v = uint256(uint8(got[4 * i])) << 24 | uint256(uint8(got[4 * i + 1])) << 16
                | uint256(uint8(got[4 * i + 2])) << 8 | uint256(uint8(got[4 * i + 3]));
            assertEq(v, r.element(t, s + i * st));
        }
    }

    function test_readers_unopenedElement_reverts() public {
        TensorOpening memory t = _opening(1, 0);
        vm.expectRevert(abi.encodeWithSelector(ElementNotOpened.selector, 1000));
        r.packed(t, 1000, 30);
        vm.expectRevert(abi.encodeWithSelector(ElementNotOpened.selector, 3072));
        r.element(t, 3072);
        vm.expectRevert(abi.encodeWithSelector(ElementNotOpened.selector, 1023));
        r.gathered(t, 1023, 1, 3);
    }
}
