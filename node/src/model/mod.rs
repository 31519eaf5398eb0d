//! Models: a graph plus its weights, loaded from real files.

mod mlp;

pub use mlp::{MlpConfig, MLP_TINY};

use std::path::Path;

use crate::commit::{Hash, MerkleTree, TensorCommitment};
use crate::graph::Graph;
use crate::{Error, Result};

/// A dense fp32 tensor on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor; `data.len()` must equal the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape {shape:?} vs {} elements",
            data.len()
        );
        Self { shape, data }
    }

    /// Commits the tensor.
    pub fn commit(&self) -> TensorCommitment {
        TensorCommitment::new(&self.data, &self.shape)
    }
}

/// A model ready to run and to register.
#[derive(Debug, Clone)]
pub struct Model {
    /// Human name (e.g. `mlp-tiny`).
    pub name: String,
    /// The computation.
    pub graph: Graph,
    /// Weight tensors, in the order nodes index them.
    pub weights: Vec<HostTensor>,
}

impl Model {
    /// The per-weight commitments.
    pub fn weight_commitments(&self) -> Vec<TensorCommitment> {
        self.weights.iter().map(HostTensor::commit).collect()
    }

    /// Merkle tree over the weight tensor roots.
    pub fn weights_tree(commitments: &[TensorCommitment]) -> MerkleTree {
        let roots: Vec<Hash> = commitments.iter().map(TensorCommitment::root).collect();
        MerkleTree::from_leaves(&roots)
    }

    /// Checks that every node's weight exists with the shape the node needs.
    pub fn validate(&self) -> Result<()> {
        for (i, n) in self.graph.nodes.iter().enumerate() {
            if n.input as usize > i {
                return Err(Error::OutOfRange {
                    what: "node input",
                    index: n.input as usize,
                    len: i + 1,
                });
            }
            if let Some(want) = n.weight_shape() {
                let w = self
                    .weights
                    .get(n.weight as usize)
                    .ok_or(Error::OutOfRange {
                        what: "weight",
                        index: n.weight as usize,
                        len: self.weights.len(),
                    })?;
                if w.shape != want {
                    return Err(Error::Shape {
                        name: format!("weight {}", n.weight),
                        got: w.shape.clone(),
                        expected: want,
                    });
                }
            }
        }
        Ok(())
    }

    /// Loads the `mlp-tiny` model from a safetensors file.
    pub fn load_mlp(path: &Path, cfg: &MlpConfig) -> Result<Self> {
        mlp::load(path, cfg)
    }
}

/// Everything registered on-chain about a model, with the trees needed to open any part of it.
#[derive(Debug, Clone)]
pub struct ModelCommitment {
    /// Tree over the graph's node descriptors.
    pub graph: MerkleTree,
    /// Per-weight commitments.
    pub weights: Vec<TensorCommitment>,
    /// Tree over the weight tensor roots.
    pub weights_tree: MerkleTree,
    /// Hash of the acceptance-region profile.
    pub profile_root: Hash,
}

impl Model {
    /// Commits graph and weights; `profile` is the profile file's bytes.
    pub fn commit(&self, profile: &[u8]) -> ModelCommitment {
        use sha2::Digest;
        let weights = self.weight_commitments();
        ModelCommitment {
            graph: self.graph.tree(),
            weights_tree: Self::weights_tree(&weights),
            weights,
            profile_root: sha2::Sha256::digest(profile).into(),
        }
    }
}
