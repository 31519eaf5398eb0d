//! Tensor roots: chunked SHA-256 over fp32 little-endian bytes, shape bound at the top.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::merkle::{leaf_hash, Hash, MerkleProof, MerkleTree};
use crate::{Error, Result};

/// Elements per chunk (one Merkle leaf).
pub const CHUNK_ELEMS: usize = 1024;
/// Bytes per chunk.
pub const CHUNK_BYTES: usize = CHUNK_ELEMS * 4;
/// Tensors of at least this many bytes (16 chunks) have their chunks hashed on every core
/// ([`TensorCommitment::new`]); below it, handing the chunks to other threads costs more than it saves.
pub const PARALLEL_MIN_BYTES: usize = 16 * CHUNK_BYTES;

#[cfg(not(target_endian = "little"))]
compile_error!("nao commits fp32 tensors as little-endian bytes and reads them in place");

/// `sha256(0x02 || data_root || u32be(rank) || u32be(dims)...)`.
pub fn tensor_root(data_root: &Hash, shape: &[usize]) -> Hash {
    let mut h = Sha256::new();
    h.update([2u8]);
    h.update(data_root);
    h.update((shape.len() as u32).to_be_bytes());
    for d in shape {
        h.update((*d as u32).to_be_bytes());
    }
    h.finalize().into()
}

/// The commitment of one tensor: its chunk tree and its root.
#[derive(Debug, Clone)]
pub struct TensorCommitment {
    shape: Vec<usize>,
    tree: MerkleTree,
    root: Hash,
}

/// One opened chunk: its index, its bytes, its proof against the data root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOpening {
    /// Chunk index.
    pub index: usize,
    /// The chunk's bytes (fp32 little-endian).
    pub data: Vec<u8>,
    /// Proof of the chunk's leaf under the data root.
    pub proof: MerkleProof,
}

/// Consecutive chunks of one tensor, with its data root (the proof of the tensor root in a list is added by
/// whoever knows the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorOpening {
    /// The tensor's data root.
    pub data_root: Hash,
    /// The chunks, consecutive.
    pub chunks: Vec<ChunkOpening>,
}

impl TensorCommitment {
    /// Commits `data` with `shape` (their sizes must agree). The chunks of a tensor of
    /// [`PARALLEL_MIN_BYTES`] or more are hashed on every core (rayon's pool, idle while the caller waits
    /// for the commitment): the root is the same, the wall time what one core takes over the cores.
    pub fn new(data: &[f32], shape: &[usize]) -> Self {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if bytes.len() < PARALLEL_MIN_BYTES {
            return Self::with_chunk_bytes(data, shape, CHUNK_BYTES);
        }
        Self::from_leaves(bytes.par_chunks(CHUNK_BYTES).map(leaf_hash).collect(), data, shape)
    }

    /// Commits on the calling thread alone, with leaves of `chunk_bytes` (for measurements: the protocol's
    /// leaf is [`CHUNK_BYTES`]; `nao bench` compares one core's commitment with one core's SHA-256).
    pub fn with_chunk_bytes(data: &[f32], shape: &[usize], chunk_bytes: usize) -> Self {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let leaves =
            if bytes.is_empty() { vec![leaf_hash(&[])] } else { bytes.chunks(chunk_bytes).map(leaf_hash).collect() };
        Self::from_leaves(leaves, data, shape)
    }

    fn from_leaves(leaves: Vec<Hash>, data: &[f32], shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        let tree = MerkleTree::from_leaf_hashes(leaves);
        let root = tensor_root(&tree.root(), shape);
        Self { shape: shape.to_vec(), tree, root }
    }

    /// The tensor root (data root + shape).
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The data root (chunks only).
    pub fn data_root(&self) -> Hash {
        self.tree.root()
    }

    /// The shape committed.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Opens the chunks covering elements `range` (flat, row-major) of `data`, the tensor committed.
    pub fn open(&self, data: &[f32], range: std::ops::Range<usize>) -> Result<TensorOpening> {
        if range.is_empty() || range.end > data.len() {
            return Err(Error::OutOfRange { what: "tensor element", index: range.end, len: data.len() });
        }
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let chunks = (range.start / CHUNK_ELEMS..=(range.end - 1) / CHUNK_ELEMS)
            .map(|i| {
                let lo = i * CHUNK_BYTES;
                let hi = (lo + CHUNK_BYTES).min(bytes.len());
                Ok(ChunkOpening { index: i, data: bytes[lo..hi].to_vec(), proof: self.tree.proof(i)? })
            })
            .collect::<Result<_>>()?;
        Ok(TensorOpening { data_root: self.data_root(), chunks })
    }
}

impl TensorOpening {
    /// Checks every chunk against the data root and that the data root with `shape` gives `root`.
    pub fn verify(&self, shape: &[usize], root: &Hash) -> Result<()> {
        let got = tensor_root(&self.data_root, shape);
        if &got != root {
            return Err(Error::Proof { got: hex::encode(got), expected: hex::encode(root) });
        }
        let numel: usize = shape.iter().product();
        let count = numel.div_ceil(CHUNK_ELEMS).max(1);
        for c in &self.chunks {
            c.proof.verify(leaf_hash(&c.data), count, &self.data_root)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_bound_into_the_root() {
        let data: Vec<f32> = (0..600).map(|i| i as f32).collect();
        let a = TensorCommitment::new(&data, &[2, 300]);
        let b = TensorCommitment::new(&data, &[300, 2]);
        assert_eq!(a.data_root(), b.data_root());
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn openings_verify_and_a_flipped_byte_is_rejected() {
        let n = 4 * CHUNK_ELEMS - 24; // four chunks, the last one short
        let data: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
        let c = TensorCommitment::new(&data, &[n / 8, 8]);
        let mut o = c.open(&data, CHUNK_ELEMS - 6..2 * CHUNK_ELEMS + 20).unwrap();
        assert_eq!(o.chunks.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(o.chunks[2].data.len(), CHUNK_BYTES);
        o.verify(&[n / 8, 8], &c.root()).unwrap();
        assert!(o.verify(&[8, n / 8], &c.root()).is_err());
        o.chunks[1].data[5] ^= 1;
        assert!(o.verify(&[n / 8, 8], &c.root()).is_err());
        let last = c.open(&data, n - 1..n).unwrap();
        assert_eq!(last.chunks[0].data.len(), (n - 3 * CHUNK_ELEMS) * 4);
    }

    #[test]
    fn hashing_on_every_core_gives_the_one_core_root() {
        // below, at and above the parallel threshold, with a short last chunk
        for n in [PARALLEL_MIN_BYTES / 4 - 1, PARALLEL_MIN_BYTES / 4, 40 * CHUNK_ELEMS + 7] {
            let data: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).cos()).collect();
            let one_core = TensorCommitment::with_chunk_bytes(&data, &[n], CHUNK_BYTES);
            let c = TensorCommitment::new(&data, &[n]);
            assert_eq!((c.root(), c.data_root()), (one_core.root(), one_core.data_root()), "{n} elements");
            c.open(&data, n - 2..n).unwrap().verify(&[n], &one_core.root()).unwrap();
        }
    }
}
