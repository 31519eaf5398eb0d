//! Sound region of softmax over the last dim, for the implementation family every mainstream kernel uses:
//!
//! ```text
//! m = max_j x_j (exact);  e_j = exp(x_j - m);  S = sum_j e_j (any order);  y_i = e_i / S  (or e_i * (1/S))
//! ```
//!
//! Error budget (u = 2^-24): the exponent's argument carries at most two roundings (`x - m`, and a
//! `log2(e)` scaling where `exp2` is used), so `exp` sees `t (1 + a)`, |a| <= 2u, which scales the result by
//! `exp(2u|t|)`; the library `exp` is within [`EXP_ULPS`] ulps (relative `2u` per ulp) or, when its result is
//! subnormal, within `2^-149` absolutely; the sum of n terms in any order is within `gamma_n` relatively; the
//! final division (or reciprocal and multiply) adds at most two roundings and `2^-149` absolutely. So
//!
//! ```text
//! e_j (1 - r_j) - eta <= ê_j <= e_j (1 + r_j) + eta,    r_j = (1 + 2u EXP_ULPS) exp(2u |t_j|) - 1
//! (1 - gamma_n) sum lo_j <= Ŝ <= (1 + gamma_n) sum hi_j
//! lo_i / Ŝ_hi (1 - u)^2 - eta <= y_i <= hi_i / Ŝ_lo (1 + u)^2 + eta
//! ```
//!
//! evaluated in f64 and widened by a relative 1e-9 for the f64 evaluation itself. A `-inf` input (a masked
//! score) has `e = 0` exactly in every implementation, so its region is exactly zero. Not covered: online
//! (flash-attention) softmax, which rescales partial sums by further `exp` factors; it needs its own budget.

use super::{ETA, U, WIDEN};

/// Ulps of error allowed for the library `exp` (glibc/musl `expf` are below 1; CUDA's fast `__expf` is ~2).
pub const EXP_ULPS: f64 = 2.0;

/// Verdict and ratio |y - p| / half-width for every element of one softmax row `x -> y`.
pub fn softmax_row(x: &[f32], y: &[f32]) -> Vec<(bool, f64)> {
    let n = x.len() as f64;
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        // an all-masked (or NaN) row has no defined softmax: nothing to hold anyone to
        return vec![(true, 0.0); x.len()];
    }
    let gamma = n * U / (1.0 - n * U);
    let bounds: Vec<(f64, f64, f64)> = x
        .iter()
        .map(|&xj| {
            if xj == f32::NEG_INFINITY {
                return (0.0, 0.0, 0.0);
            }
            let t = xj as f64 - m as f64;
            let e = t.exp();
            let r = (1.0 + 2.0 * U * EXP_ULPS) * (2.0 * U * t.abs()).exp() - 1.0;
            ((e * (1.0 - r) - ETA).max(0.0), e, e * (1.0 + r) + ETA)
        })
        .collect();
    let s_lo = (1.0 - gamma) * bounds.iter().map(|b| b.0).sum::<f64>() * (1.0 - WIDEN);
    let s_hi = (1.0 + gamma) * bounds.iter().map(|b| b.2).sum::<f64>() * (1.0 + WIDEN);
    let s = bounds.iter().map(|b| b.1).sum::<f64>();
    bounds
        .iter()
        .zip(y)
        .map(|(&(lo, e, hi), &yi)| {
            if !yi.is_finite() {
                return (false, f64::INFINITY);
            }
            if hi == 0.0 {
                let inside = yi == 0.0;
                return (inside, if inside { 0.0 } else { f64::INFINITY });
            }
            let low = lo / s_hi * (1.0 - U).powi(2) * (1.0 - WIDEN) - ETA;
            let high = hi / s_lo * (1.0 + U).powi(2) * (1.0 + WIDEN) + ETA;
            let y = yi as f64;
            let half = (high - low) / 2.0;
            ((low..=high).contains(&y), (y - e / s).abs() / half)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::runtime::replay;
    use crate::tensor::HostTensor;

    /// Softmax as different kernels compute it.
    fn implementations(x: &[f32]) -> Vec<(&'static str, Vec<f32>)> {
        let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
        let seq: f32 = e.iter().fold(0.0, |s, v| s + v);
        let rev: f32 = e.iter().rev().fold(0.0, |s, v| s + v);
        let e2: Vec<f32> = x.iter().map(|v| ((v - m) * std::f32::consts::LOG2_E).exp2()).collect();
        let s2: f32 = e2.iter().fold(0.0, |s, v| s + v);
        let s64: f64 = x.iter().map(|v| ((*v as f64) - m as f64).exp()).sum();
        let node = Node { op: Op::Softmax, inputs: vec![Src::Trace(0)], shape: vec![1, x.len()] };
        let candle = replay(&node, &[&HostTensor::new(vec![1, x.len()], x.to_vec())]).unwrap().data;
        vec![
            ("candle", candle),
            ("sequential-divide", e.iter().map(|v| v / seq).collect()),
            ("reversed-reciprocal", e.iter().map(|v| v * (1.0 / rev)).collect()),
            ("exp2", e2.iter().map(|v| v / s2).collect()),
            ("f64-rounded", x.iter().map(|v| ((((*v as f64) - m as f64).exp()) / s64) as f32).collect()),
        ]
    }

    /// 2 x 10^5 softmax outputs from five implementations over rows of uniform, wide, scaled, tied, masked and
    /// long inputs: all inside; a probability moved by three times its row's gamma_n (+1e-5) is outside.
    #[test]
    fn every_implementation_is_inside_and_a_moved_probability_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x50f7);
        let (mut checked, mut rejected) = (0usize, 0usize);
        for case in 0..800 {
            let n = if case % 10 == 0 { 2048 } else { rng.random_range(1..96) };
            let mut x: Vec<f32> = (0..n).map(|_| rng.random_range(-5.0f32..5.0)).collect();
            match case % 5 {
                1 => x.iter_mut().for_each(|v| *v *= 20.0),
                2 => x.iter_mut().for_each(|v| *v = (*v * 2.0).round()), // ties
                3 => {
                    for (i, v) in x.iter_mut().enumerate() {
                        if i % 3 == 1 {
                            *v = f32::NEG_INFINITY; // causal mask
                        }
                    }
                }
                4 => x.iter_mut().for_each(|v| *v = *v * 1e-3 + 1e4), // large offset, small spread
                _ => {}
            }
            if x.iter().all(|v| *v == f32::NEG_INFINITY) {
                continue;
            }
            for (name, y) in implementations(&x) {
                for (i, (inside, _)) in softmax_row(&x, &y).into_iter().enumerate() {
                    assert!(inside, "{name} case {case} n {n} element {i}: x {} y {:e}", x[i], y[i]);
                    checked += 1;
                }
            }
            let y = &implementations(&x)[0].1;
            if let Some(i) = y.iter().position(|p| *p > 1e-3) {
                let mut moved = y.clone();
                // beyond the sum's worst case (gamma_n) and the rest of the budget
                let gamma = n as f32 / 16_777_216.0;
                moved[i] *= 1.0 + 3.0 * gamma + 1e-5;
                assert!(!softmax_row(&x, &moved)[i].0, "case {case}: moved probability accepted");
                rejected += 1;
            }
        }
        assert!(checked >= 200_000, "{checked}");
        assert!(rejected >= 700);
    }

    #[test]
    fn masked_scores_have_an_exactly_zero_region() {
        let x = [1.0, f32::NEG_INFINITY, 2.0];
        let v = softmax_row(&x, &[0.268_941_43, 0.0, 0.731_058_6]);
        assert!(v.iter().all(|(inside, _)| *inside));
        assert!(!softmax_row(&x, &[0.268_941_43, f32::from_bits(1), 0.731_058_6])[1].0);
    }
}
