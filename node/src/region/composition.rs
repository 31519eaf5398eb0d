//! The composition audit: per-op tolerances do not bound the final output (papers/non-composability...),
//! so a model is audited at registration: for every op, a sound bound on how far an in-region error of its
//! output can move the final output (its gain), times its tolerance at the operating point, summed over ops,
//! must stay within the model's declared output tolerance; a model over budget is refused.
//!
//! Gains are `inf`-norm Lipschitz bounds propagated backwards through the graph: a MatMul `y = x W^T`
//! passes `||W||_inf` (largest row sum of |W|) to its input, Add and ReLU pass 1, and a tensor read by several
//! ops sums its consumers' gains. The tolerance of an op is the largest sound bound `B_e` over its elements at
//! the operating point (the claim's inputs), so `sum gain_i tol_i` bounds, to first order, how far outputs
//! that pass every per-element check can be from the honest output. For piecewise-linear graphs (the MLP
//! family) these gains are global; for attention, norms and softmax a global bound is useless and the gain
//! must be taken at the operating point (autograd): not covered yet, such graphs are refused as unaudited.

use crate::graph::{Op, Src};
use crate::model::Model;
use crate::runtime::operands;
use crate::trace::Trace;
use crate::{Error, Result};

/// One op's share of the budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpShare {
    /// Node index.
    pub op: usize,
    /// Bound on |d output| / |d this op's output| (inf-norms).
    pub gain: f64,
    /// Largest sound bound of the op's elements at the operating point.
    pub tolerance: f64,
}

/// The audit of a model at an operating point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Audit {
    /// Every op's gain and tolerance.
    pub ops: Vec<OpShare>,
    /// `sum gain * tolerance`: how far in-region errors can move the output.
    pub budget: f64,
    /// The model's declared output tolerance.
    pub declared: f64,
}

impl Audit {
    /// Whether in-region errors cannot move the output beyond its declared tolerance.
    pub fn passed(&self) -> bool {
        self.budget <= self.declared
    }

    /// The op with the largest share of the budget.
    pub fn worst(&self) -> Option<&OpShare> {
        self.ops.iter().max_by(|a, b| (a.gain * a.tolerance).total_cmp(&(b.gain * b.tolerance)))
    }
}

/// Audits `model` at the operating point `trace` against a declared output tolerance.
pub fn audit(model: &Model, trace: &Trace, declared: f64) -> Result<Audit> {
    let g = &model.graph;
    let n = g.nodes.len();
    let mut gain = vec![0.0f64; n + 1]; // per trace tensor
    gain[n] = 1.0;
    for (i, node) in g.nodes.iter().enumerate().rev() {
        let out = gain[i + 1];
        let pass = match node.op {
            Op::MatMul => {
                let Src::Weight(w) = node.inputs[1] else {
                    return Err(Error::UnknownModel(format!("audit: op {i} multiplies two activations")));
                };
                let w = &model.weights[w as usize];
                let k = *w.shape.last().unwrap_or(&1);
                w.data.chunks(k).map(|r| r.iter().map(|v| (*v as f64).abs()).sum::<f64>()).fold(0.0, f64::max)
            }
            Op::Add | Op::Relu => 1.0,
            other => return Err(Error::UnknownModel(format!("audit: op {i} ({}) has no global gain", other.name()))),
        };
        if let Some(Src::Trace(t)) = node.inputs.first() {
            gain[*t as usize] += out * pass;
        }
        if let (Op::Add, Some(Src::Trace(t))) = (node.op, node.inputs.get(1)) {
            gain[*t as usize] += out;
        }
    }
    let shares: Vec<OpShare> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| OpShare {
            op: i,
            gain: gain[i + 1],
            tolerance: bound_of(node, &operands(model, trace, node), trace.tensors[i + 1].data.len()),
        })
        .collect();
    let budget = shares.iter().map(|s| s.gain * s.tolerance).sum();
    Ok(Audit { ops: shares, budget, declared })
}

/// Largest sound bound of node `i`'s elements (MatMul: gamma_k sum |x w| + underflow; Add: gamma_1
/// (|a| + |b|); ReLU: 0).
fn bound_of(node: &crate::graph::Node, x: &[&crate::model::HostTensor], len: usize) -> f64 {
    let u = super::U;
    match node.op {
        Op::MatMul => {
            let (a, w) = (&x[0].data, &x[1].data);
            let k = *x[0].shape.last().unwrap_or(&1);
            let cols = w.len() / k;
            let gamma = k as f64 * u / (1.0 - k as f64 * u);
            (0..len)
                .map(|e| {
                    let (r, c) = (e / cols, e % cols);
                    let s: f64 = (0..k).map(|t| (a[r * k + t] as f64 * w[c * k + t] as f64).abs()).sum();
                    gamma * s + k as f64 * super::ETA
                })
                .fold(0.0, f64::max)
        }
        Op::Add => {
            let (a, b) = (&x[0].data, &x[1].data);
            (0..len).map(|e| (a[e].abs() as f64 + b[e % b.len()].abs() as f64) * u / (1.0 - u)).fold(0.0, f64::max)
        }
        _ => 0.0,
    }
}
