//! Calibration: how far honest outputs land from the exact centre of their sound regions, across execution
//! configurations and prompts, per op kind, in units of each element's own error scale
//! (`|y - s| / scale_e`, the `spread` of every element verdict: `s` is the element's value computed in f64
//! from the run's own op inputs; `scale_e` is the typical rounding error `u sqrt(n) ||(x_i w_i)||_2` for dot
//! products and the IEEE-754 worst case `B_e` for every other op). Thresholds are cut from these spreads
//! (`T_e = min(factor * q * scale_e, B_e)`, see [`super::profile`]); the tightness `B_e / T_e` of each element
//! follows from its `B_e / scale_e`, whose distribution is recorded too.
//!
//! Elements with **zero spread** (the same value in every configuration: structural zeros, copies, a hidden
//! channel's trigger) do not inherit their op's positive threshold: the sound region itself is the point
//! `{s}` for every element that every evaluation order computes exactly ([`super::sound::within`]), decided
//! from the element's own operands. Calibration does not try to learn such elements from observed constancy:
//! a column that happened to be constant over the calibration inputs (a ReLU unit dead on all of them) is not
//! constant on the next input, and a point region learnt from it would condemn honest runs.

use std::collections::BTreeMap;

use super::ops;
use crate::model::Model;
use crate::runtime::operands;
use crate::trace::Trace;

/// Sub-bins per octave of the ratio histogram (quantiles resolve to 2^(1/32) = 2.2 %).
const PER_OCTAVE: f64 = 32.0;
/// Smallest ratio resolved: 2^-80 (below lands in the first bin).
const MIN_OCTAVE: f64 = -80.0;
/// Bins: octaves 2^-80 .. 2^40.
const BINS: usize = (120.0 * PER_OCTAVE) as usize;

/// Quantiles of a positive quantity over the elements of one op kind. Quantiles are the upper edges of
/// log-spaced histogram bins (never below the true quantile, at most 2.2 % above); `min` and `max` are exact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantiles {
    /// Elements measured.
    pub count: u64,
    /// Elements whose value was exactly zero (for errors: the output was exactly the centre of its region).
    pub exact: u64,
    /// Smallest nonzero value.
    pub min: f64,
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
}

impl Quantiles {
    /// The quantile named `name` (`p50`, `p99`, `p99.9`, `p99.99`, `max`).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" => self.p50,
            "p99" => self.p99,
            "p99.9" => self.p999,
            "p99.99" => self.p9999,
            "max" => self.max,
            _ => return None,
        })
    }
}

/// A log-binned histogram of ratios.
#[derive(Debug, Clone)]
pub struct Histogram {
    bins: Vec<u64>,
    exact: u64,
    min: f64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { bins: vec![0; BINS], exact: 0, min: f64::INFINITY, max: 0.0 }
    }
}

impl Histogram {
    /// Adds one ratio (non-finite ratios are not honest observations and are ignored).
    pub fn add(&mut self, r: f64) {
        if !r.is_finite() {
            return;
        }
        if r == 0.0 {
            self.exact += 1;
            return;
        }
        self.max = self.max.max(r);
        self.min = self.min.min(r);
        let b = ((r.log2() - MIN_OCTAVE) * PER_OCTAVE).floor().clamp(0.0, (BINS - 1) as f64) as usize;
        self.bins[b] += 1;
    }

    fn upper_edge(b: usize) -> f64 {
        2f64.powf(MIN_OCTAVE + (b + 1) as f64 / PER_OCTAVE)
    }

    /// The summary quantiles.
    pub fn quantiles(&self) -> Quantiles {
        let count = self.exact + self.bins.iter().sum::<u64>();
        let q = |p: f64| {
            let rank = ((count as f64 - 1.0) * p).round() as u64;
            if rank < self.exact {
                return 0.0;
            }
            let mut seen = self.exact;
            for (b, n) in self.bins.iter().enumerate() {
                seen += n;
                if seen > rank {
                    return Self::upper_edge(b).min(self.max);
                }
            }
            self.max
        };
        let min = if self.min.is_finite() { self.min } else { 0.0 };
        Quantiles {
            count,
            exact: self.exact,
            min,
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: self.max,
        }
    }
}

/// Accumulates honest runs (any configuration, any prompt) of one model.
#[derive(Debug, Default)]
pub struct Calibration {
    spreads: BTreeMap<String, Histogram>,
    bounds: BTreeMap<String, Histogram>,
    /// Runs observed.
    pub runs: usize,
}

impl Calibration {
    /// Adds every element of every arithmetic op of an honest `trace` of `model` (ops replayed bit for bit
    /// are left out: their region is exact by construction).
    pub fn observe(&mut self, model: &Model, trace: &Trace) {
        self.runs += 1;
        for (i, node) in model.graph.nodes.iter().enumerate() {
            if node.op.has_exact_region() {
                continue;
            }
            let out = &trace.tensors[i + 1];
            let Some(check) = ops::check(node, &operands(model, trace, node), out) else { continue };
            let h = self.spreads.entry(node.op.name().to_string()).or_default();
            check.elements.iter().for_each(|v| h.add(v.spread()));
            let b = self.bounds.entry(node.op.name().to_string()).or_default();
            check.elements.iter().for_each(|v| b.add(v.bound_to_scale));
        }
    }

    /// Per op kind, the quantiles of `|y - s| / scale_e`.
    pub fn quantiles(&self) -> BTreeMap<String, Quantiles> {
        self.spreads.iter().map(|(k, h)| (k.clone(), h.quantiles())).collect()
    }

    /// Per op kind, the quantiles of `B_e / scale_e` (1 for ops whose scale is their bound).
    pub fn bound_to_scale(&self) -> BTreeMap<String, Quantiles> {
        self.bounds.iter().map(|(k, h)| (k.clone(), h.quantiles())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_bracket_the_true_ones() {
        let mut h = Histogram::default();
        let v: Vec<f64> = (1..=10_000).map(|i| i as f64 * 1e-4).collect();
        v.iter().for_each(|r| h.add(*r));
        h.add(0.0);
        let q = h.quantiles();
        assert_eq!((q.count, q.exact, q.max), (10_001, 1, 1.0));
        for (got, want) in [(q.p50, 0.5), (q.p99, 0.99), (q.p999, 0.999)] {
            assert!(got >= want * 0.999 && got <= want * 1.03, "{got} vs {want}");
        }
    }
}
