//! The adversarial suite: what a dishonest prover can do instead of running the registered model, built as
//! real cheats on real models, each producing a trace laid out on the registered graph (so it can be posted
//! and disputed like any claim).
//!
//! A [`Cheat`] is a model the prover computes with (the registered graph, possibly other weights or other op
//! parameters) and an optional [`Rewrite`] of op outputs during the run (graph rewrites that the IR cannot
//! express, activation precision). [`Attack::cheat`] builds each attack of issue #7 from the registered model;
//! [`search`] holds the two attacks that search: the smallest single-weight change still caught, and the
//! bound-aware perturbation that tries to flip the output while staying inside every acceptance region.

pub mod search;

use crate::op;
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::graph::{Node, Op, Src};
use crate::model::Model;
use crate::runtime::{operands_of, Runtime};
use crate::tensor::HostTensor;
use crate::trace::Trace;
use crate::{Error, Result};

/// One cheat of the adversarial suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attack {
    /// Another checkpoint answers: every weight moved by 1 % of its tensor's RMS (a nearby fine-tune).
    ModelSwap,
    /// Every matmul weight quantized to int8 (per-row symmetric) and dequantized.
    Int8Weights,
    /// Every matmul weight quantized to int4 (per-row symmetric) and dequantized.
    Int4Weights,
    /// Every activation (op output) rounded to IEEE half precision.
    Fp16Activations,
    /// Every activation rounded to bfloat16.
    Bf16Activations,
    /// One LayerNorm skipped: its output is its input.
    NormDropped,
    /// Every LayerNorm computed with epsilon 1e-5 (PyTorch's default) instead of the model's 1e-12.
    EpsilonChanged,
    /// Every erf GELU computed with its tanh approximation.
    GeluApproximated,
    /// The middle segment's layers skipped (MiniLM: layers 3-5): its output boundary is its input boundary.
    LayerSkipped,
    /// The embedding row of one token of the prompt replaced by another token's (the "altered ad embedding").
    EmbeddingAltered,
    /// One weight changed by the smallest amount the protocol still catches (found by search).
    SingleWeight,
    /// Every element perturbed as far as its acceptance region allows, in the direction that flips the
    /// output's argmax.
    BoundAware,
}

impl Attack {
    /// Every attack, in the order of the report.
    pub const ALL: [Attack; 12] = [
        Attack::ModelSwap,
        Attack::Int8Weights,
        Attack::Int4Weights,
        Attack::Fp16Activations,
        Attack::Bf16Activations,
        Attack::NormDropped,
        Attack::EpsilonChanged,
        Attack::GeluApproximated,
        Attack::LayerSkipped,
        Attack::EmbeddingAltered,
        Attack::SingleWeight,
        Attack::BoundAware,
    ];

    /// Its name (`nao attack <name>`, the scenario name).
    pub fn name(self) -> &'static str {
        match self {
            Attack::ModelSwap => "model-swap",
            Attack::Int8Weights => "int8-weights",
            Attack::Int4Weights => "int4-weights",
            Attack::Fp16Activations => "fp16-activations",
            Attack::Bf16Activations => "bf16-activations",
            Attack::NormDropped => "norm-dropped",
            Attack::EpsilonChanged => "epsilon-changed",
            Attack::GeluApproximated => "gelu-approximated",
            Attack::LayerSkipped => "layer-skipped",
            Attack::EmbeddingAltered => "embedding-altered",
            Attack::SingleWeight => "single-weight",
            Attack::BoundAware => "bound-aware",
        }
    }

    /// Looks an attack up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Builds the cheat against `model` (a BERT-family graph for the graph rewrites) on `input`. Not for
    /// [`Attack::SingleWeight`] and [`Attack::BoundAware`], which search ([`search`]).
    pub fn cheat(self, model: &Model, input: &HostTensor) -> Result<Cheat> {
        let g = &model.graph;
        let nodes_of =
            |f: fn(&Op) -> bool| -> Vec<usize> { (0..g.nodes.len()).filter(|i| f(&g.nodes[*i].op)).collect() };
        let refuse = |what: &str| Error::Config(format!("attack {}: {what} in model `{}`", self.name(), model.name));
        Ok(match self {
            Attack::ModelSwap => Cheat::weights(model, |_, w| {
                let rms = (w.data.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.data.len() as f64).sqrt();
                let mut rng = ChaCha8Rng::seed_from_u64(0x6e61_6f5e);
                let spread = 0.01 * rms * 3f64.sqrt(); // uniform noise of RMS 1 % of the tensor's
                w.data.iter_mut().for_each(|v| *v += (spread * (rng.random::<f64>() * 2.0 - 1.0)) as f32);
            })?,
            Attack::Int8Weights | Attack::Int4Weights => {
                let levels = if self == Attack::Int8Weights { 127.0 } else { 7.0 };
                let matmul_weights: Vec<u32> = g
                    .nodes
                    .iter()
                    .filter(|n| n.op == Op::MatMul)
                    .filter_map(|n| match n.inputs.get(1) {
                        Some(Src::Weight(w)) => Some(*w),
                        _ => None,
                    })
                    .collect();
                Cheat::weights(model, |i, w| {
                    if matmul_weights.contains(&(i as u32)) {
                        quantize_rows(w, levels)
                    }
                })?
            }
            Attack::Fp16Activations | Attack::Bf16Activations => {
                let dtype = if self == Attack::Fp16Activations { DType::F16 } else { DType::BF16 };
                Cheat::rewrite(model, move |_, _, _, out| {
                    if let Ok(v) = round_through(&out.data, dtype) {
                        out.data = v;
                    }
                })
            }
            Attack::NormDropped => {
                // the first LayerNorm inside the transformer layers (after the embeddings' own)
                let at = *nodes_of(|op| matches!(op, Op::LayerNorm(_))).get(1).ok_or_else(|| refuse("no LayerNorm"))?;
                Cheat::rewrite(model, move |i, _, ops, out| {
                    if i == at {
                        out.data.clone_from(&ops[0].data);
                    }
                })
            }
            Attack::EpsilonChanged => {
                let mut cheat = model.clone();
                let mut changed = 0;
                for n in &mut cheat.graph.nodes {
                    if let Op::LayerNorm(op::LayerNorm { eps }) = &mut n.op {
                        *eps = 1e-5;
                        changed += 1;
                    }
                }
                if changed == 0 {
                    return Err(refuse("no LayerNorm"));
                }
                Cheat { model: cheat, rewrite: None }
            }
            Attack::GeluApproximated => {
                if nodes_of(|op| *op == Op::Gelu).is_empty() {
                    return Err(refuse("no GELU"));
                }
                Cheat::rewrite(model, |_, node, ops, out| {
                    if node.op == Op::Gelu {
                        out.data = ops[0].data.iter().map(|x| gelu_tanh(*x)).collect();
                    }
                })
            }
            Attack::LayerSkipped => {
                let segs = g.segment_ranges();
                let seg = segs.get(segs.len() / 2).cloned().ok_or_else(|| refuse("no segment"))?;
                if segs.len() < 3 {
                    return Err(refuse("fewer than 3 segments"));
                }
                let last = seg.end - 1;
                let mut input_boundary: Option<Vec<f32>> = None;
                Cheat::rewrite(model, move |i, _, _, out| {
                    if i + 1 == seg.start {
                        input_boundary = Some(out.data.clone());
                    } else if i == last {
                        if let Some(b) = &input_boundary {
                            out.data.clone_from(b);
                        }
                    }
                })
            }
            Attack::EmbeddingAltered => {
                let node = nodes_of(|op| *op == Op::Embedding);
                let node = &g.nodes[*node.first().ok_or_else(|| refuse("no Embedding"))?];
                let (Some(Src::Trace(ids)), Some(Src::Weight(table))) = (node.inputs.first(), node.inputs.get(1))
                else {
                    return Err(refuse("an Embedding that does not read the input"));
                };
                if *ids != 0 || input.data.len() < 2 {
                    return Err(refuse("an Embedding that does not read the input"));
                }
                // the first token after the leading special token takes the embedding of the next id up
                let token = input.data[1] as usize;
                let table = *table as usize;
                Cheat::weights(model, move |i, w| {
                    if i == table {
                        let h = w.shape[1];
                        let other = (token + 1) % w.shape[0];
                        let row: Vec<f32> = w.data[other * h..(other + 1) * h].to_vec();
                        w.data[token * h..(token + 1) * h].copy_from_slice(&row);
                    }
                })?
            }
            Attack::SingleWeight | Attack::BoundAware => {
                return Err(Error::Config(format!("attack {} searches: see attack::search", self.name())))
            }
        })
    }
}

/// Rewrites op `i`'s output during a cheat's run, given its node and operand tensors (the cheat's own
/// earlier outputs and weights).
pub type Rewrite = Box<dyn FnMut(usize, &Node, &[&HostTensor], &mut HostTensor) + Send>;

/// What a dishonest prover computes instead of the registered model: a model with the registered graph's
/// layout (other weights or op parameters) and an optional rewrite of op outputs.
pub struct Cheat {
    /// The model the prover runs.
    pub model: Model,
    /// Rewrites op outputs as they are produced.
    pub rewrite: Option<Rewrite>,
}

impl std::fmt::Debug for Cheat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cheat").field("model", &self.model.name).field("rewrite", &self.rewrite.is_some()).finish()
    }
}

impl Cheat {
    /// The registered model with weight tensor `i` rewritten by `f(i, tensor)`.
    pub fn weights(model: &Model, mut f: impl FnMut(usize, &mut HostTensor)) -> Result<Self> {
        let mut weights = (*model.weights).clone();
        weights.iter_mut().enumerate().for_each(|(i, w)| f(i, w));
        let model = Model::new(&model.name, model.graph.clone(), model.weight_names.clone(), weights)?;
        Ok(Self { model, rewrite: None })
    }

    /// The registered model with op outputs rewritten during the run.
    pub fn rewrite(
        model: &Model,
        f: impl FnMut(usize, &Node, &[&HostTensor], &mut HostTensor) + Send + 'static,
    ) -> Self {
        Self { model: model.clone(), rewrite: Some(Box::new(f)) }
    }

    /// Runs the cheat on `input`: the trace the dishonest prover commits (laid out on the registered graph).
    pub fn run(&mut self, input: &HostTensor) -> Result<Trace> {
        let model = &self.model;
        let rt = Runtime::new(model)?;
        let Some(rewrite) = self.rewrite.as_mut() else {
            return rt.run(&model.graph, input, None);
        };
        // the rewrite sees each op's operands: the run's outputs so far are kept on the host
        let mut seen: Vec<HostTensor> = vec![input.clone()];
        let mut hook = |i: usize, out: &mut HostTensor| {
            let node = &model.graph.nodes[i];
            let ops = operands_of(model, &seen, node);
            rewrite(i, node, &ops, out);
            seen.push(out.clone());
        };
        rt.run(&model.graph, input, Some(&mut hook))
    }
}

/// Per-row symmetric quantization to `levels` steps either side of zero, dequantized back to fp32.
pub fn quantize_rows(w: &mut HostTensor, levels: f32) {
    let cols = *w.shape.last().unwrap_or(&1);
    for row in w.data.chunks_mut(cols.max(1)) {
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if max > 0.0 {
            let step = max / levels;
            row.iter_mut().for_each(|v| *v = (*v / step).round().clamp(-levels, levels) * step);
        }
    }
}

/// `data` rounded to `dtype` (F16, BF16) and back to fp32, as candle converts.
pub fn round_through(data: &[f32], dtype: DType) -> Result<Vec<f32>> {
    let t = Tensor::from_slice(data, data.len(), &Device::Cpu)?;
    Ok(t.to_dtype(dtype)?.to_dtype(DType::F32)?.to_vec1()?)
}

/// The tanh approximation of GELU, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, in fp32.
pub fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0f32 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MLP_TINY;

    #[test]
    fn quantization_keeps_row_maxima_and_moves_other_weights_onto_the_grid() {
        let mut w = HostTensor::new(vec![2, 4], vec![1.0, 0.3, -0.52, 0.0, -2.0, 0.9, 0.1, 2.0]);
        quantize_rows(&mut w, 7.0);
        assert_eq!(w.data[0], 1.0);
        assert_eq!(w.data[4], -2.0);
        assert!((w.data[1] - 2.0 / 7.0).abs() < 1e-6, "{}", w.data[1]);
        assert!((w.data[6] - 0.0).abs() < 1e-6);
    }

    #[test]
    fn half_precision_rounding_and_the_tanh_gelu_differ_from_fp32_by_the_expected_amounts() {
        let x = [1.0f32 + 1e-3, 3.25, -0.1];
        let h = round_through(&x, DType::F16).unwrap();
        let b = round_through(&x, DType::BF16).unwrap();
        for i in 0..3 {
            let rel = |v: f32| ((v - x[i]) / x[i]).abs();
            assert!(rel(h[i]) <= 2f32.powi(-11) && rel(b[i]) <= 2f32.powi(-8));
        }
        assert_ne!(h[0], x[0]);
        // the tanh form differs from the erf form by up to ~1e-3 (at |x| ~ 2)
        let erf = 0.5 * 2.0 * (1.0 + libm_erf(2.0 / std::f64::consts::SQRT_2));
        assert!((gelu_tanh(2.0) as f64 - erf).abs() > 1e-5);
    }

    fn libm_erf(x: f64) -> f64 {
        // Abramowitz-Stegun 7.1.26 is too coarse here; integrate exp(-t^2) instead
        let n = 100_000;
        let h = x / n as f64;
        (0..n).map(|i| (-(h * (i as f64 + 0.5)).powi(2)).exp() * h).sum::<f64>() * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn a_rewrite_sees_the_cheats_own_operands_and_changes_what_later_ops_read() {
        let m = MLP_TINY.generated();
        let input = MLP_TINY.input(3);
        let honest = crate::runtime::run(&m, &input, None).unwrap();
        // ReLU (node 2) replaced by the identity: its output is its operand, and the next matmul reads it
        let mut cheat = Cheat::rewrite(&m, |i, _, ops, out| {
            if i == 2 {
                out.data.clone_from(&ops[0].data);
            }
        });
        let t = cheat.run(&input).unwrap();
        assert_eq!(t.tensors[3], t.tensors[2]);
        assert_ne!(t.tensors[3], honest.tensors[3]);
        assert_ne!(t.output(), honest.output());
        // a weight attack changes the weights and nothing else
        let swapped = Attack::ModelSwap.cheat(&m, &input).unwrap();
        assert_eq!(swapped.model.graph, m.graph);
        assert_ne!(swapped.model.weights[0], m.weights[0]);
        let e = Attack::NormDropped.cheat(&m, &input).unwrap_err().to_string();
        assert!(e.contains("no LayerNorm") && e.contains("mlp-tiny"), "{e}");
    }
}
