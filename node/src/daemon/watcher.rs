//! `nao watch`: follows every claim of one model, fetches and checks its trace, disputes a bad claim and plays
//! the partition game to the end, then withdraws what it won.
//!
//! What it decided about each claim (clean, or the element it disputes) is written to its store before it
//! moves; the game's id follows from the claim, the watcher and the game's start, so after a restart it finds
//! its game on the chain and makes the next move the phase asks for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolEvent;
use nao_bindings::{ClaimManager, Committee};
use serde::{Deserialize, Serialize};

use super::{head, FollowMode, Follower, Node, Store};
use crate::chain::{partition_game_id, segment_of, ClaimStatus, Deployment, ElementRef, GameOutcome, Phase, Position};
use crate::roles::{ClaimSeen, Finding, Watcher};
use crate::trace::Trace;
use crate::{Error, Result};

/// A fault a watcher can be told to commit (tests and demonstrations only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WatcherFault {
    /// Disputes every clean claim at its element nearest the bound: loses its bond to an honest prover.
    FalseChallenge,
}

/// What the watcher does about one claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Checked clean: nothing to do.
    Clean,
    /// Dispute element `at`: point at its segment (or, when the prover withholds its trace, bisect from the
    /// root to force reveals), then open it, or escalate it to the committee.
    Dispute {
        /// The element.
        at: ElementRef,
        /// Escalate at the element level (no on-chain check decides it) instead of opening it.
        escalate: bool,
        /// The trace was withheld: bisect and make the prover open the element.
        withheld: bool,
    },
    /// The game ended (or never could start): its outcome, in words.
    Done(String),
}

/// A claim the watcher follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Followed {
    /// The claim, from its log.
    pub claim: ClaimSeen,
    /// What to do about it.
    pub plan: Plan,
    /// What the check found, in words.
    pub finding: String,
}

/// The watcher's store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WatcherState {
    /// The next block whose ClaimPosted logs are unread.
    pub cursor: u64,
    /// Claims of the model, by id.
    pub claims: BTreeMap<B256, Followed>,
}

/// The watcher daemon.
pub struct WatcherNode {
    watcher: Watcher,
    store: Store<WatcherState>,
    follower: Follower,
    committee: Committee::CommitteeInstance<alloy::providers::DynProvider>,
    traces: HashMap<B256, Arc<Trace>>,
    fault: Option<WatcherFault>,
}

impl WatcherNode {
    /// A watcher daemon over `watcher` with its `store`, learning of claims by `follow`.
    pub fn new(
        watcher: Watcher,
        d: &Deployment,
        store: Store<WatcherState>,
        follow: FollowMode,
        fault: Option<WatcherFault>,
    ) -> Self {
        let filter = alloy::rpc::types::Filter::new()
            .address(d.claims)
            .event_signature(ClaimManager::ClaimPosted::SIGNATURE_HASH)
            .topic2(watcher.model().id);
        let committee = Committee::new(d.committee, watcher.provider().clone());
        Self { watcher, store, follower: Follower::new(follow, filter), committee, traces: HashMap::new(), fault }
    }

    /// The store's state (what it decided about each claim).
    pub fn state(&self) -> &WatcherState {
        self.store.state()
    }

    /// Checks a newly seen claim and decides what to do.
    async fn decide(&mut self, claim: &ClaimSeen) -> Followed {
        let trace = match self.watcher.fetch_trace(claim).await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                tracing::warn!(claim = %claim.id, error = %e, "trace unavailable: forcing reveals through the game");
                let at = ElementRef { op: 0, row: 0, col: 0 };
                let plan = Plan::Dispute { at, escalate: false, withheld: true };
                return Followed { claim: claim.clone(), plan, finding: format!("trace unavailable: {e}") };
            }
        };
        let finding = tokio::task::block_in_place(|| self.watcher.check(&trace));
        self.traces.insert(claim.id, trace);
        let plan = match (&finding, self.fault) {
            (Finding::Violation(at), _) => Plan::Dispute { at: *at, escalate: false, withheld: false },
            (Finding::OffChain(at) | Finding::OverThreshold(at), _) => {
                Plan::Dispute { at: *at, escalate: true, withheld: false }
            }
            (Finding::Clean { closest: Some(at) }, Some(WatcherFault::FalseChallenge)) => {
                Plan::Dispute { at: *at, escalate: false, withheld: false }
            }
            (Finding::Clean { .. }, _) => Plan::Clean,
        };
        tracing::info!(claim = %claim.id, ?finding, ?plan, "claim checked");
        Followed { claim: claim.clone(), plan, finding: format!("{finding:?}") }
    }

    /// The trace of `claim`, fetched again after a restart.
    async fn trace(&mut self, claim: &ClaimSeen) -> Result<Arc<Trace>> {
        if let Some(t) = self.traces.get(&claim.id) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.watcher.fetch_trace(claim).await?);
        self.traces.insert(claim.id, t.clone());
        Ok(t)
    }

    /// One move in the game about `f`, as its phase asks; the outcome once it ended.
    async fn step(&mut self, f: &Followed) -> Result<Option<String>> {
        let Plan::Dispute { at, escalate, withheld } = f.plan.clone() else { return Ok(None) };
        let (w, claim) = (&self.watcher, &f.claim);
        let k: u64 = w.game().arity().call().await.map_err(|e| Error::Chain(format!("arity: {e}")))?.to();
        let segments = w.model().model.graph.segment_ranges().len() as u64;
        let start = if withheld {
            Position::ROOT
        } else {
            Position::leaf(k, segments, segment_of(&w.model().model, at.op)? as u64)
        };
        let game = partition_game_id(claim.id, w.address(), start);
        let g = w.game().partitionGame(game).call().await.map_err(|e| Error::Chain(format!("partitionGame: {e}")))?;
        let phase = Phase::from(g.phase);
        let status = w.claims().status(claim.id).await?;
        if !matches!(phase, Phase::None | Phase::Ended | Phase::Vote) && status != ClaimStatus::Pending {
            // another game settled the claim: this one is moot, and the bond comes back
            let (outcome, _) = w.timeout(game).await?;
            return Ok(Some(format!("{:?} (the claim was settled by another game)", GameOutcome::from(outcome))));
        }
        match phase {
            Phase::None if status != ClaimStatus::Pending => {
                return Ok(Some(format!("not disputed: the claim is {status:?}")));
            }
            Phase::None => {
                let sent = if withheld {
                    w.bisect(claim).await
                } else {
                    let trace = self.trace(claim).await?;
                    self.watcher.point_segment(claim, &trace, at).await
                };
                match sent {
                    Ok((g, s)) => tracing::info!(claim = %claim.id, game = %g, gas = s.gas_used, "game started"),
                    Err(e) if e.to_string().contains("ChallengeWindowClosed") => {
                        return Ok(Some("not disputed: the challenge window closed first".into()))
                    }
                    Err(e) => return Err(e),
                }
            }
            Phase::Reveal | Phase::Fine | Phase::Open => {
                // the prover's clock by the time the next block is mined (the chain's view is as old as its last
                // block)
                let (_, chain_now) = head(w.provider()).await?;
                let now = chain_now.max(super::wall_clock());
                if now.saturating_sub(g.turnStart) > g.proverLeft {
                    let (outcome, _) = w.timeout(game).await?;
                    tracing::info!(%game, outcome, "the prover's clock ran out");
                }
            }
            Phase::Pick => {
                w.pick(game, at).await?;
            }
            Phase::Element if escalate => {
                w.escalate(game, at).await?;
                tracing::info!(%game, ?at, "escalated to the committee");
            }
            Phase::Element if withheld => {
                // the segment's first op, element 0: the prover must open it against its own fine root
                let seg = g.lo as usize;
                let op = w.model().model.graph.segment_ranges()[seg].start;
                w.request_element(game, ElementRef { op, row: 0, col: 0 }).await?;
            }
            Phase::Element => {
                let trace = self.trace(claim).await?;
                self.watcher.open_element(game, &trace, at).await?;
            }
            Phase::Vote => {
                let v = self.committee.vote(game).call().await.map_err(|e| Error::Chain(format!("vote: {e}")))?;
                let (_, chain_now) = head(w.provider()).await?;
                if !v.resolved && chain_now.max(super::wall_clock()) > v.revealEnd {
                    // the members did not resolve it: anyone may
                    crate::chain::send("resolve", self.committee.resolve(game)).await?;
                }
            }
            Phase::Ended => {
                let ended = w
                    .game()
                    .GameEnded_filter()
                    .topic1(game)
                    .from_block(0)
                    .query()
                    .await
                    .map_err(|e| Error::Chain(format!("GameEnded logs: {e}")))?;
                let outcome = ended.first().map(|(e, _)| GameOutcome::from(e.outcome));
                return Ok(Some(format!("{outcome:?}")));
            }
        }
        Ok(None)
    }

    /// This watcher's address.
    pub fn address(&self) -> Address {
        self.watcher.address()
    }
}

impl Node for WatcherNode {
    fn role(&self) -> &'static str {
        "watcher"
    }

    async fn tick(&mut self) -> Result<()> {
        let mut cursor = self.store.state().cursor;
        let provider = self.watcher.provider().clone();
        let seen = self.follower.next::<ClaimManager::ClaimPosted>(&provider, &mut cursor).await?;
        for (e, _) in seen {
            if self.store.state().claims.contains_key(&e.claimId) {
                continue;
            }
            let claim = ClaimSeen { id: e.claimId, model: e.modelId, trace_root: e.traceRoot, data_uri: e.dataUri };
            let f = self.decide(&claim).await;
            // what it decided is on disk before it moves
            self.store.update(|s| s.claims.insert(claim.id, f))?;
        }
        self.store.update(|s| s.cursor = cursor)?;
        let active: Vec<Followed> =
            self.store.state().claims.values().filter(|f| matches!(f.plan, Plan::Dispute { .. })).cloned().collect();
        for f in active {
            if let Some(outcome) = self.step(&f).await? {
                tracing::info!(claim = %f.claim.id, %outcome, "dispute over");
                self.traces.remove(&f.claim.id);
                self.store.update(|s| {
                    if let Some(e) = s.claims.get_mut(&f.claim.id) {
                        e.plan = Plan::Done(outcome)
                    }
                })?;
            }
        }
        let cm = self.watcher.claims();
        if !cm.credit().await?.is_zero() {
            let sent = cm.withdraw().await?;
            tracing::info!(gas = sent.gas_used, "credit withdrawn");
        }
        Ok(())
    }
}
