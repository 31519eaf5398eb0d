//! `nao attack`.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use nao::attack::Attack;
use nao::model::steering::Parking;
use nao::model::fetch::default_cache_dir;
use nao::simulate::{Report, Scenario, SimulateOptions};

use super::simulate::play;

/// Plays cheats of the adversarial suite against the real protocol on a local anvil chain, with honest
/// control runs, and prints where each was caught: the watcher's check (sound region or threshold), the
/// contract's sound-bound check on-chain, or the composition audit at registration. Exits 0 only if every
/// cheat is caught (or, for bound-aware, fails to flip the output) and no honest run is flagged.
///
/// Attacks: model-swap, int8-weights, int4-weights, fp16-activations, bf16-activations, norm-dropped,
/// epsilon-changed, gelu-approximated, layer-skipped, embedding-altered, single-weight, bound-aware,
/// steering (the non-composability construction: undefended, point region, audit, and the kink-parked
/// triggers the output vote catches), or all.
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
}

/// The scenarios an attack name stands for.
fn scenarios_of(name: &str) -> eyre::Result<Vec<Scenario>> {
    Ok(match name {
        "all" => {
            let mut v: Vec<Scenario> = Attack::ALL.map(Scenario::Attack).to_vec();
            v.extend(scenarios_of("steering")?);
            v
        }
        "steering" => vec![Scenario::SteeringUndefended, Scenario::SteeringPoint, Scenario::Steering]
            .into_iter()
            .chain(Parking::ALL.map(Scenario::Kink))
            .collect(),
        n => vec![Scenario::Attack(Attack::from_name(n).ok_or_else(|| eyre::eyre!("unknown attack `{n}`"))?)],
    })
}

impl AttackArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let mut scenarios = if self.no_controls { vec![] } else { vec![Scenario::Honest, Scenario::MiniLmHonest] };
        for a in &self.attacks {
            for s in scenarios_of(a)? {
                if !scenarios.contains(&s) {
                    scenarios.push(s);
                }
            }
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
