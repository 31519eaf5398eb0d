//! A small ReLU MLP with fp32 weights generated from a fixed seed and stored as safetensors.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{tensor::TensorView, Dtype};

use super::{HostTensor, Model};
use crate::graph::{Graph, Node, Op, Src};
use crate::{Error, Result};

/// Shape of an MLP: `rows` input vectors of `dims[0]` features through layers `dims[i] -> dims[i+1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlpConfig {
    /// Name the model is known by.
    pub name: &'static str,
    /// Input rows (batch).
    pub rows: usize,
    /// Layer widths, input first.
    pub dims: &'static [usize],
    /// Seed of the weights.
    pub seed: u64,
}

/// The walking skeleton's model: 4 x 64 -> 128 -> 128 -> 32.
pub const MLP_TINY: MlpConfig = MlpConfig { name: "mlp-tiny", rows: 4, dims: &[64, 128, 128, 32], seed: 0x6e61_6f00 };

impl MlpConfig {
    /// The graph: per layer MatMul, Add (bias), and ReLU except after the last layer.
    pub fn graph(&self) -> Graph {
        let mut nodes: Vec<Node> = Vec::new();
        let layers = self.dims.len() - 1;
        let mut weight_shapes = Vec::new();
        for l in 0..layers {
            let (inp, out) = (self.dims[l], self.dims[l + 1]);
            let shape = vec![self.rows, out];
            let x = nodes.len() as u32;
            let (w, b) = (weight_shapes.len() as u32, weight_shapes.len() as u32 + 1);
            weight_shapes.push(vec![out, inp]);
            weight_shapes.push(vec![out]);
            nodes.push(Node { op: Op::MatMul, inputs: vec![Src::Trace(x), Src::Weight(w)], shape: shape.clone() });
            nodes.push(Node { op: Op::Add, inputs: vec![Src::Trace(x + 1), Src::Weight(b)], shape: shape.clone() });
            if l + 1 < layers {
                nodes.push(Node { op: Op::Relu, inputs: vec![Src::Trace(x + 2)], shape });
            }
        }
        // One segment per op: every op output is in the coarse trace, so the one-level game can open any.
        let segments = (0..nodes.len()).map(|i| i..i + 1).collect();
        Graph { input_shape: vec![self.rows, self.dims[0]], weight_shapes, nodes, segments }
    }

    /// Safetensors names of the weights, in weight-index order.
    pub fn weight_names(&self) -> Vec<String> {
        (0..self.dims.len() - 1).flat_map(|l| [format!("layers.{l}.weight"), format!("layers.{l}.bias")]).collect()
    }

    /// Weights drawn from the seed: U(-1/sqrt(in), 1/sqrt(in)), as nn.Linear initialises them.
    pub fn generate_weights(&self) -> Vec<HostTensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut out = Vec::new();
        for l in 0..self.dims.len() - 1 {
            let (inp, o) = (self.dims[l], self.dims[l + 1]);
            let k = 1.0 / (inp as f32).sqrt();
            let w = (0..o * inp).map(|_| rng.random_range(-k..k)).collect();
            let b = (0..o).map(|_| rng.random_range(-k..k)).collect();
            out.push(HostTensor::new(vec![o, inp], w));
            out.push(HostTensor::new(vec![o], b));
        }
        out
    }

    /// The model with its generated weights (no file involved).
    pub fn generated(&self) -> Model {
        Model::new(self.name, self.graph(), self.weight_names(), self.generate_weights())
            .expect("generated weights fit the graph")
    }

    /// An input drawn from `seed`: U(-1, 1), shape `[rows, dims[0]]`.
    pub fn input(&self, seed: u64) -> HostTensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = self.rows * self.dims[0];
        HostTensor::new(vec![self.rows, self.dims[0]], (0..n).map(|_| rng.random_range(-1.0..1.0)).collect())
    }

    /// Writes the generated weights to `path` as safetensors.
    pub fn write_safetensors(&self, path: &Path) -> Result<()> {
        let weights = self.generate_weights();
        let names = self.weight_names();
        let views = names
            .iter()
            .zip(&weights)
            .map(|(n, w)| {
                let view = TensorView::new(Dtype::F32, w.shape.clone(), bytemuck::cast_slice(&w.data))
                    .map_err(|e| Error::Weights { path: path.into(), reason: e.to_string() })?;
                Ok((n.clone(), view))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = HashMap::from([("nao.model".to_string(), self.name.to_string())]);
        safetensors::serialize_to_file(views, Some(meta), path)
            .map_err(|e| Error::Weights { path: path.into(), reason: e.to_string() })
    }
}

/// Loads an MLP's weights from safetensors, checking names, dtypes and shapes.
pub(super) fn load(path: &Path, cfg: &MlpConfig) -> Result<Model> {
    let names = cfg.weight_names();
    let weights = super::read_safetensors(path, &names)?;
    Model::new(cfg.name, cfg.graph(), names, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_through_safetensors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        MLP_TINY.write_safetensors(&p).unwrap();
        let m = load(&p, &MLP_TINY).unwrap();
        assert_eq!(*m.weights, MLP_TINY.generate_weights());
        assert_eq!(m.graph.nodes.len(), 8);
    }

    #[test]
    fn malformed_and_misshapen_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        std::fs::write(&p, b"not weights").unwrap();
        let e = load(&p, &MLP_TINY).unwrap_err().to_string();
        assert!(e.contains("bad.safetensors") && e.contains("not a safetensors file"), "{e}");

        let other = MlpConfig { dims: &[64, 100, 128, 32], ..MLP_TINY };
        other.write_safetensors(&p).unwrap();
        let e = load(&p, &MLP_TINY).unwrap_err().to_string();
        assert!(e.contains("shape"), "{e}");
    }
}
