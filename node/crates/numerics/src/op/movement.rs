//! Data movement, bit-exact: [`Embedding`] (row gather), [`Reshape`], [`Transpose`], [`Narrow`], [`Concat`].
//! Their region is the replayed value itself.

use candle_core::{DType, Tensor};

use super::{run, Grads, OpKind, OpNode, Operator, Params, Reached, Src};
use crate::tensor::HostTensor;

/// Row gather `y[i, :] = table[ids[i], :]`: operands `[ids, table]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Embedding;

/// Same elements, new shape (the node's shape): operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reshape;

/// Swaps two dims: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transpose {
    /// First dim.
    pub a: u8,
    /// Second dim.
    pub b: u8,
}

/// `len` entries of dim `dim` from `start`: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Narrow {
    /// The dim.
    pub dim: u8,
    /// First index.
    pub start: u32,
    /// Number of entries.
    pub len: u32,
}

/// Concatenation along `dim`: operands `[a, b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Concat {
    /// The dim.
    pub dim: u8,
}

impl Operator for Embedding {
    fn name(&self) -> &'static str {
        "embedding"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[1].index_select(&x[0].flatten_all()?.to_dtype(DType::U32)?, 0)
    }
    /// Token ids are discrete: nothing flows back through them.
    fn vjp(&self, _x: &[&HostTensor], _traced: &[bool], _y: &HostTensor, _gy: &[f64], _kk: usize) -> Grads {
        Ok(vec![])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        if dx[0].iter().any(|d| *d > 0.0) {
            return Err("token ids that can change".into());
        }
        let none = vec![0.0; y.data.len()];
        if dx[1].iter().all(|d| *d == 0.0) {
            return Ok((none.clone(), none));
        }
        let table = HostTensor::new(x[1].shape.clone(), dx[1].iter().map(|v| up(*v)).collect());
        let moved = run(self, &[x[0], &table], &y.shape).map_err(|e| e.to_string())?;
        Ok((moved.data.iter().map(|v| *v as f64).collect(), none))
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(ids), Src::Weight(w)] = *inputs else { return None };
        let params = Params::Embedding { vocab: u32::try_from(*shapes[1].first()?).ok()? };
        Some(OpNode { input: ids, weight: w, params, ..OpNode::of_shape(OpKind::Embedding, shape, false)? })
    }
}

impl Operator for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].reshape(shape)
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        route_vjp(self, x, y, gy, kk)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        route_reach(self, x, dx, y)
    }

    /// Equal sizes.
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let in_shape = dims(shapes[0])?;
        let d = moved(OpKind::Reshape, Params::Reshape { in_shape }, inputs, shape)?;
        (shapes[0].iter().product::<usize>() == shape.iter().product::<usize>()).then_some(d)
    }
}

impl Operator for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].transpose(self.a as usize, self.b as usize)?.contiguous()
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        route_vjp(self, x, y, gy, kk)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        route_reach(self, x, dx, y)
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let params = Params::Transpose { in_shape: dims(shapes[0])?, dim0: self.a.into(), dim1: self.b.into() };
        let d = moved(OpKind::Transpose, params, inputs, shape)?;
        let mut t = shapes[0].to_vec();
        let (a, b) = (self.a as usize, self.b as usize);
        (a < t.len() && b < t.len() && {
            t.swap(a, b);
            t == shape
        })
        .then_some(d)
    }
}

impl Operator for Narrow {
    fn name(&self) -> &'static str {
        "narrow"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].narrow(self.dim as usize, self.start as usize, self.len as usize)?.contiguous()
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        route_vjp(self, x, y, gy, kk)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        route_reach(self, x, dx, y)
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let params = Params::Narrow { in_shape: dims(shapes[0])?, dim: self.dim.into(), start: self.start };
        let d = moved(OpKind::Narrow, params, inputs, shape)?;
        let (ins, dim) = (shapes[0], self.dim as usize);
        (ins.len() == shape.len()
            && dim < shape.len()
            && (0..shape.len()).all(|i| if i == dim { shape[i] == self.len as usize } else { ins[i] == shape[i] })
            && self.start as usize + self.len as usize <= ins[dim])
            .then_some(d)
    }
}

impl Operator for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        Tensor::cat(&[&x[0], &x[1]], self.dim as usize)
    }
    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        route_vjp(self, x, y, gy, kk)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        route_reach(self, x, dx, y)
    }

    /// The two parts along one dim (`input2`: the second part).
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [_, Src::Trace(b)] = *inputs else { return None };
        let params = Params::Concat { in_shape: dims(shapes[0])?, dim: self.dim.into() };
        let d = moved(OpKind::Concat, params, &inputs[..1], shape)?;
        let (ins, x2, dim) = (shapes[0], shapes[1], self.dim as usize);
        (ins.len() == shape.len()
            && x2.len() == shape.len()
            && dim < shape.len()
            && (0..shape.len()).all(|i| {
                if i == dim {
                    ins[i] + x2[i] == shape[i]
                } else {
                    ins[i] == shape[i] && x2[i] == shape[i]
                }
            }))
        .then_some(OpNode { input2: b, ..d })
    }
}

/// A data-movement descriptor of `kind` with `params` reading trace tensor `inputs[0]`; the output has rank 2
/// or 3.
fn moved(kind: OpKind, params: Params, inputs: &[Src], shape: &[usize]) -> Option<OpNode> {
    let Some(Src::Trace(x)) = inputs.first() else { return None };
    Some(OpNode { input: *x, params, ..OpNode::of_shape(kind, shape, true)? })
}

/// A shape as the contracts take it (at least one dim, each within 32 bits).
fn dims(shape: &[usize]) -> Option<Vec<u32>> {
    (!shape.is_empty()).then(|| shape.iter().map(|d| u32::try_from(*d).ok()).collect::<Option<Vec<_>>>())?
}

/// The reverse product of an op that moves values (or masks them): the op run on element indices says which
/// input element each output copies, and the output's cotangent goes back there (masked entries: nowhere).
pub(super) fn route_vjp<O: Operator + ?Sized>(
    op: &O,
    x: &[&HostTensor],
    y: &HostTensor,
    gy: &[f64],
    kk: usize,
) -> Grads {
    let ny = y.data.len();
    let mut offset = 0usize;
    let idx: Vec<HostTensor> = x
        .iter()
        .map(|t| {
            let v = (offset..offset + t.data.len()).map(|i| i as f32).collect();
            offset += t.data.len();
            HostTensor::new(t.shape.clone(), v)
        })
        .collect();
    if offset >= 1 << 24 {
        return Err(format!("{offset} elements: too many to route through fp32 indices"));
    }
    let refs: Vec<&HostTensor> = idx.iter().collect();
    let from = run(op, &refs, &y.shape).map_err(|e| e.to_string())?;
    let lens: Vec<usize> = x.iter().map(|t| t.data.len()).collect();
    let mut out: Vec<Vec<f64>> = lens.iter().map(|l| vec![0.0; kk * l]).collect();
    for (el, f) in from.data.iter().enumerate() {
        if !f.is_finite() {
            continue; // masked: no dependence
        }
        let (mut f, mut slot) = (*f as usize, 0);
        while f >= lens[slot] {
            f -= lens[slot];
            slot += 1;
        }
        for q in 0..kk {
            out[slot][q * lens[slot] + f] += gy[q * ny + el];
        }
    }
    Ok(out.into_iter().enumerate().collect())
}

/// The reach of an op that moves values: the op run on the deviations moves them where it moves the values
/// (masked entries are exact); no remainder.
pub(super) fn route_reach<O: Operator + ?Sized>(op: &O, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
    let t: Vec<HostTensor> =
        x.iter().zip(dx).map(|(t, d)| HostTensor::new(t.shape.clone(), d.iter().map(|v| up(*v)).collect())).collect();
    let refs: Vec<&HostTensor> = t.iter().collect();
    let moved = run(op, &refs, &y.shape).map_err(|e| e.to_string())?;
    let none = vec![0.0; y.data.len()];
    Ok((moved.data.iter().map(|v| if v.is_finite() { *v as f64 } else { 0.0 }).collect(), none))
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
