//! `nao watch`: follows every claim of one model, fetches and checks its trace, disputes a bad claim and plays
//! the partition game to the end, then withdraws what it won.
//!
//! What it decided about each claim (clean, or the element it disputes) is written to its store before it
//! moves; the game's id follows from the claim, the watcher and the game's start, so after a restart it finds
//! its game on the chain and makes the next move the phase asks for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use alloy::primitives::B256;
use alloy::sol_types::SolEvent;
use nao_bindings::ClaimManager;
use serde::{Deserialize, Serialize};

use super::{FollowMode, Follower, Node, Store};
use crate::chain::{ClaimStatus, Claims, Deployment, ElementRef};
use crate::roles::{Advance, ClaimSeen, Dispute, Finding, Watcher};
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
    /// The trace could not be fetched, first at `since` (Unix seconds): fetched again every tick, and its input
    /// and output asked for on-chain ([`Plan::Requested`]) once a quarter of the challenge window has passed,
    /// so a passing network fault does not become a request.
    Unavailable {
        /// When the first fetch failed.
        since: u64,
    },
    /// The trace stayed unavailable: the claim's input and output were asked for with data requests (a small
    /// bond each, never a fraud bond). Not published in time, a request's expiry slashes the claim and this
    /// watcher takes the reward ([`Plan::Reward`]); published, the output is judged against this watcher's own
    /// run of the input ([`crate::roles::Watcher::judge_output`]): clean, or disputed with forced reveals.
    Requested {
        /// The requests, each naming its leaf and chunks.
        asks: Vec<DataAsk>,
        /// The block they were sent in or after (where their chunks' logs are looked for).
        from_block: u64,
    },
    /// This watcher's data request slashed the claim: the reward is paid out once its grace closes.
    Reward,
    /// Dispute an element (see [`Dispute`]).
    Dispute(Dispute),
    /// The game ended (or never could start): its outcome, in words.
    Done(String),
}

/// One data request for chunks `[first, first + count)` of coarse leaf `leaf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataAsk {
    /// The request's id (it follows from the claim, the watcher and the chunks, so it is known before it is
    /// sent).
    pub id: B256,
    /// Coarse leaf: 0 the input, the last the output.
    pub leaf: u32,
    /// First chunk.
    pub first: u32,
    /// Chunks.
    pub count: u32,
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
        Self { watcher, store, follower: Follower::new(follow, filter), traces: HashMap::new(), fault }
    }

    /// Checks a claim and decides what to do; `since`: when its trace first failed to arrive, if it did.
    async fn decide(&mut self, claim: &ClaimSeen, since: Option<u64>) -> Result<Followed> {
        let trace = match self.trace(claim).await {
            Ok(t) => t,
            Err(e) => {
                let now = crate::chain::wall_clock();
                let since = since.unwrap_or(now);
                let grace = self.watcher.claims().challenge_window().await? / 4;
                let plan = if now.saturating_sub(since) >= grace {
                    tracing::warn!(claim = %claim.id, error = %e, "trace withheld: asking for its input and output on-chain");
                    self.ask_data(claim).await?
                } else {
                    tracing::warn!(claim = %claim.id, error = %e, retry_for_s = grace - (now - since), "trace unavailable");
                    Plan::Unavailable { since }
                };
                return Ok(Followed { claim: claim.clone(), plan, finding: format!("trace unavailable: {e}") });
            }
        };
        // a false challenge needs the element nearest its bound, which replayed ops do not offer
        let finding = tokio::task::block_in_place(|| match self.fault {
            Some(WatcherFault::FalseChallenge) => self.watcher.check_every_element(&trace),
            None => self.watcher.check(&trace),
        });
        let dispute =
            |at: &ElementRef, escalate| Plan::Dispute(Dispute { at: *at, bisect: false, escalate, withheld: false });
        let plan = match (&finding, self.fault) {
            (Finding::Violation(at), _) => dispute(at, false),
            (Finding::OffChain(at) | Finding::OverThreshold(at), _) => dispute(at, true),
            (Finding::Clean { closest: Some(at) }, Some(WatcherFault::FalseChallenge)) => dispute(at, false),
            (Finding::Clean { .. }, _) => Plan::Clean,
        };
        tracing::info!(claim = %claim.id, ?finding, ?plan, "claim checked");
        Ok(Followed { claim: claim.clone(), plan, finding: format!("{finding:?}") })
    }

    /// Asks for the input and output of `claim` with data requests (each at most `MAX_DATA_CHUNKS` chunks),
    /// those not already open (a restarted watcher finds its own requests by their ids).
    async fn ask_data(&self, claim: &ClaimSeen) -> Result<Plan> {
        let cm = self.watcher.claims();
        let graph = &self.watcher.model().model.graph;
        let last = graph.segment_ranges().len() as u32;
        let (from_block, _) = crate::chain::head(self.watcher.provider()).await?;
        let max: u32 = cm.contract().MAX_DATA_CHUNKS().call().await.map_err(|e| Error::Chain(format!("{e}")))?;
        let mut asks = Vec::new();
        for (leaf, shape) in [(0, &graph.input_shape), (last, &graph.nodes[graph.nodes.len() - 1].shape)] {
            let chunks = shape.iter().product::<usize>().div_ceil(crate::commit::CHUNK_ELEMS).max(1) as u32;
            for first in (0..chunks).step_by(max as usize) {
                let count = max.min(chunks - first);
                let id = Claims::data_request_id(claim.id, cm.account(), claim.trace_root, leaf, first, count);
                if cm.data_deadline(id).await?.is_none() {
                    match cm.request_data(claim.id, B256::ZERO, leaf, first, count).await {
                        Ok(_) => {}
                        // published already (a restart after the answer): nothing to ask
                        Err(e) if e.to_string().contains("AlreadyPublished") => {}
                        Err(e)
                            if ["ChallengeWindowClosed", "ClaimNotPending"]
                                .iter()
                                .any(|w| e.to_string().contains(w)) =>
                        {
                            return Ok(Plan::Done(format!(
                                "trace withheld, and the claim can no longer be asked: {e}"
                            )));
                        }
                        Err(e) => return Err(e),
                    }
                }
                asks.push(DataAsk { id, leaf, first, count });
            }
        }
        tracing::info!(claim = %claim.id, requests = asks.len(), "data requested");
        Ok(Plan::Requested { asks, from_block })
    }

    /// What became of `claim`'s data requests `asks`: expires those past their deadline (slashing the claim,
    /// or after another's slash, taking the bond back), and once every one was answered, judges the published
    /// output.
    async fn follow_requests(&self, claim: &ClaimSeen, asks: &[DataAsk], from_block: u64) -> Result<Option<Plan>> {
        let cm = self.watcher.claims();
        let now = crate::chain::next_block_time(self.watcher.provider()).await?;
        let mut waiting = false;
        for a in asks {
            match cm.data_deadline(a.id).await? {
                Some(deadline) if now > deadline => {
                    let sent = cm.expire_data(a.id).await?;
                    tracing::warn!(claim = %claim.id, request = %a.id, gas = sent.gas_used, "data withheld: request expired");
                }
                Some(_) => waiting = true,
                None => {}
            }
        }
        match cm.status(claim.id).await? {
            ClaimStatus::Slashed if waiting => return Ok(None),
            ClaimStatus::Slashed => {
                let (winner, paid, _) = cm.reward(claim.id).await?;
                let mine = winner == cm.account() && !paid;
                return Ok(Some(if mine { Plan::Reward } else { Plan::Done("slashed by another".into()) }));
            }
            ClaimStatus::Pending if waiting => return Ok(None),
            ClaimStatus::Pending => {}
            status => return Ok(Some(Plan::Done(format!("the claim is {status:?}")))),
        }
        let graph = &self.watcher.model().model.graph;
        let ids = |leaf: u32| asks.iter().filter(|a| a.leaf == leaf).map(|a| a.id).collect::<Vec<_>>();
        let input = cm.published_tensor(&ids(0), &graph.input_shape, from_block).await?;
        let last = asks.iter().map(|a| a.leaf).max().unwrap_or_default();
        let output = cm.published_tensor(&ids(last), &graph.nodes[graph.nodes.len() - 1].shape, from_block).await?;
        Ok(Some(match tokio::task::block_in_place(|| self.watcher.judge_output(&input, &output))? {
            None => {
                tracing::info!(claim = %claim.id, "published output is an honest run's: clean");
                Plan::Clean
            }
            Some(why) => {
                tracing::warn!(claim = %claim.id, %why, "published output is wrong: forcing reveals through the game");
                let at = ElementRef { op: 0, row: 0, col: 0 };
                Plan::Dispute(Dispute { at, bisect: true, escalate: false, withheld: true })
            }
        }))
    }

    /// Pays out the reward this watcher's data request won, once its grace closed.
    async fn take_reward(&self, claim: &ClaimSeen) -> Result<Option<Plan>> {
        let cm = self.watcher.claims();
        let (winner, paid, closes) = cm.reward(claim.id).await?;
        if winner != cm.account() || paid {
            return Ok(Some(Plan::Done(format!("slashed; reward {}", if paid { "paid" } else { "taken over" }))));
        }
        if crate::chain::next_block_time(self.watcher.provider()).await? <= closes {
            return Ok(None);
        }
        let sent = cm.pay_reward(claim.id).await?;
        tracing::info!(claim = %claim.id, gas = sent.gas_used, "reward paid");
        Ok(Some(Plan::Done("slashed for withheld data; reward paid".into())))
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

    /// One move in the game about `f` ([`Watcher::advance`]); the outcome once it ended.
    async fn step(&mut self, f: &Followed) -> Result<Option<String>> {
        let Plan::Dispute(d) = &f.plan else { return Ok(None) };
        let trace = if d.withheld { None } else { Some(self.trace(&f.claim).await?) };
        Ok(match self.watcher.advance(&f.claim, d, trace.as_deref()).await? {
            Advance::Ended(outcome) => Some(format!("{outcome:?}")),
            Advance::NotStarted(why) => Some(why),
            Advance::Moved(_)
            | Advance::ProverToMove(_)
            | Advance::DrawPending(_)
            | Advance::Committee
            | Advance::RewardPending(_) => None,
        })
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
            let claim = ClaimSeen::from(e);
            let f = self.decide(&claim, None).await?;
            // what it decided is on disk before it moves
            self.store.update(|s| s.claims.insert(claim.id, f))?;
        }
        let unavailable: Vec<(ClaimSeen, u64)> = self
            .store
            .state()
            .claims
            .values()
            .filter_map(|f| match f.plan {
                Plan::Unavailable { since } => Some((f.claim.clone(), since)),
                _ => None,
            })
            .collect();
        for (claim, since) in unavailable {
            let f = self.decide(&claim, Some(since)).await?;
            self.store.update(|s| s.claims.insert(claim.id, f))?;
        }
        let requested: Vec<Followed> = self
            .store
            .state()
            .claims
            .values()
            .filter(|f| matches!(f.plan, Plan::Requested { .. } | Plan::Reward))
            .cloned()
            .collect();
        for f in requested {
            let next = match &f.plan {
                Plan::Requested { asks, from_block } => self.follow_requests(&f.claim, asks, *from_block).await?,
                _ => self.take_reward(&f.claim).await?,
            };
            if let Some(plan) = next {
                self.store.update(|s| {
                    if let Some(e) = s.claims.get_mut(&f.claim.id) {
                        e.plan = plan
                    }
                })?;
            }
        }
        if cursor != self.store.state().cursor {
            self.store.update(|s| s.cursor = cursor)?;
        }
        let active: Vec<Followed> =
            self.store.state().claims.values().filter(|f| matches!(f.plan, Plan::Dispute(_))).cloned().collect();
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
        self.watcher.claims().withdraw_credit().await?;
        Ok(())
    }
}
