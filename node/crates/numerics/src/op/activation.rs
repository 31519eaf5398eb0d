//! Pointwise activations: [`Relu`] (exact), [`Gelu`] (erf form; [`crate::region::gelu`]) and [`Silu`]
//! ([`crate::region::norms::silu`]).

use candle_core::Tensor;

use super::{Grads, Operator, Reached, Verdicts};
use crate::model::HostTensor;
use crate::region::sound::relu_verdict;

/// ReLU: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Relu;

/// GELU (erf form): operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gelu;

/// SiLU `x * sigmoid(x)`: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Silu;

/// Global bounds of GELU: `sup |f''| = 2 phi(0)` (at 0), `sup |f'|` (at `x = sqrt 2`).
const GELU_M2: f64 = 0.797_884_6;
const GELU_L: f64 = 1.128_6;
/// Global bounds of SiLU: `sup |f''| = 1/2` (at 0), `sup |f'|` (at `x ~ 2.4`).
const SILU_M2: f64 = 0.5;
const SILU_L: f64 = 1.099_9;

/// `G_x = G_y f'(x)` for a pointwise op of slope `slope`.
fn pointwise_vjp(x: &HostTensor, y: &HostTensor, gy: &[f64], slope: impl Fn(f64) -> f64) -> Grads {
    let ny = y.data.len();
    let slope: Vec<f64> = x.data.iter().map(|v| slope(*v as f64)).collect();
    Ok(vec![(0, gy.iter().enumerate().map(|(i, g)| g * slope[i % ny]).collect())])
}

/// Each element's (reach, remainder) from `unary(value, deviation)`.
fn pointwise_reach(x: &HostTensor, dx: &[f64], unary: impl Fn(f64, f64) -> (f64, f64)) -> Reached {
    Ok(x.data.iter().zip(dx).map(|(v, d)| if *d == 0.0 { (0.0, 0.0) } else { unary(*v as f64, *d) }).unzip())
}

/// A smooth activation `f` at `v` over `[v - d, v + d]`: the largest `|f(v + e) - f(v)|` (its minimum at
/// `min_at`) and the largest `|f(v + e) - f(v) - f'(v) e|` (`min(M2 d^2 / 2, (L + |f'(v)|) d)`, with `M2`
/// and `L` the global bounds on `|f''|` and `|f'|`).
fn smooth(f: fn(f64) -> f64, slope: f64, m2: f64, l: f64, min_at: f64, v: f64, d: f64) -> (f64, f64) {
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

/// Units whose remainder is over half their reach: a kink or flat region inside the box.
fn smooth_opened(lin: &[f64], r: &[f64]) -> usize {
    r.iter().zip(lin).filter(|(r, l)| **r > 0.5 * **l && **l > 0.0).count()
}

fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
}

/// GELU's slope at `v`.
fn gelu_slope(v: f64) -> f64 {
    0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
        + v * (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn silu(v: f64) -> f64 {
    v / (1.0 + (-v).exp())
}

/// SiLU's slope at `v`.
fn silu_slope(v: f64) -> f64 {
    let s = 1.0 / (1.0 + (-v).exp());
    s * (1.0 + v * (1.0 - s))
}

/// Each element's verdict from its input alone.
fn pointwise(operands: &[&HostTensor], y: &[f32], f: impl Fn(f32, f32) -> (bool, f64)) -> Option<Verdicts> {
    Some(operands[0].data.iter().zip(y).map(|(x, y)| f(*x, *y)).collect::<Vec<_>>().into())
}

impl Operator for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].relu()
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        pointwise(operands, y, relu_verdict)
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        // at the kink the upper slope: an element exactly 0 (a trigger channel) opens with any positive error
        pointwise_vjp(x[0], y, gy, |v| f64::from(u8::from(v >= 0.0)))
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        pointwise_reach(x[0], dx[0], |v, d| {
            // slope at the operating point as the audit takes it: 1 from 0 up
            let lin = if v >= 0.0 { d } else { (v + d).max(0.0) };
            let r = if v > 0.0 {
                (d - v).max(0.0)
            } else if v < 0.0 {
                (v + d).max(0.0)
            } else {
                d
            };
            (lin, r)
        })
    }

    fn opened(&self, x: &[&HostTensor], dx: &[&[f64]], _lin: &[f64], _r: &[f64]) -> usize {
        x[0].data.iter().zip(dx[0]).filter(|(v, d)| **v != 0.0 && **d >= v.abs() as f64).count()
    }
}

impl Operator for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].gelu_erf()
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        pointwise(operands, y, crate::region::gelu::gelu)
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        pointwise_vjp(x[0], y, gy, gelu_slope)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        pointwise_reach(x[0], dx[0], |v, d| smooth(gelu, gelu_slope(v), GELU_M2, GELU_L, -0.751_791_524, v, d))
    }

    fn opened(&self, _x: &[&HostTensor], _dx: &[&[f64]], lin: &[f64], r: &[f64]) -> usize {
        smooth_opened(lin, r)
    }
}

impl Operator for Silu {
    fn name(&self) -> &'static str {
        "silu"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].silu()
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        pointwise(operands, y, crate::region::norms::silu)
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        pointwise_vjp(x[0], y, gy, silu_slope)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        pointwise_reach(x[0], dx[0], |v, d| smooth(silu, silu_slope(v), SILU_M2, SILU_L, -1.278_464_543, v, d))
    }

    fn opened(&self, _x: &[&HostTensor], _dx: &[&[f64]], lin: &[f64], r: &[f64]) -> usize {
        smooth_opened(lin, r)
    }
}
