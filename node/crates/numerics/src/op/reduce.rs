//! Reductions over a dim: [`Argmax`] (exact) and [`MeanRows`] (mean pooling; [`crate::region::rope::mean_rows`]:
//! any-order sum, then divide).

use candle_core::{DType, Tensor, D};

use super::{Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::tensor::HostTensor;

/// Index of the maximum over the last dim, as fp32: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Argmax;

/// Mean over the first dim (mean pooling of token vectors): operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeanRows;

impl Operator for Argmax {
    fn name(&self) -> &'static str {
        "argmax"
    }

    fn has_exact_region(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].argmax(D::Minus1)?.to_dtype(DType::F32)
    }
    /// A token chosen: discrete, audited against its margin (the token audit), not propagated.
    fn vjp(&self, _x: &[&HostTensor], _traced: &[bool], _y: &HostTensor, _gy: &[f64], _kk: usize) -> Grads {
        Ok(vec![])
    }

    fn reach(&self, _x: &[&HostTensor], _dx: &[&[f64]], y: &HostTensor) -> Reached {
        Ok((vec![0.0; y.data.len()], vec![0.0; y.data.len()]))
    }

    /// Output `[rows]`; the input `[rows, inner]` is read twice (`input2 = input`: the claimed column and the
    /// challenger's witness).
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(x)] = *inputs else { return None };
        let [rows] = *shape else { return None };
        let inner = *shapes[0].last()?;
        let d = OpNode {
            input: x,
            input2: x,
            params: Params::Argmax { length: u32::try_from(inner).ok()? },
            cols: u32::try_from(inner).ok()?,
            ..OpNode::of_shape(OpKind::Argmax, &[rows, 0], false)?
        };
        (shapes[0] == [rows, inner]).then_some(d)
    }
}

impl Operator for MeanRows {
    fn name(&self) -> &'static str {
        "mean_rows"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].mean(0)
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        Some(crate::region::rope::mean_rows(&operands[0].data, operands[0].shape[0], y).into())
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        let (rows, lx, ny) = (x[0].shape[0].max(1), x[0].data.len(), y.data.len());
        let mut g = vec![0.0; kk * lx];
        for q in 0..kk {
            for el in 0..lx {
                g[q * lx + el] = gy[q * ny + el % ny] / rows as f64;
            }
        }
        Ok(vec![(0, g)])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        let (rows, ny) = (x[0].shape[0].max(1), y.data.len());
        let mut lin = vec![0.0; ny];
        for (j, d) in dx[0].iter().enumerate() {
            lin[j % ny] += d / rows as f64;
        }
        Ok((lin, vec![0.0; ny]))
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        x[0].shape.first().copied().unwrap_or(1)
    }

    /// Output `[cols]` as one row; the input `[inner, cols]`.
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(x)] = *inputs else { return None };
        let [cols] = *shape else { return None };
        let inner = *shapes[0].first()?;
        let d = OpNode {
            input: x,
            params: Params::MeanRows { rows: u32::try_from(inner).ok()? },
            ..OpNode::of_shape(OpKind::MeanRows, &[1, cols], false)?
        };
        (shapes[0] == [inner, cols]).then_some(d)
    }
}
