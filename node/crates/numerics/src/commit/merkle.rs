//! Binary SHA-256 Merkle trees with domain-separated leaves and nodes.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A 32-byte SHA-256 digest.
pub type Hash = [u8; 32];

/// `sha256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    // Short data (list leaves: 32-byte roots) is hashed from one small buffer. Longer data is streamed: after
    // the prefix byte fills the first block, SHA-256 compresses whole blocks straight from `data`; copying a
    // 4 KiB chunk behind the prefix first (into a zeroed buffer) made leaf hashing ~10% slower (`nao bench`
    // hash_vs_limit; docs/BENCHMARKS.md, Profile).
    if data.len() < 64 {
        let mut buf = [0u8; 64];
        buf[1..=data.len()].copy_from_slice(data);
        return Sha256::digest(&buf[..=data.len()]).into();
    }
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `sha256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// A Merkle tree kept whole (every level), so proofs are lookups.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// levels[0] are the (padded) leaf hashes, the last level is `[root]`.
    levels: Vec<Vec<Hash>>,
    leaf_count: usize,
}

/// The siblings of one leaf, from the leaf upwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleProof {
    /// Index of the leaf.
    pub index: usize,
    /// Sibling hashes, leaf level first.
    pub siblings: Vec<Hash>,
}

impl MerkleTree {
    /// Builds the tree over already-hashed leaves (at least one).
    pub fn from_leaf_hashes(mut leaves: Vec<Hash>) -> Self {
        let leaf_count = leaves.len().max(1);
        let width = leaf_count.next_power_of_two();
        leaves.resize(width, leaf_hash(&[]));
        // Padding subtrees are all alike: their hash per level is computed once, not once per subtree.
        let mut zero = leaf_hash(&[]);
        let mut levels = vec![leaves];
        while levels.last().expect("non-empty").len() > 1 {
            let z = zero;
            let zz = node_hash(&z, &z);
            let next = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|p| if p[0] == z && p[1] == z { zz } else { node_hash(&p[0], &p[1]) })
                .collect();
            zero = zz;
            levels.push(next);
        }
        Self { levels, leaf_count }
    }

    /// Builds the tree over raw leaf data.
    pub fn from_leaves<T: AsRef<[u8]>>(leaves: &[T]) -> Self {
        Self::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l.as_ref())).collect())
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.levels.last().expect("non-empty")[0]
    }

    /// Number of real (unpadded) leaves.
    pub fn leaf_count(&self) -> usize {
        self.leaf_count
    }

    /// The proof of leaf `index`.
    pub fn proof(&self, index: usize) -> Result<MerkleProof> {
        if index >= self.leaf_count {
            return Err(Error::OutOfRange { what: "leaf", index, len: self.leaf_count });
        }
        let siblings = self.levels[..self.levels.len() - 1]
            .iter()
            .enumerate()
            .map(|(level, hashes)| hashes[(index >> level) ^ 1])
            .collect();
        Ok(MerkleProof { index, siblings })
    }
}

/// Depth of a tree over `leaf_count` leaves.
pub fn depth(leaf_count: usize) -> usize {
    leaf_count.max(1).next_power_of_two().trailing_zeros() as usize
}

impl MerkleProof {
    /// The root this proof reaches from `leaf` (a leaf hash), checking the index and the proof length.
    pub fn root_from(&self, leaf: Hash, leaf_count: usize) -> Result<Hash> {
        if self.index >= leaf_count {
            return Err(Error::OutOfRange { what: "leaf", index: self.index, len: leaf_count });
        }
        if self.siblings.len() != depth(leaf_count) {
            return Err(Error::OutOfRange { what: "proof length", index: self.siblings.len(), len: depth(leaf_count) });
        }
        Ok(self.siblings.iter().enumerate().fold(leaf, |h, (level, s)| {
            if (self.index >> level) & 1 == 1 {
                node_hash(s, &h)
            } else {
                node_hash(&h, s)
            }
        }))
    }

    /// Checks that `leaf` (a leaf hash) sits at this proof's index under `root`.
    pub fn verify(&self, leaf: Hash, leaf_count: usize, root: &Hash) -> Result<()> {
        let got = self.root_from(leaf, leaf_count)?;
        if &got != root {
            return Err(Error::Proof { got: hex::encode(got), expected: hex::encode(root) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_leaf_root_is_the_leaf_and_needs_no_siblings() {
        let t = MerkleTree::from_leaves(&[b"a"]);
        assert_eq!(t.root(), leaf_hash(b"a"));
        assert!(t.proof(0).unwrap().siblings.is_empty());
    }

    #[test]
    fn three_leaves_pad_with_the_empty_leaf() {
        let t = MerkleTree::from_leaves(&[b"a", b"b", b"c"]);
        let want =
            node_hash(&node_hash(&leaf_hash(b"a"), &leaf_hash(b"b")), &node_hash(&leaf_hash(b"c"), &leaf_hash(b"")));
        assert_eq!(t.root(), want);
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_leaf_does_not() {
        let leaves: Vec<Vec<u8>> = (0..13u8).map(|i| vec![i; 7]).collect();
        let t = MerkleTree::from_leaves(&leaves);
        for (i, l) in leaves.iter().enumerate() {
            let p = t.proof(i).unwrap();
            p.verify(leaf_hash(l), 13, &t.root()).unwrap();
            assert!(p.verify(leaf_hash(b"x"), 13, &t.root()).is_err());
        }
        assert!(t.proof(13).is_err());
    }
}
