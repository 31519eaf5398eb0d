//! Sound IEEE-754 bounds, mirrored bit for bit from `contracts/src/lib/SoundBound.sol`.
//!
//! For y = fl(sum_{i<n} x_i w_i) in any order, with or without FMA:
//! `|y - s| <= gamma_n * A + [k > 0] * n * 2^-149`, gamma_n = n u / (1 - n u), u = 2^-24, A = sum |x_i w_i|,
//! k the number of products not on the 2^-149 grid. Decided as the integer comparison
//! `(2^24 - n) |y - s| <= n A + [k > 0] (2^24 - n) n 2^-149` in units of 2^base (see the Solidity library
//! for the derivation and the truncation slack). Addition is n = 1 without the underflow term; ReLU is exact.

use ruint::aliases::U256;

use crate::graph::{OpKind, OpNode};
use crate::tensor::HostTensor;

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
///
/// **Point regions.** When every nonzero term is a multiple of one grid `g = 2^G >= 2^-149` and both the sum
/// of the positive terms and the sum of the negative terms stay below `2^24 g`, every partial sum of any
/// subset is a multiple of `g` below `2^24 g`: exactly representable, so every evaluation order (FMA or not,
/// any blocking) computes `s` without a single rounding. The region is then `{s}` (`+-0` for `s = 0`)
/// instead of `gamma_n A` around it. This closes the hidden-channel construction of the non-composability
/// note (a trigger `M a - M b` with `a = b`, or an exact identity/amplifier layer, is computed exactly by
/// every honest machine, yet its `gamma_n A` region admits a nonzero value).
pub fn within(terms: &[Term], y: f32, n: usize, underflow: bool) -> bool {
    within_regions(terms, y, n, underflow, true)
}

/// [`within`] without point regions: the plain per-layer tolerance `gamma_n A` that verifiers checking "each
/// layer within tolerance" use. Not sound as a defense (the hidden channel passes it); kept to show that.
pub fn within_per_layer(terms: &[Term], y: f32, n: usize, underflow: bool) -> bool {
    within_regions(terms, y, n, underflow, false)
}

fn within_regions(terms: &[Term], y: f32, n: usize, underflow: bool, point: bool) -> bool {
    assert!(n < MAX_TERMS, "reduction of {n} terms is longer than the exact accumulator supports");
    let Some(yt) = decode(y.to_bits()) else {
        return false;
    };
    let mut top = if yt.m == 0 { MIN_EXP } else { yt.e + bit_length(yt.m) };
    let mut off_grid = false;
    let mut grid = i32::MAX;
    for t in terms.iter().filter(|t| t.m != 0) {
        top = top.max(t.e + bit_length(t.m));
        grid = grid.min(t.e + t.m.trailing_zeros() as i32);
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
    let (yv, y_cut) = align(yt.m, yt.e, base);
    let (left, right) = if yt.neg { (neg, pos + yv) } else { (yv + neg, pos) };
    let mut d = if left > right { left - right } else { right - left };
    if point && grid != i32::MAX && grid >= GRID_EXP && grid >= base && !inexact {
        let cap = U256::from(1) << (24 + grid - base) as usize;
        if pos < cap && neg < cap {
            return !y_cut && d.is_zero();
        }
    }
    inexact |= y_cut;
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

/// The exact products `x_i w_i`; `None` if an input is not finite.
fn products(x: &[f32], w: &[f32]) -> Option<Vec<Term>> {
    x.iter().zip(w).map(|(a, b)| product(*a, *b)).collect()
}

/// The terms of an addition `a + b`; `None` if an input is not finite.
fn addends(a: f32, b: f32) -> Option<[Term; 2]> {
    Some([decode(a.to_bits())?, decode(b.to_bits())?])
}

/// Dot-product region: `y = fl(sum x_i w_i)`; `None` if an input is not finite.
pub fn dot_within(x: &[f32], w: &[f32], y: f32) -> Option<bool> {
    Some(within(&products(x, w)?, y, x.len(), true))
}

/// [`dot_within`] with the per-layer tolerance only (no point regions): the undefended baseline.
pub fn dot_within_per_layer(x: &[f32], w: &[f32], y: f32) -> Option<bool> {
    Some(within_per_layer(&products(x, w)?, y, x.len(), true))
}

/// Addition region: `y = fl(a + b)`; `None` if an input is not finite.
pub fn add_within(a: f32, b: f32, y: f32) -> Option<bool> {
    Some(within(&addends(a, b)?, y, 1, false))
}

/// [`add_within`] with the per-layer tolerance only (no point regions): the undefended baseline.
pub fn add_within_per_layer(a: f32, b: f32, y: f32) -> Option<bool> {
    Some(within_per_layer(&addends(a, b)?, y, 1, false))
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
    /// `B_e / scale_e`: the sound bound in units of the element's own error scale. For dot products the scale
    /// is the typical rounding error `u sqrt(n) ||(x_i w_i)||_2`; for other ops it is the bound itself (1).
    pub bound_to_scale: f64,
}

impl ElementVerdict {
    /// `|y - s| / scale_e`: the error in units of the element's own scale (what thresholds are cut from).
    pub fn spread(&self) -> f64 {
        self.ratio * self.bound_to_scale
    }
}

/// `B_e / scale_e` of a dot product with `n` terms, `a = sum |x_i w_i|`, `l2 = ||(x_i w_i)||_2`: the worst
/// case `gamma_n a` over the typical rounding error `u sqrt(n) l2` (at least 1; 1 when the scale vanishes).
pub fn dot_bound_to_scale(n: usize, a: f64, l2: f64) -> f64 {
    let gamma = n as f64 / ((1u64 << 24) as f64 - n as f64);
    let scale = super::U * (n as f64).sqrt() * l2;
    if scale > 0.0 && a > 0.0 {
        (gamma * a / scale).max(1.0)
    } else {
        1.0
    }
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
///
/// The shortcut never skips a point region: when every order computes the element exactly, the f64 screen
/// `s` is that exact value and fp32-representable, so an element with `y != s` and a representable `s` is
/// always decided exactly (rare in honest runs: their `s` almost never fits in 24 bits).
pub fn screened_verdict(s: f64, a: f64, n: usize, y: f32, exact: impl FnOnce() -> Option<bool>) -> (bool, f64) {
    let gamma = n as f64 / ((1u64 << 24) as f64 - n as f64);
    let d = (y as f64 - s).abs();
    let point_possible = d != 0.0 && (s as f32) as f64 == s;
    let clearly = y.is_finite() && a > 0.0 && d < 0.99 * gamma * a && !point_possible;
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

/// Verdict and ratio of one addition element, screened in f64 by [`screened_verdict`] as a one-term sum with
/// `A = |a| + |b|` (the f64 sum errs by at most 2^-53 of it, far below the 1 % margin); decided exactly
/// otherwise.
pub fn add_verdict(a: f32, b: f32, y: f32) -> (bool, f64) {
    let (s, abs) = (a as f64 + b as f64, a.abs() as f64 + b.abs() as f64);
    let (inside, _) = screened_verdict(s, abs, 1, y, || add_within(a, b, y));
    // the ratio keeps the addition's own bound (no underflow term: IEEE addition is exact when subnormal)
    let (d, bound) = ((y as f64 - s).abs(), abs / ((1u64 << 24) as f64 - 1.0));
    (inside, if bound > 0.0 { d / bound } else { d })
}

/// Verdict and ratio (0 or infinity) of one ReLU element.
pub fn relu_verdict(x: f32, y: f32) -> (bool, f64) {
    let inside = relu_within(x, y).unwrap_or(true);
    (inside, if inside { 0.0 } else { f64::INFINITY })
}

/// Checks every output element of the on-chain op `node` given its input, weight and claimed output tensors,
/// for the kinds this module decides exactly as `SoundBound` does (MatMul, bias Add, ReLU, Embedding); `None`
/// for the others (their regions are in [`super::ops`]).
pub fn check_node(
    node: &OpNode,
    input: &HostTensor,
    weight: Option<&HostTensor>,
    output: &HostTensor,
) -> Option<NodeCheck> {
    let (rows, cols) = (node.rows as usize, node.cols as usize);
    let elements = (0..rows * cols)
        .map(|g| {
            let (r, c, y) = (g / cols, g % cols, output.data[g]);
            let (inside, ratio) = match node.kind {
                OpKind::MatMul => {
                    let w = &weight.expect("matmul has a weight").data;
                    let xr = &input.data[node.input_range(r, c, y)];
                    let wrange = node.weight_range(c, xr).expect("matmul has a weight");
                    dot_verdict(xr, &w[wrange], y)
                }
                OpKind::Add => add_verdict(input.data[g], weight.expect("add has a weight").data[c], y),
                OpKind::Relu => relu_verdict(input.data[g], y),
                OpKind::Embedding => {
                    let w = &weight.expect("embedding has a weight").data;
                    let inside = node
                        .weight_range(c, &input.data[node.input_range(r, c, y)])
                        .is_some_and(|e| w[e.start].to_bits() == y.to_bits());
                    (inside, if inside { 0.0 } else { f64::INFINITY })
                }
                _ => return None,
            };
            Some(ElementVerdict { element: g, inside, ratio, bound_to_scale: 1.0 })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(NodeCheck { elements })
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
        // x = [2^24, 1, 1, 1], w = 1: s = 2^24 + 3 rounds in some orders, so the region is gamma_4 A = 4.0000014
        // around s (the same four values as the forge test)
        let x = [2f32.powi(24), 1.0, 1.0, 1.0];
        let w = [1.0f32; 4];
        let at = |bits: u32| dot_within(&x, &w, f32::from_bits(bits));
        assert_eq!(at(0x4b80_0003), Some(true), "s + 3");
        assert_eq!(at(0x4b80_0004), Some(false), "s + 5");
        assert_eq!(at(0x4b7f_ffff), Some(true), "s - 4");
        assert_eq!(at(0x4b7f_fffe), Some(false), "s - 5");
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
    fn exactly_computable_sums_have_a_point_region() {
        // the steering trigger: M a - M b with a = b is 0 in every order; gamma_n A would admit ~2^-22 M a
        let (m, a) = (1024.0f32, 0.73f32);
        let (x, w) = ([a, a, 0.5], [m, -m, 0.0]);
        assert_eq!(dot_within(&x, &w, 0.0), Some(true));
        assert_eq!(dot_within(&x, &w, -0.0), Some(true));
        assert_eq!(dot_within(&x, &w, f32::from_bits(1)), Some(false));
        assert_eq!(dot_within(&x, &w, 1e-4), Some(false));
        // an identity row copies exactly
        let (x, w) = ([0.3f32, -7.25, 1e-3], [0.0f32, 1.0, 0.0]);
        assert_eq!(dot_within(&x, &w, -7.25), Some(true));
        assert_eq!(dot_within(&x, &w, f32::from_bits((-7.25f32).to_bits() + 1)), Some(false));
        // small integers: exact
        assert_eq!(dot_within(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 32.0), Some(true));
        assert_eq!(dot_within(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 32.000004), Some(false));
        // sums that must round keep the gamma_n region: 1 + 2^-30 rounds to 1 in some orders
        let (x, w) = ([1.0f32, 2f32.powi(-30), 2f32.powi(-30)], [1.0f32; 3]);
        assert_eq!(dot_within(&x, &w, 1.0), Some(true));
        assert_eq!(dot_within(&x, &w, 1.0 + 2f32.powi(-23)), Some(true));
        // additions too: a + (-a) is +-0 only
        assert_eq!(add_within(0.1, -0.1, 0.0), Some(true));
        assert_eq!(add_within(0.1, -0.1, 1e-9), Some(false));
    }

    #[test]
    fn the_add_screen_agrees_with_the_exact_decision() {
        let mut seed = 0x5eed_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let a = f32::from_bits((next() as u32) & 0x7f7f_ffff | ((next() as u32) & 0x8000_0000));
            let b = if next() % 3 == 0 { -a * 1.000_001 } else { f32::from_bits(next() as u32 & 0xbf7f_ffff) };
            let exact = a + b;
            for y in [
                exact,
                f32::from_bits(exact.to_bits().wrapping_add(1)),
                f32::from_bits(exact.to_bits().wrapping_add(3)),
            ] {
                if let Some(want) = add_within(a, b, y) {
                    assert_eq!(add_verdict(a, b, y).0, want, "{a:e} + {b:e} = {y:e}");
                }
            }
        }
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
