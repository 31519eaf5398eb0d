//! Pointwise activations: [`Relu`] (exact), and the smooth ones as data ([`Smooth`]): [`GELU`] (erf form;
//! [`crate::region::gelu`]) and [`SILU`] ([`crate::region::norms::silu`]).

use candle_core::Tensor;

use super::{Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::region::sound::relu_verdict;
use crate::tensor::HostTensor;

/// ReLU: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Relu;

/// A smooth activation, everything about it as data: GELU ([`GELU`]) and SiLU ([`SILU`]).
#[derive(Debug, Clone, Copy)]
pub struct Smooth {
    name: &'static str,
    kind: OpKind,
    /// candle's kernel.
    exec: fn(&Tensor) -> candle_core::Result<Tensor>,
    /// The element's region (the bound module's check of `y` against `f(x)`).
    region: fn(f32, f32) -> (bool, f64),
    /// `f` and `f'` in f64.
    f: fn(f64) -> f64,
    slope: fn(f64) -> f64,
    /// Global bounds `sup |f''|` and `sup |f'|`, and where `f` has its minimum.
    m2: f64,
    l: f64,
    min_at: f64,
}

/// GELU (erf form): operands `[x]`. `sup |f''| = 2 phi(0)` (at 0), `sup |f'|` at `x = sqrt 2`.
pub const GELU: Smooth = Smooth {
    name: "gelu",
    kind: OpKind::Gelu,
    exec: Tensor::gelu_erf,
    region: crate::region::gelu::gelu,
    f: gelu,
    slope: gelu_slope,
    m2: 0.797_884_6,
    l: 1.128_6,
    min_at: -0.751_791_524,
};

/// SiLU `x * sigmoid(x)`: operands `[x]`. `sup |f''| = 1/2` (at 0), `sup |f'|` at `x ~ 2.4`.
pub const SILU: Smooth = Smooth {
    name: "silu",
    kind: OpKind::Silu,
    exec: Tensor::silu,
    region: crate::region::norms::silu,
    f: silu,
    slope: silu_slope,
    m2: 0.5,
    l: 1.099_9,
    min_at: -1.278_464_543,
};

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

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        super::unary_descriptor(OpKind::Relu, Params::None, inputs, shapes, shape)
    }
}

impl Operator for Smooth {
    fn name(&self) -> &'static str {
        self.name
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        (self.exec)(&x[0])
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        pointwise(operands, y, self.region)
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        pointwise_vjp(x[0], y, gy, self.slope)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        pointwise_reach(x[0], dx[0], |v, d| smooth(self.f, (self.slope)(v), self.m2, self.l, self.min_at, v, d))
    }

    /// Units whose remainder is over half their reach: a kink or flat region inside the box.
    fn opened(&self, _x: &[&HostTensor], _dx: &[&[f64]], lin: &[f64], r: &[f64]) -> usize {
        r.iter().zip(lin).filter(|(r, l)| **r > 0.5 * **l && **l > 0.0).count()
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        super::unary_descriptor(self.kind, Params::None, inputs, shapes, shape)
    }
}
