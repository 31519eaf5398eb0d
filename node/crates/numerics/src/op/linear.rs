//! Matrix products: [`MatMul`] (nn.Linear without bias) and [`BatchMatMul`] (attention's products). Their
//! region is the dot product of the row and the column, [`crate::region::sound::dot_within`], screened in f64
//! by three gemms.

use candle_core::{Tensor, D};

use super::{abs, last, Grads, OpKind, OpNode, Operator, Params, Reached, Src, Verdicts};
use crate::region::orders::{dot_matmul, Order};
use crate::region::sound::{dot_bound_to_scale, dot_within, dot_within_per_layer, screened_verdict};
use crate::tensor::HostTensor;

/// `y[.., n] = sum_k x[.., k] * w[n, k]` (nn.Linear without bias): operands `[x, w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MatMul;

/// Batched `a @ b` (`a @ b^T` when `transpose_b`) over a leading batch dim: operands `[a, b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchMatMul {
    /// Whether `b` is `[batch, n, k]` (used transposed) rather than `[batch, k, n]`.
    pub transpose_b: bool,
}

fn host(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

impl Operator for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        let (w, k) = (&x[1], x[0].dim(D::Minus1)?);
        let rows = x[0].elem_count() / k;
        x[0].reshape((rows, k))?.matmul(&w.t()?)
    }

    fn exec_dot(&self, order: Order, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor> {
        let (k, n) = (x[0].dim(D::Minus1)?, x[1].dim(0)?);
        let rows = x[0].elem_count() / k;
        let y = dot_matmul(order, &host(&x[0])?, rows, k, &host(&x[1])?, n);
        Tensor::from_vec(y, shape, x[0].device())
    }

    fn region(&self, _shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let (x, w) = (operands[0], operands[1]);
        let k = *x.shape.last()?;
        let (rows, n) = (x.data.len() / k, w.data.len() / k);
        let (s, a, l2) = screen(&x.data, rows, k, &w.data, n, 1, true)?;
        let elements = (0..y.len())
            .map(|g| {
                let (r, c) = (g / n, g % n);
                let (xr, wr) = (&x.data[r * k..(r + 1) * k], &w.data[c * k..(c + 1) * k]);
                screened_verdict(s[g], a[g], k, y[g], || dot_within(xr, wr, y[g]))
            })
            .collect();
        Some(Verdicts {
            elements,
            bound_to_scale: Some((0..y.len()).map(|g| dot_bound_to_scale(k, a[g], l2[g])).collect()),
        })
    }

    fn per_layer(&self, operands: &[&HostTensor], y: &[f32], g: usize) -> Option<bool> {
        let (x, w) = (operands[0], operands[1]);
        let k = *x.shape.last()?;
        let n = w.data.len() / k;
        let (r, col) = (g / n, g % n);
        Some(dot_within_per_layer(&x.data[r * k..(r + 1) * k], &w.data[col * k..(col + 1) * k], y[g]).unwrap_or(true))
    }

    fn dot_bounds(&self, _shape: &[usize], operands: &[&HostTensor]) -> Option<Vec<f64>> {
        let (x, w) = (operands[0], operands[1]);
        let k = *x.shape.last()?;
        Some(bounds(&screen(&x.data, x.data.len() / k, k, &w.data, w.data.len() / k, 1, true)?.1, k))
    }

    fn vjp(&self, x: &[&HostTensor], traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        let (a, w) = (x[0], x[1]);
        let ny = y.data.len();
        let k = last(a);
        let n = w.data.len() / k;
        let rows = a.data.len() / k;
        // G_x = G_y W: [kk rows x n] [n x k]
        let mut out = vec![(0, gemm(gy.to_vec(), kk * rows, n, a_f64(w), k)?)];
        if traced[1] {
            // G_w[c, t] = sum_r G_y[r, c] a[r, t], per row kk
            let mut gw = vec![0.0; kk * w.data.len()];
            for q in 0..kk {
                for r in 0..rows {
                    for c in 0..n {
                        let g = gy[q * ny + r * n + c];
                        for t in 0..k {
                            gw[q * n * k + c * k + t] += g * a.data[r * k + t] as f64;
                        }
                    }
                }
            }
            out.push((1, gw));
        }
        Ok(out)
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        let (k, n) = (last(x[0]), x[1].data.len() / last(x[0]));
        let rows = x[0].data.len() / k;
        // y[r, c] = sum_t a[r, t] w[c, t]
        let lin = bmm(dx[0], &abs(x[1]), 1, rows, k, n, true);
        if dx[1].iter().all(|d| *d == 0.0) {
            let none = vec![0.0; lin.len()];
            Ok((lin, none))
        } else {
            let r = bmm(dx[0], dx[1], 1, rows, k, n, true);
            let aw = bmm(&abs(x[0]), dx[1], 1, rows, k, n, true);
            Ok((sum3(&lin, &aw, &r), r))
        }
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        last(x[0])
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(x), Src::Weight(w)] = *inputs else { return None };
        let inner = u32::try_from(*shapes[0].last()?).ok()?;
        let params = Params::MatMul { inner };
        Some(OpNode { input: x, weight: w, params, ..OpNode::of_shape(OpKind::MatMul, shape, false)? })
    }
}

impl Operator for BatchMatMul {
    fn name(&self) -> &'static str {
        "batch_matmul"
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        let b = if self.transpose_b { x[1].t()? } else { x[1].clone() };
        x[0].matmul(&b)
    }

    fn exec_dot(&self, order: Order, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor> {
        let (batch, m, k) = x[0].dims3()?;
        // the reference kernel reads rows of b: [batch, n, k]
        let b = if self.transpose_b { x[1].clone() } else { x[1].transpose(1, 2)?.contiguous()? };
        let n = b.dim(1)?;
        let (a, b) = (host(&x[0])?, host(&b)?);
        let mut y = Vec::with_capacity(batch * m * n);
        for i in 0..batch {
            y.extend(dot_matmul(order, &a[i * m * k..(i + 1) * m * k], m, k, &b[i * n * k..(i + 1) * n * k], n));
        }
        Tensor::from_vec(y, shape, x[0].device())
    }

    fn region(&self, shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let (a_t, b_t) = (operands[0], operands[1]);
        let (batch, m, k) = (a_t.shape[0], a_t.shape[1], a_t.shape[2]);
        let n = *shape.last()?;
        let transpose_b = self.transpose_b;
        let (s, a, l2) = screen(&a_t.data, m, k, &b_t.data, n, batch, transpose_b)?;
        let elements = (0..y.len())
            .map(|g| {
                let (bi, i, j) = (g / (m * n), (g / n) % m, g % n);
                let row = &a_t.data[(bi * m + i) * k..(bi * m + i + 1) * k];
                screened_verdict(s[g], a[g], k, y[g], || {
                    let col: Vec<f32> = if transpose_b {
                        b_t.data[(bi * n + j) * k..(bi * n + j + 1) * k].to_vec()
                    } else {
                        (0..k).map(|t| b_t.data[(bi * k + t) * n + j]).collect()
                    };
                    dot_within(row, &col, y[g])
                })
            })
            .collect();
        Some(Verdicts {
            elements,
            bound_to_scale: Some((0..y.len()).map(|g| dot_bound_to_scale(k, a[g], l2[g])).collect()),
        })
    }

    fn dot_bounds(&self, shape: &[usize], operands: &[&HostTensor]) -> Option<Vec<f64>> {
        let (a_t, b_t) = (operands[0], operands[1]);
        let (batch, m, k) = (a_t.shape[0], a_t.shape[1], a_t.shape[2]);
        let n = *shape.last()?;
        Some(bounds(&screen(&a_t.data, m, k, &b_t.data, n, batch, self.transpose_b)?.1, k))
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads {
        let (a, b) = (x[0], x[1]);
        let ny = y.data.len();
        let transpose_b = self.transpose_b;
        let (batch, m, k) = (a.shape[0], a.shape[1], a.shape[2]);
        let n = last(y);
        let bv = |bt: usize, t: usize, j: usize| {
            (if transpose_b { b.data[(bt * n + j) * k + t] } else { b.data[(bt * k + t) * n + j] }) as f64
        };
        let (mut ga, mut gb) = (vec![0.0; kk * a.data.len()], vec![0.0; kk * b.data.len()]);
        let (la, lb) = (a.data.len(), b.data.len());
        for q in 0..kk {
            for bt in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let g = gy[q * ny + (bt * m + i) * n + j];
                        if g == 0.0 {
                            continue;
                        }
                        for t in 0..k {
                            ga[q * la + (bt * m + i) * k + t] += g * bv(bt, t, j);
                            let bi = if transpose_b { (bt * n + j) * k + t } else { (bt * k + t) * n + j };
                            gb[q * lb + bi] += g * a.data[(bt * m + i) * k + t] as f64;
                        }
                    }
                }
            }
        }
        Ok(vec![(0, ga), (1, gb)])
    }

    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached {
        let (batch, m, k) = (x[0].shape[0], x[0].shape[1], x[0].shape[2]);
        let n = last(y);
        let lin_a = bmm(dx[0], &abs(x[1]), batch, m, k, n, self.transpose_b);
        let lin_b = bmm(&abs(x[0]), dx[1], batch, m, k, n, self.transpose_b);
        let r = bmm(dx[0], dx[1], batch, m, k, n, self.transpose_b);
        Ok((sum3(&lin_a, &lin_b, &r), r))
    }

    fn reduction(&self, x: &[&HostTensor]) -> usize {
        last(x[0])
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let [Src::Trace(a), Src::Trace(b)] = *inputs else { return None };
        let inner = u32::try_from(*shapes[0].last()?).ok()?;
        let d = OpNode {
            input: a,
            input2: b,
            params: Params::BatchMatMul { inner, transposed: self.transpose_b },
            ..OpNode::of_shape(OpKind::BatchMatMul, shape, true)?
        };
        let bt = d.batch as usize;
        let (m, cols, k) = (d.rows as usize / bt.max(1), d.cols as usize, inner as usize);
        let x2 = if self.transpose_b { [bt, cols, k] } else { [bt, k, cols] };
        (bt > 0 && shapes[0] == [bt, m, k] && shapes[1] == x2).then_some(d)
    }
}

/// The values of `t` in f64.
fn a_f64(t: &HostTensor) -> Vec<f64> {
    t.data.iter().map(|v| *v as f64).collect()
}

/// `a [rows x inner] @ b [inner x cols]` in f64 with candle's gemm.
fn gemm(a: Vec<f64>, rows: usize, inner: usize, b: Vec<f64>, cols: usize) -> Result<Vec<f64>, String> {
    let dev = candle_core::Device::Cpu;
    let e = |e: candle_core::Error| e.to_string();
    let a = Tensor::from_vec(a, (rows, inner), &dev).map_err(e)?;
    let b = Tensor::from_vec(b, (inner, cols), &dev).map_err(e)?;
    a.matmul(&b).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f64>()).map_err(e)
}

fn sum3(a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
    a.iter().zip(b).zip(c).map(|((a, b), c)| a + b + c).collect()
}

/// `gamma_k a + k 2^-149` for each `a = sum |x w|`.
fn bounds(a: &[f64], k: usize) -> Vec<f64> {
    let gamma = k as f64 / ((1u64 << 24) as f64 - k as f64);
    a.iter().map(|a| gamma * a + k as f64 * 2f64.powi(-149)).collect()
}
/// `s = a b^T` (or `a b`), `|a| |b|^T` and `sqrt(a^2 (b^2)^T)` with candle's gemm, batched: the screens
/// (centre, bound, error scale) of every dot product of a (batch) matmul at the cost of three matmuls instead of
/// a scalar loop per element.
///
/// Only the centre needs f64: products of fp32 values are exact in f64 and the f64 sum errs by ~1e-13 of
/// `|a| |b|`. The other two are sums of non-negative terms, which f32 computes to within `gamma_k` (9e-5 of the
/// sum at k = 1536) relative: far inside the 1 % margin of [`screened_verdict`], which decides every element
/// closer to its bound exactly, and immaterial to an empirical scale. So they run in f32, at half the cost of
/// f64, unless the squares could leave f32's range (then everything stays in f64).
#[allow(clippy::too_many_arguments)]
fn screen(
    a: &[f32],
    m: usize,
    k: usize,
    b: &[f32],
    n: usize,
    batch: usize,
    transpose_b: bool,
) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    use candle_core::{DType, Device, Tensor};
    let dev = Device::Cpu;
    let max = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    // squares of these stay normal in f32, and their sums finite
    let f32_ok = {
        let (ma, mb) = (max(a), max(b));
        ma < 1e15 && mb < 1e15 && (ma as f64 * mb as f64) < 1e30 && k < 100_000
    };
    let run = || -> candle_core::Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let a32 = Tensor::from_slice(a, (batch, m, k), &dev)?;
        // elementwise work on b's own (contiguous) layout; the transpose is a view the gemm reads by strides
        let b32 = Tensor::from_slice(b, if transpose_b { (batch, n, k) } else { (batch, k, n) }, &dev)?;
        let t = |x: Tensor| if transpose_b { x.transpose(1, 2) } else { Ok(x) };
        let (a64, b64) = (a32.to_dtype(DType::F64)?, b32.to_dtype(DType::F64)?);
        let s = a64.matmul(&t(b64.clone())?)?.flatten_all()?.to_vec1::<f64>()?;
        let (abs, sq) = if f32_ok {
            (
                a32.abs()?.matmul(&t(b32.abs()?)?)?.to_dtype(DType::F64)?,
                a32.sqr()?.matmul(&t(b32.sqr()?)?)?.to_dtype(DType::F64)?,
            )
        } else {
            (a64.abs()?.matmul(&t(b64.abs()?)?)?, a64.sqr()?.matmul(&t(b64.sqr()?)?)?)
        };
        let abs = abs.flatten_all()?.to_vec1::<f64>()?;
        let l2 = sq.sqrt()?.flatten_all()?.to_vec1::<f64>()?;
        Ok((s, abs, l2))
    };
    run().ok()
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
