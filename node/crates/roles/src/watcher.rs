//! The watcher: follows claims, fetches and verifies their traces, checks every op element against its
//! acceptance region (sound bound, then the model's calibrated threshold) and the output against the model's
//! declared output tolerance, and challenges the first element outside its sound region (or asks the
//! committee about a thresholded element or an output off its tolerance).

use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use nao_bindings::{ClaimManager, Committee, DisputeGame};

use super::calldata::{element_challenge, element_request, fine_challenge, segment_of, segment_pointer};
use super::RegisteredModel;
use crate::chain::{
    partition_game_id, send, ClaimStatus, Claims, Client, Deployment, GameOutcome, Phase, Position, Sent,
};
use crate::commit::Hash;
use crate::graph::{OpKind, OpNode};
use crate::model::HostTensor;
use crate::region::profile::{BreachKind, Profile};
use crate::region::{ops, ElementVerdict, NodeCheck};
use crate::runtime;
use crate::trace::{ElementRef, Trace};
use crate::{Error, Result};

/// A claim seen in the claim manager's logs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaimSeen {
    /// Claim id.
    pub id: B256,
    /// Model id.
    pub model: B256,
    /// Trace root.
    pub trace_root: B256,
    /// Where the prover serves the trace.
    pub data_uri: String,
}

impl From<nao_bindings::ClaimManager::ClaimPosted> for ClaimSeen {
    fn from(e: nao_bindings::ClaimManager::ClaimPosted) -> Self {
        Self { id: e.claimId, model: e.modelId, trace_root: e.traceRoot, data_uri: e.dataUri }
    }
}

/// What checking a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Every element of every op is inside its sound region. `closest` is the inside element nearest to its
    /// bound (what a careless challenger would dispute).
    Clean {
        /// The inside element nearest its bound, among ops the contracts can adjudicate.
        closest: Option<ElementRef>,
    },
    /// This element is outside its sound region: provable fraud.
    Violation(ElementRef),
    /// This element is outside its region in an op the one-level game cannot adjudicate yet (#5): detected,
    /// not yet provable on-chain.
    OffChain(ElementRef),
    /// Every element is inside its sound region, but this one is outside its calibrated threshold `T_e`: the
    /// case the committee vote decides (#5).
    OverThreshold(ElementRef),
    /// Every element checked is inside its acceptance region, yet this element of the output (op: the last)
    /// is farther from an honest run of the claim's input than the model's declared output tolerance: errors
    /// that pass every element check moved the output (a steering channel). The output vote decides it.
    OutputOff(ElementRef),
}

/// What a watcher checks each element against.
#[derive(Debug, Clone, Default)]
pub enum Checking {
    /// The sound regions only (point regions included).
    #[default]
    Sound,
    /// The sound regions, then the model's calibrated thresholds (a profile verified against the registered
    /// profile root and fitted to the model).
    Calibrated(Box<Profile>),
    /// The per-layer tolerance `gamma_n A` without point regions: the undefended baseline of the steering
    /// scenario (what verifiers that check "each layer within tolerance" accept). Never for real claims.
    PerLayer,
}

/// A watcher following one model.
pub struct Watcher {
    client: Client,
    claims: Claims,
    game: DisputeGame::DisputeGameInstance<DynProvider>,
    committee: Committee::CommitteeInstance<DynProvider>,
    model: Arc<RegisteredModel>,
    http: reqwest::Client,
    checking: Checking,
    sample: Option<Sample>,
    /// The model prepared for replays (weights on the device), made at the first check that replays.
    runtime: std::sync::OnceLock<Option<runtime::Runtime>>,
}

/// Which ops a spot-checking watcher looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The share of ops checked per claim, on average.
    pub rate: f64,
    /// Ops checked in every claim (the most sensitive).
    pub always: Vec<bool>,
    /// The probability each other op is checked, drawn afresh per claim.
    pub others: f64,
}

impl Sample {
    /// Every op of `ops` with probability `rate`.
    pub fn uniform(ops: usize, rate: f64) -> Self {
        Self { rate, always: vec![false; ops], others: rate }
    }

    /// Sensitivity first: half the budget of `rate * ops` ops goes to the ops of largest `gains` (how far an
    /// error in the op moves the output, from the composition audit: the ops a cheat that wants the most
    /// effect for the least error must touch), checked in every claim; the rest is spread evenly over the
    /// other ops.
    pub fn sensitivity_first(rate: f64, gains: &[f64]) -> Self {
        let n = gains.len();
        let budget = rate * n as f64;
        let top = ((budget / 2.0).floor() as usize).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| gains[*b].total_cmp(&gains[*a]));
        let mut always = vec![false; n];
        order.iter().take(top).for_each(|i| always[*i] = true);
        let others = if n > top { ((budget - top as f64) / (n - top) as f64).clamp(0.0, 1.0) } else { 0.0 };
        Self { rate, always, others }
    }

    /// [`Sample::sensitivity_first`] with the gains of `model`'s composition audit at `operating_point` (a
    /// representative input, as at registration); uniform when the output is too wide for the audit's
    /// Jacobian (an LM's logits), which the log says.
    pub fn for_model(model: &crate::model::Model, operating_point: &HostTensor, rate: f64) -> Result<Self> {
        let n = model.graph.nodes.len();
        let honest = crate::runtime::run(model, operating_point, None)?;
        if honest.output().data.len() > 4096 {
            tracing::warn!(outputs = honest.output().data.len(), "output too wide for the audit: uniform sample");
            return Ok(Self::uniform(n, rate));
        }
        let audit = crate::region::composition::audit_with(
            model,
            &honest,
            f64::INFINITY,
            crate::region::composition::Tolerances::Sound,
        )?;
        let mut gains = vec![0.0; n];
        audit.ops.iter().for_each(|o| gains[o.op] = o.gain);
        Ok(Self::sensitivity_first(rate, &gains))
    }

    /// The ops one claim's check looks at.
    pub fn draw(&self) -> Vec<bool> {
        let mut rng = rand::rng();
        self.always.iter().map(|a| *a || rand::Rng::random::<f64>(&mut rng) < self.others).collect()
    }
}

impl Watcher {
    /// A watcher using `client`'s account.
    pub fn new(client: Client, d: &Deployment, model: Arc<RegisteredModel>) -> Self {
        Self {
            claims: Claims::new(&client, d),
            game: DisputeGame::new(d.game, client.provider.clone()),
            committee: Committee::new(d.committee, client.provider.clone()),
            client,
            model,
            http: reqwest::Client::new(),
            checking: Checking::Sound,
            sample: None,
            runtime: std::sync::OnceLock::new(),
        }
    }

    /// The ops (those in `picked`) that this watcher's execution reproduces bit for bit from `trace`'s operands
    /// ([`runtime::Runtime::replay_picked`]).
    fn replayed(&self, trace: &Trace, picked: &[bool]) -> Vec<bool> {
        let m = &self.model.model;
        self.runtime().map_or_else(|| vec![false; picked.len()], |rt| rt.replay_picked(&m.graph, trace, picked))
    }

    /// The model prepared for this watcher's own runs, made once.
    fn runtime(&self) -> Option<&runtime::Runtime> {
        let m = &self.model.model;
        self.runtime
            .get_or_init(|| {
                runtime::Runtime::new(m)
                    .map_err(|e| tracing::warn!(error = %e, "no replays: the model does not load"))
                    .ok()
            })
            .as_ref()
    }

    /// Spot-checks from now on with `sample` (every op with `None`). A cheat confined to one op escapes one
    /// watcher with probability `1 - p` (p: that op's chance of being drawn), and `w` independent watchers with
    /// `(1 - p)^w`; a cheat that moves many ops escapes only if every one of them is missed.
    pub fn set_sample(&mut self, sample: Option<Sample>) -> Result<()> {
        match &sample {
            Some(s) if !(s.rate > 0.0 && s.rate <= 1.0) => {
                Err(Error::Config(format!("sample rate {}: must be in (0, 1]", s.rate)))
            }
            Some(s) if s.always.len() != self.model.model.graph.nodes.len() => Err(Error::Config(format!(
                "a sample over {} ops for a model of {}",
                s.always.len(),
                self.model.model.graph.nodes.len()
            ))),
            _ => {
                self.sample = sample.filter(|s| s.rate < 1.0);
                Ok(())
            }
        }
    }

    /// Checks claims against `checking` from now on.
    pub fn set_checking(&mut self, checking: Checking) {
        self.checking = checking;
    }

    /// Checks claims against the model's calibrated profile from now on: `bytes` must hash to the registered
    /// profile root and fit the registered model (its weights, every op kind), or nothing changes and the
    /// error says why.
    pub fn use_profile(&mut self, bytes: &[u8]) -> Result<()> {
        let profile = self.model.profile(bytes)?;
        self.set_checking(Checking::Calibrated(Box::new(profile)));
        Ok(())
    }

    /// [`Watcher::use_profile`], builder style.
    pub fn with_profile(mut self, bytes: &[u8]) -> Result<Self> {
        self.use_profile(bytes)?;
        Ok(self)
    }

    /// The watcher's address.
    pub fn address(&self) -> Address {
        self.client.address
    }

    /// The provider it sends with.
    pub fn provider(&self) -> &DynProvider {
        &self.client.provider
    }

    /// The model it follows, shared (for another role on the same model).
    pub fn registered(&self) -> Arc<RegisteredModel> {
        self.model.clone()
    }

    /// The model it follows.
    pub fn model(&self) -> &RegisteredModel {
        &self.model
    }

    /// Claims of the followed model posted since `from_block`, from the ClaimPosted logs.
    pub async fn claims_since(&self, from_block: u64) -> Result<Vec<ClaimSeen>> {
        let logs = self
            .claims
            .contract()
            .ClaimPosted_filter()
            .topic2(self.model.id)
            .from_block(from_block)
            .query()
            .await
            .map_err(|e| Error::Chain(format!("ClaimPosted logs: {e}")))?;
        Ok(logs.into_iter().map(|(e, _)| ClaimSeen::from(e)).collect())
    }

    /// Fetches every trace tensor from the prover and checks shapes and roots against the claim.
    pub async fn fetch_trace(&self, claim: &ClaimSeen) -> Result<Trace> {
        fetch_trace(&self.http, &self.model.model, claim).await
    }

    /// Checks every element of every op against its acceptance region, given the claim's own op inputs; ops
    /// that move values without arithmetic are replayed and must match bit for bit. First, an op whose output
    /// this watcher's own execution reproduces bit for bit is accepted whole: it is its own fp32 evaluation,
    /// inside every region ([`runtime::Runtime::replay_picked`]); such ops offer no closest element to
    /// [`Finding::Clean`] (see [`Watcher::check_every_element`]). A sound-region violation anywhere wins over a
    /// threshold breach, and one in an op the contracts adjudicate wins over one in an op they do not (it is
    /// provable on-chain). A claim whose every element passes, but not every op replayed bit for bit, has its
    /// output compared with this watcher's own run of its input against the model's declared output
    /// tolerance ([`Finding::OutputOff`]).
    pub fn check(&self, trace: &Trace) -> Finding {
        self.check_replaying(trace, true)
    }

    /// Judges a claim whose trace is withheld by what its prover published on-chain, its `input` and `output`:
    /// `None` when the output is what an honest run of the input gives (equal, or off by no more than the
    /// model's declared output tolerance, or, when it declared none, the composition audit's sound budget
    /// around this watcher's own run: what errors inside every region can do), and otherwise how far off it
    /// is, in words.
    pub fn judge_output(&self, input: &HostTensor, output: &HostTensor) -> Result<Option<String>> {
        let m = &self.model.model;
        let mine = runtime::run(m, input, None)?;
        let own = mine.output();
        let Some((_, off)) = crate::region::output::worst(own, output) else {
            return Ok(Some(format!("output of shape {:?}, an honest run's is {:?}", output.shape, own.shape)));
        };
        if off == 0.0 {
            return Ok(None);
        }
        if self.model.output_tolerance > 0.0 {
            let tolerance = f64::from(self.model.output_tolerance);
            return Ok((off > tolerance).then(|| format!("output off by {off:e}, beyond the declared {tolerance:e}")));
        }
        let budget = crate::region::composition::audit(m, &mine, f64::INFINITY)?.budget;
        Ok((off > budget).then(|| format!("output off by {off:e}, beyond the sound budget {budget:e}")))
    }

    /// [`Watcher::check`] with no op replayed: every element of every picked op evaluated against its region,
    /// so a clean claim's element nearest its bound is known (what a faulty watcher staging a false challenge
    /// disputes).
    pub fn check_every_element(&self, trace: &Trace) -> Finding {
        self.check_replaying(trace, false)
    }

    fn check_replaying(&self, trace: &Trace, replay: bool) -> Finding {
        let n = self.model.model.graph.nodes.len();
        let picked = self.sample.as_ref().map_or_else(|| vec![true; n], Sample::draw);
        let (finding, exact) = self.check_ops(trace, replay, picked);
        match finding {
            Finding::Clean { .. } if !exact => self.output_off(trace).map_or(finding, Finding::OutputOff),
            _ => finding,
        }
    }

    /// The output element of `trace` farther than the declared output tolerance from this watcher's own run
    /// of the trace's input, if the model declared one and there is such an element.
    fn output_off(&self, trace: &Trace) -> Option<ElementRef> {
        let tolerance = f64::from(self.model.output_tolerance);
        if tolerance == 0.0 {
            return None;
        }
        let m = &self.model.model;
        let own = match self.runtime() {
            Some(rt) => rt.run_plain(&m.graph, &trace.tensors[0]),
            None => runtime::run(m, &trace.tensors[0], None).map(|t| t.output().clone()),
        };
        let own = own.map_err(|e| tracing::warn!(error = %e, "no output check: the honest run failed")).ok()?;
        let (at, off) = crate::region::output::off(m, &own, trace.output(), tolerance)?;
        tracing::warn!(?at, off, tolerance, "every element inside its region, the output off");
        Some(at)
    }

    /// The check of the ops in `picked` (replaying them first with `replay`).
    pub(super) fn check_picked(&self, trace: &Trace, replay: bool, picked: Vec<bool>) -> Finding {
        self.check_ops(trace, replay, picked).0
    }

    /// [`Watcher::check_picked`], and whether every op was reproduced bit for bit by a replay (the trace is
    /// then an honest run of its input, exactly).
    fn check_ops(&self, trace: &Trace, replay: bool, picked: Vec<bool>) -> (Finding, bool) {
        let m = &self.model.model;
        let mut closest: Option<(ElementRef, f64)> = None;
        let mut unchecked = 0usize;
        let mut over: Option<ElementRef> = None;
        let mut off_chain: Option<ElementRef> = None;
        let mut skipped = 0usize;
        let replays = if replay { self.replayed(trace, &picked) } else { vec![false; picked.len()] };
        for (i, node) in m.graph.nodes.iter().enumerate() {
            if !picked[i] {
                skipped += 1;
                continue;
            }
            let out = &trace.tensors[i + 1];
            if replays[i] {
                continue;
            }
            let operands = runtime::operands(m, trace, node);
            let judged: Option<(NodeCheck, Option<usize>)> = match &self.checking {
                Checking::Sound => ops::check(node, &operands, out).map(|c| (c, None)),
                Checking::PerLayer => ops::check_per_layer(node, &operands, out).map(|c| (c, None)),
                Checking::Calibrated(p) => p.judge(node, &operands, out).map(|j| {
                    let over = j.breaches.iter().find(|b| b.kind == BreachKind::Threshold).map(|b| b.element);
                    (j.check, over)
                }),
            };
            let Some((check, over_threshold)) = judged else {
                unchecked += 1;
                continue;
            };
            let descriptor = m.graph.adjudicable(i);
            let at = |v: &ElementVerdict| element_at(descriptor.as_ref(), &node.shape, &operands, i, v.element);
            let adjudicable = descriptor.is_some();
            if let Some(v) = check.first_violation() {
                tracing::warn!(
                    op = i,
                    kind = node.op.name(),
                    element = v.element,
                    ratio = v.ratio,
                    "outside its region"
                );
                if adjudicable {
                    return (Finding::Violation(at(v)), false);
                }
                // keep looking for a violation the contracts can adjudicate (a cheat rarely moves one op only)
                off_chain.get_or_insert(at(v));
                continue;
            }
            if let Some(e) = over_threshold {
                let v = check.elements[e];
                tracing::warn!(op = i, kind = node.op.name(), element = e, ratio = v.ratio, "over its threshold");
                over.get_or_insert(at(&v));
            }
            if let (true, Some(v)) = (adjudicable, check.closest_inside()) {
                if closest.is_none_or(|(_, r)| v.ratio > r) {
                    closest = Some((at(v), v.ratio));
                }
            }
        }
        let replayed = replays.iter().filter(|r| **r).count();
        tracing::debug!(ops = m.graph.nodes.len(), unchecked, skipped, replayed, "claim checked");
        let finding = match (off_chain, over) {
            (Some(at), _) => Finding::OffChain(at),
            (None, Some(at)) => Finding::OverThreshold(at),
            (None, None) => Finding::Clean { closest: closest.map(|(c, _)| c) },
        };
        (finding, replayed == m.graph.nodes.len())
    }

    /// This watcher's challenge commitment to `claim`: its salt and hash.
    fn commitment(&self, claim: &ClaimSeen) -> (B256, B256) {
        let salt = self.client.challenge_salt(claim.id);
        (salt, Claims::commitment_of(claim.id, self.address(), salt))
    }

    /// Locks the challenge bond behind this watcher's commitment to `claim`, unless it holds one already; the
    /// game can be opened from the next block on.
    pub async fn commit(&self, claim: &ClaimSeen) -> Result<Option<Sent>> {
        let (_, h) = self.commitment(claim);
        if self.claims.holds_commitment(h).await? {
            return Ok(None);
        }
        // a bond committed to a claim that can no longer be challenged would be lost: refuse first
        self.claims.contract().challengeable(claim.id).call().await.map_err(crate::chain::call_err("challenge"))?;
        let sent = self.claims.commit_challenge(h).await?;
        tracing::info!(claim = %claim.id, gas = sent.gas_used, "challenge committed");
        Ok(Some(sent))
    }

    /// Challenges element `at` of `claim`, whose verified trace is `trace`, in the one-level game (committing
    /// the challenge bond first if this watcher holds no commitment to the claim).
    pub async fn challenge(
        &self,
        claim: &ClaimSeen,
        trace: &Trace,
        at: ElementRef,
    ) -> Result<(DisputeGame::GameResolved, Sent)> {
        let m = &self.model;
        let tc = trace.commit();
        let c = element_challenge(&m.model, &m.commitment, trace, &tc, at)?;
        self.commit(claim).await?;
        let (salt, _) = self.commitment(claim);
        let sent = send("challenge", self.game.challenge(claim.id, c, salt)).await?;
        let resolved = sent
            .receipt
            .decoded_log::<DisputeGame::GameResolved>()
            .map(|l| l.data)
            .ok_or_else(|| Error::Chain("challenge: no GameResolved event".into()))?;
        tracing::info!(claim = %claim.id, ?at, outcome = resolved.outcome, gas = sent.gas_used, "game resolved");
        Ok((resolved, sent))
    }

    /// The claim manager as this watcher.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    // ------------------------------------------------------------------ partition game (challenger side)

    fn created(sent: &Sent, what: &str) -> Result<B256> {
        sent.receipt
            .decoded_log::<DisputeGame::GameCreated>()
            .map(|l| l.gameId)
            .ok_or_else(|| Error::Chain(format!("{what}: no GameCreated event")))
    }

    /// Starts a partition game against `claim` by pointing at the segment that holds element `at` (its two
    /// boundaries opened against the coarse root), with the bond of this watcher's commitment; returns the game
    /// id.
    pub async fn point_segment(&self, claim: &ClaimSeen, trace: &Trace, at: ElementRef) -> Result<(B256, Sent)> {
        let m = &self.model.model;
        let p = segment_pointer(m, trace, segment_of(m, at.op)?)?;
        let (salt, _) = self.commitment(claim);
        let sent = send("pointSegment", self.game.pointSegment(claim.id, p, salt)).await?;
        Ok((Self::created(&sent, "pointSegment")?, sent))
    }

    /// Starts an output vote against `claim` on element `at` of its output (row and column; the op is the
    /// graph's last), with the bond of this watcher's commitment.
    pub async fn escalate_output(&self, claim: &ClaimSeen, at: ElementRef) -> Result<(B256, Sent)> {
        let (salt, _) = self.commitment(claim);
        let call = self.game.escalateOutput(claim.id, at.row as u32, at.col as u32, salt);
        let sent = send("escalateOutput", call).await?;
        tracing::info!(claim = %claim.id, ?at, gas = sent.gas_used, "output vote opened");
        Ok((Self::created(&sent, "escalateOutput")?, sent))
    }

    /// Starts a partition game against `claim` by k-ary bisection over its boundaries, with the bond of this
    /// watcher's commitment.
    pub async fn bisect(&self, claim: &ClaimSeen) -> Result<(B256, Sent)> {
        let (salt, _) = self.commitment(claim);
        let sent = send("bisect", self.game.bisect(claim.id, salt)).await?;
        Ok((Self::created(&sent, "bisect")?, sent))
    }

    /// Bisection: picks, among the prover's last reveal, the child range that holds the segment of `at`.
    pub async fn pick(&self, game: B256, at: ElementRef) -> Result<Sent> {
        let g = self.game.partitionGame(game).call().await.map_err(|e| Error::Chain(format!("partitionGame: {e}")))?;
        let k: u64 = self.game.arity().call().await.map_err(|e| Error::Chain(format!("arity: {e}")))?.to();
        let revealed = self
            .game
            .BoundariesRevealed_filter()
            .topic1(game)
            .from_block(0)
            .query()
            .await
            .map_err(|e| Error::Chain(format!("BoundariesRevealed logs: {e}")))?;
        let roots = revealed
            .last()
            .map(|(e, _)| e.roots.clone())
            .ok_or_else(|| Error::Chain(format!("game {game}: nothing revealed")))?;
        let w = Position(g.position).child_width(k, u64::from(g.segments));
        let s = segment_of(&self.model.model, at.op)? as u64;
        let child = (s - u64::from(g.lo)) / w;
        Ok(send("pick", self.game.pick(game, alloy::primitives::U256::from(child), roots)).await?)
    }

    /// Opens element `at` against the fine root the prover posted: the game ends with the op's verdict.
    pub async fn open_element(&self, game: B256, trace: &Trace, at: ElementRef) -> Result<(u8, Sent)> {
        let m = &self.model;
        let c = fine_challenge(&m.model, &m.commitment, trace, at)?;
        let sent = send("openElement", self.game.openElement(game, c)).await?;
        let ended = sent
            .receipt
            .decoded_log::<DisputeGame::GameEnded>()
            .ok_or_else(|| Error::Chain("openElement: no GameEnded event".into()))?;
        tracing::info!(%game, ?at, outcome = ended.outcome, gas = sent.gas_used, "partition game decided");
        Ok((ended.outcome, sent))
    }

    /// Whether the contract would hold element `at` inside, for the kinds whose on-chain region is evaluated
    /// differently from this watcher's (RMSNorm, LayerNorm, softmax, SiLU and GELU: directed-rounding bounds on-chain, f64 widened
    /// by 1e-9 here; the others are decided bit for bit alike): the element then goes to the committee instead.
    /// The verdict is read with a call of `openElement` that changes nothing.
    async fn contract_holds_inside(&self, game: B256, trace: &Trace, at: ElementRef) -> Result<bool> {
        let m = &self.model.model;
        let differs = m.graph.descriptor(at.op).is_some_and(|d| {
            matches!(
                d.kind,
                OpKind::RmsNorm
                    | OpKind::LayerNorm
                    | OpKind::MeanRows
                    | OpKind::Softmax
                    | OpKind::Silu
                    | OpKind::Gelu
                    | OpKind::Rope
            )
        });
        if !differs {
            return Ok(false);
        }
        let c = fine_challenge(m, &self.model.commitment, trace, at)?;
        let outcome =
            self.game.openElement(game, c).call().await.map_err(|e| Error::Chain(format!("openElement: {e}")))?;
        Ok(GameOutcome::from(outcome) == GameOutcome::ProverWon)
    }

    /// Makes the prover open element `at` (when this watcher lacks the data or the fine root commits leaves it
    /// cannot open); the prover's answer decides the game, or its clock runs out.
    pub async fn request_element(&self, game: B256, at: ElementRef) -> Result<Sent> {
        let m = &self.model;
        let r = element_request(&m.model, &m.commitment, at)?;
        Ok(send("requestElement", self.game.requestElement(game, r)).await?)
    }

    /// Escalates element `at` to a committee vote: with its openings when the contracts can open it (it is inside
    /// its sound bound but over its threshold, or inside the contract's own evaluation of its region), unopened
    /// when they cannot (its op has no on-chain check or reads an interior tensor of an earlier segment). The
    /// staked validators drawn recompute it and vote.
    pub async fn escalate(&self, game: B256, trace: Option<&Trace>, at: ElementRef) -> Result<Sent> {
        let m = &self.model;
        // an op whose openings exceed a block or a transaction is escalated unopened, as one without a check
        match (m.model.graph.adjudicable(at.op).filter(OpNode::openable), trace) {
            (Some(_), Some(trace)) => {
                let c = fine_challenge(&m.model, &m.commitment, trace, at)?;
                Ok(send("escalate", self.game.escalate(game, c)).await?)
            }
            (Some(_), None) => {
                Err(Error::TraceData(format!("op {}: escalating an openable element needs the trace", at.op)))
            }
            (None, _) => {
                let u = super::calldata::unopenable(&m.model, &m.commitment, at)?;
                Ok(send("escalateUnopenable", self.game.escalateUnopenable(game, u)).await?)
            }
        }
    }

    /// Ends a game whose mover let its clock run out (or that another game made moot).
    pub async fn timeout(&self, game: B256) -> Result<(u8, Sent)> {
        let sent = send("timeout", self.game.timeout(game)).await?;
        let ended = sent
            .receipt
            .decoded_log::<DisputeGame::GameEnded>()
            .ok_or_else(|| Error::Chain("timeout: no GameEnded event".into()))?;
        Ok((ended.outcome, sent))
    }
}

/// How a watcher disputes one claim: the element, how the game starts, and how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dispute {
    /// The element disputed.
    pub at: ElementRef,
    /// Start by k-ary bisection from the root (forcing the prover to reveal boundaries) rather than by
    /// pointing at the element's segment.
    pub bisect: bool,
    /// Escalate the element to the committee (no on-chain check decides it) rather than open it.
    pub escalate: bool,
    /// The prover withheld its trace: the watcher cannot open the element itself and makes the prover open
    /// the first element of the segment the bisection reaches.
    pub withheld: bool,
    /// An output vote on element `at` of the output (`DisputeGame.escalateOutput`): no partition game.
    #[serde(default)]
    pub output: bool,
}

impl Dispute {
    /// A dispute of element `at` from its segment, opened (or escalated to the committee with `escalate`).
    pub fn element(at: ElementRef, escalate: bool) -> Self {
        Self { at, bisect: false, escalate, withheld: false, output: false }
    }

    /// An output vote on output element `at`.
    pub fn output(at: ElementRef) -> Self {
        Self { output: true, ..Self::element(at, false) }
    }
}

/// What one [`Watcher::advance`] did, or what the game waits for.
#[derive(Debug, Clone)]
pub enum Advance {
    /// The watcher moved.
    Moved(Box<Sent>),
    /// The prover is to move, with this many seconds left on its clock.
    ProverToMove(u64),
    /// The committee's members are drawn from a block this many blocks on (then anyone draws them).
    DrawPending(u64),
    /// The committee is voting.
    Committee,
    /// This watcher won and is the slashed claim's reward winner so far; the reward is paid once the grace
    /// closes, in this many seconds.
    RewardPending(u64),
    /// The game is over.
    Ended(GameOutcome),
    /// No game was started, and none will be (the claim was settled, or its window closed first).
    NotStarted(String),
}

impl Watcher {
    /// The id of this watcher's game over `claim` under `d`: it follows from the claim, the watcher and the
    /// game's start, so a restarted watcher finds its game without having recorded it.
    pub async fn game_of(&self, claim: &ClaimSeen, d: &Dispute) -> Result<B256> {
        let m = &self.model.model;
        let start = if d.output {
            Position::OUTPUT
        } else if d.bisect || d.withheld {
            Position::ROOT
        } else {
            let k: u64 = self.game.arity().call().await.map_err(|e| Error::Chain(format!("arity: {e}")))?.to();
            Position::leaf(k, m.graph.segment_ranges().len() as u64, segment_of(m, d.at.op)? as u64)
        };
        Ok(partition_game_id(claim.id, self.address(), start))
    }

    /// The phase of this watcher's game over `claim` under `d` ([`Phase::None`] before it starts).
    pub async fn phase(&self, claim: &ClaimSeen, d: &Dispute) -> Result<Phase> {
        Ok(Phase::from(self.partition(claim, d).await?.1.phase))
    }

    /// This watcher's game over `claim` under `d`: its id and its state on the chain.
    pub async fn partition(&self, claim: &ClaimSeen, d: &Dispute) -> Result<(B256, DisputeGame::PartitionGame)> {
        let game = self.game_of(claim, d).await?;
        let g = self.game.partitionGame(game).call().await.map_err(|e| Error::Chain(format!("partitionGame: {e}")))?;
        Ok((game, g))
    }

    /// Makes this watcher's next move in its dispute `d` of `claim` (whose verified trace is `trace`, unless
    /// withheld), as the game's phase on the chain asks: commit the challenge, start the game, pick, open or
    /// escalate the element, end the game on the prover's clock, end a game another game made moot, resolve a
    /// vote the committee left unresolved, take a commitment back or the reward out. Every decision is read from
    /// the chain, so a restarted watcher resumes where it was.
    pub async fn advance(&self, claim: &ClaimSeen, d: &Dispute, trace: Option<&Trace>) -> Result<Advance> {
        let game = self.game_of(claim, d).await?;
        let g = self.game.partitionGame(game).call().await.map_err(|e| Error::Chain(format!("partitionGame: {e}")))?;
        let phase = Phase::from(g.phase);
        let status = self.claims.status(claim.id).await?;
        let need =
            || trace.ok_or_else(|| Error::TraceData(format!("claim {}: no trace to open the element from", claim.id)));
        let now = crate::chain::next_block_time(&self.client.provider).await?;
        if !matches!(phase, Phase::None | Phase::Ended | Phase::Vote) && status != ClaimStatus::Pending {
            let (_, _, closes) = self.claims.reward(claim.id).await?;
            if status != ClaimStatus::Slashed || now > closes {
                // another game settled the claim and nothing is left to decide: this one is moot, the bond back
                return Ok(Advance::Moved(Box::new(self.timeout(game).await?.1)));
            }
            // another game slashed the claim: this one plays on through the reward's grace (an earlier rank
            // than the winner's takes the reward over)
        }
        Ok(match phase {
            Phase::None if status != ClaimStatus::Pending => {
                let (salt, h) = self.commitment(claim);
                if status == ClaimStatus::Slashed && self.claims.holds_commitment(h).await? {
                    // committed, but another game slashed the claim first: the bond comes back
                    Advance::Moved(Box::new(self.claims.refund_commitment(claim.id, salt).await?))
                } else {
                    Advance::NotStarted(format!("not disputed: the claim is {status:?}"))
                }
            }
            Phase::None if now >= self.claims.window_closes_at(claim.id).await? => {
                Advance::NotStarted("not disputed: the challenge window closed first".into())
            }
            Phase::None => {
                // the bond is committed first, in a block before the game opens
                if let Some(sent) = self.commit(claim).await? {
                    return Ok(Advance::Moved(Box::new(sent)));
                }
                let sent = if d.output {
                    self.escalate_output(claim, d.at).await
                } else if d.bisect || d.withheld {
                    self.bisect(claim).await
                } else {
                    self.point_segment(claim, need()?, d.at).await
                };
                match sent {
                    Ok((g, s)) => {
                        tracing::info!(claim = %claim.id, game = %g, gas = s.gas_used, "game started");
                        Advance::Moved(Box::new(s))
                    }
                    Err(e) if e.revert::<ClaimManager::ChallengeWindowClosed>().is_some() => {
                        Advance::NotStarted("not disputed: the challenge window closed first".into())
                    }
                    Err(e) => return Err(e),
                }
            }
            Phase::Reveal | Phase::Fine | Phase::Open => {
                let elapsed = now.saturating_sub(g.turnStart);
                if elapsed > g.proverLeft {
                    let (outcome, sent) = self.timeout(game).await?;
                    tracing::info!(%game, outcome, "the prover's clock ran out");
                    Advance::Moved(Box::new(sent))
                } else {
                    Advance::ProverToMove(g.proverLeft - elapsed)
                }
            }
            Phase::Pick | Phase::Element if now.saturating_sub(g.turnStart) > g.challengerLeft => {
                // this watcher's own clock ran out (it was down, or too slow): the game is lost; ending it
                // settles the bond instead of retrying a move the contract refuses forever
                let (outcome, sent) = self.timeout(game).await?;
                tracing::warn!(%game, outcome, "this watcher's clock ran out: game ended");
                Advance::Moved(Box::new(sent))
            }
            Phase::Pick => Advance::Moved(Box::new(self.pick(game, d.at).await?)),
            Phase::Element if d.escalate => {
                tracing::info!(%game, at = ?d.at, "escalating to the committee");
                Advance::Moved(Box::new(self.escalate(game, trace, d.at).await?))
            }
            Phase::Element if d.withheld => {
                // the segment's first op, element 0: the prover must open it against its own fine root
                let op = self.model.model.graph.segment_ranges()[g.lo as usize].start;
                Advance::Moved(Box::new(self.request_element(game, ElementRef { op, row: 0, col: 0 }).await?))
            }
            Phase::Element => {
                let trace = need()?;
                if self.contract_holds_inside(game, trace, d.at).await? {
                    tracing::info!(%game, at = ?d.at, "inside the contract's region: escalating to the committee");
                    Advance::Moved(Box::new(self.escalate(game, Some(trace), d.at).await?))
                } else {
                    Advance::Moved(Box::new(self.open_element(game, trace, d.at).await?.1))
                }
            }
            Phase::Vote => {
                let v = self.committee.vote(game).call().await.map_err(|e| Error::Chain(format!("vote: {e}")))?;
                if v.commitEnd == 0 && !v.resolved {
                    // the members are drawn from the hash of a block sealed after the escalation
                    let (number, _) = crate::chain::head(&self.client.provider).await?;
                    if number > v.drawBlock {
                        let sent = send("draw", self.committee.draw(game)).await?;
                        tracing::info!(%game, gas = sent.gas_used, "committee drawn");
                        return Ok(Advance::Moved(Box::new(sent)));
                    }
                    crate::chain::nudge(&self.client.provider, v.drawBlock + 1 - number).await;
                    return Ok(Advance::DrawPending(v.drawBlock + 1 - number));
                }
                if !v.resolved && now > v.revealEnd {
                    // the members did not resolve it: anyone may
                    Advance::Moved(Box::new(send("resolve", self.committee.resolve(game)).await?))
                } else {
                    Advance::Committee
                }
            }
            Phase::Ended => {
                let ended = self
                    .game
                    .GameEnded_filter()
                    .topic1(game)
                    .from_block(0)
                    .query()
                    .await
                    .map_err(|e| Error::Chain(format!("GameEnded logs: {e}")))?;
                let outcome = ended.first().map_or(GameOutcome::None, |(e, _)| GameOutcome::from(e.outcome));
                let (winner, paid, closes) = self.claims.reward(claim.id).await?;
                if outcome == GameOutcome::ChallengerWon && winner == self.address() && !paid {
                    if now > closes {
                        Advance::Moved(Box::new(self.claims.pay_reward(claim.id).await?))
                    } else {
                        Advance::RewardPending(closes - now)
                    }
                } else {
                    Advance::Ended(outcome)
                }
            }
        })
    }
}

/// Which of `ops` ops a spot-check looks at: each with probability `rate`, drawn from the thread's
/// cryptographically seeded generator (every op when `rate` is `None`).
pub fn sample_ops(ops: usize, rate: Option<f64>) -> Vec<bool> {
    rate.map_or_else(|| vec![true; ops], |r| Sample::uniform(ops, r).draw())
}

/// Fetches every trace tensor of `claim` from its data URI and checks shapes and roots against the claim (the
/// watcher before it checks, a validator before it votes).
pub async fn fetch_trace(http: &reqwest::Client, model: &crate::model::Model, claim: &ClaimSeen) -> Result<Trace> {
    let graph = &model.graph;
    let mut tensors = Vec::with_capacity(graph.trace_len());
    for i in 0..graph.trace_len() {
        let want = if i == 0 { graph.input_shape.clone() } else { graph.nodes[i - 1].shape.clone() };
        let url = format!("{}/{i}", claim.data_uri);
        let resp = http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::TraceData(format!("{url}: {e}")))?;
        let shape: Vec<usize> = resp
            .headers()
            .get("x-nao-shape")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(',').filter_map(|d| d.parse().ok()).collect())
            .unwrap_or_default();
        if shape != want {
            return Err(Error::TraceData(format!("{url}: shape {shape:?}, the graph says {want:?}")));
        }
        let bytes = resp.bytes().await.map_err(|e| Error::TraceData(format!("{url}: {e}")))?;
        if bytes.len() != 4 * want.iter().product::<usize>() {
            return Err(Error::TraceData(format!("{url}: {} bytes for shape {want:?}", bytes.len())));
        }
        let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        tensors.push(HostTensor::new(want, data));
    }
    let trace = Trace { tensors };
    let root: Hash = trace.commit_coarse(graph).root();
    if root != claim.trace_root.0 {
        return Err(Error::TraceData(format!(
            "trace served for claim {} has root 0x{}, the claim commits {}",
            claim.id,
            hex::encode(root),
            claim.trace_root
        )));
    }
    Ok(trace)
}

/// The element a verdict on flat output element `element` of op `op` names: (row, col) of the output viewed
/// as `[rows, last dim]`; for an Argmax (output `[rows]`), `col` is the witness the contract compares the claimed
/// index with: the first maximum of the input row.
fn element_at(
    descriptor: Option<&OpNode>,
    shape: &[usize],
    operands: &[&HostTensor],
    op: usize,
    element: usize,
) -> ElementRef {
    if let Some(d) = descriptor.filter(|d| d.kind == OpKind::Argmax) {
        let k = d.inner as usize;
        let row = &operands[0].data[element * k..(element + 1) * k];
        let col = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
        return ElementRef { op, row: element, col };
    }
    let cols = *shape.last().unwrap_or(&1);
    ElementRef { op, row: element / cols, col: element % cols }
}

#[cfg(test)]
mod tests {
    use super::sample_ops;

    #[test]
    fn a_spot_check_draws_about_its_rate_of_ops_afresh_and_no_rate_draws_all() {
        assert!(sample_ops(500, None).iter().all(|p| *p));
        let (a, b) = (sample_ops(10_000, Some(0.1)), sample_ops(10_000, Some(0.1)));
        let count = |v: &[bool]| v.iter().filter(|p| **p).count();
        assert!((800..1200).contains(&count(&a)), "{}", count(&a));
        assert_ne!(a, b, "each claim draws its own ops");
    }

    #[test]
    fn sensitivity_first_always_checks_the_most_sensitive_ops_and_spreads_the_rest() {
        let gains: Vec<f64> = (0..100).map(|i| if i % 10 == 3 { 1e3 } else { 1.0 + i as f64 * 1e-3 }).collect();
        let s = super::Sample::sensitivity_first(0.2, &gains);
        // half of 20 ops: the ten of gain 1e3, every time; the other ten spread over the other 90 ops
        assert_eq!(s.always.iter().filter(|a| **a).count(), 10);
        assert!((0..100).filter(|i| i % 10 == 3).all(|i| s.always[i]));
        assert!((s.others - 10.0 / 90.0).abs() < 1e-12, "{}", s.others);
        let drawn: usize = (0..200).map(|_| s.draw().iter().filter(|p| **p).count()).sum();
        assert!((3600..4400).contains(&drawn), "about 20 ops per claim: {drawn} in 200");
    }
}
