//! Sound IEEE-754 bounds, mirrored bit for bit from `contracts/src/lib/SoundBound.sol`.
//!
//! For y = fl(sum_{i<n} x_i w_i) in any order, with or without FMA:
//! `|y - s| <= gamma_n * A + [k > 0] * n * 2^-149`, gamma_n = n u / (1 - n u), u = 2^-24, A = sum |x_i w_i|,
//! k the number of products not on the 2^-149 grid. Decided as the integer comparison
//! `(2^24 - n) |y - s| <= n A + [k > 0] (2^24 - n) n 2^-149` in units of 2^base (see the Solidity library
//! for the derivation and the truncation slack). Addition is n = 1 without the underflow term; ReLU is exact.

use alloy::primitives::U256;

use crate::graph::{OpKind, OpNode};
use crate::model::HostTensor;

const WINDOW: i32 = 190;
const MIN_EXP: i32 = -298;
const GRID_EXP: i32 = -149;
const MAX_TERMS: usize = 1 << 20;

/// An exact value (-1)^neg * m * 2^e.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// Sign.
    pub neg: bool,
    /// Integer mantissa (< 2^48 for products).
    pub m: u64,
    /// Exponent of the unit.
    pub e: i32,
}

/// Decodes fp32 bits exactly; `None` for NaN and infinities.
pub fn decode(bits: u32) -> Option<Term> {
    let neg = bits >> 31 == 1;
    let biased = (bits >> 23) & 0xff;
    let frac = (bits & 0x7f_ffff) as u64;
    match biased {
        0xff => None,
        0 => Some(Term { neg, m: frac, e: -149 }),
        b => Some(Term { neg, m: frac | 0x80_0000, e: b as i32 - 150 }),
    }
}

fn product(x: f32, w: f32) -> Option<Term> {
    let (a, b) = (decode(x.to_bits())?, decode(w.to_bits())?);
    Some(Term { neg: a.neg != b.neg, m: a.m * b.m, e: a.e + b.e })
}

fn bit_length(m: u64) -> i32 {
    64 - m.leading_zeros() as i32
}

fn align(m: u64, e: i32, base: i32) -> (U256, bool) {
    if m == 0 {
        return (U256::ZERO, false);
    }
    if e >= base {
        return (U256::from(m) << (e - base) as usize, false);
    }
    let r = (base - e) as usize;
    if r >= 64 {
        return (U256::ZERO, true);
    }
    let v = m >> r;
    (U256::from(v), (v << r) != m)
}

/// True iff `y` is inside the sound region of fl(sum of `terms`) with rounding length `n` (`None` if a term
/// is not finite: the contract reverts then). Exactly the contract's `SoundBound.within`.
pub fn within(terms: &[Term], y: f32, n: usize, underflow: bool) -> bool {
    assert!(n < MAX_TERMS, "reduction of {n} terms is longer than the exact accumulator supports");
    let Some(yt) = decode(y.to_bits()) else {
        return false;
    };
    let mut top = if yt.m == 0 { MIN_EXP } else { yt.e + bit_length(yt.m) };
    let mut off_grid = false;
    for t in terms.iter().filter(|t| t.m != 0) {
        top = top.max(t.e + bit_length(t.m));
        if t.e < GRID_EXP {
            let bits = GRID_EXP - t.e;
            if bits >= 64 || t.m & ((1u64 << bits) - 1) != 0 {
                off_grid = true;
            }
        }
    }
    let base = (top - WINDOW).max(MIN_EXP);
    let (mut pos, mut neg, mut inexact) = (U256::ZERO, U256::ZERO, false);
    for t in terms {
        let (v, cut) = align(t.m, t.e, base);
        inexact |= cut;
        if t.neg {
            neg += v;
        } else {
            pos += v;
        }
    }
    let (yv, cut) = align(yt.m, yt.e, base);
    inexact |= cut;
    let (left, right) = if yt.neg { (neg, pos + yv) } else { (yv + neg, pos) };
    let mut d = if left > right { left - right } else { right - left };
    let mut a = pos + neg;
    let nn = U256::from(n);
    if inexact {
        let slack = nn + U256::from(1);
        d = if d > slack { d - slack } else { U256::ZERO };
        a += nn;
    }
    let scale = U256::from((1u64 << 24) - n as u64);
    let lhs = scale * d;
    let mut rhs = nn * a;
    if underflow && off_grid {
        let u = scale * nn;
        let sh = GRID_EXP - base;
        if sh >= 0 {
            rhs += u << sh as usize;
        } else {
            let r = (-sh) as usize;
            rhs += (u + (U256::from(1) << r) - U256::from(1)) >> r;
        }
    }
    lhs <= rhs
}

/// Dot-product region: `y = fl(sum x_i w_i)`; `None` if an input is not finite.
pub fn dot_within(x: &[f32], w: &[f32], y: f32) -> Option<bool> {
    let terms = x.iter().zip(w).map(|(a, b)| product(*a, *b)).collect::<Option<Vec<_>>>()?;
    Some(within(&terms, y, x.len(), true))
}

/// Addition region: `y = fl(a + b)`; `None` if an input is not finite.
pub fn add_within(a: f32, b: f32, y: f32) -> Option<bool> {
    Some(within(&[decode(a.to_bits())?, decode(b.to_bits())?], y, 1, false))
}

/// ReLU is exact: `y = x` for x > 0, `y = +-0` otherwise; `None` if x is not finite.
pub fn relu_within(x: f32, y: f32) -> Option<bool> {
    decode(x.to_bits())?;
    Some(if x > 0.0 { y.to_bits() == x.to_bits() } else { y == 0.0 })
}

/// The verdict on one output element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElementVerdict {
    /// Flat index of the element in the op's output.
    pub element: usize,
    /// Whether it is inside its sound region.
    pub inside: bool,
    /// |y - s| / bound, from a fast f64 evaluation (for ranking; the verdict is exact).
    pub ratio: f64,
}

/// The verdicts of every element of one op.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCheck {
    /// Verdicts of the elements, flat row-major.
    pub elements: Vec<ElementVerdict>,
}

impl NodeCheck {
    /// The first element outside its region.
    pub fn first_violation(&self) -> Option<&ElementVerdict> {
        self.elements.iter().find(|v| !v.inside)
    }

    /// The inside element closest to its bound (what a careless challenger might pick).
    pub fn closest_inside(&self) -> Option<&ElementVerdict> {
        self.elements.iter().filter(|v| v.inside).max_by(|a, b| a.ratio.total_cmp(&b.ratio))
    }
}

/// Verdict of one dot-product element from an f64 screen (`s = sum x w`, `a = sum |x w|`, both evaluated in
/// f64, whose own error is ~2^-29 of the fp32 bound): clearly inside when `|y - s| < 0.99 gamma_n a` (the exact
/// region contains that), otherwise decided exactly by `exact` (the contract's computation). The ratio
/// `|y - s| / (gamma_n a + n 2^-149)` is for ranking. Non-finite inputs count as inside: the op that produced
/// them is the one at fault.
pub fn screened_verdict(s: f64, a: f64, n: usize, y: f32, exact: impl FnOnce() -> Option<bool>) -> (bool, f64) {
    let gamma = n as f64 / ((1u64 << 24) as f64 - n as f64);
    let d = (y as f64 - s).abs();
    let clearly = y.is_finite() && a > 0.0 && d < 0.99 * gamma * a;
    let inside = clearly || exact().unwrap_or(true);
    (inside, d / (gamma * a + n as f64 * 2f64.powi(-149)))
}

/// Verdict and ratio of one dot-product element `y = fl(sum x_i w_i)` (see [`screened_verdict`]).
pub fn dot_verdict(x: &[f32], w: &[f32], y: f32) -> (bool, f64) {
    let (mut s, mut a) = (0.0f64, 0.0f64);
    for (p, q) in x.iter().zip(w) {
        let v = *p as f64 * *q as f64;
        s += v;
        a += v.abs();
    }
    screened_verdict(s, a, x.len(), y, || dot_within(x, w, y))
}

/// Verdict and ratio of one addition element.
pub fn add_verdict(a: f32, b: f32, y: f32) -> (bool, f64) {
    let d = (y as f64 - (a as f64 + b as f64)).abs();
    let bound = (a.abs() as f64 + b.abs() as f64) / ((1u64 << 24) as f64 - 1.0);
    (add_within(a, b, y).unwrap_or(true), if bound > 0.0 { d / bound } else { d })
}

/// Verdict and ratio (0 or infinity) of one ReLU element.
pub fn relu_verdict(x: f32, y: f32) -> (bool, f64) {
    let inside = relu_within(x, y).unwrap_or(true);
    (inside, if inside { 0.0 } else { f64::INFINITY })
}

/// Checks every output element of the on-chain op `node` given its input, weight and claimed output tensors.
pub fn check_node(node: &OpNode, input: &HostTensor, weight: Option<&HostTensor>, output: &HostTensor) -> NodeCheck {
    let (rows, cols) = (node.rows as usize, node.cols as usize);
    let elements = (0..rows * cols)
        .map(|g| {
            let (r, c, y) = (g / cols, g % cols, output.data[g]);
            let (inside, ratio) = match node.kind {
                OpKind::MatMul => {
                    let w = &weight.expect("matmul has a weight").data;
                    let wrange = node.weight_range(c).expect("matmul has a weight");
                    dot_verdict(&input.data[node.input_range(r, c)], &w[wrange], y)
                }
                OpKind::Add => add_verdict(input.data[g], weight.expect("add has a weight").data[c], y),
                OpKind::Relu => relu_verdict(input.data[g], y),
            };
            ElementVerdict { element: g, inside, ratio }
        })
        .collect();
    NodeCheck { elements }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_exact_for_normals_subnormals_and_zeros() {
        assert_eq!(decode(1.0f32.to_bits()), Some(Term { neg: false, m: 1 << 23, e: -23 }));
        assert_eq!(decode((-0.0f32).to_bits()), Some(Term { neg: true, m: 0, e: -149 }));
        assert_eq!(decode(1), Some(Term { neg: false, m: 1, e: -149 }));
        assert_eq!(decode(f32::NAN.to_bits()), None);
        assert_eq!(decode(f32::INFINITY.to_bits()), None);
    }

    #[test]
    fn dot_bound_edge_just_inside_passes_just_outside_fails() {
        // x = w = 1 over n terms: s = n, bound = gamma_n * n; y may differ from n by at most that.
        let n = 4;
        let (x, w) = (vec![1.0f32; n], vec![1.0f32; n]);
        let bound = n as f64 * n as f64 / ((1u64 << 24) as f64 - n as f64);
        // largest fp32 <= n + bound and smallest > n + bound
        let mut inside = n as f32;
        while (f32::from_bits(inside.to_bits() + 1) as f64 - n as f64) <= bound {
            inside = f32::from_bits(inside.to_bits() + 1);
        }
        let outside = f32::from_bits(inside.to_bits() + 1);
        assert_eq!(dot_within(&x, &w, inside), Some(true));
        assert_eq!(dot_within(&x, &w, outside), Some(false));
        assert_eq!(dot_within(&x, &w, f32::NAN), Some(false));
    }

    #[test]
    fn an_all_zero_dot_product_has_an_exactly_zero_region() {
        let x = [0.0f32, 1e-30, 3.0];
        let w = [5.0f32, 0.0, 0.0];
        assert_eq!(dot_within(&x, &w, 0.0), Some(true));
        assert_eq!(dot_within(&x, &w, -0.0), Some(true));
        assert_eq!(dot_within(&x, &w, f32::from_bits(1)), Some(false));
    }

    #[test]
    fn underflowing_products_get_their_absolute_slack() {
        // 2^-80 * 2^-80 = 2^-160 underflows to 0 in fp32: 0 must be accepted.
        let x = [2f32.powi(-80)];
        assert_eq!(dot_within(&x, &x, 0.0), Some(true));
        assert_eq!(dot_within(&x, &x, f32::from_bits(1 << 9)), Some(false)); // 2^-140
    }

    #[test]
    fn wide_dynamic_range_stays_sound_for_every_order() {
        let x = [1e30f32, 1.0, -1e30, 1e-30];
        let w = [1.0f32; 4];
        // honest results in two orders: 1e30 + 1 - 1e30 = 0 (sequential), and exact 1
        assert_eq!(dot_within(&x, &w, 0.0), Some(true));
        assert_eq!(dot_within(&x, &w, 1.0), Some(true));
        assert_eq!(dot_within(&x, &w, 1e24), Some(false));
    }

    #[test]
    fn add_and_relu_regions() {
        let (a, b) = (0.1f32, 0.2f32);
        assert_eq!(add_within(a, b, a + b), Some(true));
        assert_eq!(add_within(a, b, f32::from_bits((a + b).to_bits() + 2)), Some(false));
        assert_eq!(relu_within(-1.0, 0.0), Some(true));
        assert_eq!(relu_within(-1.0, -0.0), Some(true));
        assert_eq!(relu_within(2.0, 2.0), Some(true));
        assert_eq!(relu_within(2.0, f32::from_bits(2.0f32.to_bits() + 1)), Some(false));
        assert_eq!(relu_within(f32::INFINITY, 0.0), None);
    }
}
