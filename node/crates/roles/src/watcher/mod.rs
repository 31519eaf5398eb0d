//! The watcher: follows claims, fetches and verifies their traces, checks every op element against its
//! acceptance region (sound bound, then the model's calibrated threshold) and the output against the model's
//! declared output tolerance, and challenges the first element outside its sound region (or asks the
//! committee about a thresholded element or an output off its tolerance).

mod check;
mod fetch;
mod game;
mod sample;

pub use fetch::fetch_trace;
pub use game::{Advance, Dispute};
pub use sample::{sample_ops, Sample};

use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use nao_bindings::{Committee, DisputeGame};

use super::calldata::{element_challenge, inference_opening};
use super::RegisteredModel;
use crate::chain::{call_err, send, Claims, Client, Deployment, Sent};
use crate::graph::template::Lengths;
use crate::region::profile::Profile;
use crate::runtime;
use crate::trace::{ElementRef, Trace};
use crate::{Error, Result};

/// One inference of a claim seen in the claim manager's logs: what a watcher checks and disputes (a claim is a
/// batch of them; a fraud in any one slashes the claim).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaimSeen {
    /// Claim id.
    pub id: B256,
    /// Model id.
    pub model: B256,
    /// The inference's index in the claim's batch.
    pub index: u32,
    /// The inference's coarse trace root.
    pub trace_root: B256,
    /// The inference's lengths (which fix its concrete graph).
    pub lengths: Lengths,
    /// Every inference's trace root and lengths, in batch order (their list root is the claim's batch root).
    pub batch: Vec<(B256, Lengths)>,
    /// Where the prover serves this inference's trace (`<data URI>/<trace root>`, then `/<i>` per tensor).
    pub data_uri: String,
}

impl ClaimSeen {
    /// Every inference of a posted claim, in batch order.
    pub fn inferences(e: nao_bindings::ClaimManager::ClaimPosted) -> Vec<Self> {
        // the contract logs only whole 40-byte entries (it refuses others), so a ragged log is no claim of it
        let packed = nao_chain::unpack(&e.inferences).unwrap_or_else(|err| {
            tracing::warn!(claim = %e.claimId, %err, "ClaimPosted log skipped");
            Vec::new()
        });
        let batch: Vec<(B256, Lengths)> =
            packed.iter().map(|i| (i.traceRoot, Lengths::new(i.prompt, i.steps))).collect();
        batch
            .iter()
            .enumerate()
            .map(|(i, (root, lengths))| Self {
                id: e.claimId,
                model: e.modelId,
                index: i as u32,
                trace_root: *root,
                lengths: *lengths,
                batch: batch.clone(),
                data_uri: format!("{}/{root}", e.dataUri),
            })
            .collect()
    }

    /// The inference with its proof against the claim's batch root, as every game names it.
    pub fn opening(&self) -> Result<DisputeGame::InferenceOpening> {
        inference_opening(&self.batch, self.index as usize)
    }

    /// [`ClaimSeen::opening`] as a coarse data request names it.
    pub fn request_opening(&self) -> Result<nao_bindings::ClaimManager::InferenceOpening> {
        let o = self.opening()?;
        Ok(nao_bindings::ClaimManager::InferenceOpening {
            index: o.index,
            traceRoot: o.traceRoot,
            prompt: o.prompt,
            steps: o.steps,
            proof: o.proof,
        })
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
#[derive(Clone)]
pub struct Watcher {
    client: Client,
    claims: Claims,
    game: DisputeGame::DisputeGameInstance<DynProvider>,
    committee: Committee::CommitteeInstance<DynProvider>,
    model: Arc<RegisteredModel>,
    http: reqwest::Client,
    checking: Checking,
    sample: Option<Sample>,
    /// The model prepared for replays (weights on the device), made at the first check that replays; shared by
    /// this watcher's views at every length (it holds weights, not a graph).
    runtime: Arc<std::sync::OnceLock<Option<runtime::Runtime>>>,
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
            runtime: Arc::default(),
        }
    }

    /// This watcher for claims at lengths `l`: its model's graph at `l` (a spot-check sample, drawn for the
    /// registered graph, checks every op at other lengths). Refused for lengths the model does not serve.
    pub fn at(&self, l: Lengths) -> Result<Watcher> {
        if l == self.model.model.lengths {
            return Ok(self.clone());
        }
        Ok(Watcher { model: self.model.at(l)?, sample: None, ..self.clone() })
    }

    /// This watcher for the claim whose trace is `trace` (its lengths read from the trace's shape).
    fn for_trace(&self, trace: &Trace) -> Result<Watcher> {
        let t = self.model.model.template();
        let input = trace.tensors.first().map_or(0, |x| x.data.len());
        self.at(t.lengths_of(input, trace.tensors.len().saturating_sub(1))?)
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

    /// The inferences of the claims of the followed model posted since `from_block`, from the ClaimPosted logs.
    pub async fn claims_since(&self, from_block: u64) -> Result<Vec<ClaimSeen>> {
        let logs = self
            .claims
            .contract()
            .ClaimPosted_filter()
            .topic2(self.model.id)
            .from_block(from_block)
            .query()
            .await
            .map_err(call_err("ClaimPosted logs"))?;
        Ok(logs.into_iter().flat_map(|(e, _)| ClaimSeen::inferences(e)).collect())
    }

    /// Fetches every trace tensor from the prover and checks shapes and roots against the claim (its graph at
    /// the claim's lengths).
    pub async fn fetch_trace(&self, claim: &ClaimSeen) -> Result<Trace> {
        fetch_trace(&self.http, &self.model.at(claim.lengths)?.model, claim).await
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
        let m = self.model.at(claim.lengths)?;
        let tc = trace.commit();
        let c = element_challenge(&m.model, &m.commitment, trace, &tc, at)?;
        self.commit(claim).await?;
        let (salt, _) = self.commitment(claim);
        let sent = send("challenge", self.game.challenge(claim.id, claim.opening()?, c, salt)).await?;
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
}
