//! [`Clamp`]: `min(max(x, lo), hi)`, elementwise (ReLU6 is `Clamp { lo: 0, hi: 6 }`, as MobileNetV2 uses it).
//! It selects values without arithmetic, so every honest run gives the same bits and its region is the
//! replayed value, and the contract decides an element by the same max-then-min (`contracts/src/ops/Clamp.sol`).

use candle_core::Tensor;

use super::{Grads, OpKind, OpNode, Operator, Params, Reached, Src};
use crate::tensor::HostTensor;

/// `y = min(max(x, lo), hi)`: operands `[x]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clamp {
    /// The lower bound.
    pub lo: f32,
    /// The upper bound (at least `lo`).
    pub hi: f32,
}

impl Clamp {
    fn at(&self, v: f64) -> f64 {
        v.max(self.lo as f64).min(self.hi as f64)
    }

    /// The slope the audit takes at `v`: 1 on `[lo, hi]` (at a kink the larger one-sided slope, so a unit
    /// parked exactly at a kink opens with any error), 0 outside.
    fn slope(&self, v: f64) -> f64 {
        f64::from(u8::from(self.lo as f64 <= v && v <= self.hi as f64))
    }
}

impl Operator for Clamp {
    fn name(&self) -> &'static str {
        "clamp"
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn exec(&self, x: &[Tensor], _shape: &[usize]) -> candle_core::Result<Tensor> {
        x[0].clamp(self.lo, self.hi)
    }

    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let params = Params::Clamp { lo: self.lo.to_bits(), hi: self.hi.to_bits() };
        super::unary_descriptor(OpKind::Clamp, params, inputs, shapes, shape)
    }

    fn vjp(&self, x: &[&HostTensor], _traced: &[bool], y: &HostTensor, gy: &[f64], _kk: usize) -> Grads {
        let ny = y.data.len();
        let slope: Vec<f64> = x[0].data.iter().map(|v| self.slope(*v as f64)).collect();
        Ok(vec![(0, gy.iter().enumerate().map(|(i, g)| g * slope[i % ny]).collect())])
    }

    /// Monotone: the reach is the larger of `clamp(v + d) - clamp(v)` and `clamp(v) - clamp(v - d)`; the
    /// remainder is how far the box reaches past a kink from where the slope was taken.
    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], _y: &HostTensor) -> Reached {
        Ok(x[0]
            .data
            .iter()
            .zip(dx[0])
            .map(|(v, d)| {
                let (v, d) = (*v as f64, *d);
                let c = self.at(v);
                let lin = (self.at(v + d) - c).max(c - self.at(v - d));
                let r = (0..2)
                    .map(|side| {
                        let e = if side == 0 { d } else { -d };
                        (self.at(v + e) - c - self.slope(v) * e).abs()
                    })
                    .fold(0.0, f64::max);
                (lin, r)
            })
            .unzip())
    }

    fn opened(&self, x: &[&HostTensor], dx: &[&[f64]], _lin: &[f64], _r: &[f64]) -> usize {
        let crosses = |v: f64, d: f64, k: f64| v != k && (v - k).abs() <= d;
        x[0].data
            .iter()
            .zip(dx[0])
            .filter(|(v, d)| crosses(**v as f64, **d, self.lo as f64) || crosses(**v as f64, **d, self.hi as f64))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::region::ops::check;

    const RELU6: Clamp = Clamp { lo: 0.0, hi: 6.0 };

    fn x() -> HostTensor {
        HostTensor::new(vec![2, 4], vec![-3.0, -0.0, 0.5, 5.999, 6.0, 7.25, 1e9, -1e-30])
    }

    /// Through the IR: the runtime's replay is ReLU6, its region is the replayed bits (one ulp off is
    /// outside), and its descriptor carries both bounds.
    #[test]
    fn relu6_runs_and_its_region_is_exact() {
        let node = Node { op: Op::Clamp(RELU6), inputs: vec![Src::Trace(0)], shape: vec![2, 4] };
        let y = crate::runtime::replay(&node, &[&x()]).unwrap();
        assert_eq!(y.data, vec![0.0, 0.0, 0.5, 5.999, 6.0, 6.0, 6.0, 0.0]);
        assert!(check(&node, &[&x()], &y).unwrap().first_violation().is_none());
        let mut bad = y.clone();
        bad.data[3] = f32::from_bits(bad.data[3].to_bits() + 1);
        assert_eq!(check(&node, &[&x()], &bad).unwrap().first_violation().unwrap().element, 3);
        assert!(Op::Clamp(RELU6).is_exact() && Op::Clamp(RELU6).has_exact_region());
        let d = RELU6.descriptor(&[Src::Trace(0)], &[&[2, 4]], &[2, 4]).unwrap();
        assert_eq!((d.kind, d.params), (OpKind::Clamp, Params::Clamp { lo: 0, hi: 6f32.to_bits() }));
    }

    /// The audit's reverse product passes gradients only inside `[lo, hi]`, and the reach over a box that
    /// crosses a kink carries the part beyond it as remainder (and counts the unit as opened).
    #[test]
    fn the_audit_sees_both_kinks() {
        let (x, y) = (x(), HostTensor::new(vec![2, 4], vec![0.0; 8]));
        let g = RELU6.vjp(&[&x], &[true], &y, &[1.0; 8], 1).unwrap();
        assert_eq!(g[0].1, vec![0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        let d = [0.25; 8];
        let (lin, r) = RELU6.reach(&[&x], &[&d], &y).unwrap();
        // 5.999 + 0.25 passes 6: reach 0.25 down, remainder 0.249 past the kink
        assert_eq!(lin[3], 0.25);
        assert!((r[3] - 0.249).abs() < 1e-6, "{}", r[3]);
        // 7.25 - 0.25 stays above 6: flat, nothing moves
        assert_eq!((lin[5], r[5]), (0.0, 0.0));
        // -0 is at the kink: slope 1 taken, the box below it is remainder
        assert_eq!((lin[1], r[1]), (0.25, 0.25));
        assert_eq!(RELU6.opened(&[&x], &[&d], &lin, &r), 2, "5.999 and -1e-30 cross a kink; 0 and 6 sit on one");
    }
}
