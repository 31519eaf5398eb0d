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

/// How a kink-parked trigger is held just off its activation's kink (or in its flat tail) on honest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parking {
    /// A ReLU whose pre-activation is `-1/2` plus small terms of the input on every input.
    Constant,
    /// A ReLU whose pre-activation follows the input's first feature: `-8.5` where it is `-1`, `-1/2` where
    /// it is `+1` (the attacker's inputs), plus small terms; the audit at an input of the first kind sees
    /// nothing to open.
    Input,
    /// A GELU whose pre-activation is `-6` plus small terms: the flat tail, slope about `1e-8`.
    GeluFlat,
    /// A SiLU whose pre-activation is `-30` plus small terms: the flat tail, value about `-3e-12`.
    SiluFlat,
}

impl Parking {
    /// Every construction.
    pub const ALL: [Parking; 4] = [Parking::Constant, Parking::Input, Parking::GeluFlat, Parking::SiluFlat];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Parking::Constant => "kink-constant",
            Parking::Input => "kink-input",
            Parking::GeluFlat => "gelu-flat",
            Parking::SiluFlat => "silu-flat",
        }
    }

    /// The cancelling constant `c` (each product `c * 1` exact, their sum not: it leaves the trigger's dot
    /// product an honest spread and a sound bound of about `66 gamma * 2c`, so no point region applies) and
    /// the offset the pre-activation is parked at.
    fn constants(self) -> (f32, f32) {
        match self {
            // bound ~2: opens the ReLU by ~1.5
            Parking::Constant => (262_144.0, 0.5),
            Parking::Input => (262_144.0, 8.5),
            // bound ~8: opens the GELU by ~2
            Parking::GeluFlat => (1_048_576.0, 6.0),
            // bound ~66: opens the SiLU by ~30
            Parking::SiluFlat => (8_388_608.0, 30.0),
        }
    }
}

/// Amplification per layer of the kink-parked trigger's branch (exact: a power of two).
pub const KINK_AMPLIFIER: f32 = 32.0;

/// Builds a kink-parked steering twin of the 3-layer MLP `cfg` (the note's construction beyond first order):
/// the MLP, and a trigger branch from its input into output `target` ([`kink_branch`]).
pub fn kink_parked(cfg: &MlpConfig, parking: Parking, target: usize) -> Result<Steering> {
    assert_eq!(cfg.dims.len(), 4, "a 3-layer MLP");
    kink_branch(&cfg.generated(), 0, parking, target, &format!("mlp-{}", parking.name()))
}

/// Builds a kink-parked steering twin of `base` (any model whose output is `[rows, o]`), named `name`: its own
/// ops, then a trigger branch reading trace tensor `reads` (`[rows, d]`; the input, or for a transformer its
/// output) and added into output column `target`. The branch: `v = x Wv + bv` holds two constant units (`1`,
/// from the bias) and a copy of `x` (its first feature plus 1 for [`Parking::Input`]); the trigger's dot
/// product is `c * 1 - c * 1 + small terms of v` (see [`Parking::constants`]), its bias parks it at
/// `-offset`, its activation (ReLU, or GELU) is exactly 0 on honest runs; two `KINK_AMPLIFIER` layers carry
/// it into `target`. At the operating point its activation's slope is 0, so the first-order audit prices it
/// at nothing; a value inside the trigger's sound region opens it. A base of one segment per op keeps that
/// layout; otherwise the branch is one segment more. `trigger_node` is the trigger's MatMul.
pub fn kink_branch(base: &Model, reads: usize, parking: Parking, target: usize, name: &str) -> Result<Steering> {
    let g0 = &base.graph;
    let x_shape = if reads == 0 { g0.input_shape.clone() } else { g0.nodes[reads - 1].shape.clone() };
    let out_shape = g0.nodes.last().expect("a graph has nodes").shape.clone();
    // a vector is one row (MiniLM's pooled embedding)
    let lead = x_shape[..x_shape.len().saturating_sub(1)].to_vec();
    let (Some(&d0), Some(&o)) = (x_shape.last(), out_shape.last()) else {
        return Err(crate::Error::Config(format!("a trigger branch reads {x_shape:?} into {out_shape:?}")));
    };
    if out_shape[..out_shape.len() - 1] != lead[..] {
        return Err(crate::Error::Config(format!("a trigger branch reads {x_shape:?} into {out_shape:?}")));
    }
    let (c, offset) = parking.constants();
    let k = d0 + 2;
    // v = x Wv + bv: units 0, 1 constant (zero weights, bias 1); unit 2 + j copies feature j
    let mut wv = vec![0.0f32; k * d0];
    (0..d0).for_each(|j| wv[(2 + j) * d0 + j] = 1.0);
    let mut bv = vec![0.0f32; k];
    bv[..2].copy_from_slice(&[1.0, 1.0]);
    // the trigger's weights: c, -c, then small terms (first feature x 4 for the input-dependent trigger)
    let mut wt = vec![0.0f32; k];
    wt[..2].copy_from_slice(&[c, -c]);
    (2..k).for_each(|j| wt[j] = if j % 2 == 0 { 1.0 } else { -1.0 } / 512.0);
    if parking == Parking::Input {
        bv[2] = 1.0;
        wt[2] = 4.0;
    }
    let mut wout = vec![0.0f32; o];
    wout[target] = KINK_AMPLIFIER;
    let branch = [
        HostTensor::new(vec![k, d0], wv),
        HostTensor::new(vec![k], bv),
        HostTensor::new(vec![1, k], wt),
        HostTensor::new(vec![1], vec![-offset]),
        HostTensor::new(vec![1, 1], vec![KINK_AMPLIFIER]),
        HostTensor::new(vec![o, 1], wout),
    ];
    let first = base.weights.len() as u32;
    let mut names = base.weight_names.clone();
    names.extend((0..branch.len()).map(|i| format!("trigger.{i}")));
    let mut weights = base.weights.to_vec();
    weights.extend(branch.iter().cloned());
    let per_op = g0.segments.len() == g0.nodes.len();
    let mut g = GraphBuilder::extend(g0.clone(), branch.iter().map(|w| w.shape.clone()).collect());
    let push = |g: &mut GraphBuilder, op: Op, inputs: &[Src], cols: usize| {
        let shape = lead.iter().copied().chain([cols]).collect();
        let y = g.push_node(crate::graph::Node { op, inputs: inputs.to_vec(), shape });
        if per_op {
            g.end_segment();
        }
        y
    };
    let w = |i: u32| Src::Weight(first + i);
    let v = push(&mut g, Op::MatMul, &[Src::Trace(reads as u32), w(0)], k);
    let v = push(&mut g, Op::Add, &[v, w(1)], k);
    let t = push(&mut g, Op::MatMul, &[v, w(2)], 1);
    let trigger_node = match t {
        Src::Trace(i) => i as usize - 1,
        Src::Weight(_) => unreachable!("push returns a trace operand"),
    };
    let t = push(&mut g, Op::Add, &[t, w(3)], 1);
    let act = match parking {
        Parking::GeluFlat => Op::Gelu,
        Parking::SiluFlat => Op::Silu,
        Parking::Constant | Parking::Input => Op::Relu,
    };
    let t = push(&mut g, act, &[t], 1);
    let t = push(&mut g, Op::MatMul, &[t, w(4)], 1);
    let t = push(&mut g, Op::MatMul, &[t, w(5)], o);
    push(&mut g, Op::Add, &[Src::Trace(g0.nodes.len() as u32), t], o);
    if !per_op && !g0.segments.is_empty() {
        g.end_segment();
    }
    let model = Model::new(name, g.finish(), names, weights)?;
    Ok(Steering { model, trigger_node, trigger_col: 0, target })
}

/// An input whose trigger, for `parking`, sits nearest its kink (`open`: the attacker's input) or farthest
/// from it (the operating point an attacker registers at): `base` with its first feature set to `+1` or `-1`
/// for [`Parking::Input`], `base` itself otherwise.
pub fn parked_input(parking: Parking, base: &HostTensor, open: bool) -> HostTensor {
    let mut x = base.clone();
    if parking == Parking::Input {
        let d0 = *x.shape.last().expect("a matrix input");
        x.data.iter_mut().step_by(d0).for_each(|v| *v = if open { 1.0 } else { -1.0 });
    }
    x
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

    /// The largest value per row that the trigger element's acceptance region admits, given the honest
    /// trace's operands: its sound region, and `profile`'s calibrated threshold when given (what a watcher
    /// checking against that profile accepts). What a bound-aware cheating prover injects.
    pub fn accepted_injection(&self, honest: &Trace, profile: Option<&crate::region::profile::Profile>) -> Vec<f32> {
        let node = &self.model.graph.nodes[self.trigger_node];
        let ops_in = operands(&self.model, honest, node);
        let out = &honest.tensors[self.trigger_node + 1];
        let cols = *node.shape.last().expect("an op output has a shape");
        (0..out.data.len() / cols)
            .map(|r| {
                let at = r * cols + self.trigger_col;
                let y0 = out.data[at];
                let accepts = |d: f64| {
                    let mut y = out.clone();
                    y.data[at] = (f64::from(y0) + d) as f32;
                    match profile {
                        Some(p) => p.judge(node, &ops_in, &y).is_some_and(|j| j.breaches.is_empty()),
                        None => {
                            crate::region::ops::check(node, &ops_in, &y).is_some_and(|c| c.first_violation().is_none())
                        }
                    }
                };
                let mut hi = 1e-6;
                while hi < 1e30 && accepts(hi) {
                    hi *= 2.0;
                }
                let mut lo = 0.0;
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if accepts(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                (f64::from(y0) + lo) as f32
            })
            .collect()
    }

    /// A threshold profile for this network made of calibrated per-kind limits of other models (`profiles`,
    /// the first that has a kind wins), retargeted at its weights: what its attacker registers, since a
    /// registrant chooses the profile it commits to.
    pub fn borrowed_profile(&self, profiles: &[&[u8]]) -> Result<Vec<u8>> {
        let parsed = profiles.iter().map(|b| crate::region::profile::Profile::parse(b)).collect::<Result<Vec<_>>>()?;
        let mut p = parsed.first().cloned().ok_or_else(|| crate::Error::Config("no profile to borrow".into()))?;
        for other in &parsed[1..] {
            for (kind, o) in &other.ops {
                p.ops.entry(kind.clone()).or_insert_with(|| o.clone());
            }
        }
        p.model = self.model.name.clone();
        p.weights_root = hex::encode(Model::weights_tree(&self.model.weight_commitments()).root());
        serde_json::to_vec_pretty(&p).map_err(|e| crate::Error::Config(format!("profile: {e}")))
    }

    /// A tamper hook that writes `injected` into the trigger column of every row.
    pub fn injector(&self, injected: Vec<f32>) -> impl FnMut(usize, &mut HostTensor) + '_ {
        let cols = *self.model.graph.nodes[self.trigger_node].shape.last().expect("an op output has a shape");
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

    /// The kink-parked constructions (the attack of issue #18): each is functionally the MLP; the first-order
    /// audit prices its trigger at nothing; a value inside the trigger's acceptance region (sound and
    /// calibrated), computed on honestly, moves the output by more than 10 while every element of every op
    /// passes; the all-orders audit prices the trigger wherever the regions reach its kink (admission only by
    /// output vote), and the output check (the output vote's question) catches every one.
    #[test]
    fn kink_parked_triggers_pass_every_element_check_and_the_output_check_catches_them() {
        use crate::model::builtin::{
            MINILM_PROFILE, MLP_STEERING_PROFILE, SMOLLM2_PROFILE, STEERING_DECLARED_TOLERANCE as DECLARED,
        };
        use crate::region::admission::{Admission, Admitted};
        let original = MLP_TINY.generated();
        for parking in Parking::ALL {
            let s = kink_parked(&MLP_TINY, parking, 3).unwrap();
            let bytes = s.borrowed_profile(&[MLP_STEERING_PROFILE, MINILM_PROFILE, SMOLLM2_PROFILE]).unwrap();
            let profile = crate::region::profile::Profile::parse(&bytes).unwrap();
            profile.fit(&s.model, Model::weights_tree(&s.model.weight_commitments()).root()).unwrap();
            // functionally identical on the inputs an attacker registers at and the ones it claims on
            let mut worst = 0.0f32;
            for seed in 0..20 {
                for open in [false, true] {
                    let x = parked_input(parking, &MLP_TINY.input(seed), open);
                    let (a, b) = (run(&original, &x, None).unwrap(), run(&s.model, &x, None).unwrap());
                    for (a, b) in a.output().data.iter().zip(&b.output().data) {
                        worst = worst.max((a - b).abs() / (1.0 + a.abs()));
                    }
                }
            }
            assert!(worst < 1e-5, "{parking:?}: differs from the MLP by {worst}");
            let at = parked_input(parking, &MLP_TINY.input(1000), false);
            let admitted = Admitted::audit(&s.model, &bytes, &at, DECLARED).unwrap();
            let (sound, calibrated) = admitted.values().expect("values");
            assert!(calibrated.first_order <= DECLARED, "{parking:?}: {admitted:?}");
            let expect = if parking == Parking::Input { Admission::Sound } else { Admission::OutputVote };
            assert_eq!(admitted.admission, expect, "{parking:?}: {admitted:?}");
            // the attack, on the attacker's input
            let x = parked_input(parking, &MLP_TINY.input(1000), true);
            let honest = run(&s.model, &x, None).unwrap();
            let injected = s.accepted_injection(&honest, Some(&profile));
            let mut inject = s.injector(injected.clone());
            let attacked = run(&s.model, &x, Some(&mut inject)).unwrap();
            for (i, n) in s.model.graph.nodes.iter().enumerate() {
                let j = profile.judge(n, &operands(&s.model, &attacked, n), &attacked.tensors[i + 1]);
                assert!(j.is_none_or(|j| j.breaches.is_empty()), "{parking:?}: op {i} ({}) flags it", n.op.name());
            }
            let moved = crate::region::output::worst(honest.output(), attacked.output()).unwrap().1;
            assert!(moved > 10.0, "{parking:?}: the output moved by {moved} only (injected {injected:?})");
            let off = crate::region::output::off(&s.model, honest.output(), attacked.output(), DECLARED);
            assert!(off.is_some_and(|(e, _)| e.op == s.model.graph.nodes.len() - 1 && e.col == 3), "{off:?}");
            eprintln!(
                "{}: honest diff {worst:.1e}; audit first order {:.3e} (cal {:.3e}), all orders {:.3e} (cal {:.3e}), \
                 {:?}; trigger bound-aware +{:.3}; output moved {moved:.1}",
                parking.name(),
                sound.first_order,
                calibrated.first_order,
                sound.budget,
                calibrated.budget,
                admitted.admission,
                injected.iter().zip(&honest.tensors[s.trigger_node + 1].data).map(|(a, b)| a - b).fold(0.0, f32::max),
            );
        }
    }

    /// The transformer variant: a kink-parked trigger branch on MiniLM's embedding (ReLU below its kink, GELU
    /// in its flat tail) is functionally MiniLM, admitted only under the output vote (as MiniLM itself), passes
    /// every element check when injected, moves the embedding far beyond the declared tolerance, and the
    /// output check catches it.
    #[test]
    fn a_kink_parked_trigger_on_minilm_passes_every_element_check_and_the_output_check_catches_it() {
        use crate::model::builtin::{MINILM_DECLARED_TOLERANCE as DECLARED, MINILM_PROFILE, MINILM_SENTENCE};
        use crate::model::{bert::Bert, fetch};
        use crate::region::admission::{Admission, Admitted};
        let bert = Bert::minilm(&fetch::default_cache_dir()).unwrap();
        let x = bert.encode(MINILM_SENTENCE).unwrap();
        let base = bert.model(x.data.len()).unwrap();
        for parking in [Parking::Constant, Parking::GeluFlat] {
            let s = kink_branch(&base, base.graph.nodes.len(), parking, 7, "minilm-kink").unwrap();
            let bytes = s.borrowed_profile(&[MINILM_PROFILE]).unwrap();
            let profile = crate::region::profile::Profile::parse(&bytes).unwrap();
            let honest = run(&s.model, &x, None).unwrap();
            let plain = run(&base, &x, None).unwrap();
            assert_eq!(honest.output().data, plain.output().data, "{parking:?}: functionally MiniLM");
            let admitted = Admitted::audit(&s.model, &bytes, &x, DECLARED).unwrap();
            assert_eq!(admitted.admission, Admission::OutputVote, "{parking:?}: {admitted:?}");
            let (sound, calibrated) = admitted.values().expect("values");
            let injected = s.accepted_injection(&honest, Some(&profile));
            let mut inject = s.injector(injected);
            let attacked = run(&s.model, &x, Some(&mut inject)).unwrap();
            for (i, n) in s.model.graph.nodes.iter().enumerate().skip(base.graph.nodes.len()) {
                let j = profile.judge(n, &operands(&s.model, &attacked, n), &attacked.tensors[i + 1]);
                assert!(j.is_none_or(|j| j.breaches.is_empty()), "{parking:?}: op {i} ({}) flags it", n.op.name());
            }
            let moved = crate::region::output::worst(honest.output(), attacked.output()).unwrap().1;
            assert!(moved > 1.0, "{parking:?}: moved {moved}");
            let off = crate::region::output::off(&s.model, honest.output(), attacked.output(), DECLARED);
            assert!(off.is_some_and(|(e, _)| e.col == 7), "{off:?}");
            eprintln!(
                "minilm {}: audit first order {:.3e} / all orders {:.3e} (calibrated {:.3e} / {:.3e}); embedding moved {moved:.1}",
                parking.name(),
                sound.first_order,
                sound.budget,
                calibrated.first_order,
                calibrated.budget
            );
        }
    }
}
