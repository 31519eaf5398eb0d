//! Calibration, first cut: how far honest outputs actually land from the exact centre of their sound region,
//! per op kind, as a fraction of the sound bound (`|y - s| / B_e`, the `ratio` of every element verdict).
//! The quantiles of this fraction are what empirical thresholds are cut from (`T_e = factor * q * B_e`), and
//! `1 / q` is the tightness `B_e / T_e`. Configurations beyond this runtime's own kernels (other reduction
//! orders, CUDA) extend it in #4.

use std::collections::BTreeMap;

use super::ops;
use crate::model::{HostTensor, Model};
use crate::runtime::{operands, Runtime};
use crate::Result;

/// Quantiles of `|y - s| / B_e` over the elements of one op kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantiles {
    /// Elements measured.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Largest.
    pub max: f64,
    /// Elements whose output was exactly the f64 centre of the region (zero error).
    pub exact: usize,
}

impl Quantiles {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
        Self {
            count: v.len(),
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: v.last().copied().unwrap_or(0.0),
            exact: v.iter().filter(|r| **r == 0.0).count(),
        }
    }
}

/// Runs `model` on every input and gathers, per op kind, the quantiles of `|y - s| / B_e` of its elements
/// (ops replayed bit-exact are left out: their honest error is zero by construction).
pub fn observe(model: &Model, inputs: &[HostTensor]) -> Result<BTreeMap<String, Quantiles>> {
    let rt = Runtime::new(model)?;
    let mut ratios: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for input in inputs {
        let trace = rt.run(&model.graph, input, None)?;
        for (i, node) in model.graph.nodes.iter().enumerate() {
            if node.op.is_exact() && !matches!(node.op, crate::graph::Op::Relu) {
                continue;
            }
            if let Some(check) = ops::check(node, &operands(model, &trace, node), &trace.tensors[i + 1]) {
                ratios
                    .entry(node.op.name().to_string())
                    .or_default()
                    .extend(check.elements.iter().map(|v| v.ratio).filter(|r| r.is_finite()));
            }
        }
    }
    Ok(ratios.into_iter().map(|(k, v)| (k, Quantiles::of(v))).collect())
}
