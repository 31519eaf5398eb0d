// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {TensorOpening, ChunkOpening, Loc} from "../src/lib/Types.sol";

/// @title Openings
/// @notice Real Merkle openings for the tests, built exactly as `nao::commit` builds them: fp32 little-endian
///         chunks of `TensorMerkle.CHUNK_ELEMS` elements, leaves padded with the empty leaf to a power of two,
///         the tensor root binding the shape. One place for every suite that opens tensors.
library Openings {
    uint256 internal constant CHUNK = TensorMerkle.CHUNK_ELEMS;

    /// @notice fp32 bits [from, to) as little-endian bytes.
    function le(uint32[] memory bits, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes((to - from) * 4);
        for (uint256 i = from; i < to; ++i) {
            for (uint256 b; b < 4; ++b) {
                out[(i - from) * 4 + b] = bytes1(uint8(bits[i] >> (8 * b)));
            }
        }
    }

    /// @notice Every element of `bits` as little-endian bytes.
    function le(uint32[] memory bits) internal pure returns (bytes memory) {
        return le(bits, 0, bits.length);
    }

    /// @notice The data of chunk `k` of `bits`.
    function chunkData(uint32[] memory bits, uint256 k) internal pure returns (bytes memory) {
        uint256 end = (k + 1) * CHUNK;
        return le(bits, k * CHUNK, end < bits.length ? end : bits.length);
    }

    /// @notice The leaves of every chunk of `bits`.
    function chunkLeaves(uint32[] memory bits) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[]((bits.length + CHUNK - 1) / CHUNK);
        for (uint256 k; k < leaves.length; ++k) {
            leaves[k] = TensorMerkle.leafHash(chunkData(bits, k));
        }
    }

    /// @notice `leaves` padded with the empty leaf to a power of two.
    function level0(bytes32[] memory leaves) internal pure returns (bytes32[] memory level) {
        level = new bytes32[](uint256(1) << TensorMerkle.depth(leaves.length));
        for (uint256 i; i < level.length; ++i) {
            level[i] = i < leaves.length ? leaves[i] : TensorMerkle.emptyLeaf();
        }
    }

    /// @notice The level above `level`.
    function up(bytes32[] memory level) internal pure returns (bytes32[] memory next) {
        next = new bytes32[](level.length / 2);
        for (uint256 i; i < next.length; ++i) {
            next[i] = TensorMerkle.nodeHash(level[2 * i], level[2 * i + 1]);
        }
    }

    /// @notice The root of the list `leaves`.
    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = level0(leaves);
        while (level.length > 1) {
            level = up(level);
        }
        return level[0];
    }

    /// @notice The proof of leaf `index` of the list `leaves`.
    function proofOf(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory level = level0(leaves);
        proof = new bytes32[](TensorMerkle.depth(leaves.length));
        for (uint256 d; d < proof.length; ++d) {
            proof[d] = level[index ^ 1];
            level = up(level);
            index >>= 1;
        }
    }

    /// @notice The leaf of a tensor in a list of tensor roots.
    function tensorLeaf(uint32[] memory bits, uint32[] memory shape) internal pure returns (bytes32) {
        bytes32 root = TensorMerkle.tensorRoot(merkleRoot(chunkLeaves(bits)), shape);
        return TensorMerkle.leafHash(abi.encodePacked(root));
    }

    /// @notice Chunks [first, first + count) of `bits` with their proofs (no root proof yet).
    function chunks(uint32[] memory bits, uint256 first, uint256 count) internal pure returns (TensorOpening memory t) {
        bytes32[] memory leaves = chunkLeaves(bits);
        t.dataRoot = merkleRoot(leaves);
        t.chunks = new ChunkOpening[](count);
        for (uint256 i; i < count; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            t.chunks[i] = ChunkOpening(uint32(first + i), chunkData(bits, first + i), proofOf(leaves, first + i));
        }
    }

    /// @notice Every chunk of `bits`.
    function whole(uint32[] memory bits) internal pure returns (TensorOpening memory) {
        return chunks(bits, 0, (bits.length + CHUNK - 1) / CHUNK);
    }

    /// @notice Chunks [first, first + count) of a tensor that is the only leaf of its own list, and its place.
    function alone(uint32[] memory bits, uint32[] memory shape, uint256 first, uint256 count)
        internal
        pure
        returns (TensorOpening memory t, Loc memory l)
    {
        t = chunks(bits, first, count);
        t.rootProof = new bytes32[](0);
        l = Loc(tensorLeaf(bits, shape), 0, 1);
    }

    /// @notice The shape [a, b].
    function shape2(uint32 a, uint32 b) internal pure returns (uint32[] memory s) {
        s = new uint32[](2);
        (s[0], s[1]) = (a, b);
    }
}
