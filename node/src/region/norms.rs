//! Sound regions of RMSNorm and SiLU (library functions with stated ulp budgets; u = 2^-24, eta = 2^-149).
//!
//! **RMSNorm** `y_i = x_i / sqrt(sum_j x_j^2 / n + eps) * g_i`, for kernels that sum the squares in any order,
//! divide by n (or multiply by 1/n), add eps, take sqrt (correctly rounded) or rsqrt (within [`RSQRT_ULPS`]),
//! and divide-then-scale or multiply twice:
//!
//! ```text
//! Q^ in [(1 - gamma_n) Q - n eta, (1 + gamma_n) Q + n eta]          (squares are >= 0: relative bound)
//! v^ in [((Q^lo / n)(1 - u)^2 + eps)(1 - u), ((Q^hi / n)(1 + u)^2 + eps)(1 + u)]
//! r^ in [sqrt(v^lo)(1 - 2u RSQRT_ULPS), sqrt(v^hi)(1 + 2u RSQRT_ULPS)]
//! |y_i| in [|x_i g_i| / r^hi (1 - u)^2 - eta, |x_i g_i| / r^lo (1 + u)^2 + eta], with the sign of x_i g_i
//! ```
//!
//! A zero `x_i` or `g_i` gives an exactly-zero region.
//!
//! **SiLU** `y = x / (1 + exp(-x))` (or `x * sigmoid(x)`): `exp` within [`super::softmax::EXP_ULPS`] ulps (its
//! argument `-x` is exact), so `1 + exp(-x)` is within `max(eps_exp)` relatively, and at most three roundings
//! follow: `|y - s| <= ((1 + u)^3 / ((1 - u)(1 - eps_exp)) - 1) |s| + eta`. Where `exp(-x)` overflows fp32
//! (x < -88.7), kernels return -0 while `s` is a tiny negative: the region is widened to include 0.
//! Bounds are evaluated in f64 and widened by a relative 1e-9.

use super::softmax::EXP_ULPS;

/// Ulps of error allowed for a library reciprocal square root (CUDA `rsqrtf` is within 2).
pub const RSQRT_ULPS: f64 = 2.0;
const U: f64 = 1.0 / 16_777_216.0;
const ETA: f64 = 1.401_298_464_324_817e-45;
const WIDEN: f64 = 1e-9;

fn verdict(y: f32, lo: f64, hi: f64, centre: f64) -> (bool, f64) {
    if !y.is_finite() {
        return (false, f64::INFINITY);
    }
    let y = y as f64;
    let half = ((hi - lo) / 2.0).max(f64::MIN_POSITIVE);
    ((lo..=hi).contains(&y), (y - centre).abs() / half)
}

/// Verdicts of one RMSNorm row: input `x`, gain `g`, claimed `y`.
pub fn rmsnorm_row(x: &[f32], g: &[f32], eps: f32, y: &[f32]) -> Vec<(bool, f64)> {
    let n = x.len() as f64;
    let gamma = n * U / (1.0 - n * U);
    let q: f64 = x.iter().map(|v| (*v as f64) * (*v as f64)).sum();
    let q_lo = ((1.0 - gamma) * q - n * ETA).max(0.0) * (1.0 - WIDEN);
    let q_hi = ((1.0 + gamma) * q + n * ETA) * (1.0 + WIDEN);
    let eps = eps as f64;
    let v_lo = ((q_lo / n) * (1.0 - U).powi(2) + eps) * (1.0 - U);
    let v_hi = ((q_hi / n) * (1.0 + U).powi(2) + eps) * (1.0 + U);
    let r_lo = v_lo.sqrt() * (1.0 - 2.0 * U * RSQRT_ULPS) * (1.0 - WIDEN);
    let r_hi = v_hi.sqrt() * (1.0 + 2.0 * U * RSQRT_ULPS) * (1.0 + WIDEN);
    let r = (q / n + eps).sqrt();
    x.iter()
        .zip(g)
        .zip(y)
        .map(|((&xi, &gi), &yi)| {
            let p = xi as f64 * gi as f64;
            if p == 0.0 {
                return if yi == 0.0 { (true, 0.0) } else { (false, f64::INFINITY) };
            }
            let (small, large) = (p.abs() / r_hi * (1.0 - U).powi(2) - ETA, p.abs() / r_lo * (1.0 + U).powi(2) + ETA);
            let (lo, hi) = if p > 0.0 { (small, large) } else { (-large, -small) };
            verdict(yi, lo, hi, p / r)
        })
        .collect()
}

/// Verdict of one SiLU element.
pub fn silu(x: f32, y: f32) -> (bool, f64) {
    let xf = x as f64;
    let s = xf / (1.0 + (-xf).exp());
    let eps_exp = 2.0 * U * EXP_ULPS;
    let rel = (1.0 + U).powi(3) / ((1.0 - U) * (1.0 - eps_exp)) - 1.0;
    let d = (rel * s.abs() + ETA) * (1.0 + WIDEN);
    let (mut lo, mut hi) = (s - d, s + d);
    if (-x).exp().is_infinite() {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    verdict(y, lo, hi, s)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::model::HostTensor;
    use crate::region::orders::Order;
    use crate::runtime::replay;

    fn rmsnorm_impls(x: &[f32], g: &[f32], eps: f32) -> Vec<(&'static str, Vec<f32>)> {
        let n = x.len();
        let mut out = Vec::new();
        for (name, order) in
            [("sequential", Order::Sequential), ("pairwise", Order::Pairwise), ("wide", Order::WideThenRound)]
        {
            let q = order.dot(x, x);
            let r = (q / n as f32 + eps).sqrt();
            out.push((name, x.iter().zip(g).map(|(v, a)| v / r * a).collect()));
            let rs = 1.0 / (q * (1.0 / n as f32) + eps).sqrt();
            out.push(("reciprocal", x.iter().zip(g).map(|(v, a)| v * rs * a).collect()));
        }
        let node = Node { op: Op::RmsNorm { eps }, inputs: vec![Src::Trace(0), Src::Trace(1)], shape: vec![1, n] };
        let candle = replay(&node, &[&HostTensor::new(vec![1, n], x.to_vec()), &HostTensor::new(vec![n], g.to_vec())]);
        out.push(("candle", candle.unwrap().data));
        out
    }

    /// RMSNorm rows of 1..2048 elements (uniform, wide, tiny, zero-laden) in seven implementations: every
    /// output inside; an output moved by 4 (gamma_n + 8u) of itself is outside (where squares do not underflow).
    #[test]
    fn every_rmsnorm_implementation_is_inside_and_a_moved_output_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5e5);
        let (mut checked, mut rejected) = (0usize, 0usize);
        for case in 0..600 {
            let n = if case % 10 == 0 { 2048 } else { rng.random_range(1..200) };
            let scale = [1.0f32, 1e-3, 30.0, 1e-20][case % 4];
            let mut x: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0) * scale).collect();
            if case % 7 == 0 {
                x.iter_mut().step_by(2).for_each(|v| *v = 0.0);
            }
            let g: Vec<f32> = (0..n).map(|_| rng.random_range(0.5f32..1.5)).collect();
            let eps = [1e-5f32, 1e-6, 0.0][case % 3];
            for (name, y) in rmsnorm_impls(&x, &g, eps) {
                for (i, (inside, _)) in rmsnorm_row(&x, &g, eps, &y).into_iter().enumerate() {
                    assert!(inside, "{name} case {case} n {n} scale {scale} element {i}: x {} y {:e}", x[i], y[i]);
                    checked += 1;
                }
            }
            let y = &rmsnorm_impls(&x, &g, eps)[0].1;
            // (rows of 1e-20 have underflowing squares: their region is honestly wide, skip the tightness check)
            if let Some(i) = y.iter().position(|v| v.abs() > 1e-3).filter(|_| scale > 1e-10) {
                let mut moved = y.clone();
                moved[i] *= 1.0 + 4.0 * (n as f32 / 16_777_216.0 + 8.0 / 16_777_216.0);
                assert!(!rmsnorm_row(&x, &g, eps, &moved)[i].0, "case {case}: moved output accepted");
                rejected += 1;
            }
        }
        assert!(checked >= 100_000, "{checked}");
        assert!(rejected >= 400, "{rejected}");
    }

    /// 2 x 10^5 SiLU outputs over [-100, 100] and subnormal inputs, from x / (1 + exp(-x)), x * sigmoid(x)
    /// and an f64 evaluation: all inside; 4u + 2 ulp-of-exp away is outside.
    #[test]
    fn every_silu_implementation_is_inside_and_a_moved_output_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5170);
        let (mut checked, mut rejected) = (0usize, 0usize);
        for i in 0..70_000 {
            let x = match i % 3 {
                0 => rng.random_range(-100.0f32..100.0),
                1 => rng.random_range(-8.0f32..8.0),
                _ => {
                    f32::from_bits(rng.random_range(1..0x0080_0000u32)) * if rng.random_bool(0.5) { -1.0 } else { 1.0 }
                }
            };
            let node = Node { op: Op::Silu, inputs: vec![Src::Trace(0)], shape: vec![1] };
            let candle = replay(&node, &[&HostTensor::new(vec![1], vec![x])]).unwrap().data[0];
            let sigmoid = x * (1.0 / (1.0 + (-x).exp()));
            let wide = ((x as f64) / (1.0 + (-(x as f64)).exp())) as f32;
            for y in [candle, sigmoid, wide] {
                assert!(silu(x, y).0, "silu({x:e}) = {y:e}");
                checked += 1;
            }
            if candle.abs() > 1e-30 {
                let moved = candle * (1.0 + 1e-6);
                assert!(!silu(x, moved).0, "silu({x:e}): moved {moved:e} accepted");
                rejected += 1;
            }
        }
        assert!(checked >= 200_000);
        assert!(rejected >= 40_000);
    }
}
