//! Evaluation orders of an fp32 dot product, as different hardware and kernels produce them: sequential,
//! reversed, FMA, pairwise, blocked, split-K, permuted, and wide accumulation rounded once. Used to test that
//! the sound bound holds for every order, and (with #4) to calibrate how far honest executions spread.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One way to evaluate `sum_i x_i * w_i` in fp32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `s = s + fl(x_i w_i)`, i ascending.
    Sequential,
    /// The same, i descending.
    Reversed,
    /// `s = fma(x_i, w_i, s)`, i ascending (one rounding per step).
    Fma,
    /// Products rounded, then summed by recursive halving (tree reduction, as GPUs reduce).
    Pairwise,
    /// Sequential sums of blocks of this many terms, then the block sums in order (tiled kernels).
    Blocked(usize),
    /// This many interleaved partial sums (term i to sum i mod k) added at the end (split-K / SIMD lanes).
    SplitK(usize),
    /// A seeded random permutation, then sequential with FMA.
    Permuted(u64),
    /// Products and sum in f64, rounded to fp32 once (wider accumulators).
    WideThenRound,
}

impl Order {
    /// A representative set of orders.
    pub const ALL: [Order; 9] = [
        Order::Sequential,
        Order::Reversed,
        Order::Fma,
        Order::Pairwise,
        Order::Blocked(8),
        Order::Blocked(64),
        Order::SplitK(4),
        Order::Permuted(7),
        Order::WideThenRound,
    ];

    /// `sum_i x_i * w_i` evaluated in this order.
    pub fn dot(self, x: &[f32], w: &[f32]) -> f32 {
        let products = || x.iter().zip(w).map(|(a, b)| a * b);
        match self {
            Order::Sequential => products().fold(0.0, |s, p| s + p),
            Order::Reversed => x.iter().zip(w).rev().fold(0.0, |s, (a, b)| s + a * b),
            Order::Fma => x.iter().zip(w).fold(0.0, |s, (a, b)| a.mul_add(*b, s)),
            Order::Pairwise => pairwise(&products().collect::<Vec<_>>()),
            Order::Blocked(b) => {
                let p: Vec<f32> = products().collect();
                p.chunks(b.max(1)).map(|c| c.iter().fold(0.0, |s, v| s + v)).fold(0.0, |s, v| s + v)
            }
            Order::SplitK(k) => {
                let k = k.max(1);
                let mut lanes = vec![0.0f32; k];
                for (i, p) in products().enumerate() {
                    lanes[i % k] += p;
                }
                lanes.iter().fold(0.0, |s, v| s + v)
            }
            Order::Permuted(seed) => {
                let mut idx: Vec<usize> = (0..x.len()).collect();
                idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ x.len() as u64));
                idx.iter().fold(0.0, |s, i| x[*i].mul_add(w[*i], s))
            }
            Order::WideThenRound => x.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() as f32,
        }
    }
}

fn pairwise(v: &[f32]) -> f32 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => pairwise(&v[..n / 2]) + pairwise(&v[n / 2..]),
    }
}
/// `y[r, c] = dot(x[r, :], w[c, :])` for `x: [rows, k]`, `w: [n, k]` (both row-major), every dot product in
/// `order`, rows spread over the machine's cores (the split does not change any result).
pub fn dot_matmul(order: Order, x: &[f32], rows: usize, k: usize, w: &[f32], n: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; rows * n];
    if k == 0 || n == 0 {
        return y;
    }
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(rows.max(1));
    let per = rows.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (chunk, out) in y.chunks_mut(per * n).enumerate() {
            s.spawn(move || {
                for (i, yr) in out.chunks_mut(n).enumerate() {
                    let r = chunk * per + i;
                    let xr = &x[r * k..(r + 1) * k];
                    for (c, v) in yr.iter_mut().enumerate() {
                        *v = order.dot(xr, &w[c * k..(c + 1) * k]);
                    }
                }
            });
        }
    });
    y
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    #[test]
    fn the_reference_kernel_computes_a_matmul() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect(); // [3, 4]
        let w: Vec<f32> = (0..8).map(|i| (i % 3) as f32 - 1.0).collect(); // [2, 4]
        for o in [Order::Sequential, Order::Pairwise, Order::WideThenRound] {
            let y = dot_matmul(o, &x, 3, 4, &w, 2);
            for r in 0..3 {
                for c in 0..2 {
                    let want: f32 = (0..4).map(|t| x[r * 4 + t] * w[c * 4 + t]).sum();
                    assert_eq!(y[r * 2 + c], want);
                }
            }
        }
    }
}
