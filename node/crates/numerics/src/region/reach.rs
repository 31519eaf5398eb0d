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
//!   (see [`norm`]).
//!
//! A region's half-width is evaluated at the dishonest trace's operands, not the honest ones: it grows with
//! the operands' magnitudes by at most a few ulps per term of the op's reduction. Each tolerance is widened by
//! `(n + 8) 2^-23` times its output's reachable deviation (`n` the reduction length).

use crate::graph::{Node, Op, Src};
use crate::model::{HostTensor, Model};
use crate::runtime::{operands, replay};
use crate::trace::Trace;

/// Global bounds of GELU: `sup |f''| = 2 phi(0)` (at 0), `sup |f'|` (at `x = sqrt 2`).
const GELU_M2: f64 = 0.797_884_6;
const GELU_L: f64 = 1.128_6;
/// Global bounds of SiLU: `sup |f''| = 1/2` (at 0), `sup |f'|` (at `x ~ 2.4`).
const SILU_M2: f64 = 0.5;
const SILU_L: f64 = 1.099_9;

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
        let (lin, r) = op_reach(node, &x, &dx, y).map_err(|e| format!("op {i} ({}): {e}", node.op.name()))?;
        let eta = (reduction(node, &x) as f64 + 8.0) * 2f64.powi(-23);
        // each tolerance widened for operands that moved; the deviation is the op's reach plus it
        let t: Vec<f64> = tol[i].iter().zip(&lin).map(|(t, l)| t + eta * (l + t)).collect();
        opened.push(match node.op {
            Op::Relu => x[0].data.iter().zip(dx[0]).filter(|(v, d)| **v != 0.0 && **d >= v.abs() as f64).count(),
            Op::Gelu | Op::Silu => r.iter().zip(&lin).filter(|(r, l)| **r > 0.5 * **l && **l > 0.0).count(),
            _ => 0,
        });
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

/// Length of the op's reduction (what its region's half-width sums over).
fn reduction(node: &Node, x: &[&HostTensor]) -> usize {
    let last = |t: &HostTensor| *t.shape.last().unwrap_or(&1);
    match node.op {
        Op::MatMul | Op::BatchMatMul { .. } => last(x[0]),
        Op::Softmax | Op::LayerNorm { .. } | Op::RmsNorm { .. } => last(x[0]),
        Op::MeanRows => x[0].shape.first().copied().unwrap_or(1),
        _ => 1,
    }
}

/// One op over the box `|D_x| <= dx` around its honest operands `x` (output `y`): per output element, the
/// largest `|f(x + D_x) - f(x)|` and the largest linearization remainder.
fn op_reach(node: &Node, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Result<(Vec<f64>, Vec<f64>), String> {
    let ny = y.data.len();
    let last = |t: &HostTensor| *t.shape.last().unwrap_or(&1);
    let abs = |t: &HostTensor| t.data.iter().map(|v| (*v as f64).abs()).collect::<Vec<f64>>();
    let none = vec![0.0; ny];
    Ok(match node.op {
        Op::MatMul => {
            let (k, n) = (last(x[0]), x[1].data.len() / last(x[0]));
            let rows = x[0].data.len() / k;
            // y[r, c] = sum_t a[r, t] w[c, t]
            let lin = bmm(dx[0], &abs(x[1]), 1, rows, k, n, true);
            if dx[1].iter().all(|d| *d == 0.0) {
                (lin, none)
            } else {
                let r = bmm(dx[0], dx[1], 1, rows, k, n, true);
                let aw = bmm(&abs(x[0]), dx[1], 1, rows, k, n, true);
                (sum3(&lin, &aw, &r), r)
            }
        }
        Op::BatchMatMul { transpose_b } => {
            let (batch, m, k) = (x[0].shape[0], x[0].shape[1], x[0].shape[2]);
            let n = last(y);
            let lin_a = bmm(dx[0], &abs(x[1]), batch, m, k, n, transpose_b);
            let lin_b = bmm(&abs(x[0]), dx[1], batch, m, k, n, transpose_b);
            let r = bmm(dx[0], dx[1], batch, m, k, n, transpose_b);
            (sum3(&lin_a, &lin_b, &r), r)
        }
        Op::Add => {
            let lb = dx[1].len();
            ((0..ny).map(|j| dx[0][j] + dx[1][j % lb]).collect(), none)
        }
        Op::Mul => {
            let (a, b, lb) = (&x[0].data, &x[1].data, dx[1].len());
            let r: Vec<f64> = (0..ny).map(|j| dx[0][j] * dx[1][j % lb]).collect();
            let lin = (0..ny).map(|j| (a[j] as f64).abs() * dx[1][j % lb] + dx[0][j] * (b[j % lb] as f64).abs() + r[j]);
            (lin.collect(), r)
        }
        Op::Scale { factor } => (dx[0].iter().map(|d| d * (factor as f64).abs()).collect(), none),
        Op::Relu | Op::Gelu | Op::Silu => {
            let mut lin = Vec::with_capacity(ny);
            let mut r = Vec::with_capacity(ny);
            for (v, d) in x[0].data.iter().zip(dx[0]) {
                let (v, d) = (*v as f64, *d);
                let (l, rem) = unary(node.op, v, d);
                lin.push(l);
                r.push(rem);
            }
            (lin, r)
        }
        Op::Softmax => softmax(&x[0].data, dx[0], &y.data, last(y)),
        Op::LayerNorm { eps } | Op::RmsNorm { eps } => {
            let centred = matches!(node.op, Op::LayerNorm { .. });
            let gamma = x[1];
            let (dg, db) = (dx[1], dx.get(2).copied());
            norm(&x[0].data, dx[0], last(y), eps as f64, centred, gamma, dg, db)
        }
        Op::Rope { theta, offset } => {
            let s = &x[0].shape;
            let (t, d) = (s[s.len() - 2], s[s.len() - 1]);
            let h = d / 2;
            let mut lin = vec![0.0; ny];
            for (row, (dr, out)) in dx[0].chunks(d).zip(lin.chunks_mut(d)).enumerate() {
                let p = (offset as usize + row % t) as f64;
                for i in 0..h {
                    let a = p / (theta as f64).powf(2.0 * i as f64 / d as f64);
                    let (c, sn) = (a.cos().abs(), a.sin().abs());
                    out[i] = dr[i] * c + dr[i + h] * sn;
                    out[i + h] = dr[i] * sn + dr[i + h] * c;
                }
            }
            (lin, none)
        }
        Op::MeanRows => {
            let rows = x[0].shape[0].max(1);
            let mut lin = vec![0.0; ny];
            for (j, d) in dx[0].iter().enumerate() {
                lin[j % ny] += d / rows as f64;
            }
            (lin, none)
        }
        Op::Reshape | Op::Transpose { .. } | Op::Narrow { .. } | Op::Concat { .. } | Op::CausalMask { .. } => {
            // the op run on the deviations moves them where it moves the values (masked entries are exact)
            let t: Vec<HostTensor> = x
                .iter()
                .zip(dx)
                .map(|(t, d)| HostTensor::new(t.shape.clone(), d.iter().map(|v| up(*v)).collect()))
                .collect();
            let refs: Vec<&HostTensor> = t.iter().collect();
            let moved = replay(node, &refs).map_err(|e| e.to_string())?;
            (moved.data.iter().map(|v| if v.is_finite() { *v as f64 } else { 0.0 }).collect(), none)
        }
        Op::Embedding => {
            if dx[0].iter().any(|d| *d > 0.0) {
                return Err("token ids that can change".into());
            }
            if dx[1].iter().all(|d| *d == 0.0) {
                (none.clone(), none)
            } else {
                let table = HostTensor::new(x[1].shape.clone(), dx[1].iter().map(|v| up(*v)).collect());
                let moved = replay(node, &[x[0], &table]).map_err(|e| e.to_string())?;
                (moved.data.iter().map(|v| *v as f64).collect(), none)
            }
        }
        // a token chosen: discrete, audited against its margin (the token audit), not propagated
        Op::Argmax => (none.clone(), none),
    })
}

/// `v` as an fp32 no smaller than `v`.
fn up(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) < v {
        f * (1.0 + f32::EPSILON)
    } else {
        f
    }
}

fn sum3(a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
    a.iter().zip(b).zip(c).map(|((a, b), c)| a + b + c).collect()
}

/// Batched `a [batch, m, k] @ b` with `b` `[batch, k, n]`, or `[batch, n, k]` when `transpose_b`; a batch of
/// one may broadcast `b` (`[n, k]` weights).
fn bmm(a: &[f64], b: &[f64], batch: usize, m: usize, k: usize, n: usize, transpose_b: bool) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    let b_batched = b.len() == batch * k * n;
    for bt in 0..batch {
        let bb = if b_batched { &b[bt * k * n..(bt + 1) * k * n] } else { b };
        for i in 0..m {
            let ar = &a[(bt * m + i) * k..(bt * m + i + 1) * k];
            if ar.iter().all(|v| *v == 0.0) {
                continue;
            }
            let o = &mut out[(bt * m + i) * n..(bt * m + i + 1) * n];
            if transpose_b {
                for (j, oj) in o.iter_mut().enumerate() {
                    *oj = ar.iter().zip(&bb[j * k..(j + 1) * k]).map(|(p, q)| p * q).sum();
                }
            } else {
                for (t, av) in ar.iter().enumerate() {
                    if *av != 0.0 {
                        for (oj, bv) in o.iter_mut().zip(&bb[t * n..(t + 1) * n]) {
                            *oj += av * bv;
                        }
                    }
                }
            }
        }
    }
    out
}

/// ReLU, GELU or SiLU at `v` over `[v - d, v + d]`: the largest `|f(v + e) - f(v)|` and the largest
/// `|f(v + e) - f(v) - f'(v) e|`.
fn unary(op: Op, v: f64, d: f64) -> (f64, f64) {
    if d == 0.0 {
        return (0.0, 0.0);
    }
    let (f, slope, m2, l, min_at): (fn(f64) -> f64, f64, f64, f64, f64) = match op {
        Op::Relu => {
            // slope at the operating point as the audit takes it: 1 from 0 up
            let lin = if v >= 0.0 { d } else { (v + d).max(0.0) };
            let r = if v > 0.0 {
                (d - v).max(0.0)
            } else if v < 0.0 {
                (v + d).max(0.0)
            } else {
                d
            };
            return (lin, r);
        }
        Op::Gelu => (gelu, gelu_slope(v), GELU_M2, GELU_L, -0.751_791_524),
        _ => (silu, silu_slope(v), SILU_M2, SILU_L, -1.278_464_543),
    };
    let (lo, hi) = (v - d, v + d);
    let (flo, fhi, fv) = (f(lo), f(hi), f(v));
    let mut min = flo.min(fhi);
    if lo < min_at && min_at < hi {
        min = min.min(f(min_at));
    }
    let max = flo.max(fhi);
    let lin = ((max - fv).abs().max((fv - min).abs())) * (1.0 + 1e-12) + 1e-300;
    let r = (0.5 * m2 * d * d).min((l + slope.abs()) * d);
    (lin, r)
}

fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
}

/// GELU's slope at `v`.
pub(super) fn gelu_slope(v: f64) -> f64 {
    0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
        + v * (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn silu(v: f64) -> f64 {
    v / (1.0 + (-v).exp())
}

/// SiLU's slope at `v`.
pub(super) fn silu_slope(v: f64) -> f64 {
    let s = 1.0 / (1.0 + (-v).exp());
    s * (1.0 + v * (1.0 - s))
}

/// Softmax rows of `n` over the box: each probability's interval is
/// `[e^lo_j / (e^lo_j + sum_{i != j} e^hi_i), e^hi_j / (e^hi_j + sum_{i != j} e^lo_i)]`; the remainder of
/// `p(x + D)` against `p + J D` is at most `p_j (2 D^2 e^(2 D) + D^2 / 2)` with `D` the row's largest
/// deviation (`p_j(x + D) = p_j e^u`, `u = D_j - p.D - q`, `0 <= q <= D^2 / 2` by log-sum-exp's curvature,
/// `|u| <= 2 D`).
fn softmax(x: &[f32], dx: &[f64], p: &[f32], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lin = vec![0.0; x.len()];
    let mut r = vec![0.0; x.len()];
    for row in 0..x.len() / n {
        let xs = &x[row * n..(row + 1) * n];
        let ds = &dx[row * n..(row + 1) * n];
        let big = ds.iter().zip(xs).filter(|(_, v)| v.is_finite()).map(|(d, _)| *d).fold(0.0, f64::max);
        if big == 0.0 {
            continue;
        }
        let m = xs.iter().zip(ds).filter(|(v, _)| v.is_finite()).map(|(v, d)| *v as f64 + d).fold(f64::MIN, f64::max);
        let e = |v: f32, d: f64| if v.is_finite() { (v as f64 + d - m).exp() } else { 0.0 };
        let (sum_hi, sum_lo): (f64, f64) =
            xs.iter().zip(ds).fold((0.0, 0.0), |(h, l), (v, d)| (h + e(*v, *d), l + e(*v, -*d)));
        for j in 0..n {
            if !xs[j].is_finite() {
                continue;
            }
            let (hj, lj) = (e(xs[j], ds[j]), e(xs[j], -ds[j]));
            let lower = lj / (lj + (sum_hi - hj).max(0.0));
            let upper = hj / (hj + (sum_lo - lj).max(0.0));
            let pj = p[row * n + j] as f64;
            lin[row * n + j] = ((upper - pj).max(pj - lower)).max(0.0) * (1.0 + 1e-9);
            // second order where it is finite; never more than the reach plus the linear part's `2 p_j D`
            let second = pj * (2.0 * big * big * (2.0 * big).exp() + 0.5 * big * big);
            r[row * n + j] = if second.is_finite() {
                second.min(lin[row * n + j] + 2.0 * pj * big)
            } else {
                lin[row * n + j] + 2.0 * pj * big
            };
        }
    }
    (lin, r)
}

/// LayerNorm (`centred`) or RMSNorm rows of `n` over the box. With `c` the input's deviation (centred for
/// LayerNorm), `|c_j| <= k_j` (`k = delta + mean delta`, or `delta`), `rho = sqrt(mean k^2)`, `s` the honest
/// standard deviation (or RMS), `sigma^2 = s^2 + eps` and `A = 2 s rho / sigma^2 + rho^2 / sigma^2`: the
/// perturbed `sigma~ = sigma sqrt(1 + a)` with `|a| <= A` and `|sigma~ - sigma| <= rho`. The normalized value
/// `z~_j = (z_j + c_j / sigma)(1 - a/2 + R(a))`, `|R| <= 3/8 A^2 (1 - A)^(-5/2)`, whose first-order part is
/// exactly the Jacobian's, leaves the remainder `|z_j| rho^2 / (2 sigma^2) + k_j A / (2 sigma) + (|z_j| +
/// k_j / sigma) |R|`; its deviation is at most `k_j / sigma~_min + |x_j - mean| rho / (sigma sigma~_min)` and
/// never more than `sqrt(n) + |z_j|` (a normalized row has `|z| <= sqrt n`). Scaled by `|gamma|` (plus what
/// trace-valued `gamma`, `beta` add).
#[allow(clippy::too_many_arguments)]
fn norm(
    x: &[f32],
    dx: &[f64],
    n: usize,
    eps: f64,
    centred: bool,
    gamma: &HostTensor,
    dg: &[f64],
    db: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let mut lin = vec![0.0; x.len()];
    let mut r = vec![0.0; x.len()];
    let nf = n as f64;
    for row in 0..x.len() / n {
        let xs = &x[row * n..(row + 1) * n];
        let ds = &dx[row * n..(row + 1) * n];
        let mean = if centred { xs.iter().map(|v| *v as f64).sum::<f64>() / nf } else { 0.0 };
        let s2 = xs.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / nf;
        let sigma = (s2 + eps).sqrt();
        let md = if centred { ds.iter().sum::<f64>() / nf } else { 0.0 };
        let k: Vec<f64> = ds.iter().map(|d| d + md).collect();
        let rho = (k.iter().map(|v| v * v).sum::<f64>() / nf).sqrt();
        let a = 2.0 * s2.sqrt() * rho / (sigma * sigma) + rho * rho / (sigma * sigma);
        let sigma_min = (sigma * (1.0 - a).max(0.0).sqrt()).max(eps.sqrt());
        let rr = if a < 0.5 { 0.375 * a * a / (1.0 - a).powf(2.5) } else { f64::INFINITY };
        for j in 0..n {
            let e = row * n + j;
            let xc = xs[j] as f64 - mean;
            let z = xc / sigma;
            let dz = if sigma_min > 0.0 {
                (k[j] / sigma_min + xc.abs() * rho / (sigma * sigma_min)).min(nf.sqrt() + z.abs())
            } else {
                nf.sqrt() + z.abs()
            };
            let second =
                z.abs() * rho * rho / (2.0 * sigma * sigma) + k[j] * a / (2.0 * sigma) + (z.abs() + k[j] / sigma) * rr;
            let first = k[j] / sigma + z.abs() * s2.sqrt() * rho / (sigma * sigma);
            let rem = if second.is_finite() { second.min(dz + first) } else { dz + first };
            let gi = e % gamma.data.len();
            let g = (gamma.data[gi] as f64).abs();
            let (dgi, dbi) = (dg[gi], db.map_or(0.0, |b| b[e % b.len()]));
            lin[e] = g * dz + z.abs() * dgi + dz * dgi + dbi;
            r[e] = g * rem + dz * dgi;
        }
    }
    (lin, r)
}
