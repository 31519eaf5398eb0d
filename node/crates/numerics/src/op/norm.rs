//! Row normalizations over the last dim: [`LayerNorm`] and [`RmsNorm`] ([`crate::region::norms`]: any-order
//! sums, naive or two-pass variance, sqrt or 2-ulp rsqrt).

use candle_core::Tensor;

use super::{last, Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::region::norms::{layernorm_row, rmsnorm_row};
use crate::tensor::HostTensor;

/// LayerNorm over the last dim: operands `[x, gamma, beta]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerNorm {
    /// Epsilon added to the variance.
    pub eps: f32,
}

/// RMSNorm over the last dim: operands `[x, gamma]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmsNorm {
    /// Epsilon added to the mean square.
    pub eps: f32,
}

impl Operator for LayerNorm {
    fn name(&self) -> &'static str {
        "layernorm"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(&x[0].contiguous()?, &x[1], &x[2], self.eps)
    }

    fn region(&self, shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let n = *shape.last()?;
        let (g, b) = (&operands[1].data, &operands[2].data);
        let rows = operands[0].data.chunks(n).zip(y.chunks(n));
        Some(rows.flat_map(|(x, y)| layernorm_row(x, g, b, self.eps, y)).collect::<Vec<_>>().into())
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        norm_vjp(x, y, gy, self.eps, true)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        Ok(norm_reach(&x[0].data, dx[0], last(y), self.eps as f64, true, x[1], dx[1], dx.get(2).copied()))
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        last(x[0])
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(x), Src::Weight(g), Src::Weight(b)] = *inputs else { return None };
        let d = OpNode {
            input: x,
            weight: g,
            params: Params::LayerNorm { eps: self.eps.to_bits(), shift: b },
            ..OpNode::of_shape(OpKind::LayerNorm, shape, true)?
        };
        (shapes[0] == shape && shapes[1..].iter().all(|w| *w == [d.cols as usize])).then_some(d)
    }
}

impl Operator for RmsNorm {
    fn name(&self) -> &'static str {
        "rmsnorm"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(&x[0].contiguous()?, &x[1], self.eps)
    }

    fn region(&self, shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let n = *shape.last()?;
        let g = &operands[1].data;
        let rows = operands[0].data.chunks(n).zip(y.chunks(n));
        Some(rows.flat_map(|(x, y)| rmsnorm_row(x, g, self.eps, y)).collect::<Vec<_>>().into())
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        norm_vjp(x, y, gy, self.eps, false)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        Ok(norm_reach(&x[0].data, dx[0], last(y), self.eps as f64, false, x[1], dx[1], None))
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        last(x[0])
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(x), Src::Weight(g)] = *inputs else { return None };
        let d = OpNode {
            input: x,
            weight: g,
            params: Params::RmsNorm { eps: self.eps.to_bits() },
            ..OpNode::of_shape(OpKind::RmsNorm, shape, true)?
        };
        (shapes[0] == shape && shapes[1] == [d.cols as usize]).then_some(d)
    }
}

/// `(h - mean h - z mean(h z)) / sigma` with `h = g gamma` (LayerNorm, `centred`), or without the means of
/// `h` and `x` (RMSNorm).
fn norm_vjp(x: &[&HostTensor], y: &HostTensor, gy: &[f64], eps: f32, centred: bool) -> Grads {
    let n = last(y);
    let gamma = &x[1].data;
    let nf = n as f64;
    let stats: Vec<(f64, Vec<f64>)> = x[0]
        .data
        .chunks(n)
        .map(|xr| {
            let mean = if centred { xr.iter().map(|v| *v as f64).sum::<f64>() / nf } else { 0.0 };
            let var = xr.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / nf;
            let sigma = (var + eps as f64).sqrt();
            (sigma, xr.iter().map(|v| (*v as f64 - mean) / sigma).collect())
        })
        .collect();
    let mut g = vec![0.0; gy.len()];
    for (row, (gr, out)) in gy.chunks(n).zip(g.chunks_mut(n)).enumerate() {
        let (sigma, z) = &stats[row % stats.len()];
        let h: Vec<f64> = gr.iter().zip(gamma).map(|(a, gm)| a * *gm as f64).collect();
        let mh = if centred { h.iter().sum::<f64>() / nf } else { 0.0 };
        let mhz = h.iter().zip(z).map(|(a, b)| a * b).sum::<f64>() / nf;
        for j in 0..n {
            out[j] = (h[j] - mh - z[j] * mhz) / sigma;
        }
    }
    Ok(vec![(0, g)])
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
fn norm_reach(
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
