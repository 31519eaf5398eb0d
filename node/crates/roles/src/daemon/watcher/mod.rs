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

mod withheld;

pub use withheld::{DataAsk, Withheld};

use super::{FollowMode, Follower, Node, Store};
use crate::chain::{ClaimStatus, Deployment};
use crate::trace::ElementRef;
use crate::trace::Trace;
use crate::Result;
use crate::{Advance, ClaimSeen, Dispute, Finding, Watcher};

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
    /// The trace stayed unavailable: coarse leaves of the claim were asked for with data requests (a small
    /// bond each, never a fraud bond); see [`withheld`]. Not published in time, a request's expiry slashes the
    /// claim and this watcher takes the reward ([`Plan::Reward`]); published, the input and output are judged
    /// ([`crate::Watcher::judge_output`]), and a wrong output has every boundary asked for next.
    Requested {
        /// The requests.
        asks: Vec<DataAsk>,
        /// The block they were sent in or after (where their chunks' logs are looked for).
        from_block: u64,
    },
    /// A withheld trace whose published output is wrong, disputed from published data: see [`Withheld`].
    Withheld(Box<Withheld>),
    /// This watcher's data request slashed the claim: the reward is paid out once its grace closes.
    Reward,
    /// Dispute an element (see [`Dispute`]).
    Dispute(Dispute),
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
    /// Claims of the model, by id: each with the inference it follows (the first of its batch that is not
    /// clean, or its last when all are).
    pub claims: BTreeMap<B256, Followed>,
}

/// The watcher daemon.
pub struct WatcherNode {
    watcher: Watcher,
    store: Store<WatcherState>,
    follower: Follower,
    /// Fetched traces, by trace root.
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
        // settled, or past its window, before this watcher got to it (a late start): nothing to fetch or check
        let cm = self.watcher.claims();
        let status = cm.status(claim.id).await?;
        let closed =
            crate::chain::next_block_time(self.watcher.provider()).await? >= cm.window_closes_at(claim.id).await?;
        if status != ClaimStatus::Pending || closed {
            let why = if status == ClaimStatus::Pending {
                "its challenge window closed".into()
            } else {
                format!("{status:?}")
            };
            tracing::debug!(claim = %claim.id, %why, "not checked");
            let plan = Plan::Done(format!("not checked: {why} first"));
            return Ok(Followed { claim: claim.clone(), plan, finding: "not checked".into() });
        }
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
        let dispute = |at: &ElementRef, escalate| Plan::Dispute(Dispute::element(*at, escalate));
        let plan = match (&finding, self.fault) {
            (Finding::Violation(at), _) => dispute(at, false),
            (Finding::OffChain(at) | Finding::OverThreshold(at), _) => dispute(at, true),
            (Finding::OutputOff(at), _) => Plan::Dispute(Dispute::output(*at)),
            (Finding::Clean { closest: Some(at) }, Some(WatcherFault::FalseChallenge)) => dispute(at, false),
            (Finding::Clean { .. }, _) => Plan::Clean,
        };
        tracing::info!(claim = %claim.id, ?finding, ?plan, "claim checked");
        Ok(Followed { claim: claim.clone(), plan, finding: format!("{finding:?}") })
    }

    /// The trace of `claim`'s inference, fetched again after a restart.
    async fn trace(&mut self, claim: &ClaimSeen) -> Result<Arc<Trace>> {
        if let Some(t) = self.traces.get(&claim.trace_root) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.watcher.fetch_trace(claim).await?);
        self.traces.insert(claim.trace_root, t.clone());
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
            // every inference of the batch is checked; the first that is not clean is the one disputed (a fraud in
            // any one slashes the claim)
            let mut followed = None;
            for claim in ClaimSeen::inferences(e) {
                let f = self.decide(&claim, None).await?;
                let clean = f.plan == Plan::Clean;
                followed = Some(f);
                if !clean {
                    break;
                }
            }
            if let Some(f) = followed {
                // what it decided is on disk before it moves
                self.store.update(|s| s.claims.insert(f.claim.id, f))?;
            }
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
            .filter(|f| matches!(f.plan, Plan::Requested { .. } | Plan::Withheld(_) | Plan::Reward))
            .cloned()
            .collect();
        for f in requested {
            let next = match &f.plan {
                Plan::Requested { asks, from_block } => self.follow_requests(&f.claim, asks, *from_block).await?,
                Plan::Withheld(w) => self.step_withheld(&f.claim, w).await?,
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
                self.traces.remove(&f.claim.trace_root);
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
