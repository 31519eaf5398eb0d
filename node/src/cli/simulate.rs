//! `nao simulate`.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use eyre::{bail, WrapErr};
use nao::chain::{ClaimsParams, ProtocolParams};
use nao::model::fetch::default_cache_dir;
use nao::simulate::{simulate, Report, Scenario, SimulateOptions};

/// Plays whole disputes on a local anvil chain that it starts (and stops) itself: deploys the contracts,
/// registers the model, and runs each scenario with a real prover and watcher. Exits 0 only if every
/// scenario ends as expected.
///
/// Examples:
///   nao simulate
///   nao simulate --report report.json
///   nao simulate --scenario corrupted-element
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Write the report as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Play only these scenarios (repeat the flag; the attacks are those of `nao attack`) [default: all].
    #[arg(long = "scenario", value_parser = clap::builder::PossibleValuesParser::new(Scenario::all().iter().map(|s| s.name())))]
    scenarios: Vec<String>,
    /// Cache directory for model weights [default: $NAO_CACHE or ~/.cache/nao].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Challenge window in seconds (chain time; anvil's clock is advanced, nobody waits).
    #[arg(long, default_value_t = 3600)]
    challenge_window: u64,
}

impl SimulateArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let scenarios = if self.scenarios.is_empty() {
            Scenario::all()
        } else {
            self.scenarios
                .iter()
                .map(|n| Scenario::from_name(n).ok_or_else(|| eyre::eyre!("unknown scenario `{n}`")))
                .collect::<eyre::Result<_>>()?
        };
        if self.challenge_window == 0 {
            bail!("--challenge-window must be at least 1 second");
        }
        let opts = SimulateOptions {
            scenarios,
            cache_dir: self.cache_dir.unwrap_or_else(default_cache_dir),
            params: ProtocolParams {
                claims: ClaimsParams { challenge_window: self.challenge_window, ..Default::default() },
                ..Default::default()
            },
        };
        play(&opts, self.report.as_deref(), table, "all scenarios ended as expected").await
    }
}

/// Runs the scenarios of `opts` (anvil stopped on Ctrl-C or SIGTERM), prints `table` of the report, writes it
/// as JSON to `report`, and returns exit code 0 (printing `passed`) only if every scenario ended as expected.
pub(super) async fn play(
    opts: &SimulateOptions,
    report: Option<&std::path::Path>,
    table: fn(&Report) -> Table,
    passed: &str,
) -> eyre::Result<i32> {
    // Ctrl-C or SIGTERM drops the simulation future, and with it anvil (killed by PID in its Drop).
    let r = tokio::select! {
        r = simulate(opts) => r.wrap_err("simulation failed")?,
        _ = shutdown_signal() => bail!("interrupted; anvil stopped"),
    };
    println!("{}", table(&r));
    if let Some(path) = report {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)
            .wrap_err_with(|| format!("writing report {}", path.display()))?;
    }
    let ok = r.passed();
    println!("{}", if ok { passed } else { "SOME SCENARIOS DID NOT END AS EXPECTED" });
    Ok(if ok { 0 } else { 1 })
}

fn table(r: &Report) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "scenario",
        "expected",
        "outcome",
        "ok",
        "txs",
        "gas",
        "prover Δ ETH",
        "watcher Δ ETH",
        "transactions (gas)",
        "answer",
    ]);
    let eth = |w: &str| format!("{:+.3}", w.parse::<f64>().unwrap_or(f64::NAN) / 1e18);
    for s in &r.scenarios {
        let txs = s.tx_gas.iter().map(|t| format!("{} {}", t.label, t.gas)).collect::<Vec<_>>().join(", ");
        t.add_row([
            s.name.clone(),
            s.expected.to_string(),
            s.outcome.to_string(),
            if s.passed() { "yes".into() } else { "NO".into() },
            s.txs.to_string(),
            s.gas_used.to_string(),
            eth(&s.prover_delta_wei),
            eth(&s.watcher_delta_wei),
            txs,
            s.answer.clone(),
        ]);
    }
    t
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
