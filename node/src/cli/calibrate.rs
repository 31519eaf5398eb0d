//! `nao calibrate`: runs a model over a prompt set in several execution configurations, measures how far
//! honest outputs land from the exact centre of their sound regions, and writes the threshold profile
//! (`profiles/<model>.json`) with a plot; optionally checks held-out prompts in held-out configurations
//! against the profile and counts false positives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use eyre::{bail, WrapErr};
use nao::model::HostTensor;
use nao::region::calibrate::{Calibration, Histogram};
use nao::region::profile::{BreachKind, Profile, PromptSet, Tightness};
use nao::runtime::{operands, Config, Runtime};

use super::models::{Loaded, ModelName};

const SUBJECTS: [&str; 50] = [
    "the sea",
    "volcanoes",
    "bread",
    "the moon",
    "chess",
    "bees",
    "rivers",
    "glass",
    "music",
    "winter",
    "maps",
    "clocks",
    "salt",
    "trains",
    "forests",
    "coffee",
    "bridges",
    "paper",
    "rain",
    "deserts",
    "whales",
    "copper",
    "gardens",
    "light",
    "libraries",
    "mountains",
    "bicycles",
    "clouds",
    "rice",
    "ants",
    "castles",
    "ice",
    "language",
    "honey",
    "wind",
    "cities",
    "owls",
    "steel",
    "islands",
    "tea",
    "stars",
    "wool",
    "lakes",
    "engines",
    "mushrooms",
    "snow",
    "markets",
    "caves",
    "kites",
    "thunder",
];

/// Prompt templates of the calibration set.
const CALIBRATION_TEMPLATES: [&str; 4] =
    ["What is {}?", "Explain {} in one sentence.", "Write a short poem about {}.", "Give three facts about {}."];

/// Prompt templates of the held-out set (no overlap with calibration).
pub(super) const HELD_OUT_TEMPLATES: [&str; 5] = [
    "Why does {} matter?",
    "Describe {} to a child.",
    "What is the history of {}?",
    "Compare {} with something similar.",
    "Tell me a surprising fact about {}.",
];

pub(super) fn prompts(templates: &[&str], n: usize) -> Vec<String> {
    // subjects vary fastest so a short set still spans topics
    (0..n)
        .map(|i| templates[(i / SUBJECTS.len()) % templates.len()].replace("{}", SUBJECTS[i % SUBJECTS.len()]))
        .collect()
}

/// Calibrates a model's acceptance thresholds and writes its profile.
///
/// Every calibration prompt runs in every configuration; each element of each arithmetic op is measured as
/// `|y - s| / B_e` (its distance from the exact value of its own inputs, as a fraction of its sound bound);
/// the thresholds are `T_e = min(factor * quantile, 1) * B_e` per op kind. With `--holdout N`, N honest runs
/// (held-out prompts x held-out configurations) are then judged element by element against the profile.
///
/// Examples:
///   nao calibrate --model minilm
///   nao calibrate --model smollm2 --runs 24 --holdout 1000
///   nao calibrate --model minilm --profile profiles/minilm.json --holdout 1000 --report fp.json
///   nao calibrate --model minilm --profile profiles/minilm.json --declared-tolerance 1e-2
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Which model: smollm2, qwen2.5-coder, minilm, mlp-tiny, mlp-steering, or the path of a GGUF file or a
    /// Hugging Face checkpoint directory.
    #[arg(long)]
    model: ModelName,
    /// Calibration prompts (each runs in every configuration).
    #[arg(long, default_value_t = 24)]
    runs: usize,
    /// Execution configurations to calibrate over (see `nao::runtime::Config`).
    #[arg(long, value_delimiter = ',', default_value = "candle-cpu,dot-sequential,dot-pairwise,dot-blocked64,dot-f64")]
    configs: Vec<Config>,
    /// Which quantile thresholds are cut from: p50, p99, p99.9, p99.99 or max.
    #[arg(long, default_value = "max")]
    quantile: String,
    /// Safety factor on that quantile. With `--profile` and `--out`: rewrite that profile's thresholds with
    /// this factor (no new runs).
    #[arg(long, default_value_t = 4.0)]
    factor: f64,
    /// Tokens SmolLM2 generates per prompt.
    #[arg(long, default_value_t = 1)]
    max_tokens: usize,
    /// Give SmolLM2 the prompts in its chat template (longer inputs; default: raw text).
    #[arg(long)]
    chat: bool,
    /// Where to write the profile (default: profiles/<model>.json); a PNG plot is written beside it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not calibrate: judge held-out runs against this existing profile.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Held-out honest runs to judge against the profile (held-out prompts x held-out configurations).
    #[arg(long, default_value_t = 0)]
    holdout: usize,
    /// Configurations of the held-out runs (none of them calibrated on, by default).
    #[arg(long, value_delimiter = ',', default_value = "candle-cpu-1t,dot-reversed,dot-fma,dot-splitk8")]
    holdout_configs: Vec<Config>,
    /// Skip this many held-out prompts (to replay one run: the prompt list is deterministic).
    #[arg(long, default_value_t = 0)]
    holdout_start: usize,
    /// Write the held-out result as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The model's declared output tolerance: a profile whose honest configurations already disagree at the
    /// output by more than this is flagged (exit code 3), since no claim of it can be held to the tolerance.
    #[arg(long)]
    declared_tolerance: Option<f64>,
}

/// Whether honest configurations of `p` already disagree at the output beyond `declared` (printed when so).
pub fn flagged(p: &Profile, declared: Option<f64>) -> bool {
    match declared {
        Some(d) if p.output_spread > d => {
            println!(
                "FLAGGED: honest configurations disagree by {:.3e} at the output, beyond the declared tolerance \
                 {d:.1e}: no claim of this model can be held to it",
                p.output_spread
            );
            true
        }
        Some(d) => {
            println!(
                "honest configurations agree at the output within {:.3e}, inside the declared {d:.1e}",
                p.output_spread
            );
            false
        }
        None => false,
    }
}

/// Configurations this machine can run; the others are reported and skipped.
fn runnable(configs: &[Config]) -> Vec<Config> {
    configs
        .iter()
        .copied()
        .filter(|c| match c.available() {
            Ok(()) => true,
            Err(why) => {
                println!("configuration {c} skipped: {why}");
                false
            }
        })
        .collect()
}

fn bar(len: usize, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(len as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

impl CalibrateArgs {
    pub fn run(self) -> eyre::Result<i32> {
        let loaded = self.model.load_with(self.max_tokens, self.chat)?;
        let key = self.model.key();
        let profile = match &self.profile {
            Some(path) => {
                let bytes = std::fs::read(path).wrap_err_with(|| format!("reading {}", path.display()))?;
                let mut p = Profile::parse(&bytes)?;
                let (model, _) = (loaded.prepare)("What is the sea?")?;
                p.fit(&model, loaded.weights_root(&model)?)?;
                if let Some(out) = &self.out {
                    p = p.with_factor(self.factor)?;
                    print_profile(&p, p.configurations.len() * p.prompts.count);
                    save(&p, &key, out)?;
                }
                p
            }
            None => {
                let out = self.out.clone().unwrap_or_else(|| PathBuf::from(format!("profiles/{key}.json")));
                let p = self.calibrate(&loaded, &key)?;
                save(&p, &key, &out)?;
                p
            }
        };
        if flagged(&profile, self.declared_tolerance) {
            return Ok(3);
        }
        if self.holdout > 0 {
            let held = self.held_out(&loaded, &profile)?;
            if let Some(path) = &self.report {
                std::fs::write(path, serde_json::to_string_pretty(&held)?)
                    .wrap_err_with(|| format!("writing {}", path.display()))?;
            }
            return Ok(if held.false_positive_runs == 0 { 0 } else { 1 });
        }
        Ok(0)
    }

    fn calibrate(&self, loaded: &Loaded, key: &str) -> eyre::Result<Profile> {
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        let configs = runnable(&self.configs);
        if configs.is_empty() {
            bail!("no runnable configuration among {:?}", self.configs);
        }
        let set = prompts(&CALIBRATION_TEMPLATES, self.runs);
        let prepared: Vec<_> = set.iter().map(|p| (loaded.prepare)(p)).collect::<eyre::Result<_>>()?;
        let mut cal = Calibration::default();
        let mut outputs: Vec<Vec<HostTensor>> = vec![Vec::new(); set.len()];
        let b = bar(configs.len() * set.len(), "calibrating");
        for c in &configs {
            let rt = Runtime::with_config(&prepared[0].0, *c)?;
            for (i, (model, input)) in prepared.iter().enumerate() {
                let trace = rt.run(&model.graph, input, None)?;
                cal.observe(model, &trace);
                outputs[i].push(trace.output().clone());
                b.inc(1);
            }
        }
        b.finish_and_clear();
        let spread = outputs
            .iter()
            .flat_map(|outs| {
                outs.iter()
                    .skip(1)
                    .flat_map(move |o| o.data.iter().zip(&outs[0].data).map(|(a, b)| (a - b).abs() as f64))
            })
            .fold(0.0, f64::max);
        let root = loaded.weights_root(&prepared[0].0)?;
        let names = configs.iter().map(|c| c.to_string()).collect();
        let p = Profile::from_calibration(
            &cal,
            key,
            root,
            names,
            PromptSet::of(&set),
            &self.quantile,
            self.factor,
            spread,
        )?;
        print_profile(&p, cal.runs);
        Ok(p)
    }

    fn held_out(&self, loaded: &Loaded, profile: &Profile) -> eyre::Result<HeldOut> {
        let configs = runnable(&self.holdout_configs);
        if configs.is_empty() {
            bail!("no runnable held-out configuration among {:?}", self.holdout_configs);
        }
        let calibrated: Vec<&String> =
            profile.configurations.iter().filter(|c| configs.iter().any(|h| h.to_string() == **c)).collect();
        if !calibrated.is_empty() {
            println!("note: held-out configurations {calibrated:?} were also calibrated on");
        }
        let per_config = self.holdout.div_ceil(configs.len());
        let set: Vec<String> =
            prompts(&HELD_OUT_TEMPLATES, self.holdout_start + per_config).split_off(self.holdout_start);
        let mut held = HeldOut {
            model: profile.model.clone(),
            configurations: configs.iter().map(|c| c.to_string()).collect(),
            prompts: PromptSet::of(&set),
            ..Default::default()
        };
        let b = bar(configs.len() * set.len(), "held-out runs");
        let mut bounds: BTreeMap<String, Histogram> = BTreeMap::new();
        // prompts outer, configurations inner: a run cut short has still covered every configuration
        let (first, _) = (loaded.prepare)(&set[0])?;
        profile.fit(&first, loaded.weights_root(&first)?)?;
        let runtimes: Vec<Runtime> =
            configs.iter().map(|c| Runtime::with_config(&first, *c)).collect::<Result<_, _>>()?;
        for prompt in &set {
            let (model, input) = (loaded.prepare)(prompt)?;
            for (c, rt) in configs.iter().zip(&runtimes) {
                let trace = rt.run(&model.graph, &input, None)?;
                let mut flagged = false;
                for (i, node) in model.graph.nodes.iter().enumerate() {
                    let Some(j) = profile.judge(node, &operands(&model, &trace, node), &trace.tensors[i + 1]) else {
                        continue;
                    };
                    let Some(limit) = j.limit else { continue };
                    let op = held.ops.entry(node.op.name().to_string()).or_default();
                    op.limit = limit;
                    op.elements += j.check.elements.len() as u64;
                    let b = bounds.entry(node.op.name().to_string()).or_default();
                    for v in &j.check.elements {
                        if v.ratio.is_finite() {
                            op.worst_spread = op.worst_spread.max(v.spread());
                        }
                        b.add(v.bound_to_scale);
                    }
                    for br in &j.breaches {
                        flagged = true;
                        let v = &j.check.elements[br.element];
                        tracing::warn!(
                            config = %c, node = i, op = node.op.name(), element = br.element, kind = ?br.kind,
                            spread = v.spread(), limit, ratio_to_bound = v.ratio, bound_to_scale = v.bound_to_scale,
                            "element outside its acceptance region"
                        );
                        match br.kind {
                            BreachKind::Sound => held.sound_breaches += 1,
                            BreachKind::Threshold => held.threshold_breaches += 1,
                        }
                    }
                }
                held.runs += 1;
                held.elements = held.ops.values().map(|o| o.elements).sum();
                if flagged {
                    held.false_positive_runs += 1;
                    tracing::warn!(config = %c, prompt, "held-out honest run flagged");
                }
                if held.runs.is_multiple_of(50) {
                    // for logs without a terminal (the bar is hidden there)
                    tracing::info!(
                        runs = held.runs,
                        elements = held.elements,
                        flagged = held.false_positive_runs,
                        "held out"
                    );
                }
                b.inc(1);
            }
        }
        b.finish_and_clear();
        for (k, o) in held.ops.iter_mut() {
            o.margin = (o.worst_spread > 0.0).then(|| o.limit / o.worst_spread);
            o.tightness = Some(Tightness::of(&bounds[k].quantiles(), o.limit));
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header([
            "op",
            "elements",
            "worst |y-s|/scale",
            "limit",
            "margin limit/worst",
            "B_e/T_e median",
            "B_e/T_e worst",
        ]);
        for (k, o) in &held.ops {
            let tight = o.tightness.expect("set above");
            t.add_row([
                k.clone(),
                o.elements.to_string(),
                format!("{:.3e}", o.worst_spread),
                format!("{:.3e}", o.limit),
                o.margin.map_or("exact".into(), |m| format!("{m:.2}")),
                Tightness::show(tight.median),
                Tightness::show(tight.worst),
            ]);
        }
        println!(
            "held-out: {} runs ({} configurations x {} prompts), {} elements judged: {} false-positive runs \
             ({} threshold, {} sound breaches)\n{t}",
            held.runs,
            configs.len(),
            set.len(),
            held.elements,
            held.false_positive_runs,
            held.threshold_breaches,
            held.sound_breaches
        );
        Ok(held)
    }
}

/// The result of judging held-out honest runs against a profile.
#[derive(Debug, Default, serde::Serialize)]
struct HeldOut {
    model: String,
    configurations: Vec<String>,
    prompts: PromptSet,
    runs: usize,
    elements: u64,
    false_positive_runs: usize,
    threshold_breaches: u64,
    sound_breaches: u64,
    ops: BTreeMap<String, HeldOutOp>,
}

#[derive(Debug, Default, serde::Serialize)]
struct HeldOutOp {
    elements: u64,
    /// Largest `|y - s| / scale_e` seen.
    worst_spread: f64,
    limit: f64,
    /// `limit / worst_spread`: how far the worst honest element stayed inside its threshold (None: every
    /// element was exact).
    margin: Option<f64>,
    /// `B_e / T_e` of the held-out elements.
    tightness: Option<Tightness>,
}

fn print_profile(p: &Profile, runs: usize) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "op",
        "elements",
        "exact",
        "p50",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "limit",
        "B_e/T_e median",
        "B_e/T_e worst",
    ]);
    for (k, o) in &p.ops {
        let q = &o.spread;
        t.add_row([
            k.clone(),
            q.count.to_string(),
            q.exact.to_string(),
            format!("{:.2e}", q.p50),
            format!("{:.2e}", q.p99),
            format!("{:.2e}", q.p999),
            format!("{:.2e}", q.p9999),
            format!("{:.2e}", q.max),
            format!("{:.2e}", o.limit),
            Tightness::show(o.tightness.median),
            Tightness::show(o.tightness.worst),
        ]);
    }
    println!(
        "|y - s| / scale_e of honest outputs ({runs} runs: {} configurations x {} prompts; T_e = min({} x {} x \
         scale_e, B_e); largest output difference between configurations {:.2e}):\n{t}",
        p.configurations.len(),
        p.prompts.count,
        p.factor,
        p.quantile,
        p.output_spread
    );
}

/// Writes the profile to `out` and its plot beside it, and says where, with the profile root.
fn save(p: &Profile, key: &str, out: &Path) -> eyre::Result<()> {
    let bytes = p.to_bytes();
    std::fs::write(out, &bytes).wrap_err_with(|| format!("writing {}", out.display()))?;
    let png = out.with_extension("png");
    plot(p, key, &png)?;
    println!(
        "wrote {} (factor {}, profile root 0x{}) and {}",
        out.display(),
        p.factor,
        hex::encode(Profile::root(&bytes)),
        png.display()
    );
    Ok(())
}

/// Per op kind: error quantiles against the threshold and the sound bound, in units of each element's scale,
/// log axis.
fn plot(p: &Profile, key: &str, path: &Path) -> eyre::Result<()> {
    let cats: Vec<String> = p.ops.keys().cloned().collect();
    let col = |f: &dyn Fn(&nao::region::profile::OpProfile) -> f64| p.ops.values().map(f).collect::<Vec<f64>>();
    let series = vec![
        ("p50".to_string(), col(&|o| o.spread.p50)),
        ("p99.9".to_string(), col(&|o| o.spread.p999)),
        ("max".to_string(), col(&|o| o.spread.max)),
        (format!("threshold T_e ({} x {})", p.factor, p.quantile), col(&|o| o.limit)),
        ("sound bound B_e (median)".to_string(), col(&|o| o.bound_to_scale.p50)),
    ];
    let title = format!(
        "{key}: honest |y - s| / scale_e per op kind, {} configurations x {} prompts",
        p.configurations.len(),
        p.prompts.count
    );
    nao::plot::log_bars(path, &title, &cats, &series)?;
    Ok(())
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    #[test]
    fn a_profile_whose_configurations_disagree_beyond_the_declared_tolerance_is_flagged() {
        let p = Profile::parse(nao::model::builtin::MINILM_PROFILE).unwrap();
        assert!(p.output_spread > 0.0);
        assert!(flagged(&p, Some(p.output_spread / 2.0)));
        assert!(!flagged(&p, Some(p.output_spread * 2.0)));
        assert!(!flagged(&p, None));
    }
}
