//! Checking a claim's trace: every picked op against its regions, then the output against the declared
//! tolerance.

use super::{Checking, Finding, Sample, Watcher};
use crate::graph::OpNode;
use crate::model::HostTensor;
use crate::region::profile::BreachKind;
use crate::region::{ops, ElementVerdict, NodeCheck};
use crate::runtime;
use crate::trace::{ElementRef, Trace};
use crate::Result;
use nao_numerics::op::Params;

impl Watcher {
    /// Checks every element of every op against its acceptance region, given the claim's own op inputs; ops
    /// that move values without arithmetic are replayed and must match bit for bit. First, an op whose output
    /// this watcher's own execution reproduces bit for bit is accepted whole: it is its own fp32 evaluation,
    /// inside every region ([`runtime::Runtime::replay_picked`]); such ops offer no closest element to
    /// [`Finding::Clean`] (see [`Watcher::check_every_element`]). A sound-region violation anywhere wins over a
    /// threshold breach, and one in an op the contracts adjudicate wins over one in an op they do not (it is
    /// provable on-chain). A claim whose every element passes, but not every op replayed bit for bit, has its
    /// output compared with this watcher's own run of its input against the model's declared output
    /// tolerance ([`Finding::OutputOff`]).
    pub fn check(&self, trace: &Trace) -> Finding {
        self.check_replaying(trace, true)
    }

    /// Judges a claim whose trace is withheld by what its prover published on-chain, its `input` and `output`:
    /// `None` when the output is what an honest run of the input gives (equal, or off by no more than the
    /// model's declared output tolerance, or, when it declared none, the composition audit's sound budget
    /// around this watcher's own run: what errors inside every region can do), and otherwise how far off it
    /// is, in words.
    pub fn judge_output(&self, input: &HostTensor, output: &HostTensor) -> Result<Option<String>> {
        let m = &self.model.model;
        let mine = runtime::run(m, input, None)?;
        let own = mine.output();
        let Some((_, off)) = crate::region::output::worst(own, output) else {
            return Ok(Some(format!("output of shape {:?}, an honest run's is {:?}", output.shape, own.shape)));
        };
        if off == 0.0 {
            return Ok(None);
        }
        if self.model.output_tolerance > 0.0 {
            let tolerance = f64::from(self.model.output_tolerance);
            return Ok((off > tolerance).then(|| format!("output off by {off:e}, beyond the declared {tolerance:e}")));
        }
        let budget = crate::region::composition::audit(m, &mine, f64::INFINITY)?.budget;
        Ok((off > budget).then(|| format!("output off by {off:e}, beyond the sound budget {budget:e}")))
    }

    /// [`Watcher::check`] with no op replayed: every element of every picked op evaluated against its region,
    /// so a clean claim's element nearest its bound is known (what a faulty watcher staging a false challenge
    /// disputes).
    pub fn check_every_element(&self, trace: &Trace) -> Finding {
        self.check_replaying(trace, false)
    }

    fn check_replaying(&self, trace: &Trace, replay: bool) -> Finding {
        // a trace of other lengths than this view's graph is checked by the view at its lengths
        let l = self.model.model.lengths;
        if trace.tensors.len() != self.model.model.graph.trace_len() || trace.tensors[0].data.len() != l.prompt as usize
        {
            if let Ok(w) = self.for_trace(trace) {
                if w.model.model.lengths != l {
                    return w.check_replaying(trace, replay);
                }
            }
        }
        let n = self.model.model.graph.nodes.len();
        let picked = self.sample.as_ref().map_or_else(|| vec![true; n], Sample::draw);
        let (finding, exact) = self.check_ops(trace, replay, picked);
        match finding {
            Finding::Clean { .. } if !exact => self.output_off(trace).map_or(finding, Finding::OutputOff),
            _ => finding,
        }
    }

    /// The output element of `trace` farther than the declared output tolerance from this watcher's own run
    /// of the trace's input, if the model declared one and there is such an element.
    fn output_off(&self, trace: &Trace) -> Option<ElementRef> {
        let tolerance = f64::from(self.model.output_tolerance);
        if tolerance == 0.0 {
            return None;
        }
        let m = &self.model.model;
        let own = match self.runtime() {
            Some(rt) => rt.run_plain(&m.graph, &trace.tensors[0]),
            None => runtime::run(m, &trace.tensors[0], None).map(|t| t.output().clone()),
        };
        let own = own.map_err(|e| tracing::warn!(error = %e, "no output check: the honest run failed")).ok()?;
        let (at, off) = crate::region::output::off(m, &own, trace.output(), tolerance)?;
        tracing::warn!(?at, off, tolerance, "every element inside its region, the output off");
        Some(at)
    }

    /// The check of the ops in `picked` (replaying them first with `replay`).
    pub(crate) fn check_picked(&self, trace: &Trace, replay: bool, picked: Vec<bool>) -> Finding {
        self.check_ops(trace, replay, picked).0
    }

    /// [`Watcher::check_picked`], and whether every op was reproduced bit for bit by a replay (the trace is
    /// then an honest run of its input, exactly).
    fn check_ops(&self, trace: &Trace, replay: bool, picked: Vec<bool>) -> (Finding, bool) {
        let m = &self.model.model;
        let mut closest: Option<(ElementRef, f64)> = None;
        let mut unchecked = 0usize;
        let mut over: Option<ElementRef> = None;
        let mut off_chain: Option<ElementRef> = None;
        let mut skipped = 0usize;
        let replays = if replay { self.replayed(trace, &picked) } else { vec![false; picked.len()] };
        for (i, node) in m.graph.nodes.iter().enumerate() {
            if !picked[i] {
                skipped += 1;
                continue;
            }
            let out = &trace.tensors[i + 1];
            if replays[i] {
                continue;
            }
            let operands = runtime::operands(m, trace, node);
            let judged: Option<(NodeCheck, Option<usize>)> = match &self.checking {
                Checking::Sound => ops::check(node, &operands, out).map(|c| (c, None)),
                Checking::PerLayer => ops::check_per_layer(node, &operands, out).map(|c| (c, None)),
                Checking::Calibrated(p) => p.judge(node, &operands, out).map(|j| {
                    let over = j.breaches.iter().find(|b| b.kind == BreachKind::Threshold).map(|b| b.element);
                    (j.check, over)
                }),
            };
            let Some((check, over_threshold)) = judged else {
                unchecked += 1;
                continue;
            };
            let descriptor = m.graph.adjudicable(i);
            let at = |v: &ElementVerdict| element_at(descriptor.as_ref(), &node.shape, &operands, i, v.element);
            let adjudicable = descriptor.is_some();
            if let Some(v) = check.first_violation() {
                tracing::warn!(
                    op = i,
                    kind = node.op.name(),
                    element = v.element,
                    ratio = v.ratio,
                    "outside its region"
                );
                if adjudicable {
                    return (Finding::Violation(at(v)), false);
                }
                // keep looking for a violation the contracts can adjudicate (a cheat rarely moves one op only)
                off_chain.get_or_insert(at(v));
                continue;
            }
            if let Some(e) = over_threshold {
                let v = check.elements[e];
                tracing::warn!(op = i, kind = node.op.name(), element = e, ratio = v.ratio, "over its threshold");
                over.get_or_insert(at(&v));
            }
            if let (true, Some(v)) = (adjudicable, check.closest_inside()) {
                if closest.is_none_or(|(_, r)| v.ratio > r) {
                    closest = Some((at(v), v.ratio));
                }
            }
        }
        let replayed = replays.iter().filter(|r| **r).count();
        tracing::debug!(ops = m.graph.nodes.len(), unchecked, skipped, replayed, "claim checked");
        let finding = match (off_chain, over) {
            (Some(at), _) => Finding::OffChain(at),
            (None, Some(at)) => Finding::OverThreshold(at),
            (None, None) => Finding::Clean { closest: closest.map(|(c, _)| c) },
        };
        (finding, replayed == m.graph.nodes.len())
    }
}

/// The element a verdict on flat output element `element` of op `op` names: (row, col) of the output viewed
/// as `[rows, last dim]`; for an Argmax (output `[rows]`), `col` is the witness the contract compares the claimed
/// index with: the first maximum of the input row.
fn element_at(
    descriptor: Option<&OpNode>,
    shape: &[usize],
    operands: &[&HostTensor],
    op: usize,
    element: usize,
) -> ElementRef {
    if let Some(Params::Argmax { length }) = descriptor.map(|d| &d.params) {
        let k = *length as usize;
        let row = &operands[0].data[element * k..(element + 1) * k];
        let col = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
        return ElementRef { op, row: element, col };
    }
    let cols = *shape.last().unwrap_or(&1);
    ElementRef { op, row: element / cols, col: element % cols }
}
