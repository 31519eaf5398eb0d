//! Threshold profiles: the calibrated, empirical half of the acceptance regions (`profiles/<model>.json`).
//!
//! A profile says, per op kind, how far honest executions were seen to land from the exact centre of their
//! sound regions (quantiles of `|y - s| / scale_e` over every calibration configuration and prompt, `scale_e`
//! the element's own error scale: `u sqrt(n) ||(x_i w_i)||_2` for dot products, the sound bound `B_e` for
//! other ops) and which quantile times which safety factor is the threshold:
//! `T_e = min(factor * q * scale_e, B_e)`, so `T_e <= B_e` always and the threshold never accepts what the
//! sound bound rejects. Elements every honest machine
//! computes exactly already have a point sound region (see [`super::sound::within`]), so they never inherit
//! a positive threshold. Ops whose region is exact (data movement, ReLU, causal mask, argmax) have no
//! threshold: they must replay bit for bit.
//!
//! The profile file's SHA-256 is the profile root registered on-chain with the model; a profile is only
//! used after [`Profile::verify`] (root matches the registered one) and [`Profile::fit`] (made for these
//! weights, covers every op kind of the graph).

use std::collections::BTreeMap;

use sha2::Digest;

use super::calibrate::{Calibration, Quantiles};
use super::{ops, NodeCheck};
use crate::commit::Hash;
use crate::graph::Node;
use crate::model::Model;
use crate::tensor::HostTensor;
use crate::{Error, Result};

/// The profile file format written by this version.
pub const FORMAT: u32 = 2;

/// The prompt (or input) set a profile was calibrated on.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PromptSet {
    /// How many inputs.
    pub count: usize,
    /// SHA-256 of the inputs, newline-separated (hex).
    pub sha256: String,
}

impl PromptSet {
    /// The set of `prompts`.
    pub fn of(prompts: &[String]) -> Self {
        Self { count: prompts.len(), sha256: hex::encode(sha2::Sha256::digest(prompts.join("\n"))) }
    }
}

/// Calibration result and threshold of one op kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpProfile {
    /// `factor * quantile`: an element is over its threshold when `|y - s| > limit * scale_e` (and always
    /// when outside `B_e`).
    pub limit: f64,
    /// The observed quantiles of `|y - s| / scale_e`.
    pub spread: Quantiles,
    /// The observed quantiles of `B_e / scale_e`.
    pub bound_to_scale: Quantiles,
    /// Tightness `B_e / T_e` of the calibration elements: median and worst (smallest).
    pub tightness: Tightness,
}

/// How much tighter the threshold is than the sound bound, `B_e / T_e = max(1, (B_e / scale_e) / limit)`.
/// `None` when the limit is 0 (every calibration element was exact, so `T_e = 0`: unboundedly tight).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tightness {
    /// Median over elements.
    pub median: Option<f64>,
    /// Smallest over elements.
    pub worst: Option<f64>,
}

impl Tightness {
    /// From the quantiles of `B_e / scale_e` and the limit.
    pub fn of(bound_to_scale: &Quantiles, limit: f64) -> Self {
        let t = |b: f64| (limit > 0.0).then(|| (b / limit).max(1.0));
        Self { median: t(bound_to_scale.p50), worst: t(bound_to_scale.min) }
    }

    /// One figure as text (`exact` for a zero threshold).
    pub fn show(v: Option<f64>) -> String {
        v.map_or("exact".into(), |t| format!("{t:.1}"))
    }
}

/// A calibrated threshold profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// File format ([`FORMAT`]).
    pub format: u32,
    /// The model's name.
    pub model: String,
    /// The weights root of the model it was calibrated on (hex): a profile fits only these weights.
    pub weights_root: String,
    /// The tool that wrote it.
    pub tool: String,
    /// The execution configurations calibrated over.
    pub configurations: Vec<String>,
    /// The inputs calibrated over.
    pub prompts: PromptSet,
    /// Which quantile thresholds are cut from (`p99.9`, `p99.99`, `max`, ...).
    pub quantile: String,
    /// Safety factor applied to that quantile.
    pub factor: f64,
    /// Per op kind.
    pub ops: BTreeMap<String, OpProfile>,
    /// The largest difference between the outputs of two configurations on one input (how far honest runs
    /// already disagree at the output).
    pub output_spread: f64,
}

/// How an element fails its acceptance region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachKind {
    /// Outside the sound region: provable on-chain by the exact bound check.
    Sound,
    /// Inside the sound region, outside `T_e`: a committee vote decides.
    Threshold,
}

/// One element outside its acceptance region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breach {
    /// Flat index in the op's output.
    pub element: usize,
    /// How it fails.
    pub kind: BreachKind,
    /// Its `|y - s| / B_e`.
    pub ratio: f64,
}

/// Every element of one op judged against sound bound and threshold.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The sound-region verdicts.
    pub check: NodeCheck,
    /// The op's `limit` (threshold in units of each element's scale; None: the op's region is exact).
    pub limit: Option<f64>,
    /// The elements outside the acceptance region, in element order.
    pub breaches: Vec<Breach>,
}

fn refuse(what: String) -> Error {
    Error::Config(format!("profile: {what}"))
}

impl Profile {
    /// Builds a profile from a finished calibration; `limit = factor * quantile` per op kind.
    #[allow(clippy::too_many_arguments)]
    pub fn from_calibration(
        cal: &Calibration,
        model: &str,
        weights_root: Hash,
        configurations: Vec<String>,
        prompts: PromptSet,
        quantile: &str,
        factor: f64,
        output_spread: f64,
    ) -> Result<Self> {
        let mut ops = BTreeMap::new();
        let bounds = cal.bound_to_scale();
        for (op, q) in cal.quantiles() {
            let at = q.get(quantile).ok_or_else(|| refuse(format!("unknown quantile `{quantile}`")))?;
            let limit = factor * at;
            let b = bounds[&op].clone();
            ops.insert(op, OpProfile { limit, tightness: Tightness::of(&b, limit), spread: q, bound_to_scale: b });
        }
        Ok(Self {
            format: FORMAT,
            model: model.into(),
            weights_root: hex::encode(weights_root),
            tool: concat!("nao ", env!("CARGO_PKG_VERSION")).into(),
            configurations,
            prompts,
            quantile: quantile.into(),
            factor,
            ops,
            output_spread,
        })
    }

    /// The same calibration with another safety factor: every limit and tightness recomputed from the recorded
    /// quantiles (no new runs).
    pub fn with_factor(mut self, factor: f64) -> Result<Self> {
        for o in self.ops.values_mut() {
            let at =
                o.spread.get(&self.quantile).ok_or_else(|| refuse(format!("unknown quantile `{}`", self.quantile)))?;
            o.limit = factor * at;
            o.tightness = Tightness::of(&o.bound_to_scale, o.limit);
        }
        self.factor = factor;
        Ok(self)
    }

    /// The file's bytes (pretty JSON, newline-terminated): what is hashed into the profile root.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a profile serializes");
        v.push(b'\n');
        v
    }

    /// The profile root of a profile file: SHA-256 of its bytes.
    pub fn root(bytes: &[u8]) -> Hash {
        sha2::Sha256::digest(bytes).into()
    }

    /// Parses a profile file.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let p: Profile = serde_json::from_slice(bytes).map_err(|e| refuse(format!("not a threshold profile: {e}")))?;
        if p.format != FORMAT {
            return Err(refuse(format!("format {} (this node reads format {FORMAT})", p.format)));
        }
        Ok(p)
    }

    /// Parses a profile file whose root must be `registered` (the model's on-chain profile root).
    pub fn verify(bytes: &[u8], registered: Hash) -> Result<Self> {
        let root = Self::root(bytes);
        if root != registered {
            return Err(refuse(format!(
                "root 0x{} does not match the registered profile root 0x{}",
                hex::encode(root),
                hex::encode(registered)
            )));
        }
        Self::parse(bytes)
    }

    /// Checks that this profile was made for `model` (whose weights root is `weights_root`) and has a
    /// threshold for every op kind of its graph that needs one.
    pub fn fit(&self, model: &Model, weights_root: Hash) -> Result<()> {
        if self.weights_root != hex::encode(weights_root) {
            return Err(refuse(format!(
                "made for model `{}` with weights root 0x{}, not for `{}` (weights root 0x{})",
                self.model,
                self.weights_root,
                model.name,
                hex::encode(weights_root)
            )));
        }
        let mut missing: Vec<&str> = model
            .graph
            .nodes
            .iter()
            .filter(|n| !n.op.has_exact_region() && !self.ops.contains_key(n.op.name()))
            .map(|n| n.op.name())
            .collect();
        missing.dedup();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            return Err(refuse(format!("no threshold for op kinds {} of model `{}`", missing.join(", "), model.name)));
        }
        Ok(())
    }

    /// Judges every element of `node`'s claimed `output` (given its `operands`): sound region first, then
    /// the threshold. `None` when the op cannot be checked from these operands.
    pub fn judge(&self, node: &Node, operands: &[&HostTensor], output: &HostTensor) -> Option<Judgement> {
        let check = ops::check(node, operands, output)?;
        let limit = if node.op.has_exact_region() { None } else { Some(self.ops.get(node.op.name())?.limit) };
        let breaches = check
            .elements
            .iter()
            .filter_map(|v| {
                let kind = if !v.inside {
                    BreachKind::Sound
                } else if limit.is_some_and(|l| v.spread() > l) {
                    BreachKind::Threshold
                } else {
                    return None;
                };
                Some(Breach { element: v.element, kind, ratio: v.ratio })
            })
            .collect();
        Some(Judgement { check, limit, breaches })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::steering::steering_mlp;
    use crate::model::MLP_TINY;
    use crate::region::orders::Order;
    use crate::runtime::{operands, Config, Runtime};

    fn calibrated(model: &Model, seeds: std::ops::Range<u64>) -> Profile {
        let mut cal = Calibration::default();
        for c in [Config::default(), Config::Dot(Order::Sequential), Config::Dot(Order::Pairwise)] {
            let rt = Runtime::with_config(model, c).unwrap();
            for seed in seeds.clone() {
                cal.observe(model, &rt.run(&model.graph, &MLP_TINY.input(seed), None).unwrap());
            }
        }
        let root = Model::weights_tree(&model.weight_commitments()).root();
        Profile::from_calibration(&cal, &model.name, root, vec![], PromptSet::of(&[]), "max", 2.0, 0.0).unwrap()
    }

    #[test]
    fn the_steering_injection_is_outside_the_point_region_and_held_out_honest_runs_pass_every_threshold() {
        let s = steering_mlp(&MLP_TINY, 1024.0, 3).unwrap();
        let p = calibrated(&s.model, 0..4);
        let input = MLP_TINY.input(40);
        let honest = crate::runtime::run(&s.model, &input, None).unwrap();
        let mut inject = s.injector(s.trigger_injection(&honest));
        let attacked = crate::runtime::run(&s.model, &input, Some(&mut inject)).unwrap();
        let node = &s.model.graph.nodes[s.trigger_node];
        let out = &attacked.tensors[s.trigger_node + 1];
        let j = p.judge(node, &operands(&s.model, &attacked, node), out).unwrap();
        // the trigger is computed exactly by every honest machine: its region is {0}, the injection is out
        assert!(!j.breaches.is_empty() && j.breaches.iter().all(|b| b.kind == BreachKind::Sound));
        // honest runs in held-out configurations and inputs are accepted everywhere
        for c in [Config::Dot(Order::SplitK(8)), Config::Dot(Order::WideThenRound), Config::Dot(Order::Fma)] {
            let t = Runtime::with_config(&s.model, c).unwrap().run(&s.model.graph, &MLP_TINY.input(50), None).unwrap();
            for (i, n) in s.model.graph.nodes.iter().enumerate() {
                let j = p.judge(n, &operands(&s.model, &t, n), &t.tensors[i + 1]).unwrap();
                assert!(j.breaches.is_empty(), "{c}: node {i}: {:?}", j.breaches.first());
            }
        }
    }

    #[test]
    fn a_profile_for_other_weights_a_wrong_root_or_missing_ops_is_refused() {
        let m = MLP_TINY.generated();
        let p = calibrated(&m, 0..2);
        let root = Model::weights_tree(&m.weight_commitments()).root();
        p.fit(&m, root).unwrap();
        let e = p.fit(&m, [7; 32]).unwrap_err().to_string();
        assert!(e.contains("weights root") && e.contains(&"07".repeat(32)), "{e}");
        let mut q = p.clone();
        q.ops.remove("add");
        assert!(q.fit(&m, root).unwrap_err().to_string().contains("no threshold for op kinds add"));
        let bytes = p.to_bytes();
        let back = Profile::verify(&bytes, Profile::root(&bytes)).unwrap();
        assert_eq!((&back.model, &back.weights_root, back.ops.len()), (&p.model, &p.weights_root, p.ops.len()));
        for (k, o) in &p.ops {
            assert!((back.ops[k].limit - o.limit).abs() <= 1e-15 * o.limit, "{k}");
            // JSON keeps 17 digits
        }
        let e = Profile::verify(&bytes, [1; 32]).unwrap_err().to_string();
        assert!(e.contains("does not match the registered profile root"), "{e}");
        assert!(Profile::parse(b"{\"format\": 1}").unwrap_err().to_string().contains("not a threshold profile"));
    }

    #[test]
    fn an_op_kind_seen_only_exact_gets_a_zero_threshold_and_the_file_still_parses() {
        // with every bias zero, each add is a + 0: exact in every run, so its limit is 0 and tightness None
        let mut zero_bias = MLP_TINY.generated();
        let mut w: Vec<HostTensor> = (*zero_bias.weights).clone();
        for b in [1, 3, 5] {
            w[b].data.iter_mut().for_each(|v| *v = 0.0);
        }
        zero_bias.weights = std::sync::Arc::new(w);
        let mut cal = Calibration::default();
        cal.observe(&zero_bias, &crate::runtime::run(&zero_bias, &MLP_TINY.input(1), None).unwrap());
        let root = Model::weights_tree(&zero_bias.weight_commitments()).root();
        let p = Profile::from_calibration(&cal, "z", root, vec![], PromptSet::of(&[]), "max", 2.0, 0.0).unwrap();
        let bytes = p.to_bytes();
        let back = Profile::parse(&bytes).unwrap();
        assert_eq!((back.ops["add"].limit, back.ops["add"].tightness.median), (0.0, None));
        assert!(back.ops["matmul"].limit > 0.0);
    }

    #[test]
    fn a_new_factor_scales_every_limit_and_loosens_tightness() {
        let p = calibrated(&MLP_TINY.generated(), 0..2);
        let q = p.clone().with_factor(4.0).unwrap();
        assert_eq!(q.factor, 4.0);
        for (k, o) in &p.ops {
            assert!((q.ops[k].limit - 2.0 * o.limit).abs() <= 1e-12 * o.limit, "{k}");
            assert!(q.ops[k].tightness.median <= o.tightness.median, "{k}");
        }
    }

    #[test]
    fn thresholds_are_never_wider_than_the_sound_bound() {
        let p = calibrated(&MLP_TINY.generated(), 0..2);
        assert!(p.ops.values().all(|o| o.limit > 0.0 && o.tightness.worst >= Some(1.0)), "{:?}", p.ops);
        // dot products get a scale finer than their bound: thresholds well inside B_e
        assert!(p.ops["matmul"].tightness.median > Some(2.0), "{:?}", p.ops["matmul"]);
    }
}
