//! `nao calibrate`.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use eyre::WrapErr;

use super::models::ModelName;

/// Prompts calibration runs over (varied lengths and topics).
const PROMPTS: [&str; 12] = [
    "What is the capital of France?",
    "Explain photosynthesis in one sentence.",
    "Write a haiku about the sea.",
    "How many legs does a spider have?",
    "Translate 'good morning' into Spanish.",
    "What is 17 times 23?",
    "Name three primary colours.",
    "Why is the sky blue?",
    "Give me a synonym for happy.",
    "What does a compiler do?",
    "Who wrote Romeo and Juliet?",
    "Summarise the rules of chess briefly.",
];

/// Measures how far honest outputs land from the exact centre of their sound regions, per op kind, as a
/// fraction of the sound bound, over a fixed prompt set: the quantiles thresholds are cut from, and the
/// tightness B_e / T_e they allow.
///
/// Examples:
///   nao calibrate --model minilm
///   nao calibrate --model smollm2 --runs 4 --out smollm2.observed.json
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Which model.
    #[arg(long, value_enum)]
    model: ModelName,
    /// How many prompts of the prompt set to run (at most 12).
    #[arg(long, default_value_t = 12)]
    runs: usize,
    /// Tokens SmolLM2 generates per prompt.
    #[arg(long, default_value_t = 4)]
    max_tokens: usize,
    /// Write the observed quantiles as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl CalibrateArgs {
    pub fn run(self) -> eyre::Result<i32> {
        let loaded = self.model.load(self.max_tokens)?;
        let prompts = &PROMPTS[..self.runs.clamp(1, PROMPTS.len())];
        let bar = indicatif::ProgressBar::new(prompts.len() as u64);
        let mut merged: std::collections::BTreeMap<String, Vec<nao::region::calibrate::Quantiles>> = Default::default();
        for prompt in prompts {
            let (model, input) = (loaded.prepare)(prompt)?;
            for (kind, q) in nao::region::calibrate::observe(&model, &[input])? {
                merged.entry(kind).or_default().push(q);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        // across prompts: counts add up, each quantile keeps its worst value (conservative)
        let summary: std::collections::BTreeMap<String, nao::region::calibrate::Quantiles> = merged
            .into_iter()
            .map(|(k, qs)| {
                let worst = |f: fn(&nao::region::calibrate::Quantiles) -> f64| qs.iter().map(f).fold(0.0, f64::max);
                let q = nao::region::calibrate::Quantiles {
                    count: qs.iter().map(|q| q.count).sum(),
                    p50: worst(|q| q.p50),
                    p99: worst(|q| q.p99),
                    p999: worst(|q| q.p999),
                    p9999: worst(|q| q.p9999),
                    max: worst(|q| q.max),
                    exact: qs.iter().map(|q| q.exact).sum(),
                };
                (k, q)
            })
            .collect();
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
            "B/T at p99.9",
        ]);
        for (k, q) in &summary {
            let tight = if q.p999 > 0.0 { format!("{:.0}", 1.0 / q.p999) } else { "inf (exact)".into() };
            t.add_row([
                k.clone(),
                q.count.to_string(),
                q.exact.to_string(),
                format!("{:.2e}", q.p50),
                format!("{:.2e}", q.p99),
                format!("{:.2e}", q.p999),
                format!("{:.2e}", q.p9999),
                format!("{:.2e}", q.max),
                tight,
            ]);
        }
        println!("|y - s| / B_e of honest outputs (this runtime, {} prompts):\n{t}", prompts.len());
        if let Some(path) = &self.out {
            let v = serde_json::json!({
                "model": format!("{:?}", self.model).to_lowercase(),
                "configurations": ["candle-cpu"],
                "prompts": prompts,
                "tool": concat!("nao ", env!("CARGO_PKG_VERSION")),
                "ratio_to_sound_bound": summary,
            });
            std::fs::write(path, serde_json::to_string_pretty(&v)?)
                .wrap_err_with(|| format!("writing {}", path.display()))?;
        }
        Ok(0)
    }
}
