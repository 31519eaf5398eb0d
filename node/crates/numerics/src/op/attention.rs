//! Attention's own ops: [`Softmax`] ([`crate::region::softmax`]: max-subtracted exp, any-order sum, divide),
//! [`CausalMask`] (exact) and [`Rope`] ([`crate::region::rope`]: angle budget 8u (40u for a scaled pair),
//! 2-ulp sin/cos).

use candle_core::{Device, Tensor};

use super::movement::{route_reach, route_vjp};
use super::{last, Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::tensor::HostTensor;

/// Softmax over the last dim: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Softmax;

/// Causal mask of scores `[heads, q, k]`: `-inf` where key position > `offset + query row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CausalMask {
    /// Absolute position of the first query row.
    pub offset: u32,
}

/// Rotary embedding (rotate-half convention) of `x: [heads, seq, head_dim]` at positions
/// `offset..offset + seq`: operands `[x]`, or `[x, freqs]` when `scaled` (Llama 3's rope scaling: pair `k`'s
/// frequency divided by `freqs[k]`, a `[head_dim / 2]` weight, the checkpoint's `rope_freqs.weight`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rope {
    /// Base of the frequencies.
    pub theta: f32,
    /// Position of the first row.
    pub offset: u32,
    /// Whether the frequencies are divided by the factors of a second operand.
    #[serde(default)]
    pub scaled: bool,
}

impl Operator for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        candle_nn::ops::softmax_last_dim(&x[0].contiguous()?)
    }

    fn region(&self, shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let n = *shape.last()?;
        let rows = operands[0].data.chunks(n).zip(y.chunks(n));
        Some(rows.flat_map(|(x, y)| crate::region::softmax::softmax_row(x, y)).collect::<Vec<_>>().into())
    }

    fn vjp(&self, _x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        // p (g - sum g p)
        let (n, ny) = (last(y), y.data.len());
        let mut g = vec![0.0; gy.len()];
        for (row, (gr, out)) in gy.chunks(n).zip(g.chunks_mut(n)).enumerate() {
            let p = &y.data[(row * n) % ny..(row * n) % ny + n];
            let s: f64 = gr.iter().zip(p).map(|(a, p)| a * *p as f64).sum();
            for j in 0..n {
                out[j] = p[j] as f64 * (gr[j] - s);
            }
        }
        Ok(vec![(0, g)])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        Ok(softmax_reach(&x[0].data, dx[0], &y.data, last(y)))
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        last(x[0])
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        super::unary_descriptor(OpKind::Softmax, Params::None, inputs, shapes, shape)
    }
}

impl Operator for CausalMask {
    fn name(&self) -> &'static str {
        "causal_mask"
    }

    fn has_exact_region(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        let (_, q, k) = x[0].dims3()?;
        let offset = self.offset as usize;
        let mask: Vec<u8> = (0..q).flat_map(|i| (0..k).map(move |j| u8::from(j > offset + i))).collect();
        let mask = Tensor::from_vec(mask, (q, k), x[0].device())?.broadcast_as(x[0].shape())?;
        let neg = Tensor::new(f32::NEG_INFINITY, x[0].device())?.broadcast_as(x[0].shape())?;
        mask.where_cond(&neg, &x[0])
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        route_vjp(self, x, y, gy, kk)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        route_reach(self, x, dx, y)
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        super::unary_descriptor(OpKind::CausalMask, Params::CausalMask { offset: self.offset }, inputs, shapes, shape)
    }
}

impl Operator for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        let (_, t, d) = x[0].dims3()?;
        let freqs = match x.get(1) {
            Some(f) if self.scaled => Some(f.flatten_all()?.to_vec1::<f32>()?),
            _ => None,
        };
        let (cos, sin) = rope_tables(self.theta, self.offset as usize, t, d, freqs.as_deref(), x[0].device())?;
        candle_nn::rotary_emb::rope(&x[0].unsqueeze(0)?.contiguous()?, &cos, &sin)?.squeeze(0)
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let s = &operands[0].shape;
        let (seq, d) = (s[s.len() - 2], s[s.len() - 1]);
        let freqs = self.freqs(operands)?;
        Some(crate::region::rope::rope(&operands[0].data, seq, d, self.theta, self.offset as usize, freqs, y).into())
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], _y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        // the inverse rotation
        let inverse =
            |gr: &[f64], c: f64, sn: f64, i: usize, h: usize| (gr[i] * c + gr[i + h] * sn, -gr[i] * sn + gr[i + h] * c);
        Ok(vec![(0, self.rotate(x, gy, inverse))])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        let lin = self.rotate(x, dx[0], |dr, c, sn, i, h| {
            let (c, sn) = (c.abs(), sn.abs());
            (dr[i] * c + dr[i + h] * sn, dr[i] * sn + dr[i + h] * c)
        });
        let none = vec![0.0; lin.len()];
        Ok((lin, none))
    }

    /// The position of the first row goes in `start`; theta must be at least 1 (the contract takes its
    /// logarithm) and rows of even length. Scaled, the factors are the node's weight, `[head_dim / 2]`.
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let params = Params::Rope { start: self.offset, theta: self.theta.to_bits(), scaled: self.scaled };
        let d = if self.scaled {
            let [Src::Trace(x), Src::Weight(f)] = *inputs else { return None };
            let d = OpNode { input: x, weight: f, params, ..OpNode::of_shape(OpKind::Rope, shape, true)? };
            (shapes[0] == shape && shapes[1] == [d.cols as usize / 2]).then_some(d)?
        } else {
            super::unary_descriptor(OpKind::Rope, params, inputs, shapes, shape)?
        };
        (d.cols % 2 == 0 && self.theta >= 1.0).then_some(d)
    }
}

impl Rope {
    /// The frequency factors among `operands` (`None` unscaled); `None` inside when scaled without them.
    fn freqs<'a>(&self, operands: &[&'a HostTensor]) -> Option<Option<&'a [f32]>> {
        match operands.get(1) {
            _ if !self.scaled => Some(None),
            Some(f) => Some(Some(&f.data)),
            None => None,
        }
    }

    /// `v` (rows of `x[0]`'s last dim) with each pair `(i, i + h)` of a row at position `p` mapped by
    /// `f(row, cos, sin, i, h)` at the pair's angle ([`crate::region::rope::angle`]).
    fn rotate(
        &self,
        x: &[&HostTensor],
        v: &[f64],
        f: impl Fn(&[f64], f64, f64, usize, usize) -> (f64, f64),
    ) -> Vec<f64> {
        let s = &x[0].shape;
        let (t, d) = (s[s.len() - 2], s[s.len() - 1]);
        let freqs = self.freqs(x).flatten();
        let h = d / 2;
        let mut out = vec![0.0; v.len()];
        for (row, (vr, o)) in v.chunks(d).zip(out.chunks_mut(d)).enumerate() {
            let p = (self.offset as usize + row % t) as f64;
            for i in 0..h {
                let (a, _) = crate::region::rope::angle(p, self.theta, i, d, freqs.map_or(1.0, |f| f[i]));
                (o[i], o[i + h]) = f(vr, a.cos(), a.sin(), i, h);
            }
        }
        out
    }
}

/// cos/sin tables `[t, d/2]` of the rotate-half rope at positions `offset..offset + t` (frequencies divided by
/// `freqs` if given), computed in f64.
fn rope_tables(
    theta: f32,
    offset: usize,
    t: usize,
    d: usize,
    freqs: Option<&[f32]>,
    dev: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let half = d / 2;
    let mut cos = Vec::with_capacity(t * half);
    let mut sin = Vec::with_capacity(t * half);
    for p in offset..offset + t {
        for i in 0..half {
            let (a, _) = crate::region::rope::angle(p as f64, theta, i, d, freqs.map_or(1.0, |f| f[i]));
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    Ok((Tensor::from_vec(cos, (t, half), dev)?, Tensor::from_vec(sin, (t, half), dev)?))
}

/// Softmax rows of `n` over the box: each probability's interval is
/// `[e^lo_j / (e^lo_j + sum_{i != j} e^hi_i), e^hi_j / (e^hi_j + sum_{i != j} e^lo_i)]`; the remainder of
/// `p(x + D)` against `p + J D` is at most `p_j (2 D^2 e^(2 D) + D^2 / 2)` with `D` the row's largest
/// deviation (`p_j(x + D) = p_j e^u`, `u = D_j - p.D - q`, `0 <= q <= D^2 / 2` by log-sum-exp's curvature,
/// `|u| <= 2 D`).
fn softmax_reach(x: &[f32], dx: &[f64], p: &[f32], n: usize) -> (Vec<f64>, Vec<f64>) {
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
