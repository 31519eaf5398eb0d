//! Regions for the ops of the graph IR, element by element, from the op's operand tensors alone: each op's
//! [`crate::op::Operator::region`], built on the bounds of this module's siblings.
//!
//! | op | region |
//! | --- | --- |
//! | MatMul, BatchMatMul | dot product of the row and column: [`super::sound::dot_within`] |
//! | Add | `gamma_1 (|a| + |b|)` ([`super::sound::add_within`]), `b` broadcast over leading dims |
//! | Mul, Scale | a one-term dot product: `gamma_1 |a b|` plus the underflow term |
//! | ReLU | exact |
//! | Embedding, Reshape, Transpose, Narrow, Concat, CausalMask, Argmax | bit-exact: the replay must give the same bits |
//! | Softmax | [`super::softmax`]: max-subtracted exp (2-ulp budget), any-order sum, divide |
//! | RMSNorm, LayerNorm, SiLU | [`super::norms`]: any-order sums, naive or two-pass variance, sqrt or 2-ulp rsqrt; 2-ulp exp |
//! | RoPE, MeanRows | [`super::rope`]: angle budget 8u (40u a scaled pair), 2-ulp sin/cos; any-order sum then divide |
//! | GELU | [`super::gelu`]: 2-ulp erf, argument with two roundings; the tanh approximation is outside |

use super::{ElementVerdict, NodeCheck};
use crate::graph::Node;
use crate::tensor::HostTensor;

/// Checks every element of `node`'s claimed `output` given its `operands` against its op's region
/// ([`crate::op::Operator::region`]); `None` when the operands do not have the shapes the op needs (or, for
/// data-movement ops, cannot be replayed).
pub fn check(node: &Node, operands: &[&HostTensor], output: &HostTensor) -> Option<NodeCheck> {
    let v = node.op.operator().region(&node.shape, operands, &output.data)?;
    Some(NodeCheck {
        elements: v
            .elements
            .into_iter()
            .enumerate()
            .map(|(element, (inside, ratio))| ElementVerdict {
                element,
                inside,
                ratio,
                bound_to_scale: v.bound_to_scale.as_ref().map_or(1.0, |b| b[element]),
            })
            .collect(),
    })
}

/// The sound bound `B_e = gamma_k sum |x w| + k 2^-149` of every element of a MatMul or BatchMatMul, from the
/// f64 screen (a width needs no exact decision); `None` for other ops. Elements in a point region keep this
/// width here (an over-estimate of their region).
pub fn dot_bounds(node: &Node, operands: &[&HostTensor]) -> Option<Vec<f64>> {
    node.op.operator().dot_bounds(&node.shape, operands)
}

/// [`check`] with the per-layer tolerance `gamma_n A` for MatMul and Add (no point regions): what a verifier
/// that checks "each layer within tolerance" accepts. The undefended baseline the hidden-channel attack beats;
/// never used to judge a claim.
pub fn check_per_layer(node: &Node, operands: &[&HostTensor], output: &HostTensor) -> Option<NodeCheck> {
    let mut c = check(node, operands, output)?;
    let op = node.op.operator();
    for v in c.elements.iter_mut().filter(|v| !v.inside) {
        v.inside = op.per_layer(operands, &output.data, v.element).unwrap_or(v.inside);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Op, Src};
    use crate::op;
    use crate::region::orders::Order;
    use crate::runtime;

    fn node(op: Op, shape: &[usize]) -> Node {
        Node { op, inputs: vec![Src::Trace(0), Src::Trace(1)], shape: shape.to_vec() }
    }

    #[test]
    fn batch_matmul_in_any_order_is_inside_and_a_moved_element_is_not() {
        let a = HostTensor::new(vec![2, 3, 5], (0..30).map(|i| (i as f32 * 0.37).sin()).collect());
        let b = HostTensor::new(vec![2, 4, 5], (0..40).map(|i| (i as f32 * 0.11).cos()).collect());
        for order in [Order::Sequential, Order::Pairwise, Order::WideThenRound] {
            let mut y = Vec::new();
            for batch in 0..2 {
                for i in 0..3 {
                    for j in 0..4 {
                        let row = &a.data[(batch * 3 + i) * 5..(batch * 3 + i + 1) * 5];
                        let col = &b.data[(batch * 4 + j) * 5..(batch * 4 + j + 1) * 5];
                        y.push(order.dot(row, col));
                    }
                }
            }
            let mut out = HostTensor::new(vec![2, 3, 4], y);
            let n = node(Op::BatchMatMul(op::BatchMatMul { transpose_b: true }), &[2, 3, 4]);
            assert!(check(&n, &[&a, &b], &out).unwrap().first_violation().is_none(), "{order:?}");
            out.data[17] += 1e-3;
            assert_eq!(check(&n, &[&a, &b], &out).unwrap().first_violation().unwrap().element, 17);
        }
    }

    #[test]
    fn exact_ops_must_match_bit_for_bit() {
        let x = HostTensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t =
            Node { op: Op::Transpose(op::Transpose { a: 0, b: 1 }), inputs: vec![Src::Trace(0)], shape: vec![3, 2] };
        let mut y = runtime::replay(&t, &[&x]).unwrap();
        assert!(check(&t, &[&x], &y).unwrap().first_violation().is_none());
        y.data[1] = f32::from_bits(y.data[1].to_bits() + 1);
        assert_eq!(check(&t, &[&x], &y).unwrap().first_violation().unwrap().element, 1);
    }
}
