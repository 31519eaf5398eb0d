//! Soundness of the sound regions: for random and adversarial inputs, every evaluation order any honest
//! hardware could use lands inside the region (decided exactly, as the contract decides).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::orders::Order;
use super::sound::{add_within, dot_within};

/// Input families that stress a floating-point bound.
#[derive(Debug, Clone, Copy)]
enum Family {
    Uniform,
    Cancellation,
    DynamicRange,
    Subnormal,
    Zeros,
    Long,
}

const FAMILIES: [Family; 6] =
    [Family::Uniform, Family::Cancellation, Family::DynamicRange, Family::Subnormal, Family::Zeros, Family::Long];

fn uniform(rng: &mut ChaCha8Rng) -> f32 {
    rng.random_range(-1.0f32..1.0)
}

/// A value with a random exponent in [lo, hi].
fn ranged(rng: &mut ChaCha8Rng, lo: i32, hi: i32) -> f32 {
    uniform(rng) * 2f32.powi(rng.random_range(lo..=hi))
}

fn vectors(rng: &mut ChaCha8Rng, family: Family) -> (Vec<f32>, Vec<f32>) {
    let n = match family {
        Family::Long => rng.random_range(2048..4096),
        _ => rng.random_range(1..160),
    };
    let mut x: Vec<f32> = (0..n).map(|_| uniform(rng)).collect();
    let mut w: Vec<f32> = (0..n).map(|_| uniform(rng)).collect();
    match family {
        Family::Uniform | Family::Long => {}
        Family::Cancellation => {
            // pairs that cancel exactly, plus a little noise: the sum is tiny next to sum |x w|
            for i in (1..n).step_by(2) {
                x[i] = -x[i - 1];
                w[i] = w[i - 1] * (1.0 + ranged(rng, -30, -20));
            }
        }
        Family::DynamicRange => {
            x.iter_mut().for_each(|v| *v = ranged(rng, -60, 60));
            w.iter_mut().for_each(|v| *v = ranged(rng, -60, 60));
        }
        Family::Subnormal => {
            // products in and below the subnormal range (2^-149 .. 2^-126)
            x.iter_mut().for_each(|v| *v = ranged(rng, -80, -60));
            w.iter_mut().for_each(|v| *v = ranged(rng, -80, -60));
        }
        Family::Zeros => {
            for i in 0..n {
                if rng.random_bool(0.6) {
                    if rng.random_bool(0.5) {
                        x[i] = 0.0;
                    } else {
                        w[i] = -0.0;
                    }
                }
            }
        }
    }
    (x, w)
}

/// Over 10^5 dot-product results (12,000 inputs across six families, each evaluated in nine orders), no
/// result leaves its sound region; and a value 2.5 bounds away is rejected.
#[test]
fn every_evaluation_order_of_every_dot_product_is_inside_its_region() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x50_0d);
    let (mut checked, mut rejected) = (0usize, 0usize);
    for i in 0..12_000 {
        let family = FAMILIES[i % FAMILIES.len()];
        let (x, w) = vectors(&mut rng, family);
        for order in Order::ALL {
            let y = order.dot(&x, &w);
            assert_eq!(dot_within(&x, &w, y), Some(true), "{family:?} n {} {order:?}: y = {y:e}", x.len());
            checked += 1;
        }
        // and the region is not vacuous: twice the bound away is outside
        let n = x.len() as f64;
        let s: f64 = x.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum();
        let a: f64 = x.iter().zip(&w).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
        let bound = n / ((1u64 << 24) as f64 - n) * a + n * 2f64.powi(-149);
        let far = (s + 2.5 * bound) as f32;
        if far.is_finite() && (far as f64 - s) > 2.0 * bound {
            assert_eq!(dot_within(&x, &w, far), Some(false), "{family:?}: {far:e} should be outside");
            rejected += 1;
        }
    }
    assert!(checked >= 100_000);
    assert!(rejected >= 10_000, "only {rejected} far values tested");
}

/// All-zero products have the exactly-zero region, in every order: not even the smallest subnormal passes.
#[test]
fn all_zero_products_admit_only_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..1000 {
        let n = rng.random_range(1..64);
        let x: Vec<f32> = (0..n).map(|_| uniform(&mut rng)).collect();
        let w = vec![0.0f32; n];
        for order in Order::ALL {
            assert_eq!(order.dot(&x, &w), 0.0);
        }
        assert_eq!(dot_within(&x, &w, 0.0), Some(true));
        assert_eq!(dot_within(&x, &w, f32::from_bits(1)), Some(false));
    }
}

/// 10^5 additions and 10^5 products of adversarial pairs (cancellation, huge next to tiny, subnormal and
/// underflowing results), in fp32 and through f64: all inside their regions.
#[test]
fn every_addition_and_product_is_inside_its_region() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xadd);
    for i in 0..100_000 {
        let a = match i % 4 {
            0 => uniform(&mut rng),
            1 => ranged(&mut rng, -126, 127),
            2 => ranged(&mut rng, -149, -120),
            _ => f32::from_bits(rng.random_range(0..0x7f80_0000u32)) * if rng.random_bool(0.5) { -1.0 } else { 1.0 },
        };
        let b = match i % 3 {
            0 => -a * (1.0 + ranged(&mut rng, -24, -10)), // cancellation
            1 => ranged(&mut rng, -149, 127),
            _ => uniform(&mut rng),
        };
        if !(a + b).is_finite() || !(a * b).is_finite() {
            continue;
        }
        assert_eq!(add_within(a, b, a + b), Some(true), "{a:e} + {b:e}");
        assert_eq!(add_within(a, b, (a as f64 + b as f64) as f32), Some(true), "{a:e} + {b:e} via f64");
        assert_eq!(dot_within(&[a], &[b], a * b), Some(true), "{a:e} * {b:e}");
        assert_eq!(dot_within(&[a], &[b], (a as f64 * b as f64) as f32), Some(true), "{a:e} * {b:e} via f64");
    }
}
