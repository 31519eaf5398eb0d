//! A small ReLU MLP with fp32 weights generated from a fixed seed and stored as safetensors.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::{HostTensor, Model};
use crate::graph::{Graph, OpKind, OpNode};
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
pub const MLP_TINY: MlpConfig = MlpConfig {
    name: "mlp-tiny",
    rows: 4,
    dims: &[64, 128, 128, 32],
    seed: 0x6e61_6f00,
};

impl MlpConfig {
    /// The graph: per layer MatMul, Add (bias), and ReLU except after the last layer.
    pub fn graph(&self) -> Graph {
        let mut nodes = Vec::new();
        let layers = self.dims.len() - 1;
        for l in 0..layers {
            let (inp, out) = (self.dims[l] as u32, self.dims[l + 1] as u32);
            let rows = self.rows as u32;
            let x = nodes.len() as u32;
            nodes.push(OpNode {
                kind: OpKind::MatMul,
                input: x,
                weight: 2 * l as u32,
                rows,
                cols: out,
                inner: inp,
            });
            nodes.push(OpNode {
                kind: OpKind::Add,
                input: x + 1,
                weight: 2 * l as u32 + 1,
                rows,
                cols: out,
                inner: 0,
            });
            if l + 1 < layers {
                nodes.push(OpNode {
                    kind: OpKind::Relu,
                    input: x + 2,
                    weight: 0,
                    rows,
                    cols: out,
                    inner: 0,
                });
            }
        }
        Graph { nodes }
    }

    /// Safetensors names of the weights, in weight-index order.
    pub fn weight_names(&self) -> Vec<String> {
        (0..self.dims.len() - 1)
            .flat_map(|l| [format!("layers.{l}.weight"), format!("layers.{l}.bias")])
            .collect()
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

    /// An input drawn from `seed`: U(-1, 1), shape `[rows, dims[0]]`.
    pub fn input(&self, seed: u64) -> HostTensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = self.rows * self.dims[0];
        HostTensor::new(
            vec![self.rows, self.dims[0]],
            (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
        )
    }

    /// Writes the generated weights to `path` as safetensors.
    pub fn write_safetensors(&self, path: &Path) -> Result<()> {
        let weights = self.generate_weights();
        let names = self.weight_names();
        let views = names
            .iter()
            .zip(&weights)
            .map(|(n, w)| {
                let view =
                    TensorView::new(Dtype::F32, w.shape.clone(), bytemuck::cast_slice(&w.data))
                        .map_err(|e| Error::Weights {
                            path: path.into(),
                            reason: e.to_string(),
                        })?;
                Ok((n.clone(), view))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = HashMap::from([("nao.model".to_string(), self.name.to_string())]);
        safetensors::serialize_to_file(views, Some(meta), path).map_err(|e| Error::Weights {
            path: path.into(),
            reason: e.to_string(),
        })
    }
}

/// Loads an MLP's weights from safetensors, checking names, dtypes and shapes.
pub(super) fn load(path: &Path, cfg: &MlpConfig) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let bad = |reason: String| Error::Weights {
        path: path.into(),
        reason,
    };
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let graph = cfg.graph();
    let mut weights = Vec::new();
    for name in cfg.weight_names() {
        let t = st
            .tensor(&name)
            .map_err(|_| bad(format!("missing tensor `{name}`")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` is {:?}, expected F32",
                t.dtype()
            )));
        }
        let data: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        weights.push(HostTensor {
            shape: t.shape().to_vec(),
            data,
        });
    }
    let model = Model {
        name: cfg.name.to_string(),
        graph,
        weights,
    };
    model.validate()?;
    Ok(model)
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
        assert_eq!(m.weights, MLP_TINY.generate_weights());
        assert_eq!(m.graph.nodes.len(), 8);
    }

    #[test]
    fn malformed_and_misshapen_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        std::fs::write(&p, b"not weights").unwrap();
        let e = load(&p, &MLP_TINY).unwrap_err().to_string();
        assert!(
            e.contains("bad.safetensors") && e.contains("not a safetensors file"),
            "{e}"
        );

        let other = MlpConfig {
            dims: &[64, 100, 128, 32],
            ..MLP_TINY
        };
        other.write_safetensors(&p).unwrap();
        let e = load(&p, &MLP_TINY).unwrap_err().to_string();
        assert!(e.contains("shape"), "{e}");
    }
}
