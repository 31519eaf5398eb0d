//! Reachable deviations: how far every trace element can be from the honest run when every element of every op
//! deviates anywhere inside its tolerance, and how far each op's output can then be from its linearization at
//! the honest run. What makes the composition audit sound beyond first order ([`super::composition`]).
//!
//! A dishonest trace `x~` writes each op's output as `y~ = f(x~) + e` with `|e_j| <= tol_j` (the op's
//! region, evaluated at the trace's own operands). With `D = x~ - x` the deviations from the honest run,
//! `D_y = J D_x + e + r`, where `J` is the op's Jacobian at the honest operands and `r = f(x + D_x) - f(x) -
//! J D_x` its linearization remainder. The recursion is linear in the sources `e + r`, so the output moves by
//! at most `sum |J_total| (tol + r)`, with `J_total` the signed Jacobian at the honest run: the first-order
//! audit's sum, with each element's source widened by its remainder. This module bounds, per element:
//!
//! - `delta`: `|D|` of every trace tensor, by interval propagation forward from the input (exact for the
//!   claim's input, which the watcher holds): for each op the largest `|f(x + D_x) - f(x)|` over the box
//!   `|D_x| <= delta_x`, plus its tolerance. Sound for every op; loose through chains of dense layers (it
//!   takes `|W| delta` where the signed product keeps cancellations), which matters only through `r`.
//! - `r`, over the same box: 0 for linear ops (MatMul, Add, Scale, RoPE, MeanRows, data movement);
//!   `delta_a delta_b` summed for products of two trace tensors; for ReLU the part of the box beyond the kink
//!   (`max(0, delta - |x|)`: a unit parked below its kink whose box crosses it is opened here, by its full
//!   reach); for GELU and SiLU `min(M2 delta^2 / 2, (L + |f'(x)|) delta)` with their global bounds `M2` on
//!   `|f''|` and `L` on `|f'|` (flat regions are opened the same way); softmax `p (2 D^2 e^(2 D) + D^2 / 2)`
//!   with `D` the row's largest deviation; LayerNorm and RMSNorm a second-order expansion of `1/sigma`
//!   (see [`crate::op::norm`]).
//!
//! A region's half-width is evaluated at the dishonest trace's operands, not the honest ones: it grows with
//! the operands' magnitudes by at most a few ulps per term of the op's reduction. Each tolerance is widened by
//! `(n + 8) 2^-23` times its output's reachable deviation (`n` the reduction length).

use crate::graph::Src;
use crate::model::Model;
use crate::runtime::operands;
use crate::trace::Trace;

/// What [`reach`] finds.
#[derive(Debug, Clone)]
pub struct Reach {
    /// Per trace tensor, per element: the largest deviation from the honest run.
    pub delta: Vec<Vec<f64>>,
    /// Per op, per output element: its source in the linear recursion, the widened tolerance plus the
    /// linearization remainder.
    pub source: Vec<Vec<f64>>,
    /// Per op: the largest remainder of its elements.
    pub remainder: Vec<f64>,
    /// Per op: how many of its output elements are nonlinear units whose box crosses a kink or a flat region
    /// (ReLU: the box contains 0 and the unit's honest input is not 0).
    pub opened: Vec<usize>,
}

/// Propagates the deviations that tolerances `tol` (per op, per output element, at the honest run) admit, from
/// the honest trace `trace`.
pub fn reach(model: &Model, trace: &Trace, tol: &[Vec<f64>]) -> Result<Reach, String> {
    let g = &model.graph;
    let mut delta: Vec<Vec<f64>> = Vec::with_capacity(trace.tensors.len());
    delta.push(vec![0.0; trace.tensors[0].data.len()]);
    let (mut source, mut remainder, mut opened) = (Vec::new(), Vec::new(), Vec::new());
    let bar = indicatif::ProgressBar::new(g.nodes.len() as u64);
    for (i, node) in g.nodes.iter().enumerate() {
        bar.inc(1);
        let x = operands(model, trace, node);
        let zero: Vec<Vec<f64>> = x.iter().map(|t| vec![0.0; t.data.len()]).collect();
        let dx: Vec<&[f64]> = node
            .inputs
            .iter()
            .zip(&zero)
            .map(|(s, z)| match s {
                Src::Trace(t) => delta[*t as usize].as_slice(),
                Src::Weight(_) => z.as_slice(),
            })
            .collect();
        let y = &trace.tensors[i + 1];
        let op = node.op.operator();
        let (lin, r) = op.reach(&x, &dx, y).map_err(|e| format!("op {i} ({}): {e}", node.op.name()))?;
        let eta = (op.reduction(&x) as f64 + 8.0) * 2f64.powi(-23);
        // each tolerance widened for operands that moved; the deviation is the op's reach plus it
        let t: Vec<f64> = tol[i].iter().zip(&lin).map(|(t, l)| t + eta * (l + t)).collect();
        opened.push(op.opened(&x, &dx, &lin, &r));
        remainder.push(r.iter().copied().fold(0.0, f64::max));
        delta.push(lin.iter().zip(&t).map(|(l, t)| l + t).collect());
        source.push(t.iter().zip(&r).map(|(t, r)| t + r).collect());
        let mx = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        tracing::trace!(
            op = i,
            kind = node.op.name(),
            tol = mx(&tol[i]),
            reach = mx(&lin),
            remainder = mx(&r),
            "reach"
        );
    }
    bar.finish_and_clear();
    Ok(Reach { delta, source, remainder, opened })
}
