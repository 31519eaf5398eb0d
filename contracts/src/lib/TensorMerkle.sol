// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {
    ProofLengthMismatch,
    LeafIndexOutOfRange,
    ProofDoesNotVerify,
    ChunkLengthMismatch,
    ElementNotOpened
} from "./Errors.sol";
import {TensorOpening} from "./Types.sol";

/// @title TensorMerkle
/// @notice SHA-256 Merkle commitments, identical to `nao::commit` in Rust.
/// @dev
///   leaf(data)   = sha256(0x00 || data)
///   node(l, r)   = sha256(0x01 || l || r)
///   empty leaf   = sha256(0x00)                       (pads the leaf count to a power of two)
///
///            root                 depth = ceil(log2(leafCount)); a proof has exactly `depth` siblings,
///          /      \               listed from the leaf upwards; bit i of the leaf index says whether
///        n01       n23            the running hash is the right (1) or left (0) child at level i.
///       /  \      /   \
///     l0    l1  l2    empty
///
///   A tensor (fp32, little-endian, row-major) is cut into chunks of 1024 elements (4 KiB; the last chunk
///   may be shorter) whose leaves form the data root; the tensor root binds the shape on top:
///     tensorRoot = sha256(0x02 || dataRoot || uint32be(rank) || uint32be(dim_0) || ...)
///   Lists of roots (trace root, weights root) and of op descriptors (graph root) are the same trees
///   with a 32-byte root or the ABI-encoded descriptor as leaf data.
library TensorMerkle {
    /// @notice Elements per chunk.
    uint256 internal constant CHUNK_ELEMS = 1024;
    /// @notice Bytes per chunk.
    uint256 internal constant CHUNK_BYTES = 4096;

    /// @notice Hash of a leaf's data.
    function leafHash(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @notice Hash of an inner node.
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice The padding leaf.
    function emptyLeaf() internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00)));
    }

    /// @notice Depth of a tree over `leafCount` leaves (0 for a single leaf).
    function depth(uint256 leafCount) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < leafCount) ++d;
    }

    /// @notice Root reached from `leaf` at `index` with `proof`; checks index and proof length.
    function rootFrom(bytes32 leaf, uint256 index, uint256 leafCount, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 h)
    {
        // INVARIANT: only real leaves can be opened, and a proof climbs exactly to the root's level.
        if (index >= leafCount) revert LeafIndexOutOfRange(index, leafCount);
        uint256 d = depth(leafCount);
        if (proof.length != d) revert ProofLengthMismatch(proof.length, d);
        h = leaf;
        for (uint256 i; i < d; ++i) {
            h = ((index >> i) & 1) == 1 ? nodeHash(proof[i], h) : nodeHash(h, proof[i]);
        }
    }

    /// @notice Reverts unless `leaf` sits at `index` of the tree with root `root`.
    function verify(bytes32 root, bytes32 leaf, uint256 index, uint256 leafCount, bytes32[] calldata proof)
        internal
        pure
    {
        bytes32 got = rootFrom(leaf, index, leafCount, proof);
        // INVARIANT: an opened leaf is committed under the root.
        if (got != root) revert ProofDoesNotVerify(got, root);
    }

    /// @notice Root of the list whose leaf hashes are `leaves` (padded with empty leaves to a power of two), as
    ///         Rust's `MerkleTree::from_leaf_hashes` computes it; `leaves` is overwritten.
    /// @dev Hashed in place, level by level; each preimage (0x01 || left || right) is written past the free memory
    ///      pointer and hashed by the SHA-256 precompile, so memory does not grow per hash.
    function listRoot(bytes32[] memory leaves) internal view returns (bytes32 root) {
        uint256 n = leaves.length;
        uint256 width = uint256(1) << depth(n);
        bytes32 empty = emptyLeaf();
        assembly ("memory-safe") {
            let buf := mload(0x40)
            let data := add(leaves, 0x20)
            for {} gt(width, 1) {} {
                width := shr(1, width)
                for { let i := 0 } lt(i, width) { i := add(i, 1) } {
                    let l := empty
                    let r := empty
                    if lt(shl(1, i), n) { l := mload(add(data, shl(6, i))) }
                    if lt(add(shl(1, i), 1), n) { r := mload(add(data, add(shl(6, i), 0x20))) }
                    mstore8(buf, 1)
                    mstore(add(buf, 1), l)
                    mstore(add(buf, 0x21), r)
                    if iszero(staticcall(gas(), 2, buf, 65, 0x00, 0x20)) { revert(0, 0) }
                    mstore(add(data, shl(5, i)), mload(0x00))
                }
                n := width
            }
            root := mload(data)
        }
    }

    /// @notice Root of a tensor from its data root and shape.
    function tensorRoot(bytes32 dataRoot, uint32[] memory shape) internal pure returns (bytes32) {
        bytes memory enc = abi.encodePacked(bytes1(0x02), dataRoot, uint32(shape.length));
        for (uint256 i; i < shape.length; ++i) {
            enc = abi.encodePacked(enc, shape[i]);
        }
        return sha256(enc);
    }

    /// @notice Number of chunks of a tensor of `numel` elements.
    function chunkCount(uint256 numel) internal pure returns (uint256) {
        return (numel + CHUNK_ELEMS - 1) / CHUNK_ELEMS;
    }

    /// @notice Verifies a tensor opening: every chunk under the data root, consecutive, of the right length,
    ///         and the tensor root (data root + `shape`) at `listIndex` of the list with root `list`.
    function verifyOpening(
        TensorOpening calldata t,
        uint32[] memory shape,
        bytes32 list,
        uint256 listIndex,
        uint256 listCount
    ) internal pure {
        bytes32 root = tensorRoot(t.dataRoot, shape);
        verify(list, leafHash(abi.encodePacked(root)), listIndex, listCount, t.rootProof);
        uint256 numel = 1;
        for (uint256 i; i < shape.length; ++i) {
            numel *= shape[i];
        }
        uint256 chunks = chunkCount(numel);
        for (uint256 i; i < t.chunks.length; ++i) {
            uint256 idx = t.chunks[i].index;
            // INVARIANT: the opened chunks are consecutive, so element lookups are plain offsets.
            if (i > 0 && idx != uint256(t.chunks[0].index) + i) revert ElementNotOpened(idx * CHUNK_ELEMS);
            if (idx >= chunks) revert LeafIndexOutOfRange(idx, chunks);
            uint256 want = idx + 1 < chunks ? CHUNK_BYTES : (numel - idx * CHUNK_ELEMS) * 4;
            // INVARIANT: a chunk is exactly the bytes committed, no padding, no truncation.
            if (t.chunks[i].data.length != want) revert ChunkLengthMismatch(idx, t.chunks[i].data.length, want);
            verify(t.dataRoot, leafHash(t.chunks[i].data), idx, chunks, t.chunks[i].proof);
        }
    }

    /// @notice The fp32 bits of element `g` (flat row-major index) from a verified opening.
    function element(TensorOpening calldata t, uint256 g) internal pure returns (uint32 bits) {
        uint256 ci = g / CHUNK_ELEMS;
        // INVARIANT: every element read lies in an opened (and verified) chunk.
        if (t.chunks.length == 0 || ci < t.chunks[0].index || ci - t.chunks[0].index >= t.chunks.length) {
            revert ElementNotOpened(g);
        }
        bytes calldata d = t.chunks[ci - t.chunks[0].index].data;
        uint256 j = g % CHUNK_ELEMS;
        if (j * 4 + 4 > d.length) revert ElementNotOpened(g);
        uint256 v;
        assembly {
            v := shr(224, calldataload(add(d.offset, mul(j, 4))))
        }
        // little-endian bytes -> uint32
        // forge-lint: disable-next-line(unsafe-typecast)
        bits = uint32(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24)); // v < 2^32
    }

    /// @notice Elements start, start + step, ..., start + (n - 1) step from a verified opening, packed as by
    ///         `packed` (a column of a row-major matrix).
    function gathered(TensorOpening calldata t, uint256 start, uint256 step, uint256 n)
        internal
        pure
        returns (bytes memory out)
    {
        out = new bytes(n * 4);
        for (uint256 j; j < n; ++j) {
            uint256 v = element(t, start + j * step);
            assembly {
                let p := add(add(out, 0x20), mul(j, 4))
                mstore(p, or(shl(224, v), and(mload(p), 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffff)))
            }
        }
    }

    /// @notice Elements [start, start + n) from a verified opening (consecutive chunks), packed: element i is
    ///         the big-endian uint32 at bytes [4 i, 4 i + 4) of `out`. Copied chunk by chunk and byte-swapped
    ///         eight elements at a time: the cheap way to read a long row (`SoundBound.withinPacked`).
    function packed(TensorOpening calldata t, uint256 start, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n * 4);
        if (n == 0) return out;
        uint256 first = start / CHUNK_ELEMS;
        uint256 last = (start + n - 1) / CHUNK_ELEMS;
        // INVARIANT: every element read lies in an opened (and verified) chunk.
        if (t.chunks.length == 0 || first < t.chunks[0].index || last - t.chunks[0].index >= t.chunks.length) {
            revert ElementNotOpened(start);
        }
        uint256 dst;
        assembly {
            dst := add(out, 0x20)
        }
        for (uint256 ci = first; ci <= last; ++ci) {
            bytes calldata d = t.chunks[ci - t.chunks[0].index].data;
            uint256 lo = ci == first ? start % CHUNK_ELEMS : 0;
            uint256 hi = ci == last ? (start + n - 1) % CHUNK_ELEMS + 1 : CHUNK_ELEMS;
            if (hi * 4 > d.length) revert ElementNotOpened(ci * CHUNK_ELEMS + hi - 1);
            assembly {
                calldatacopy(dst, add(d.offset, mul(lo, 4)), mul(sub(hi, lo), 4))
                dst := add(dst, mul(sub(hi, lo), 4))
            }
        }
        // little-endian -> big-endian in every 4-byte lane (the bytes past the end are zero: new bytes is zeroed)
        assembly {
            let p := add(out, 0x20)
            for { let e := add(p, mul(n, 4)) } lt(p, e) { p := add(p, 0x20) } {
                let v := mload(p)
                v := or(
                    shr(8, and(v, 0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00)),
                    shl(8, and(v, 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff))
                )
                v := or(
                    shr(16, and(v, 0xffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000)),
                    shl(16, and(v, 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff))
                )
                mstore(p, v)
            }
        }
    }

    /// @notice The fp32 bits of elements [start, start + n) from a verified opening (consecutive chunks), one per
    ///         word (`packed`, spread out).
    function elements(TensorOpening calldata t, uint256 start, uint256 n) internal pure returns (uint32[] memory out) {
        bytes memory p = packed(t, start, n);
        out = new uint32[](n);
        assembly {
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(out, mul(add(i, 1), 0x20)), shr(224, mload(add(add(p, 0x20), mul(i, 4)))))
            }
        }
    }
}
