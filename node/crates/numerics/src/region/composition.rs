//! The composition audit: per-op tolerances do not bound the final output (papers/non-composability...),
//! so a model is audited at registration: how far can errors that pass every per-element check move the
//! final output? Over budget, the model is refused.
//!
//! **At the operating point** (the claim's run), to first order: an error `e_tj` in element `j` of trace
//! tensor `t` moves output `k` by `J_k,tj e_tj`, with `J` the Jacobian of the output with respect to that
//! element through the rest of the graph. Errors within tolerances `tol_tj` therefore move output `k` by at
//! most `sum_t sum_j |J_k,tj| tol_tj`, and the budget is the largest of these over `k` (inf-norm). The audit
//! computes every row of `J` at once: reverse-mode products from the identity at the output, one output
//! element per row, through every op of the IR (`vjp`): MatMul and BatchMatMul (the other operand),
//! Add, Mul, Scale, ReLU (slope 1 from 0 up: a unit exactly at its kink opens with any positive error), GELU
//! and SiLU (their slopes at the operating point), softmax `p (g - sum g p)`,
//! LayerNorm / RMSNorm `(h - mean h - z mean(h z)) / sigma` with `h = g gamma`, RoPE (the inverse rotation),
//! MeanRows, and data movement (reshape, transpose, narrow, concat, causal mask; routed by running the op on
//! element indices). Token ids and argmax indices are discrete: nothing flows through them, so a language
//! model is audited on its logits.
//!
//! Global Lipschitz bounds (operator norms multiplied along the graph) are what the first version used: sound
//! for any error size, but products of `||W||_inf` over a transformer's layers reach 1e38 (measured on
//! MiniLM with element-wise absolute products), useless. The signed Jacobian at the operating point keeps the
//! cancellations that make real networks stable; the price is first order: the Jacobian itself moves with the
//! errors (LayerNorm's sigma, softmax's p, products of activations), by relative amounts of the order of the
//! tolerances (1e-7 to 1e-5), so the second-order terms are smaller by as much again.
//!
//! **Tolerances** are per element: the sound bound `B_e` ([`Tolerances::Sound`]), or the calibrated
//! threshold `T_e = min(limit scale_e, B_e)` that the committee vote enforces ([`Tolerances::Calibrated`]).
//! `B_e` is read back from the region check itself (two probes of the verdict, [`element_bounds`]).
//! Registration (`RegisteredModel::register_audited` in the roles) refuses a model whose sound budget
//! exceeds its declared tolerance unless the calibrated budget fits: then it is registered with its
//! thresholds as the enforced tolerances (the vote decides elements between `T_e` and `B_e`).

use crate::graph::{Node, Op, Src};
use crate::model::Model;
use crate::region::ops;
use crate::region::profile::Profile;
use crate::region::reach::{self, Reach};
use crate::runtime::operands;
use crate::tensor::HostTensor;
use crate::trace::Trace;
use crate::{Error, Result};

/// One op's share of the budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpShare {
    /// Node index.
    pub op: usize,
    /// Largest gain of the op's output elements: `max_j G[j]`.
    pub gain: f64,
    /// Largest tolerance of the op's output elements.
    pub tolerance: f64,
    /// `sum_j G[j] tol[j]`: how far this op's in-region errors can move the output, to first order.
    pub share: f64,
    /// The largest linearization remainder of its elements over their reachable deviations
    /// ([`super::reach`]): 0 for linear ops and for units whose reach stays on one side of a kink.
    pub remainder: f64,
    /// How many of its units' reachable intervals cross a kink or reach a flat region (ReLU, GELU, SiLU).
    pub opened: usize,
    /// `sum_j G[j] (tol[j] + r[j])`: its share with the remainders, sound for errors of any size.
    pub bound: f64,
}

/// The audit of a model at an operating point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Audit {
    /// Every op's gain, tolerance and share.
    pub ops: Vec<OpShare>,
    /// How far in-region errors of any size can move the output (inf-norm): the signed Jacobian at the
    /// operating point applied to each element's tolerance plus its linearization remainder over the
    /// deviations the tolerances can reach ([`super::reach`]).
    pub budget: f64,
    /// The first-order part of [`Audit::budget`], `sum share` (the remainders left out): what the audit
    /// charged before it accounted for units a deviation can open.
    pub first_order: f64,
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
        self.ops.iter().max_by(|a, b| a.bound.total_cmp(&b.bound))
    }
}

/// Which per-element tolerance the audit charges each op with.
#[derive(Debug, Clone, Copy)]
pub enum Tolerances<'a> {
    /// The sound bound `B_e`: what the contract's exact check allows.
    Sound,
    /// The calibrated threshold `T_e` of this profile: what the committee vote allows.
    Calibrated(&'a Profile),
}

/// Audits `model` at the operating point `trace` against a declared output tolerance, charging each element
/// its sound bound.
pub fn audit(model: &Model, trace: &Trace, declared: f64) -> Result<Audit> {
    audit_with(model, trace, declared, Tolerances::Sound)
}

/// [`audit`] with the tolerances of `tol`.
pub fn audit_with(model: &Model, trace: &Trace, declared: f64, tol: Tolerances<'_>) -> Result<Audit> {
    Ok(audits(model, trace, declared, &[tol])?.remove(0))
}

/// The audit under each tolerance set of `tols`, in one reverse pass (each op's bounds read once).
pub fn audits(model: &Model, trace: &Trace, declared: f64, tols: &[Tolerances<'_>]) -> Result<Vec<Audit>> {
    let out_len = trace.output().data.len();
    let mut seeds: Vec<Option<Vec<f64>>> = vec![None; trace.tensors.len()];
    let mut identity = vec![0.0; out_len * out_len];
    (0..out_len).for_each(|k| identity[k * out_len + k] = 1.0);
    seeds[model.graph.nodes.len()] = Some(identity);
    Ok(propagate(model, trace, seeds, out_len, tols)?
        .into_iter()
        .map(|p| Audit {
            ops: p.ops,
            budget: p.bound.iter().copied().fold(0.0, f64::max),
            first_order: p.first_order.iter().copied().fold(0.0, f64::max),
            declared,
        })
        .collect())
}

/// One token of a language model's claim, audited: can errors inside the regions flip it?
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenAudit {
    /// The Argmax node.
    pub op: usize,
    /// The row of its logits.
    pub row: usize,
    /// The token chosen.
    pub token: usize,
    /// Top logit minus the runner-up's at the operating point.
    pub margin: f64,
    /// How far in-region errors can move that difference (first order).
    pub first_order: f64,
    /// How far in-region errors of any size can move it (with the remainders, as [`Audit::budget`]).
    pub budget: f64,
}

impl TokenAudit {
    /// Whether no in-region error can flip the token.
    pub fn stable(&self) -> bool {
        self.budget < self.margin
    }

    /// Whether errors of the size its tolerances allow could flip the token to first order (what honest
    /// runs elsewhere make, when the tolerances are calibrated): a near tie.
    pub fn near_tie(&self) -> bool {
        self.first_order >= self.margin
    }
}

/// The audit of a graph whose outputs are tokens (Argmax over logits): for every row of every Argmax, how
/// far errors within `tol` can move the top logit minus the runner-up (one Jacobian row each, seeded with
/// +1 and -1 at the two logits), against the margin between them. Earlier tokens feed later steps only
/// through embeddings of ids (discrete), so a claim whose every token is stable is stable as a whole.
pub fn audit_tokens(model: &Model, trace: &Trace, tol: Tolerances<'_>) -> Result<Vec<TokenAudit>> {
    Ok(audits_tokens(model, trace, &[tol])?.remove(0))
}

/// [`audit_tokens`] under each tolerance set of `tols`, in one reverse pass.
pub fn audits_tokens(model: &Model, trace: &Trace, tols: &[Tolerances<'_>]) -> Result<Vec<Vec<TokenAudit>>> {
    let g = &model.graph;
    let mut rows: Vec<(usize, usize, usize, f64, usize, usize)> = Vec::new(); // op, tensor, row, margin, top, second
    for (i, node) in g.nodes.iter().enumerate().filter(|(_, n)| n.op == Op::Argmax) {
        let Some(Src::Trace(t)) = node.inputs.first() else { continue };
        let logits = &trace.tensors[*t as usize];
        let v = *logits.shape.last().unwrap_or(&1);
        for (r, row) in logits.data.chunks(v).enumerate() {
            let (top, second) = top2(row);
            rows.push((i, *t as usize, r, (row[top] - row[second]) as f64, top, second));
        }
    }
    let kk = rows.len();
    let mut seeds: Vec<Option<Vec<f64>>> = vec![None; trace.tensors.len()];
    for (q, (_, t, r, _, top, second)) in rows.iter().enumerate() {
        let len = trace.tensors[*t].data.len();
        let v = *trace.tensors[*t].shape.last().unwrap_or(&1);
        let seed = seeds[*t].get_or_insert_with(|| vec![0.0; kk * len]);
        seed[q * len + r * v + top] = 1.0;
        seed[q * len + r * v + second] = -1.0;
    }
    Ok(propagate(model, trace, seeds, kk, tols)?
        .into_iter()
        .map(|p| {
            rows.iter()
                .zip(p.first_order.into_iter().zip(p.bound))
                .map(|((op, _, row, margin, top, _), (first_order, budget))| TokenAudit {
                    op: *op,
                    row: *row,
                    token: *top,
                    margin: *margin,
                    first_order,
                    budget,
                })
                .collect()
        })
        .collect())
}

/// Reverse-mode products through the graph: `rows[t]`, when given, holds `kk` rows over trace tensor `t`
/// (`[kk x len]`). Every op reached is shown to `visit` with its index, node, operands and output rows before
/// they flow on to its operands (`vjp`). Returns the rows left on the tensors no op produces (the input).
pub fn reverse(
    model: &Model,
    trace: &Trace,
    mut rows: Vec<Option<Vec<f64>>>,
    kk: usize,
    mut visit: impl FnMut(usize, &Node, &[&HostTensor], &[f64]) -> Result<()>,
) -> Result<Vec<Option<Vec<f64>>>> {
    let g = &model.graph;
    let bar = indicatif::ProgressBar::new(g.nodes.len() as u64);
    for (i, node) in g.nodes.iter().enumerate().rev() {
        bar.inc(1);
        let Some(gy) = rows[i + 1].take() else { continue };
        let out = &trace.tensors[i + 1];
        let ops_in = operands(model, trace, node);
        visit(i, node, &ops_in, &gy)?;
        for (slot, gx) in
            vjp(node, &ops_in, out, &gy, kk).map_err(|e| Error::Audit(format!("op {i} ({}): {e}", node.op.name())))?
        {
            if let Some(Src::Trace(t)) = node.inputs.get(slot) {
                match &mut rows[*t as usize] {
                    Some(acc) => acc.iter_mut().zip(gx).for_each(|(a, b)| *a += b),
                    none => *none = Some(gx),
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(rows)
}

/// One tolerance set's reverse pass: per row, the first-order sum and the bound with remainders; every op's
/// share.
struct Propagated {
    first_order: Vec<f64>,
    bound: Vec<f64>,
    ops: Vec<OpShare>,
}

/// The audit's reverse pass from `seeds` (`kk` rows), for each tolerance set of `tols` at once: each op's
/// sound bounds are read once, forward, then each set's reachable deviations ([`super::reach`]); per set, per
/// row, `sum_ops sum_j |J_kj| tol_j` and `sum_ops sum_j |J_kj| (tol_j + r_j)`, and every op's share.
fn propagate(
    model: &Model,
    trace: &Trace,
    seeds: Vec<Option<Vec<f64>>>,
    kk: usize,
    tols: &[Tolerances<'_>],
) -> Result<Vec<Propagated>> {
    let g = &model.graph;
    // per set, per op, per element: the tolerance at the operating point
    let mut tol: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(g.nodes.len()); tols.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        let ops_in = operands(model, trace, node);
        let y = &trace.tensors[i + 1];
        let bounds = element_bounds(node, &ops_in, y)
            .ok_or_else(|| Error::Audit(format!("op {i}: {} cannot be checked", node.op.name())))?;
        for (set, t) in tol.iter_mut().zip(tols) {
            set.push(tolerances(node, &ops_in, y, &bounds, *t).map_err(|e| Error::Audit(format!("op {i}: {e}")))?);
        }
    }
    let reach: Vec<Reach> =
        tol.iter().map(|t| reach::reach(model, trace, t).map_err(Error::Audit)).collect::<Result<_>>()?;
    let empty = |i| OpShare { op: i, gain: 0.0, tolerance: 0.0, share: 0.0, remainder: 0.0, opened: 0, bound: 0.0 };
    let mut out: Vec<Propagated> = tols
        .iter()
        .map(|_| Propagated {
            first_order: vec![0.0; kk],
            bound: vec![0.0; kk],
            ops: (0..g.nodes.len()).map(empty).collect(),
        })
        .collect();
    reverse(model, trace, seeds, kk, |i, _node, _ops_in, gy| {
        let n = trace.tensors[i + 1].data.len();
        let gain = gy.iter().fold(0.0f64, |m, j| m.max(j.abs()));
        for ((p, t), r) in out.iter_mut().zip(&tol).zip(&reach) {
            let (t, src) = (&t[i], &r.source[i]);
            let (mut share, mut bound) = (0.0f64, 0.0f64);
            for (k, row) in gy.chunks(n).enumerate() {
                let (s, b) = row
                    .iter()
                    .zip(t.iter().zip(src))
                    .filter(|(j, _)| **j != 0.0)
                    .fold((0.0, 0.0), |(s, b), (j, (t, src))| (s + j.abs() * t, b + j.abs() * src));
                p.first_order[k] += s;
                p.bound[k] += b;
                share = share.max(s);
                bound = bound.max(b);
            }
            p.ops[i] = OpShare {
                op: i,
                gain,
                tolerance: t.iter().copied().fold(0.0, f64::max),
                share,
                remainder: r.remainder[i],
                opened: r.opened[i],
                bound,
            };
        }
        Ok(())
    })?;
    Ok(out)
}

/// Each element's tolerance of one op under `tol` (its sound bound `B_e`, or its calibrated threshold `T_e`),
/// `None` for an op without a region check.
pub fn element_tolerances(
    node: &Node,
    operands: &[&HostTensor],
    out: &HostTensor,
    tol: Tolerances<'_>,
) -> Option<Vec<f64>> {
    let bounds = element_bounds(node, operands, out)?;
    tolerances(node, operands, out, &bounds, tol).ok()
}

/// Each element's tolerance of one op under `tol`, from its sound bounds `bounds`.
fn tolerances(
    node: &Node,
    ops_in: &[&HostTensor],
    out: &HostTensor,
    bounds: &[f64],
    tol: Tolerances<'_>,
) -> std::result::Result<Vec<f64>, String> {
    let Tolerances::Calibrated(p) = tol else { return Ok(bounds.to_vec()) };
    if node.op.has_exact_region() {
        return Ok(bounds.to_vec());
    }
    let limit =
        p.ops.get(node.op.name()).ok_or_else(|| format!("the profile has no threshold for {}", node.op.name()))?.limit;
    let check = ops::check(node, ops_in, out).ok_or("no check")?;
    Ok(bounds.iter().zip(&check.elements).map(|(b, v)| b * (limit / v.bound_to_scale).min(1.0)).collect())
}

/// Each element's sound bound `B_e` (the half-width of its region), read back from the region check: the
/// check reports `r = |y - c| / B` for its centre `c`; probing `y + d` and `y - d` gives `r+ + r- = 2 d / B`
/// when `d >= |y - c|`, and `|r+ - r-| = 2 d / B` otherwise (told apart by `r` itself). Exact and point
/// regions give 0.
pub fn element_bounds(node: &Node, operands: &[&HostTensor], out: &HostTensor) -> Option<Vec<f64>> {
    if let Some(b) = ops::dot_bounds(node, operands) {
        return Some(b); // dot products: straight from the screen (probes would take the exact path everywhere)
    }
    let at = ops::check(node, operands, out)?;
    type Probe = (Vec<(f64, bool)>, Vec<f64>);
    let probe = |sign: f32| -> Option<Probe> {
        let mut t = out.clone();
        let mut d = Vec::with_capacity(t.data.len());
        for y in t.data.iter_mut() {
            let moved = *y + sign * (y.abs() * 2f32.powi(-8)).max(1e-30);
            d.push((moved as f64 - *y as f64).abs());
            *y = moved;
        }
        Some((ops::check(node, operands, &t)?.elements.iter().map(|v| (v.ratio, v.inside)).collect(), d))
    };
    let ((up, d), (down, _)) = (probe(1.0)?, probe(-1.0)?);
    Some(
        at.elements
            .iter()
            .enumerate()
            .map(|(e, v)| {
                let ((rp, in_p), (rm, in_m), r0) = (up[e], down[e], v.ratio);
                if !(rp.is_finite() && rm.is_finite() && r0.is_finite()) || (rp == 0.0 && rm == 0.0) {
                    return 0.0; // an exact region (or a non-finite element: its op is at fault, not a channel)
                }
                let sum = rp + rm;
                let two_d_over_b = if sum > 2.0 * r0 * (1.0 + 1e-9) { sum } else { (rp - rm).abs() };
                let b = if two_d_over_b > 0.0 { 2.0 * d[e] / two_d_over_b } else { 0.0 };
                // both probes outside a region at least as wide as the probe: the ratio was not relative to a
                // half-width (a zero bound reports the raw difference), so the region is the point
                if !in_p && !in_m && b >= d[e] {
                    0.0
                } else {
                    b
                }
            })
            .collect(),
    )
}

/// Reverse-mode product of one op at its operands ([`crate::op::Operator::vjp`]): for each operand slot that
/// may be a trace tensor, the rows `G_x = G_y J` for all `kk` rows of `gy` (`[kk x len(y)]`, row-major), as
/// `(slot, [kk x len(x)])`.
fn vjp(node: &Node, x: &[&HostTensor], y: &HostTensor, gy: &[f64], kk: usize) -> crate::op::Grads {
    let traced: Vec<bool> = node.inputs.iter().map(|s| matches!(s, Src::Trace(_))).collect();
    node.op.operator().vjp(x, &traced, y, gy, kk)
}

/// The two largest entries of `row`: (top, runner-up).
pub fn top2(row: &[f32]) -> (usize, usize) {
    let top = (0..row.len()).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap_or(0);
    let second = (0..row.len()).filter(|c| *c != top).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap_or(0);
    (top, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::Cheat;
    use crate::model::bert::Bert;
    use crate::model::{fetch, MLP_TINY};
    use crate::runtime::run;

    /// Every op's output moved by a random fraction (up to one half) of its sound bound, either way, computed
    /// on from there: the output moves by less than the budget; the calibrated budget is below the sound one.
    fn random_in_region_errors(model: &Model, input: &HostTensor, profile: &[u8]) -> (Audit, Audit, f64) {
        let honest = run(model, input, None).unwrap();
        let sound = audit(model, &honest, 1.0).unwrap();
        let p = Profile::parse(profile).unwrap();
        let calibrated = audit_with(model, &honest, 1.0, Tolerances::Calibrated(&p)).unwrap();
        assert!(calibrated.budget <= sound.budget, "{} > {}", calibrated.budget, sound.budget);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut cheat = Cheat::rewrite(model, move |_, node, ops_in, out| {
            let Some(b) = element_bounds(node, ops_in, out) else { return };
            for (y, b) in out.data.iter_mut().zip(b) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *y = (*y as f64 + ((rng % 1000) as f64 / 1000.0 - 0.5) * b) as f32;
            }
        });
        let moved = cheat.run(input).unwrap();
        let d = moved
            .output()
            .data
            .iter()
            .zip(&honest.output().data)
            .map(|(a, b)| (a - b).abs() as f64)
            .fold(0.0, f64::max);
        assert!(d <= sound.budget, "moved {d} > budget {}", sound.budget);
        (sound, calibrated, d)
    }

    #[test]
    fn the_budget_bounds_in_region_errors_on_the_mlp_and_on_minilm() {
        let m = MLP_TINY.generated();
        let (s, c, d) = random_in_region_errors(&m, &MLP_TINY.input(4), crate::model::builtin::MLP_TINY_PROFILE);
        eprintln!(
            "mlp: budget sound {:.3e} (first order {:.3e}), calibrated {:.3e} ({:.3e}); random in-region errors moved {d:.3e}",
            s.budget, s.first_order, c.budget, c.first_order
        );
        assert!(s.budget < 1e-3, "the MLP passes a declared 1e-3: {}", s.budget);
        let bert = Bert::minilm(&fetch::default_cache_dir()).unwrap();
        let input = bert.encode(crate::model::builtin::MINILM_SENTENCE).unwrap();
        let m = bert.model(input.data.len()).unwrap();
        let (s, c, d) = random_in_region_errors(&m, &input, crate::model::builtin::MINILM_PROFILE);
        // registered with its thresholds as the enforced tolerances: the sound budget exceeds the declared 1e-2,
        // the calibrated one fits
        assert!(s.first_order > crate::model::builtin::MINILM_DECLARED_TOLERANCE, "{}", s.first_order);
        assert!(c.first_order < crate::model::builtin::MINILM_DECLARED_TOLERANCE, "{}", c.first_order);
        // beyond first order the interval reach saturates through MiniLM's layers: the bound is sound and
        // useless (admitted for the output vote), never below the first-order sum
        assert!(s.budget >= s.first_order && c.budget >= c.first_order, "{s:?} {c:?}");
        let w = s.worst().unwrap();
        eprintln!(
            "minilm: budget sound {:.3e} (first order {:.3e}), calibrated {:.3e} ({:.3e}); random in-region errors moved {d:.3e}; worst op {} ({}) {:.2e}",
            s.budget,
            s.first_order,
            c.budget,
            c.first_order,
            w.op,
            m.graph.nodes[w.op].op.name(),
            w.share
        );
    }
}
