//! Checking a claim whose trace is withheld, from what its prover published on-chain in answer to data
//! requests: the coarse leaves (input, segment boundaries, output), then the fine tensors of one disputed
//! segment. The contract verified every published chunk against the claim's commitments, so a trace rebuilt
//! from them opens against the same roots as the prover's own.

use std::collections::BTreeMap;

use super::{Finding, Watcher};
use crate::model::HostTensor;
use crate::trace::Trace;
use crate::{Error, Result};

/// `max |a - b| / max |b|` (infinite where a difference is not finite).
fn relative_gap(a: &HostTensor, b: &HostTensor) -> f64 {
    let scale = b.data.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
    let gap = a.data.iter().zip(&b.data).fold(0.0f64, |m, (x, y)| {
        let d = (f64::from(*x) - f64::from(*y)).abs();
        if d.is_finite() || x.to_bits() == y.to_bits() {
            m.max(if d.is_nan() { 0.0 } else { d })
        } else {
            f64::INFINITY
        }
    });
    gap / scale.max(f64::MIN_POSITIVE)
}

impl Watcher {
    /// The segment most likely to hold the fault of a claim whose coarse leaves `coarse` (input, every segment
    /// boundary, output; as published) are known: one run of the model from the input that restarts each
    /// segment from the prover's boundary, so each segment's output is computed from the prover's own input to
    /// it. Returns the segment whose claimed output boundary is farthest (relative inf-norm) from the computed
    /// one, and that distance: an honest segment's is rounding, a faulty one's is its fault.
    pub fn locate(&self, coarse: &[HostTensor]) -> Result<(usize, f64)> {
        let m = &self.model().model;
        let indices = m.graph.coarse_indices();
        if coarse.len() != indices.len() {
            return Err(Error::TraceData(format!("{} coarse leaves for a graph of {}", coarse.len(), indices.len())));
        }
        let mut gaps = Vec::with_capacity(indices.len() - 1);
        let mut restart = |op: usize, t: &mut HostTensor| {
            if let Some(leaf) = indices.iter().position(|i| *i == op + 1) {
                gaps.push(if t.shape == coarse[leaf].shape { relative_gap(t, &coarse[leaf]) } else { f64::INFINITY });
                *t = coarse[leaf].clone();
            }
        };
        crate::runtime::run(m, &coarse[0], Some(&mut restart))?;
        let (s, gap) = gaps
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .ok_or_else(|| Error::TraceData("a graph with no segment".into()))?;
        Ok((s, *gap))
    }

    /// A trace with the prover's published tensors at the trace indices of `known` (the input among them) and
    /// this watcher's own run from that input everywhere else.
    pub fn rebuild(&self, known: &BTreeMap<usize, HostTensor>) -> Result<Trace> {
        let input = known.get(&0).ok_or_else(|| Error::TraceData("the input was not published".into()))?;
        let mut trace = crate::runtime::run(&self.model().model, input, None)?;
        for (i, t) in known {
            let slot = trace.tensors.get_mut(*i).ok_or(Error::OutOfRange {
                what: "trace tensor",
                index: *i,
                len: known.len(),
            })?;
            if slot.shape != t.shape {
                return Err(Error::Shape {
                    name: format!("published trace tensor {i}"),
                    got: t.shape.clone(),
                    expected: slot.shape.clone(),
                });
            }
            *slot = t.clone();
        }
        Ok(trace)
    }

    /// [`Watcher::check`] of the ops of segment `s` only (a trace rebuilt with that segment's published
    /// tensors: other ops mix published and recomputed operands).
    pub fn check_segment(&self, trace: &Trace, s: usize) -> Result<Finding> {
        let graph = &self.model().model.graph;
        let ranges = graph.segment_ranges();
        let r = ranges.get(s).ok_or(Error::OutOfRange { what: "segment", index: s, len: ranges.len() })?;
        let picked: Vec<bool> = (0..graph.nodes.len()).map(|i| r.contains(&i)).collect();
        Ok(self.check_picked(trace, true, picked))
    }
}
