//! Sound region of GELU (erf form) `y = x/2 (1 + erf(x / sqrt 2))`.
//!
//! Kernels compute `z = x * fl(1/sqrt 2)` (the argument carries at most two roundings: relative 2u), `erf(z)`
//! within [`ERF_ULPS`] ulps (relative `2u` per ulp, `eta` absolutely near zero), add 1 (one rounding), and
//! multiply by `x` and 0.5 in some order (at most two more roundings; the 0.5 is exact above the subnormal
//! range). The argument error moves erf by at most `2/sqrt(pi) exp(-z^2(1 - 4u)) |z| 2u`. So, with
//! `E_erf` that plus `2u ERF_ULPS |erf z| + eta`:
//! `|y - s| <= |x|/2 (E_erf + u (1 + erf z + E_erf)) + 3u |s| + 3 eta`, evaluated in f64 (erf from libm)
//! and widened by a relative 1e-9. The tanh approximation of GELU differs from this by up to ~1e-3 of |x|
//! and is rejected: swapping it in is a graph rewrite, not an honest variation.

use super::{ETA, U};

/// Ulps allowed for a library `erf`.
pub const ERF_ULPS: f64 = 2.0;

/// Verdict and ratio of one GELU element.
pub fn gelu(x: f32, y: f32) -> (bool, f64) {
    if !y.is_finite() {
        return (false, f64::INFINITY);
    }
    let xf = x as f64;
    let z = xf * std::f64::consts::FRAC_1_SQRT_2;
    let e = libm::erf(z);
    let s = 0.5 * xf * (1.0 + e);
    let e_arg = 2.0 / std::f64::consts::PI.sqrt() * (-z * z * (1.0 - 4.0 * U)).exp() * z.abs() * 2.0 * U;
    let e_erf = e_arg + 2.0 * U * ERF_ULPS * e.abs() + ETA;
    let e_sum = e_erf + U * (1.0 + e + e_erf);
    let bound = (0.5 * xf.abs() * e_sum + 3.0 * U * s.abs() + 3.0 * ETA) * (1.0 + 1e-9);
    let d = (y as f64 - s).abs();
    (d <= bound, d / bound)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::runtime::replay;
    use crate::tensor::HostTensor;

    fn tanh_gelu(x: f32) -> f32 {
        0.5 * x * (1.0 + ((2.0f32 / std::f32::consts::PI).sqrt() * (x + 0.044_715 * x * x * x)).tanh())
    }

    /// 3 x 10^5 GELU outputs (candle, f32 libm erff in two groupings, f64 rounded) over [-10, 10] and tiny
    /// inputs: all inside; the tanh approximation is rejected wherever it differs materially.
    #[test]
    fn every_erf_gelu_is_inside_and_the_tanh_approximation_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x6e1);
        let node = Node { op: Op::Gelu, inputs: vec![Src::Trace(0)], shape: vec![1] };
        let (mut checked, mut caught, mut material) = (0usize, 0usize, 0usize);
        for i in 0..75_000 {
            let x = if i % 5 == 0 { rng.random_range(-1e-3f32..1e-3) } else { rng.random_range(-10.0f32..10.0) };
            let candle = replay(&node, &[&HostTensor::new(vec![1], vec![x])]).unwrap().data[0];
            let erff = libm::erff(x * std::f32::consts::FRAC_1_SQRT_2);
            let a = 0.5 * x * (1.0 + erff);
            let b = x * (0.5 + 0.5 * erff);
            let wide = (0.5 * x as f64 * (1.0 + libm::erf(x as f64 * std::f64::consts::FRAC_1_SQRT_2))) as f32;
            for y in [candle, a, b, wide] {
                assert!(gelu(x, y).0, "gelu({x:e}) = {y:e}: ratio {}", gelu(x, y).1);
                checked += 1;
            }
            let t = tanh_gelu(x);
            if (t as f64 - wide as f64).abs() > 1e-5 * (x.abs() as f64) {
                material += 1;
                caught += usize::from(!gelu(x, t).0);
            }
        }
        assert!(checked >= 300_000);
        assert!(material > 10_000, "{material}");
        assert_eq!(caught, material, "the tanh approximation must be caught wherever it differs by 1e-5 |x|");
    }
}
