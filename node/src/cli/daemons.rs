//! `nao prover`, `nao watch`, `nao validate`: the roles as long-running daemons, configured by a TOML file
//! (`--config`) under environment variables and flags.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use clap::Args;
use eyre::{eyre, WrapErr};
use nao::chain::{self, DeploymentFile};
use nao::daemon::{
    self, ConfigFile, FollowMode, ProverFault, ProverNode, Serves, Settings, Store, ValidatorNode, WatcherFault,
    WatcherNode,
};
use nao::roles::{Prover, RegisteredModel, Sample, TraceStore, Validator, Watcher};

use super::models::{Loaded, ModelName};

/// What every daemon is told: where, as whom, which model, and where it keeps its state.
#[derive(Debug, Args)]
pub struct Common {
    /// A TOML configuration file (`[node]` and a section per role); flags and environment variables win.
    #[arg(long, env = "NAO_CONFIG")]
    config: Option<PathBuf>,
    /// JSON-RPC URL of the chain [default: http://127.0.0.1:8545].
    #[arg(long, env = "NAO_RPC_URL")]
    rpc_url: Option<String>,
    /// The account's private key (hex), or set NAO_KEY (never read from the configuration file).
    #[arg(long, env = "NAO_KEY", hide_env_values = true)]
    key: String,
    /// The deployment file `nao deploy` wrote [default: deployment.json].
    #[arg(long, env = "NAO_DEPLOYMENT")]
    deployment: Option<PathBuf>,
    /// The role's store file [default: prover.json, watcher.json or validator.json].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Milliseconds between two looks at the chain [default: 1000].
    #[arg(long)]
    poll_ms: Option<u64>,
    /// How new events are learnt [default: poll].
    #[arg(long, value_enum)]
    follow: Option<FollowMode>,
    /// The model: smollm2, minilm, mlp-tiny or mlp-steering (required, here or as `model` in the
    /// configuration file).
    #[arg(long)]
    model: Option<String>,
    /// The operating point: the prompt the model is loaded at first and the watcher's spot-check ranks its ops
    /// at (any: one registration serves every prompt length) [default: "What is the capital of France?"].
    #[arg(long)]
    prompt: Option<String>,
    /// SmolLM2: the most tokens an answer generates (an OpenAI request's `max_tokens` up to it; a job without
    /// `steps`: this many) [default: 16].
    #[arg(long)]
    max_tokens: Option<usize>,
    /// The declared output tolerance of the registration to serve (part of its id; needed only when the
    /// model's roots are registered with several tolerances).
    #[arg(long)]
    declared_tolerance: Option<f64>,
    /// The model's threshold profile [default: profiles/<model>.json].
    #[arg(long)]
    profile: Option<PathBuf>,
}

/// A daemon's resolved setup: its settings, chain client, deployment, model and profile.
struct Setup {
    settings: Settings,
    client: chain::Client,
    file: DeploymentFile,
    loaded: Loaded,
    model: Arc<RegisteredModel>,
    profile: Vec<u8>,
    /// The input of the registered prompt (the operating point of the composition audit).
    input: nao::model::HostTensor,
    store: PathBuf,
    every: Duration,
    follow: FollowMode,
}

impl Setup {
    /// The warning for this daemon's key when it is drawn for a vote and nobody votes for it.
    fn seats(&self) -> daemon::SeatWatch {
        daemon::SeatWatch::new(self.client.provider.clone(), self.file.contracts.committee, self.client.address)
    }
}

impl Common {
    fn settings(&self, role: &str, extra: Settings) -> eyre::Result<Settings> {
        let flags = Settings {
            rpc_url: self.rpc_url.clone(),
            deployment: self.deployment.clone(),
            store: self.store.clone(),
            poll_ms: self.poll_ms,
            follow: self.follow,
            model: self.model.clone(),
            prompt: self.prompt.clone(),
            max_tokens: self.max_tokens,
            declared_tolerance: self.declared_tolerance,
            profile: self.profile.clone(),
            ..extra
        };
        let file = match &self.config {
            Some(p) => ConfigFile::read(p)?.role(role),
            None => Settings::default(),
        };
        Ok(flags.or(file))
    }

    /// Reads the configuration, connects, checks the deployment against the chain, loads the model and finds
    /// it in the registry. Every failure names what is wrong; nothing is sent.
    async fn setup(&self, role: &str, extra: Settings) -> eyre::Result<Setup> {
        let settings = self.settings(role, extra)?;
        let rpc_url = settings.rpc_url.clone().unwrap_or_else(|| "http://127.0.0.1:8545".into());
        let signer: PrivateKeySigner =
            self.key.trim().parse().map_err(|e| eyre!("--key / NAO_KEY is not a private key: {e}"))?;
        let client = chain::connect(&rpc_url, signer).await?;
        {
            use alloy::providers::Provider;
            let balance = client.provider.get_balance(client.address).await.wrap_err("balance")?;
            if balance.is_zero() {
                eyre::bail!("account {} has no ETH on {rpc_url}: it cannot pay for gas or bonds", client.address);
            }
        }
        let dep_path = settings.deployment.clone().unwrap_or_else(|| "deployment.json".into());
        let file = DeploymentFile::read(&dep_path)?;
        file.check(&client).await?;
        let name = settings.model.clone().ok_or_else(|| {
            eyre!(
                "no model: pass --model (smollm2, qwen2.5-coder, minilm, mlp-tiny, mlp-steering, or a checkpoint's \
                 path) or set `model` in the config file"
            )
        })?;
        let model_name: ModelName = name.parse().map_err(|e| eyre!("--model: {e}"))?;
        let prompt = model_name.prompt_or(settings.prompt.as_deref());
        let loaded = model_name.load(settings.max_tokens.unwrap_or(super::models::MAX_TOKENS))?;
        let (model, input) = (loaded.prepare)(&prompt)?;
        let profile_path =
            settings.profile.clone().unwrap_or_else(|| format!("profiles/{}.json", model_name.key()).into());
        let profile =
            std::fs::read(&profile_path).wrap_err_with(|| format!("reading the profile {}", profile_path.display()))?;
        let root = hex::encode(nao::region::profile::Profile::root(&profile));
        let model = match RegisteredModel::attach(
            &client,
            &file.contracts,
            model,
            &profile,
            settings.declared_tolerance.map(|t| t as f32),
        )
        .await
        {
            Ok(m) => Arc::new(m),
            Err(e @ nao::Error::UnknownModel(_)) => eyre::bail!(
                "{e}: no {name} template with profile root 0x{root} ({}) is registered on this deployment; check \
                 --model and --profile against the registration (`nao status` lists the registered models)",
                profile_path.display()
            ),
            Err(e) => return Err(e.into()),
        };
        let default_store = match role {
            "watch" => "watcher.json",
            "validate" => "validator.json",
            _ => "prover.json",
        };
        let store = settings.store.clone().unwrap_or_else(|| default_store.into());
        let every = Duration::from_millis(settings.poll_ms.unwrap_or(1000));
        let follow = settings.follow.unwrap_or_default();
        tracing::info!(role, account = %client.address, model = %model.id, store = %store.display(), "starting");
        Ok(Setup { settings, client, file, loaded, model, profile, input, store, every, follow })
    }
}

/// Refuses an advertised data URL others cannot reach (an unspecified address such as `0.0.0.0`: a watcher
/// elsewhere could not fetch the traces and would treat them as withheld) and warns of one only this machine
/// reaches (loopback).
fn check_public_url(public: &str) -> eyre::Result<()> {
    let url = reqwest::Url::parse(public).map_err(|e| eyre!("--public-url {public}: not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let reach = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => (ip.is_unspecified(), ip.is_loopback()),
        Err(_) => (host.is_empty(), host == "localhost"),
    };
    match reach {
        (true, _) => eyre::bail!(
            "the claims' data URL {public} is unroutable: watchers elsewhere could not fetch the traces (they \
             would treat them as withheld); pass --public-url with an address others reach"
        ),
        (false, true) => {
            tracing::warn!(%public, "the claims' data URL is reachable from this machine only (--public-url)");
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Runs a prover: an HTTP API that takes jobs (`POST /jobs {"prompt": ...}`), posts each run as a claim and
/// serves its trace; it answers every game move against its claims, finalizes them and withdraws its bonds.
///
/// Example:
///   NAO_KEY=0x... nao prover --deployment deployment.json --model minilm --listen 127.0.0.1:8600
#[derive(Debug, Args)]
pub struct ProverArgs {
    #[command(flatten)]
    common: Common,
    /// Address the HTTP API listens on [default: 127.0.0.1:8600].
    #[arg(long)]
    listen: Option<String>,
    /// URL others reach the API at (the claims' data URIs) [default: http://<listen>].
    #[arg(long)]
    public_url: Option<String>,
    /// Most jobs one claim commits: one bond, post and finalization for the batch [default: 1].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Longest a job waits for others to share its claim, in milliseconds [default: 2000].
    #[arg(long)]
    batch_ms: Option<u64>,
    /// Commit this fault (tests and demonstrations only).
    #[arg(long, value_enum, hide = true)]
    fault: Option<ProverFault>,
}

impl ProverArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let extra = Settings {
            listen: self.listen.clone(),
            public_url: self.public_url.clone(),
            batch_size: self.batch_size,
            batch_ms: self.batch_ms,
            ..Default::default()
        };
        let s = self.common.setup("prover", extra).await?;
        let listen = s.settings.listen.clone().unwrap_or_else(|| "127.0.0.1:8600".into());
        let listener =
            tokio::net::TcpListener::bind(&listen).await.wrap_err_with(|| format!("listening on {listen}"))?;
        let public =
            s.settings.public_url.clone().unwrap_or_else(|| {
                format!("http://{}", listener.local_addr().map_or(listen.clone(), |a| a.to_string()))
            });
        check_public_url(&public)?;
        let store = Store::open(&s.store, "prover", s.file.chain_id, s.file.contracts)?;
        let traces = TraceStore::default();
        let stop = match &s.loaded.serves {
            Serves::Completions { stop, .. } => stop.clone(),
            _ => Vec::new(),
        };
        let prover = Prover::new(s.client.clone(), &s.file.contracts, s.model.clone(), traces.clone(), public.clone())?
            .with_stop(stop);
        let seats = s.seats();
        let Loaded { prepare, answer, serves, .. } = s.loaded;
        let openai = daemon::OpenAi { model: s.model.model.name.clone(), serves, public_url: public.clone() };
        let encode: daemon::Encode = Box::new(move |p| {
            prepare(p).map(|(_, input)| input).map_err(|e| nao::Error::Config(format!("prompt: {e}")))
        });
        let answer: daemon::Answer =
            Box::new(move |o| answer(o).map_err(|e| nao::Error::Config(format!("answer: {e}"))));
        let profile = match self.fault {
            Some(ProverFault::Nudge) => Some(s.model.profile(&s.profile)?),
            _ => None,
        };
        let batching = daemon::Batching {
            size: s.settings.batch_size.unwrap_or(1),
            window: std::time::Duration::from_millis(s.settings.batch_ms.unwrap_or(2000)),
        };
        let node =
            ProverNode::new(prover, traces, store, (encode, answer), self.fault, profile)?.with_batching(batching)?;
        let served = node.served();
        let node = Arc::new(tokio::sync::Mutex::new(node));
        let app = ProverNode::routes(node.clone(), served, openai);
        tracing::info!(%public, "prover API listening");
        println!("prover {} listening on {public}", s.client.address);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        daemon::run(node, s.every, seats, shutdown()).await;
        server.abort();
        Ok(0)
    }
}

/// Runs a watcher: checks every claim of the model against its acceptance regions (the calibrated profile),
/// disputes a bad one and plays the game to the end, and withdraws what it wins.
///
/// Example:
///   NAO_KEY=0x... nao watch --deployment deployment.json --model minilm --profile profiles/minilm.json
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    common: Common,
    /// Spot-check: check each op of each claim with this probability (drawn afresh per claim), instead of
    /// every op. One watcher then catches a cheat confined to one op with this probability.
    #[arg(long)]
    sample: Option<f64>,
    /// Commit this fault (tests and demonstrations only).
    #[arg(long, value_enum, hide = true)]
    fault: Option<WatcherFault>,
}

impl WatchArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let s = self.common.setup("watch", Settings { sample: self.sample, ..Default::default() }).await?;
        let store = Store::open(&s.store, "watcher", s.file.chain_id, s.file.contracts)?;
        let mut watcher =
            Watcher::new(s.client.clone(), &s.file.contracts, s.model.clone()).with_profile(&s.profile)?;
        if let Some(rate) = s.settings.sample {
            let sample = Sample::for_model(&s.model.model, &s.input, rate)?;
            let always = sample.always.iter().filter(|a| **a).count();
            println!(
                "spot-checking {:.0} % of {} ops per claim: the {always} most sensitive always, each other with \
                 probability {:.3} (a cheat confined to one of those escapes this watcher with probability {:.3})",
                rate * 100.0,
                sample.always.len(),
                sample.others,
                1.0 - sample.others
            );
            watcher.set_sample(Some(sample))?;
        }
        let node = WatcherNode::new(watcher, &s.file.contracts, store, s.follow, self.fault);
        println!("watcher {} following model {}", s.client.address, s.model.id);
        daemon::run(Arc::new(tokio::sync::Mutex::new(node)), s.every, s.seats(), shutdown()).await;
        Ok(0)
    }
}

/// Runs a validator: when a committee vote draws it, recomputes the element, commits and reveals its ballot,
/// resolves the vote, and withdraws its share of penalties. Stake first with `nao stake`.
///
/// Example:
///   NAO_KEY=0x... nao validate --deployment deployment.json --model minilm --profile profiles/minilm.json
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    common: Common,
}

/// Warns when this key cannot be drawn: its free stake is below the committee's minimum, or its withdrawal is
/// under way. A validator that is never drawn earns nothing, and one that stakes with another key leaves that
/// key's seats unvoted (slashed).
async fn warn_unless_drawable(s: &Setup) -> eyre::Result<()> {
    let committee = nao_bindings::Committee::new(s.file.contracts.committee, s.client.provider.clone());
    let me = s.client.address;
    let v = committee.validator(me).call().await.map_err(nao::chain::call_err("validator"))?;
    let min = committee.minStake().call().await.map_err(nao::chain::call_err("minStake"))?;
    if v.stake_ < min {
        tracing::warn!(
            account = %me,
            stake_wei = %v.stake_,
            min_stake_wei = %min,
            "this key has no stake in the committee, so it is never drawn: stake with this same key (`nao stake --amount-wei {min}`)"
        );
    } else if v.withdrawableAt != 0 {
        tracing::warn!(account = %me, "this key's stake is being withdrawn, so it is no longer drawn");
    }
    Ok(())
}

impl ValidateArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let s = self.common.setup("validate", Settings::default()).await?;
        warn_unless_drawable(&s).await?;
        let store = Store::open(&s.store, "validator", s.file.chain_id, s.file.contracts)?;
        let validator = Validator::new(s.client.clone(), &s.file.contracts, s.model.clone(), &s.profile)?;
        let node = ValidatorNode::new(validator, &s.file.contracts, store, s.follow);
        println!("validator {} for model {}", s.client.address, s.model.id);
        daemon::run(Arc::new(tokio::sync::Mutex::new(node)), s.every, s.seats(), shutdown()).await;
        Ok(0)
    }
}
