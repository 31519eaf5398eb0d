//! `nao attack`.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use nao::attack::Attack;
use nao::model::fetch::default_cache_dir;
use nao::model::steering::Parking;

use super::models::ModelName;
use nao::simulate::{Report, Scenario, SimulateOptions, QWEN_ATTACKS};

use super::simulate::play;

/// Plays cheats of the adversarial suite against the real protocol on a local anvil chain, with honest
/// control runs, and prints where each was caught: the watcher's check (sound region or threshold), the
/// contract's sound-bound check on-chain, or the composition audit at registration. Exits 0 only if every
/// cheat is caught (or, for bound-aware, fails to flip the output) and no honest run is flagged.
///
/// Attacks: model-swap, int8-weights, int4-weights, fp16-activations, bf16-activations, norm-dropped,
/// epsilon-changed, gelu-approximated, layer-skipped, embedding-altered, single-weight, bound-aware,
/// steering (the non-composability construction: undefended, point region, audit, and the kink-parked
/// triggers the output vote catches), the decoder's cheats on Qwen2.5-Coder (qwen-model-swap, qwen-int8-weights,
/// qwen-int4-weights, qwen-fp16-activations), or all. Off-chain: bound-aware-minilm and bound-aware-smollm2 push every
/// op of a real transformer as far as its calibrated region accepts over `--prompts` held-out prompts and count
/// what moved (MiniLM's embedding beyond its declared tolerance, SmolLM2's first token flipped).
///
/// Examples:
///   nao attack all --report attacks.json
///   nao attack int4-weights
#[derive(Debug, Args)]
pub struct AttackArgs {
    /// The attacks to play (`all` for every one).
    #[arg(required = true)]
    attacks: Vec<String>,
    /// Write the report (every scenario, with its detection level and gas) as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Leave out the honest control runs (MLP and MiniLM).
    #[arg(long)]
    no_controls: bool,
    /// Cache directory for model weights [default: $NAO_CACHE or ~/.cache/nao].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Prompts of the transformer bound-aware pushes (held-out prompts, as `nao calibrate --holdout`).
    #[arg(long, default_value_t = 100)]
    prompts: usize,
}

/// The bound-aware push on a real transformer (`bound-aware-minilm`, `bound-aware-smollm2`), off-chain.
fn push_transformer(name: &str, prompts: usize) -> eyre::Result<bool> {
    use nao::model::builtin::{MINILM_DECLARED_TOLERANCE, MINILM_PROFILE, SMOLLM2_PROFILE};
    let (which, profile, declared) = match name {
        "bound-aware-minilm" => (ModelName::Minilm, MINILM_PROFILE, MINILM_DECLARED_TOLERANCE),
        // tokens: any other token is off by at least 1
        "bound-aware-smollm2" => (ModelName::Smollm2, SMOLLM2_PROFILE, 0.5),
        _ => return Ok(false),
    };
    let loaded = which.load(1)?;
    let set = super::calibrate::prompts(&super::calibrate::HELD_OUT_TEMPLATES, prompts);
    let cases: Vec<_> = set.iter().map(|p| (loaded.prepare)(p)).collect::<eyre::Result<_>>()?;
    let profile = nao::region::profile::Profile::parse(profile)?;
    let r = nao::attack::search::bound_aware_push(&cases, &profile, declared)?;
    println!(
        "{name}: {} prompts; first token flipped {} (named by the token audit {}); output beyond the declared {:e} \
         in {} (each slashed by the output vote); elements flagged {}; output moved median {:.2e}, max {:.2e}",
        r.prompts, r.flipped, r.flipped_named, r.declared, r.beyond_tolerance, r.flagged, r.median_moved, r.max_moved
    );
    println!("{}", serde_json::to_string(&r)?);
    Ok(true)
}

/// The scenarios an attack name stands for.
fn scenarios_of(name: &str) -> eyre::Result<Vec<Scenario>> {
    Ok(match name {
        "all" => {
            let mut v: Vec<Scenario> = Attack::ALL.map(Scenario::Attack).to_vec();
            v.extend(scenarios_of("steering")?);
            v.extend(QWEN_ATTACKS.map(Scenario::QwenAttack));
            v
        }
        n if n.starts_with("qwen-") => match Scenario::from_name(n) {
            Some(s @ Scenario::QwenAttack(_)) => vec![s],
            _ => eyre::bail!("unknown attack `{n}`"),
        },
        "steering" => vec![Scenario::SteeringUndefended, Scenario::SteeringPoint, Scenario::Steering]
            .into_iter()
            .chain(Parking::ALL.map(Scenario::Kink))
            .chain([Scenario::MiniLmKink])
            .collect(),
        n => vec![Scenario::Attack(Attack::from_name(n).ok_or_else(|| eyre::eyre!("unknown attack `{n}`"))?)],
    })
}

impl AttackArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let mut scenarios = if self.no_controls { vec![] } else { vec![Scenario::Honest, Scenario::MiniLmHonest] };
        let mut pushed = false;
        for a in &self.attacks {
            if tokio::task::block_in_place(|| push_transformer(a, self.prompts))? {
                pushed = true;
                continue;
            }
            for s in scenarios_of(a)? {
                if !scenarios.contains(&s) {
                    scenarios.push(s);
                }
            }
        }
        if pushed && scenarios.len() <= 2 {
            return Ok(0); // only off-chain pushes asked for
        }
        let opts = SimulateOptions {
            scenarios,
            cache_dir: self.cache_dir.unwrap_or_else(default_cache_dir),
            ..Default::default()
        };
        play(&opts, self.report.as_deref(), table, "every cheat caught, no honest run flagged").await
    }
}

/// The detection table: one row per scenario.
pub fn table(r: &Report) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["scenario", "detected", "level", "outcome", "ok", "txs", "gas", "finding", "answer"]);
    for s in &r.scenarios {
        t.add_row([
            s.name.clone(),
            if s.detected { "yes".into() } else { "no".into() },
            s.level.clone(),
            s.outcome.to_string(),
            if s.passed() { "yes".into() } else { "NO".into() },
            s.txs.to_string(),
            s.gas_used.to_string(),
            s.finding.clone(),
            s.answer.clone(),
        ]);
    }
    t
}
