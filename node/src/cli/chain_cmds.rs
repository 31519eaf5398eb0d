//! `nao deploy`, `nao register`, `nao stake`: the one-off chain commands, against any RPC URL.

use std::path::PathBuf;

use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use clap::Args;
use eyre::{bail, WrapErr};
use nao::chain::{self, ClaimsParams, CommitteeParams, DeploymentFile, GameParams, ProtocolParams};
use nao::region::admission::Audited;
use nao::roles::RegisteredModel;

use super::models::ModelName;

/// Where and as whom: the RPC endpoint and the account's key.
#[derive(Debug, Args)]
pub struct Account {
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "NAO_RPC_URL", default_value = "http://127.0.0.1:8545")]
    rpc_url: String,
    /// The account's private key (hex), or set NAO_KEY (needed to send; `status` only reads).
    #[arg(long, env = "NAO_KEY", hide_env_values = true)]
    key: Option<String>,
}

impl Account {
    /// The account's key, if one was given.
    fn signer(&self) -> eyre::Result<Option<PrivateKeySigner>> {
        self.key
            .as_deref()
            .map(|k| k.trim().parse().map_err(|e| eyre::eyre!("--key / NAO_KEY is not a private key: {e}")))
            .transpose()
    }

    /// Connects as the account (its key signs what is sent).
    async fn connect(&self) -> eyre::Result<chain::Client> {
        let signer = self.signer()?.ok_or_else(|| eyre::eyre!("no key: pass --key or set NAO_KEY (it signs)"))?;
        Ok(chain::connect(&self.rpc_url, signer).await?)
    }

    /// Connects to read only: as the account when a key was given, else with a throwaway key that signs
    /// nothing; the account's address, if any.
    async fn connect_read(&self) -> eyre::Result<(chain::Client, Option<alloy::primitives::Address>)> {
        let signer = self.signer()?;
        let me = signer.as_ref().map(|s| s.address());
        Ok((chain::connect(&self.rpc_url, signer.unwrap_or_else(PrivateKeySigner::random)).await?, me))
    }
}

/// An account on an existing deployment: the account, and the deployment file `nao deploy` wrote.
#[derive(Debug, Args)]
pub struct Deployed {
    #[command(flatten)]
    account: Account,
    /// The deployment file `nao deploy` wrote.
    #[arg(long, env = "NAO_DEPLOYMENT", default_value = "deployment.json")]
    deployment: PathBuf,
}

impl Deployed {
    /// Reads the deployment file, connects, and checks the file against the chain (chain id, code).
    async fn connect(&self) -> eyre::Result<(DeploymentFile, chain::Client)> {
        let file = DeploymentFile::read(&self.deployment)?;
        let client = self.account.connect().await?;
        file.check(&client).await?;
        Ok((file, client))
    }
}

/// Deploys the contracts (registry, claim manager, committee, dispute game) with the default protocol
/// parameters and writes the deployment file the other commands read.
///
/// Example:
///   nao deploy --rpc-url http://127.0.0.1:8545 --key 0x... --out deployment.json
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    account: Account,
    /// Where to write the deployment (chain id, addresses, parameters).
    #[arg(long, env = "NAO_DEPLOYMENT", default_value = "deployment.json")]
    out: PathBuf,
    /// Challenge window in seconds.
    #[arg(long, default_value_t = ProtocolParams::default().claims.challenge_window)]
    challenge_window: u64,
    /// Seconds each side of a partition game may think in total (its chess clock).
    #[arg(long, default_value_t = ProtocolParams::default().game.clock_budget)]
    clock_budget: u64,
    /// Seconds after a slash in which a game won with an earlier challenge commitment takes the reward over
    /// [default: two clock budgets, so that every game open at the slash can end within it].
    #[arg(long)]
    reward_grace: Option<u64>,
    /// Seconds a prover has to publish the chunks a data request asks for (unpublished, its claim is slashed).
    #[arg(long, default_value_t = ProtocolParams::default().claims.data_window)]
    data_window: u64,
    /// Seconds committee members have to commit their ballots (and then again to reveal them).
    #[arg(long, default_value_t = ProtocolParams::default().committee.commit_window)]
    vote_window: u64,
}

impl DeployArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let client = self.account.connect().await?;
        let d = ProtocolParams::default();
        let params = ProtocolParams {
            claims: ClaimsParams {
                challenge_window: self.challenge_window,
                reward_grace: self.reward_grace.unwrap_or(2 * self.clock_budget),
                data_window: self.data_window,
                ..d.claims
            },
            game: GameParams { clock_budget: self.clock_budget, ..d.game },
            committee: CommitteeParams {
                commit_window: self.vote_window,
                reveal_window: self.vote_window,
                ..d.committee
            },
        };
        let contracts = chain::deploy(&client, params).await?;
        let chain_id = client.provider.get_chain_id().await.wrap_err("chain id")?;
        let file = DeploymentFile { chain_id, contracts, params };
        std::fs::write(&self.out, serde_json::to_string_pretty(&file)?)
            .wrap_err_with(|| format!("writing {}", self.out.display()))?;
        println!("deployed on chain {chain_id}: {}", serde_json::to_string(&contracts)?);
        println!("wrote {}", self.out.display());
        Ok(0)
    }
}

/// Registers a model with its threshold profile and declared output tolerance, through the composition audit:
/// admitted `sound` (errors of any size inside its sound regions stay within the tolerance), `tightened`
/// (inside its calibrated thresholds, which the committee enforces), `output_vote` (only to first order: every
/// claim's output is then held to the tolerance by the output vote), or refused (exit code 2, nothing sent).
/// The graph registered is the one for `--prompt`'s length.
///
/// Example:
///   nao register --deployment deployment.json --model minilm --profile profiles/minilm.json --prompt "Optimistic verification settles inference disputes on-chain." --declared-tolerance 1e-2
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    on: Deployed,
    /// Which model: smollm2, qwen2.5-coder, minilm, mlp-tiny, mlp-steering, or the path of a GGUF file or a
    /// Hugging Face checkpoint directory.
    #[arg(long)]
    model: ModelName,
    /// Its threshold profile (hashed into its profile root).
    #[arg(long)]
    profile: PathBuf,
    /// The operating point of the composition audit (the registration serves every prompt length) [default:
    /// "What is the capital of France?"].
    #[arg(long)]
    prompt: Option<String>,
    /// SmolLM2: the tokens generated at the audit's operating point (the registration serves any number up
    /// to the context).
    #[arg(long, default_value_t = super::models::MAX_TOKENS)]
    max_tokens: usize,
    /// The model's declared output tolerance (inf-norm of the output), registered on-chain: the output vote
    /// holds every claim's output to it.
    #[arg(long)]
    declared_tolerance: f64,
    /// Register without the composition audit (what the undefended baseline does; never for real models).
    #[arg(long)]
    no_audit: bool,
    /// URI recorded with the model.
    #[arg(long, default_value = "")]
    uri: String,
}

impl RegisterArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let prompt = self.model.prompt_or(self.prompt.as_deref());
        let (file, client) = self.on.connect().await?;
        let profile = std::fs::read(&self.profile).wrap_err_with(|| format!("reading {}", self.profile.display()))?;
        let loaded = self.model.load(self.max_tokens)?;
        let (model, input) = (loaded.prepare)(&prompt)?;
        let name = model.name.clone();
        let d = &file.contracts;
        // the cheap precondition first: a model registered already is named before any audit runs
        if let Ok(r) =
            RegisteredModel::attach(&client, d, model.clone(), &profile, Some(self.declared_tolerance as f32)).await
        {
            eprintln!(
                "{name} is registered already as {} (declared output tolerance {:e}): nothing sent",
                r.id, r.output_tolerance
            );
            return Ok(2);
        }
        let (registered, sent, admission) = if self.no_audit {
            let (r, s) =
                RegisteredModel::register(&client, d, model, &profile, &self.uri, self.declared_tolerance as f32)
                    .await?;
            (r, s, None)
        } else {
            match RegisteredModel::register_audited(
                &client,
                d,
                model,
                &profile,
                &self.uri,
                &input,
                self.declared_tolerance,
            )
            .await
            {
                Ok((r, s, a)) => (r, s, Some(a)),
                Err(e @ nao::Error::Numerics(nao::NumericsError::Refused { .. })) => {
                    eprintln!("{e}");
                    return Ok(2);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut summary = serde_json::json!({
            "model": name,
            "model_id": registered.id.to_string(),
            "gas": sent.gas_used,
            "admission": admission.as_ref().map_or(serde_json::json!("not audited"), |a| serde_json::json!(a.admission)),
        });
        match admission.as_ref().map(|a| &a.audited) {
            Some(Audited::Values { sound, calibrated }) => {
                summary["budget_sound"] = sound.budget.into();
                summary["budget_calibrated"] = calibrated.budget.into();
                summary["first_order_sound"] = sound.first_order.into();
                summary["first_order_calibrated"] = calibrated.first_order.into();
            }
            // a language model: each generated token's lead over the runner-up, against what in-region errors move it by
            Some(Audited::Tokens { sound, calibrated }) => {
                summary["tokens"] = sound
                    .iter()
                    .zip(calibrated)
                    .map(|(s, c)| {
                        serde_json::json!({
                            "token": c.token,
                            "margin": c.margin,
                            "budget_calibrated": c.budget,
                            "first_order_calibrated": c.first_order,
                            "budget_sound": s.budget,
                            "near_tie": c.near_tie(),
                        })
                    })
                    .collect();
            }
            None => {}
        }
        println!("{}", serde_json::to_string_pretty(&summary)?);
        Ok(0)
    }
}

/// Stakes ETH in the committee as a validator (drawn for votes from `min_stake` on).
///
/// Example:
///   nao stake --deployment deployment.json --amount-wei 1000000000000000000
#[derive(Debug, Args)]
pub struct StakeArgs {
    #[command(flatten)]
    on: Deployed,
    /// Wei to stake.
    #[arg(long)]
    amount_wei: u128,
}

impl StakeArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        if self.amount_wei == 0 {
            bail!("--amount-wei must be positive");
        }
        let (file, client) = self.on.connect().await?;
        let committee = nao_bindings::Committee::new(file.contracts.committee, client.provider.clone());
        let sent = chain::send("stake", committee.stake().value(U256::from(self.amount_wei))).await?;
        let v = committee.validator(client.address).call().await.wrap_err("validator")?;
        let pool = committee.poolSize().call().await.wrap_err("poolSize")?;
        println!(
            "staked {} wei as {} (stake now {} wei; {} validators in the draw; gas {})",
            self.amount_wei, client.address, v.stake_, pool, sent.gas_used
        );
        println!(
            "run `nao validate` with this same key: a seat it is drawn for and does not vote on loses the penalty"
        );
        Ok(0)
    }
}

/// Lists what a deployment holds, read from its logs and state: registered models, claims (status, open
/// games), partition games (phase, each side's clock), and this account's balances (credit in the claim
/// manager and the committee, validator stake) and seats (committee votes it was drawn for: due, committed,
/// revealed or missed; a due or missed seat is also said on stderr). `--json` for machines.
///
/// Example:
///   nao status --deployment deployment.json --json
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    on: Deployed,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Whose balances to show [default: the --key / NAO_KEY account, if any].
    #[arg(long)]
    account: Option<alloy::primitives::Address>,
}

impl StatusArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
        let file = DeploymentFile::read(&self.on.deployment)?;
        let (client, me) = self.on.account.connect_read().await?;
        file.check(&client).await?;
        let all = serde_json::to_value(chain::status(&client, &file, self.account.or(me)).await?)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
            return Ok(0);
        }
        let tables = [
            ("models", &all["models"]),
            ("claims", &all["claims"]),
            ("games", &all["games"]),
            ("seats", &all["seats"]),
        ];
        for (title, rows) in tables {
            let rows = rows.as_array().cloned().unwrap_or_default();
            println!("{title}: {}", rows.len());
            if let Some(first) = rows.first().and_then(|r| r.as_object()) {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header(first.keys().cloned().collect::<Vec<_>>());
                for r in &rows {
                    let o = r.as_object().expect("rows are objects");
                    t.add_row(o.iter().map(|(k, v)| cell(k, v)).collect::<Vec<_>>());
                }
                println!("{t}");
            }
        }
        match all["balances"].as_object() {
            Some(b) => {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header(["balance", "value"]);
                for (k, v) in b {
                    t.add_row([k.clone(), v.as_str().map_or(v.to_string(), str::to_string)]);
                }
                println!("balances:\n{t}");
            }
            None => println!("balances: pass --account (or --key) to see an account's balances and seats"),
        }
        for s in all["seats"].as_array().into_iter().flatten() {
            let (vote, state) = (cell("vote", &s["vote"]), s["state"].as_str().unwrap_or_default());
            match state {
                "due" => eprintln!(
                    "drawn for vote {vote} and no ballot yet: run `nao validate` with this key before {}, or it loses \
                     its penalty per seat",
                    cell("commit_end", &s["commit_end"])
                ),
                "missed" => eprintln!("drawn for vote {vote} and no ballot in time: the penalty per seat is lost"),
                _ => {}
            }
        }
        Ok(0)
    }
}

/// A status value as a table cell: ids and addresses shortened to `0x1234abcd…ef01` (`--json` has them
/// whole), times as UTC dates.
fn cell(key: &str, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) if ["posted_at", "commit_end", "reveal_end"].contains(&key) => {
            n.as_u64().map_or(n.to_string(), utc)
        }
        serde_json::Value::String(s) if s.starts_with("0x") && s.len() > 20 => {
            format!("{}…{}", &s[..10], &s[s.len() - 4..])
        }
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (the proleptic Gregorian calendar, days from civil).
fn utc(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_cells_are_short_and_dated() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_428_800 + 3_723), "2026-12-05 01:02:03 UTC");
        let id = serde_json::json!(format!("0x{}", "ab".repeat(32)));
        assert_eq!(cell("claim_id", &id), "0xabababab…abab");
        assert_eq!(cell("posted_at", &serde_json::json!(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(cell("open_games", &serde_json::json!(2)), "2");
    }
}

/// Checks an answer bought from a prover against its claim: the output received (a file the prover's API
/// returned: an OpenAI response with its `nao` field, a `POST /jobs` receipt, or `{"shape", "values"}`) must
/// commit to the claim's output root; prints the claim's status on the chain (pending, challenged, finalized,
/// slashed). Exit status 0 when the output is the claimed one, 1 when it is not.
///
/// Example:
///   nao verify --deployment deployment.json --claim 0x... --output answer.json
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    on: Deployed,
    /// The claim the answer names (`nao.claim_id`).
    #[arg(long)]
    claim: alloy::primitives::B256,
    /// The answer as received (JSON).
    #[arg(long)]
    output: PathBuf,
}

/// What an answer file says it bought: the output tensor, and where the claim commits it (the inference's
/// index in the claim's batch, its trace root, and the proof that the output is that trace's last leaf).
struct Received {
    shape: Vec<usize>,
    values: Vec<f32>,
    index: u32,
    trace_root: alloy::primitives::B256,
    output_proof: Vec<alloy::primitives::B256>,
}

/// The answer in an answer file: an OpenAI response's `nao` field (the first, for several embeddings) or a
/// `POST /jobs` receipt.
fn received(v: &serde_json::Value) -> eyre::Result<Received> {
    let field = |n: &serde_json::Value, k: &str| -> Option<serde_json::Value> { n.get(k).cloned() };
    let parse = |n: &serde_json::Value| -> Option<Received> {
        let (shape, values) = match n.get("output") {
            Some(t) if t.is_object() => (field(t, "shape")?, field(t, "values")?),
            _ => (field(n, "output_shape")?, field(n, "output")?),
        };
        Some(Received {
            shape: serde_json::from_value(shape).ok()?,
            values: serde_json::from_value(values).ok()?,
            index: serde_json::from_value(field(n, "index")?).ok()?,
            trace_root: serde_json::from_value(field(n, "trace_root")?).ok()?,
            output_proof: serde_json::from_value(field(n, "output_proof")?).ok()?,
        })
    };
    let nao = match &v["nao"] {
        serde_json::Value::Array(all) => all.first(),
        n if n.is_object() => Some(n),
        _ => None,
    };
    nao.and_then(parse).or_else(|| parse(v)).ok_or_else(|| {
        eyre::eyre!(
            "no answer in it: expected a `nao` field (output, index, trace_root, output_proof) or a /jobs receipt"
        )
    })
}

impl VerifyArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        let text =
            std::fs::read_to_string(&self.output).wrap_err_with(|| format!("reading {}", self.output.display()))?;
        let answer: serde_json::Value =
            serde_json::from_str(&text).wrap_err_with(|| format!("{}: not JSON", self.output.display()))?;
        let got = received(&answer).wrap_err_with(|| format!("{}", self.output.display()))?;
        if got.shape.iter().product::<usize>() != got.values.len() {
            eyre::bail!("{}: {} values for shape {:?}", self.output.display(), got.values.len(), got.shape);
        }
        let file = DeploymentFile::read(&self.on.deployment)?;
        let (client, _) = self.on.account.connect_read().await?;
        file.check(&client).await?;
        let claims = chain::Claims::new(&client, &file.contracts);
        let Some((cl, status)) = nao::daemon::openai::claim_status(&claims, self.claim).await? else {
            eyre::bail!("claim {}: no such claim on this deployment", self.claim);
        };
        let batch = claims.inferences(self.claim).await?;
        let Some(inf) = batch.get(got.index as usize) else {
            println!("claim {}: the output received is NOT the claimed one", self.claim);
            println!(
                "  the claim has {} inferences, none at index {}\n  claim status {status}",
                batch.len(),
                got.index
            );
            return Ok(1);
        };
        let registry = nao_bindings::ModelRegistry::new(file.contracts.registry, client.provider.clone());
        let counts = registry.counts(cl.modelId, inf.prompt, inf.steps).call().await.wrap_err("reading the model")?;
        let segments = counts.segments;
        let root = nao::commit::TensorCommitment::new(&got.values, &got.shape).root();
        // the output is the last leaf of the inference's coarse trace, and that trace the claim's inference
        let proof = nao::commit::MerkleProof {
            index: segments as usize,
            siblings: got.output_proof.iter().map(|h| h.0).collect(),
        };
        let leaf = nao::commit::leaf_hash(&root);
        let in_trace = proof.verify(leaf, segments as usize + 1, &got.trace_root.0).is_ok();
        let in_claim = inf.traceRoot == got.trace_root;
        if !(in_trace && in_claim) {
            println!("claim {}: the output received is NOT the claimed one", self.claim);
            let why = if in_claim {
                format!(
                    "its root {} is not the output of trace {}",
                    alloy::primitives::B256::from(root),
                    got.trace_root
                )
            } else {
                format!("the claim's inference {} has no trace root {}", got.index, got.trace_root)
            };
            println!("  {why}\n  claim status {status}");
            return Ok(1);
        }
        let root = alloy::primitives::B256::from(root);
        println!(
            "claim {}: the output received is the claimed one (inference {} of {}, output root {root}); status {status}",
            self.claim, got.index, cl.count
        );
        Ok(0)
    }
}
