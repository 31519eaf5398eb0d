//! Commitments, identical to `contracts/src/lib/TensorMerkle.sol`.
//!
//! ```text
//! leaf(data) = sha256(0x00 || data)        node(l, r) = sha256(0x01 || l || r)        empty = sha256(0x00)
//! tensor root = sha256(0x02 || data root || u32be(rank) || u32be(dim)...)
//! ```
//! A tensor's data root is the Merkle root over 1024-element (4 KiB) chunks of its fp32 little-endian bytes;
//! the trace root, weights root and graph root are Merkle roots over lists of tensor roots or descriptors.

mod merkle;
mod tensor;

pub use merkle::{leaf_hash, node_hash, Hash, MerkleProof, MerkleTree};
pub use tensor::{tensor_root, ChunkOpening, TensorCommitment, TensorOpening, CHUNK_BYTES, CHUNK_ELEMS};
