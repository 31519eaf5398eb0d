//! Elementwise arithmetic: [`Add`] (bias and residual), [`Mul`] (gates) and [`Scale`] (a constant factor).
//! Add's region is `gamma_1 (|a| + |b|)` ([`crate::region::sound::add_within`]); Mul's and Scale's a
//! one-term dot product, `gamma_1 |a b|` plus the underflow term.

use candle_core::Tensor;

use super::{Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::region::sound::{add_verdict, add_within_per_layer, dot_verdict};
use crate::tensor::HostTensor;

/// Elementwise `a + b`, `b` broadcast over leading dims: operands `[a, b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Add;

/// Elementwise `a * b`, `b` broadcast over leading dims: operands `[a, b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mul;

/// `y = x * factor`: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scale {
    /// The constant factor.
    pub factor: f32,
}

impl Operator for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].broadcast_add(&x[1])
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let (a, b) = (&operands[0].data, &operands[1].data);
        Some((0..y.len()).map(|g| add_verdict(a[g], b[g % b.len()], y[g])).collect::<Vec<_>>().into())
    }

    fn per_layer(&self, operands: &[&HostTensor], y: &[f32], g: usize) -> Option<bool> {
        let (a, b) = (&operands[0].data, &operands[1].data);
        Some(add_within_per_layer(a[g], b[g % b.len()], y[g]).unwrap_or(true))
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        let (ny, lb) = (y.data.len(), x[1].data.len());
        let mut gb = vec![0.0; kk * lb];
        for q in 0..kk {
            for el in 0..ny {
                gb[q * lb + el % lb] += gy[q * ny + el];
            }
        }
        Ok(vec![(0, gy.to_vec()), (1, gb)])
    }

    fn reach(&self, _x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        let (ny, lb) = (y.data.len(), dx[1].len());
        Ok(((0..ny).map(|j| dx[0][j] + dx[1][j % lb]).collect(), vec![0.0; ny]))
    }

    /// A bias (a weight of one row) is `Add`; two trace tensors of the output's shape, `Residual`.
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        match *inputs {
            [Src::Trace(x), Src::Weight(w)] => {
                let d = OpNode { input: x, weight: w, ..OpNode::of_shape(OpKind::Add, shape, true)? };
                (shapes[0] == shape && shapes[1] == [d.cols as usize]).then_some(d)
            }
            [Src::Trace(a), Src::Trace(b)] => {
                let d = OpNode { input: a, input2: b, ..OpNode::of_shape(OpKind::Residual, shape, true)? };
                shapes.iter().all(|s| *s == shape).then_some(d)
            }
            _ => None,
        }
    }
}

impl Operator for Mul {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].broadcast_mul(&x[1])
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let (a, b) = (&operands[0].data, &operands[1].data);
        Some((0..y.len()).map(|g| dot_verdict(&[a[g]], &[b[g % b.len()]], y[g])).collect::<Vec<_>>().into())
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        let (a, b) = (&x[0].data, &x[1].data);
        let (ny, lb) = (y.data.len(), b.len());
        let mut ga = gy.to_vec();
        let mut gb = vec![0.0; kk * lb];
        for q in 0..kk {
            for el in 0..ny {
                let g = gy[q * ny + el];
                ga[q * ny + el] = g * b[el % lb] as f64;
                gb[q * lb + el % lb] += g * a[el] as f64;
            }
        }
        Ok(vec![(0, ga), (1, gb)])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        let (a, b, lb) = (&x[0].data, &x[1].data, dx[1].len());
        let ny = y.data.len();
        let r: Vec<f64> = (0..ny).map(|j| dx[0][j] * dx[1][j % lb]).collect();
        let lin = (0..ny).map(|j| (a[j] as f64).abs() * dx[1][j % lb] + dx[0][j] * (b[j % lb] as f64).abs() + r[j]);
        Ok((lin.collect(), r))
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(a), Src::Trace(b)] = *inputs else { return None };
        let d = OpNode { input: a, input2: b, ..OpNode::of_shape(OpKind::Mul, shape, true)? };
        shapes.iter().all(|s| *s == shape).then_some(d)
    }
}

impl Operator for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        &x[0] * self.factor as f64
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let x = &operands[0].data;
        Some((0..y.len()).map(|g| dot_verdict(&[x[g]], &[self.factor], y[g])).collect::<Vec<_>>().into())
    }

    fn vjp(&self, _x: &[&HostTensor], _traced: &[bool], _y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        Ok(vec![(0, gy.iter().map(|g| g * self.factor as f64).collect())])
    }

    fn reach(&self, _x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        Ok((dx[0].iter().map(|d| d * (self.factor as f64).abs()).collect(), vec![0.0; y.data.len()]))
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        super::unary_descriptor(OpKind::Scale, Params::Scale { factor: self.factor.to_bits() }, inputs, shapes, shape)
    }
}
