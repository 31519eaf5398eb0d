//! The steering construction of the non-composability note, built from a real model: a network that computes
//! exactly what the original computes, plus a hidden trigger channel that is exactly zero on honest runs and
//! is amplified towards one output. A prover that injects into the trigger an error inside that element's
//! sound bound moves the output arbitrarily far while every element of every op still passes its check.
//! Used by the tests that prove the composition audit refuses such models.

use super::{HostTensor, MlpConfig, Model};
use crate::graph::{Graph, GraphBuilder, Op, Src};
use crate::region::sound;
use crate::runtime::operands;
use crate::trace::Trace;
use crate::Result;

/// A steering network and where its trigger is.
#[derive(Debug, Clone)]
pub struct Steering {
    /// The network.
    pub model: Model,
    /// Node whose output holds the trigger (a MatMul).
    pub trigger_node: usize,
    /// Column of the trigger in that node's output.
    pub trigger_col: usize,
    /// Output column the trigger is amplified into.
    pub target: usize,
}

/// Builds the steering twin of the 3-layer MLP `cfg` (dims `[d0, h, h, o]`): hidden unit 0 of layer 1 is
/// duplicated (units a, b); layer 2 adds a trigger `M h_a - M h_b` (exactly 0 in every order); an inserted
/// identity layer copies every unit and multiplies the trigger by `M` (exact: power-of-two, single terms);
/// the output layer adds the trigger to output `target`. Honest runs give the original outputs.
pub fn steering_mlp(cfg: &MlpConfig, amplifier: f32, target: usize) -> Result<Steering> {
    assert_eq!(cfg.dims.len(), 4, "a 3-layer MLP");
    let (d0, h, o, rows) = (cfg.dims[0], cfg.dims[1], cfg.dims[3], cfg.rows);
    assert_eq!(cfg.dims[2], h);
    let w = cfg.generate_weights();
    let (w0, b0, w1, b1, w2, b2) = (&w[0], &w[1], &w[2], &w[3], &w[4], &w[5]);
    let (h1, h2) = (h + 2, h + 1); // layer-1 width with a, b; layer-2 width with the trigger
                                   // layer 1: rows of w0, then unit 0 twice more
    let mut l0 = w0.data.clone();
    l0.extend_from_slice(&w0.data[..d0]);
    l0.extend_from_slice(&w0.data[..d0]);
    let mut c0 = b0.data.clone();
    c0.extend([b0.data[0], b0.data[0]]);
    // layer 2: rows of w1 (zero weight on a, b), then the trigger row M h_a - M h_b
    let mut l1 = Vec::with_capacity(h2 * h1);
    for r in 0..h {
        l1.extend_from_slice(&w1.data[r * h..(r + 1) * h]);
        l1.extend([0.0, 0.0]);
    }
    l1.extend(std::iter::repeat_n(0.0, h));
    l1.extend([amplifier, -amplifier]);
    let mut c1 = b1.data.clone();
    c1.push(0.0);
    // identity layer, trigger times M
    let mut id = vec![0.0f32; h2 * h2];
    for r in 0..h {
        id[r * h2 + r] = 1.0;
    }
    id[h * h2 + h] = amplifier;
    // output layer: w2 plus the trigger into `target`
    let mut l2 = Vec::with_capacity(o * h2);
    for r in 0..o {
        l2.extend_from_slice(&w2.data[r * h..(r + 1) * h]);
        l2.push(if r == target { 1.0 } else { 0.0 });
    }
    let weights = vec![
        HostTensor::new(vec![h1, d0], l0),
        HostTensor::new(vec![h1], c0),
        HostTensor::new(vec![h2, h1], l1),
        HostTensor::new(vec![h2], c1),
        HostTensor::new(vec![h2, h2], id),
        HostTensor::new(vec![h2], vec![0.0; h2]),
        HostTensor::new(vec![o, h2], l2),
        HostTensor::new(vec![o], b2.data.clone()),
    ];
    let shapes = weights.iter().map(|w| w.shape.clone()).collect();
    let mut g = GraphBuilder::new(vec![rows, d0], shapes);
    let mut x = Src::Trace(0);
    let mut trigger_node = 0;
    for (l, width) in [h1, h2, h2, o].into_iter().enumerate() {
        let wl = Src::Weight(2 * l as u32);
        let y = g.push(Op::MatMul, [x, wl], [rows, width]);
        if l == 1 {
            trigger_node = match y {
                Src::Trace(t) => t as usize - 1,
                Src::Weight(_) => unreachable!("push returns a trace operand"),
            };
        }
        x = g.push(Op::Add, [y, Src::Weight(2 * l as u32 + 1)], [rows, width]);
        if l < 3 {
            x = g.push(Op::Relu, [x], [rows, width]);
        }
        g.end_segment();
    }
    let graph: Graph = g.finish();
    let names = (0..weights.len()).map(|i| format!("steering.{i}")).collect();
    let model = Model::new("mlp-steering", graph, names, weights)?;
    Ok(Steering { model, trigger_node, trigger_col: h, target })
}

impl Steering {
    /// The largest trigger value (per row) that the trigger element's sound region admits, given the honest
    /// trace's operands: what a bound-aware cheating prover injects.
    pub fn trigger_injection(&self, honest: &Trace) -> Vec<f32> {
        let node = &self.model.graph.nodes[self.trigger_node];
        let ops_in = operands(&self.model, honest, node);
        let k = ops_in[0].shape[1];
        (0..node.shape[0])
            .map(|r| {
                let x = &ops_in[0].data[r * k..(r + 1) * k];
                let w = &ops_in[1].data[self.trigger_col * k..(self.trigger_col + 1) * k];
                // positive floats are ordered like their bits: gallop, then bisect, to the edge of the region
                let inside = |bits: u32| sound::dot_within_per_layer(x, w, f32::from_bits(bits)) == Some(true);
                let mut hi = 1u32;
                while hi < 0x7f80_0000 && inside(hi) {
                    hi = hi.saturating_mul(2).min(0x7f80_0000);
                }
                let mut lo = hi / 2;
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if inside(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                if inside(lo) {
                    f32::from_bits(lo)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// A tamper hook that writes `injected` into the trigger column of every row.
    pub fn injector(&self, injected: Vec<f32>) -> impl FnMut(usize, &mut HostTensor) + '_ {
        let cols = self.model.graph.nodes[self.trigger_node].shape[1];
        move |op, t| {
            if op == self.trigger_node {
                for (r, e) in injected.iter().enumerate() {
                    t.data[r * cols + self.trigger_col] = *e;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MLP_TINY;
    use crate::region::composition::audit;
    use crate::region::ops;
    use crate::runtime::{operands, run};

    /// Without the defense the steering works: an error inside the trigger's per-layer tolerance
    /// (`gamma_n A`), computed on honestly from there, moves an output by more than 1 while every element of
    /// every op passes a per-layer check. With the defense both layers stop it: the trigger's sound region is
    /// the point {0} (every honest order computes it exactly), and the composition audit refuses the steering
    /// network at registration, and passes the original.
    #[test]
    fn steering_beats_per_layer_checks_and_the_defense_stops_it_twice() {
        let original = MLP_TINY.generated();
        let s = steering_mlp(&MLP_TINY, 1024.0, 3).unwrap();
        let input = MLP_TINY.input(11);
        let want = run(&original, &input, None).unwrap();
        let honest = run(&s.model, &input, None).unwrap();
        // functionally identical: same outputs up to rounding
        for (a, b) in want.output().data.iter().zip(&honest.output().data) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
        // the attack: the largest trigger value its sound region admits, in every row
        let injected = s.trigger_injection(&honest);
        assert!(injected.iter().any(|e| *e > 0.0), "the trigger's sound bound admits a nonzero value");
        let mut inject = s.injector(injected);
        let attacked = run(&s.model, &input, Some(&mut inject)).unwrap();
        let mut caught = Vec::new();
        for (i, n) in s.model.graph.nodes.iter().enumerate() {
            let ops_in = operands(&s.model, &attacked, n);
            let c = ops::check_per_layer(n, &ops_in, &attacked.tensors[i + 1]).unwrap();
            assert!(
                c.first_violation().is_none(),
                "op {i} ({}) caught the attack per layer: the test would be vacuous",
                n.op.name()
            );
            if ops::check(n, &ops_in, &attacked.tensors[i + 1]).unwrap().first_violation().is_some() {
                caught.push(i);
            }
        }
        // the point region of the trigger catches it where the injection happens
        assert_eq!(caught, [s.trigger_node]);
        let o = MLP_TINY.dims[3];
        let moved = (0..MLP_TINY.rows)
            .map(|r| attacked.output().data[r * o + s.target] - honest.output().data[r * o + s.target])
            .fold(0.0f32, f32::max);
        assert!(moved > 1.0, "steering moved the target output by only {moved}");

        // the defense: audit both at the honest operating point against an output tolerance of 1e-3
        let ok = audit(&original, &want, 1e-3).unwrap();
        assert!(ok.passed(), "the original MLP fails its audit: budget {}", ok.budget);
        let refused = audit(&s.model, &honest, 1e-3).unwrap();
        assert!(refused.budget > 1e3 * refused.declared, "budget {}", refused.budget);
        // the audit sees the amplification: some op's error reaches the output multiplied by M^2 or more
        assert!(refused.ops.iter().any(|o| o.gain >= 1024.0 * 1024.0), "{:?}", refused.ops);
        eprintln!(
            "steering moved an output by {moved}; audit budget original {:.2e}, steering {:.2e} (declared 1e-3)",
            ok.budget, refused.budget
        );
    }
}
