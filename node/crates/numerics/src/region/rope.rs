//! Sound regions of rotary embeddings and mean pooling.
//!
//! **RoPE** (rotate-half): for a row `x` of `d` elements at position `p`, pair `k < d/2` turns by angle
//! `a = p * theta^(-2k/d) / f_k`, `f_k` the pair's frequency factor (Llama 3's rope scaling, the checkpoint's
//! `rope_freqs.weight`; 1 without scaling):
//! `y_k = x_k cos a - x_{k+d/2} sin a`, `y_{k+d/2} = x_{k+d/2} cos a + x_k sin a`.
//! Kernels build their cos/sin tables differently (f32 or f64, `powf` or `exp(log)`, product or repeated
//! multiplication), so the angle carries a relative error; the budget is [`ANGLE_REL`] = 8u (the product,
//! the power's 2-ulp library error and its argument's rounding, with room), and `sin`/`cos` are within
//! [`TRIG_ULPS`] ulps. A pair whose factor is not 1 has [`SCALED_ANGLE_REL`] = 40u: kernels derive the factors
//! from the scaling's parameters in f32 (candle-transformers' llama) rather than read the committed ones, and in
//! the band between the two wavelengths the interpolation `(1 - s) / factor + s` amplifies the rounding of `s`
//! by up to `factor - 1` (7 for Llama 3's 8). With `da` the budget times `|a|`:
//! `|c^ - cos a| <= |sin a| da + da^2 / 2 + 2u TRIG_ULPS |cos a| + eta` (and symmetrically for sin), and the
//! two products and the sum add `gamma_2 (|x_k c^| + |x_j s^|)`. For large positions `da` is large too: at
//! p = 8192 and the fastest frequency `da` is ~4e-3, and honest GPU and CPU tables really differ that much.
//!
//! **Mean pooling** `y_c = sum_r x[r, c] / n`: any-order sum then divide (or multiply by 1/n):
//! `|y - mean| <= gamma_n sum |x| / n (1 + u)^2 + 2u |mean| + eta`.

use super::{ETA, U, WIDEN};

/// Relative error budget of a rope angle.
pub const ANGLE_REL: f64 = 8.0 * U;
/// Relative error budget of the angle of a pair whose frequency factor is not 1 (`RopeBound`: 5 * 2^-21).
pub const SCALED_ANGLE_REL: f64 = 40.0 * U;

/// The angle of pair `k` of a `d`-wide row at position `p` (`factor` the pair's frequency factor), in f64, and
/// its relative error budget.
pub fn angle(p: f64, theta: f32, k: usize, d: usize, factor: f32) -> (f64, f64) {
    let a = p / ((theta as f64).powf(2.0 * k as f64 / d as f64) * factor as f64);
    (a, if factor == 1.0 { ANGLE_REL } else { SCALED_ANGLE_REL })
}
/// Ulps allowed for library `sin` and `cos`.
pub const TRIG_ULPS: f64 = 2.0;

fn within(y: f32, centre: f64, bound: f64) -> (bool, f64) {
    if !y.is_finite() {
        return (false, f64::INFINITY);
    }
    let d = (y as f64 - centre).abs();
    let bound = bound * (1.0 + WIDEN) + ETA;
    (d <= bound, d / bound)
}

/// Verdicts of rope applied to `x: [heads, seq, d]` at positions `offset..offset + seq`, each pair's frequency
/// divided by its factor in `freqs` (`[d / 2]`) if given.
pub fn rope(
    x: &[f32],
    seq: usize,
    d: usize,
    theta: f32,
    offset: usize,
    freqs: Option<&[f32]>,
    y: &[f32],
) -> Vec<(bool, f64)> {
    let half = d / 2;
    let gamma2 = 2.0 * U / (1.0 - 2.0 * U);
    let mut out = vec![(true, 0.0); x.len()];
    for (row, (xr, yr)) in x.chunks(d).zip(y.chunks(d)).enumerate() {
        let p = (offset + row % seq) as f64;
        for k in 0..half {
            let (a, rel) = angle(p, theta, k, d, freqs.map_or(1.0, |f| f[k]));
            let (s, c) = a.sin_cos();
            let da = rel * a.abs();
            let trig = 2.0 * U * TRIG_ULPS;
            let dc = s.abs() * da + da * da / 2.0 + trig * c.abs() + ETA;
            let ds = c.abs() * da + da * da / 2.0 + trig * s.abs() + ETA;
            let (x1, x2) = (xr[k] as f64, xr[k + half] as f64);
            let (y1, y2) = (x1 * c - x2 * s, x2 * c + x1 * s);
            let b1 = x1.abs() * dc + x2.abs() * ds + gamma2 * (x1.abs() * (c.abs() + dc) + x2.abs() * (s.abs() + ds));
            let b2 = x2.abs() * dc + x1.abs() * ds + gamma2 * (x2.abs() * (c.abs() + dc) + x1.abs() * (s.abs() + ds));
            out[row * d + k] = within(yr[k], y1, b1);
            out[row * d + k + half] = within(yr[k + half], y2, b2);
        }
    }
    out
}

/// Verdicts of mean pooling `x: [n, c] -> y: [c]`.
pub fn mean_rows(x: &[f32], n: usize, y: &[f32]) -> Vec<(bool, f64)> {
    let c = y.len();
    let gamma = n as f64 * U / (1.0 - n as f64 * U);
    (0..c)
        .map(|j| {
            let col = (0..n).map(|r| x[r * c + j] as f64);
            let (sum, abs) = col.fold((0.0, 0.0), |(s, a), v| (s + v, a + v.abs()));
            let mean = sum / n as f64;
            within(y[j], mean, gamma * abs / n as f64 * (1.0 + U).powi(2) + 2.0 * U * mean.abs())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::op;
    use crate::runtime::replay;
    use crate::tensor::HostTensor;

    /// Rope as kernels with f32 tables compute it (angle as an f32 product, f32 sin/cos, FMA or not).
    fn rope_f32(x: &[f32], seq: usize, d: usize, theta: f32, offset: usize, fma: bool) -> Vec<f32> {
        let half = d / 2;
        let mut y = vec![0.0f32; x.len()];
        for (row, xr) in x.chunks(d).enumerate() {
            let p = (offset + row % seq) as f32;
            for k in 0..half {
                let inv = 1.0 / theta.powf(2.0 * k as f32 / d as f32);
                let (s, c) = (p * inv).sin_cos();
                let (x1, x2) = (xr[k], xr[k + half]);
                y[row * d + k] = if fma { x1.mul_add(c, -(x2 * s)) } else { x1 * c - x2 * s };
                y[row * d + k + half] = if fma { x2.mul_add(c, x1 * s) } else { x2 * c + x1 * s };
            }
        }
        y
    }

    /// Rope over positions 0..8192 in three implementations (candle with f64 tables, f32 tables with and without
    /// FMA): all inside; an output moved by 1e-2 of the row's scale is outside.
    #[test]
    fn every_rope_implementation_is_inside_and_a_moved_output_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x20be);
        let (mut checked, mut rejected) = (0usize, 0usize);
        for case in 0..300 {
            let (heads, seq, d) = (rng.random_range(1..4), rng.random_range(1..24), [64usize, 32, 8][case % 3]);
            let offset = [0usize, 37, 1000, 8000][case % 4];
            let theta = [10_000.0f32, 100_000.0][case % 2];
            let x: Vec<f32> = (0..heads * seq * d).map(|_| rng.random_range(-3.0f32..3.0)).collect();
            let node = Node {
                op: Op::Rope(op::Rope { theta, offset: offset as u32, scaled: false }),
                inputs: vec![Src::Trace(0)],
                shape: vec![heads, seq, d],
            };
            let candle = replay(&node, &[&HostTensor::new(vec![heads, seq, d], x.clone())]).unwrap().data;
            for (name, y) in [
                ("candle", candle.clone()),
                ("f32", rope_f32(&x, seq, d, theta, offset, false)),
                ("f32-fma", rope_f32(&x, seq, d, theta, offset, true)),
            ] {
                for (i, (inside, r)) in rope(&x, seq, d, theta, offset, None, &y).into_iter().enumerate() {
                    assert!(inside, "{name} case {case} element {i}: ratio {r}");
                    checked += 1;
                }
            }
            let mut moved = candle;
            moved[1] += 1e-2 * 3.0;
            assert!(!rope(&x, seq, d, theta, offset, None, &moved)[1].0, "case {case}: moved output accepted");
            rejected += 1;
        }
        assert!(checked >= 100_000, "{checked}");
        assert!(rejected == 300);
    }

    /// candle-transformers' llama3 inverse frequencies: derived in f32 from the scaling's parameters.
    fn candle_llama3_inv_freq(s: &crate::model::llama::Llama3Scaling, theta: f32, d: usize) -> Vec<f32> {
        let old = s.original_max_position_embeddings as f32;
        let (low_wavelen, high_wavelen) = (old / s.low_freq_factor, old / s.high_freq_factor);
        (0..d)
            .step_by(2)
            .map(|i| 1f32 / theta.powf(i as f32 / d as f32))
            .map(|freq| {
                let wavelen = 2. * std::f32::consts::PI / freq;
                if wavelen < high_wavelen {
                    freq
                } else if wavelen > low_wavelen {
                    freq / s.factor
                } else {
                    let smooth = (old / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
                    (1. - smooth) * freq / s.factor + smooth * freq
                }
            })
            .collect()
    }

    /// Llama 3's scaled rope: with the committed factors (llama.cpp's converter), kernels that read them (the
    /// IR, in f64) and kernels that derive the frequencies in f32 from the parameters (candle-transformers'
    /// llama, with and without FMA) are inside at positions up to 8191, for Llama 3.1's parameters and for a
    /// short original context that puts most pairs in the band; an output moved by 1e-2 of the row's scale is
    /// not, and neither is the unscaled rope of the same row.
    #[test]
    fn scaled_rope_holds_kernels_deriving_the_factors_and_not_the_unscaled_rope() {
        use crate::model::llama::Llama3Scaling;
        let llama31 = Llama3Scaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        };
        let short = Llama3Scaling { original_max_position_embeddings: 64, ..llama31 };
        let wide = Llama3Scaling { factor: 32.0, original_max_position_embeddings: 1024, ..llama31 };
        let mut rng = ChaCha8Rng::seed_from_u64(0x5ca1e);
        let (mut checked, mut scaled_pairs, mut band, mut worst) = (0usize, 0usize, 0usize, 0f64);
        for (case, (s, theta, d)) in
            [(llama31, 500_000.0f32, 128usize), (short, 100_000.0, 64), (llama31, 10_000.0, 64), (wide, 500_000.0, 128)]
                .iter()
                .enumerate()
        {
            let freqs = s.factors(*theta, *d);
            scaled_pairs += freqs.iter().filter(|f| **f != 1.0).count();
            band += freqs.iter().filter(|f| **f != 1.0 && **f != s.factor).count();
            let inv = candle_llama3_inv_freq(s, *theta, *d);
            for (k, (i, f)) in inv.iter().zip(&freqs).enumerate() {
                let (a, _) = angle(1.0, *theta, k, *d, *f);
                worst = worst.max((*i as f64 - a).abs() / a / U);
            }
            for offset in [0usize, 5, 100, 2000, 8180] {
                let (heads, seq) = (2, 12);
                let x: Vec<f32> = (0..heads * seq * *d).map(|_| rng.random_range(-3.0f32..3.0)).collect();
                let node = Node {
                    op: Op::Rope(op::Rope { theta: *theta, offset: offset as u32, scaled: true }),
                    inputs: vec![Src::Trace(0), Src::Weight(0)],
                    shape: vec![heads, seq, *d],
                };
                let operands =
                    [&HostTensor::new(vec![heads, seq, *d], x.clone()), &HostTensor::new(vec![d / 2], freqs.clone())];
                let ir = replay(&node, &operands).unwrap().data;
                let half = d / 2;
                let candle = |fma: bool| -> Vec<f32> {
                    let mut y = vec![0f32; x.len()];
                    for (row, xr) in x.chunks(*d).enumerate() {
                        let p = (offset + row % seq) as f32;
                        for k in 0..half {
                            let (sn, c) = (p * inv[k]).sin_cos();
                            let (x1, x2) = (xr[k], xr[k + half]);
                            y[row * d + k] = if fma { x1.mul_add(c, -(x2 * sn)) } else { x1 * c - x2 * sn };
                            y[row * d + k + half] = if fma { x2.mul_add(c, x1 * sn) } else { x2 * c + x1 * sn };
                        }
                    }
                    y
                };
                for (name, y) in
                    [("ir", ir.clone()), ("candle-llama3", candle(false)), ("candle-llama3-fma", candle(true))]
                {
                    for (i, (inside, r)) in rope(&x, seq, *d, *theta, offset, Some(&freqs), &y).into_iter().enumerate()
                    {
                        assert!(inside, "{name} case {case} offset {offset} element {i}: ratio {r}");
                        checked += 1;
                    }
                }
                let mut moved = ir.clone();
                let j = d - 1; // the slowest pair, scaled by the full factor
                moved[j] += 1e-2 * 3.0;
                assert!(
                    !rope(&x, seq, *d, *theta, offset, Some(&freqs), &moved)[j].0,
                    "case {case}: moved output accepted"
                );
                if offset >= 100 {
                    // unscaled, the slow pairs turn `factor` times further: outside the scaled region
                    let plain = rope(&x, seq, *d, *theta, offset, None, &ir);
                    assert!(
                        plain.iter().any(|v| !v.0),
                        "case {case} offset {offset}: the unscaled rope holds the scaled one"
                    );
                }
            }
        }
        eprintln!("candle's f32 llama3 frequencies against the committed factors': worst {worst:.2}u");
        assert!(checked >= 50_000, "{checked}");
        assert!(scaled_pairs > 40 && band >= 8, "{scaled_pairs} scaled pairs, {band} in the band");
    }

    #[test]
    fn mean_pooling_in_any_order_is_inside_and_a_moved_mean_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x3ea);
        for _ in 0..500 {
            let (n, c) = (rng.random_range(1..130), rng.random_range(1..40));
            let x: Vec<f32> = (0..n * c).map(|_| rng.random_range(-2.0f32..2.0)).collect();
            let node = Node { op: Op::MeanRows, inputs: vec![Src::Trace(0)], shape: vec![c] };
            let candle = replay(&node, &[&HostTensor::new(vec![n, c], x.clone())]).unwrap().data;
            let reversed: Vec<f32> =
                (0..c).map(|j| (0..n).rev().fold(0.0f32, |s, r| s + x[r * c + j]) * (1.0 / n as f32)).collect();
            for y in [&candle, &reversed] {
                assert!(mean_rows(&x, n, y).iter().all(|v| v.0));
            }
            let mut moved = candle.clone();
            moved[0] += 1e-3;
            assert!(!mean_rows(&x, n, &moved)[0].0);
        }
    }
}
