//! What the watcher daemon does about a claim whose trace stays unavailable: it asks for the data on-chain
//! with data requests (a small bond each, never a fraud bond), and judges the claim by what is published.
//!
//! 1. The input and output (coarse leaves 0 and last). Unpublished by the deadline: the request's expiry
//!    slashes the claim and the watcher takes the reward. Published: the output is judged against the
//!    watcher's own run of the input ([`Watcher::judge_output`]); what an honest run gives is clean.
//! 2. A wrong output: every segment boundary. Published, [`Watcher::locate`] finds the segment whose claimed
//!    output boundary is farthest from what it computes from the prover's own input boundary, and the
//!    watcher points its game at it.
//! 3. Once the prover posted that segment's fine root: the segment's interior tensors, asked for in the
//!    game. Published, the segment's ops are checked on them ([`Watcher::check_segment`]) and the element
//!    found is opened (or escalated) as with a served trace: the trace rebuilt from published chunks opens
//!    against the same roots.
//!
//! The requests' ids follow from the claim, the watcher and the chunks, and their chunks are in the logs, so a
//! restarted watcher rebuilds everything from its store's requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::B256;
use nao_bindings::ClaimManager;
use serde::{Deserialize, Serialize};

use super::{Plan, WatcherNode};
use crate::chain::{ClaimStatus, Claims, Phase};
use crate::commit::CHUNK_ELEMS;
use crate::model::HostTensor;
use crate::trace::{ElementRef, Trace};
use crate::Result;
use crate::{Advance, ClaimSeen, Dispute, Finding};

/// One data request: chunks `[first, first + count)` of leaf `leaf` of the claim's coarse list (`game` zero)
/// or of a game's fine list, the tensor at trace index `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataAsk {
    /// The request's id (it follows from the claim, the watcher, the root and the chunks, so it is known
    /// before it is sent).
    pub id: B256,
    /// The game whose fine root it asks against (zero: the claim's coarse root).
    pub game: B256,
    /// The leaf of that list.
    pub leaf: u32,
    /// The trace index of the tensor.
    pub index: u32,
    /// First chunk.
    pub first: u32,
    /// Chunks.
    pub count: u32,
}

/// A withheld trace whose published output is wrong, disputed from published data (step 2 and 3 of the
/// module's documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withheld {
    /// The dispute: its element, the first op of the located segment until the segment's data is checked.
    pub dispute: Dispute,
    /// The requests of every coarse leaf (all answered).
    pub coarse: Vec<DataAsk>,
    /// The requests of the disputed segment's interior, once sent.
    pub fine: Option<Vec<DataAsk>>,
    /// Whether the element was found in the segment's published data (then `dispute.at` is it).
    pub found: bool,
    /// The block the first requests were sent in or after.
    pub from_block: u64,
}

/// Where a set of requests stands.
enum Asked {
    /// Some are open and within their deadline.
    Waiting,
    /// All were answered.
    Answered,
    /// The claim was settled (slashed by an expiry, or otherwise): what to do now.
    Settled(Plan),
}

impl WatcherNode {
    /// Asks for the tensors at `leaves` (leaf, trace index) of `claim`'s coarse list (`game` zero, root the
    /// trace root) or of game `game`'s fine list (root its fine root), each request at most `MAX_DATA_CHUNKS`
    /// chunks, skipping those already open. `Err` says why the claim can no longer be asked.
    async fn ask(
        &self,
        claim: &ClaimSeen,
        (game, root): (B256, B256),
        leaves: &[(u32, usize)],
    ) -> Result<std::result::Result<Vec<DataAsk>, String>> {
        let cm = self.watcher.claims();
        let graph = &self.watcher.model().model.graph;
        let max: u32 =
            cm.contract().MAX_DATA_CHUNKS().call().await.map_err(crate::chain::call_err("MAX_DATA_CHUNKS"))?;
        let mut asks = Vec::new();
        for (leaf, index) in leaves {
            let shape = if *index == 0 { &graph.input_shape } else { &graph.nodes[index - 1].shape };
            let chunks = shape.iter().product::<usize>().div_ceil(CHUNK_ELEMS).max(1) as u32;
            for first in (0..chunks).step_by(max as usize) {
                let count = max.min(chunks - first);
                let id = Claims::data_request_id(claim.id, cm.account(), root, *leaf, first, count);
                if cm.data_deadline(id).await?.is_none() {
                    match cm.request_data(claim.id, game, claim.request_opening()?, *leaf, first, count).await {
                        Ok(_) => {}
                        // published already (a restart after the answer): nothing to ask
                        Err(e) if e.revert::<ClaimManager::AlreadyPublished>().is_some() => {}
                        Err(e)
                            if e.revert::<ClaimManager::ChallengeWindowClosed>().is_some()
                                || e.revert::<ClaimManager::ClaimNotPending>().is_some()
                                || e.revert::<ClaimManager::NoFineRoot>().is_some() =>
                        {
                            return Ok(Err(e.to_string()));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                asks.push(DataAsk { id, game, leaf: *leaf, index: *index as u32, first, count });
            }
        }
        tracing::info!(claim = %claim.id, requests = asks.len(), "data requested");
        Ok(Ok(asks))
    }

    /// Step 1: asks for the input and output of `claim`.
    pub(super) async fn ask_data(&self, claim: &ClaimSeen) -> Result<Plan> {
        let graph = &self.watcher.model().model.graph;
        let indices = graph.coarse_indices();
        let (from_block, _) = crate::chain::head(self.watcher.provider()).await?;
        let ends = [(0, 0), ((indices.len() - 1) as u32, indices[indices.len() - 1])];
        Ok(match self.ask(claim, (B256::ZERO, claim.trace_root), &ends).await? {
            Ok(asks) => Plan::Requested { asks, from_block },
            Err(why) => Plan::Done(format!("trace withheld, and the claim can no longer be asked: {why}")),
        })
    }

    /// Expires the requests of `asks` past their deadline (slashing the claim, or after another's slash,
    /// taking the bond back) and says where they stand.
    async fn asked(&self, claim: &ClaimSeen, asks: &[DataAsk]) -> Result<Asked> {
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
        Ok(match cm.status(claim.id).await? {
            ClaimStatus::Pending if waiting => Asked::Waiting,
            ClaimStatus::Pending => Asked::Answered,
            ClaimStatus::Slashed if waiting => Asked::Waiting,
            ClaimStatus::Slashed => {
                let (winner, paid, _) = cm.reward(claim.id).await?;
                let mine = winner == cm.account() && !paid;
                Asked::Settled(if mine { Plan::Reward } else { Plan::Done("slashed by another".into()) })
            }
            status => Asked::Settled(Plan::Done(format!("the claim is {status:?}"))),
        })
    }

    /// The tensors published in answer to `asks`, by trace index.
    async fn published(&self, asks: &[DataAsk], from_block: u64) -> Result<BTreeMap<usize, HostTensor>> {
        let graph = &self.watcher.model().model.graph;
        let mut by_index: BTreeMap<usize, Vec<B256>> = BTreeMap::new();
        asks.iter().for_each(|a| by_index.entry(a.index as usize).or_default().push(a.id));
        let mut out = BTreeMap::new();
        for (index, ids) in by_index {
            let shape = if index == 0 { &graph.input_shape } else { &graph.nodes[index - 1].shape };
            let numel = shape.iter().product();
            let data = self.watcher.claims().published_elements(&ids, numel, CHUNK_ELEMS, from_block).await?;
            out.insert(index, HostTensor::new(shape.to_vec(), data));
        }
        Ok(out)
    }

    /// Steps 1 and 2 of `claim`'s requests `asks`: once all are answered, judges the published output (then
    /// asks for every boundary), or locates the faulty segment among the published boundaries.
    pub(super) async fn follow_requests(
        &self,
        claim: &ClaimSeen,
        asks: &[DataAsk],
        from_block: u64,
    ) -> Result<Option<Plan>> {
        match self.asked(claim, asks).await? {
            Asked::Waiting => return Ok(None),
            Asked::Settled(plan) => return Ok(Some(plan)),
            Asked::Answered => {}
        }
        let graph = &self.watcher.model().model.graph;
        let indices = graph.coarse_indices();
        let known = self.published(asks, from_block).await?;
        if known.len() < indices.len() {
            let last = indices[indices.len() - 1];
            let judged = tokio::task::block_in_place(|| self.watcher.judge_output(&known[&0], &known[&last]))?;
            let Some(why) = judged else {
                tracing::info!(claim = %claim.id, "published output is an honest run's: clean");
                return Ok(Some(Plan::Clean));
            };
            tracing::warn!(claim = %claim.id, %why, "published output is wrong: asking for every boundary");
            let inner: Vec<(u32, usize)> =
                indices.iter().enumerate().skip(1).take(indices.len() - 2).map(|(l, i)| (l as u32, *i)).collect();
            return Ok(Some(match self.ask(claim, (B256::ZERO, claim.trace_root), &inner).await? {
                Ok(more) => Plan::Requested { asks: asks.iter().copied().chain(more).collect(), from_block },
                Err(why) => Plan::Done(format!("the boundaries can no longer be asked: {why}")),
            }));
        }
        let coarse: Vec<HostTensor> = indices.iter().map(|i| known[i].clone()).collect();
        let (s, gap) = tokio::task::block_in_place(|| self.watcher.locate(&coarse))?;
        tracing::warn!(claim = %claim.id, segment = s, gap, "published boundaries: disputing the farthest segment");
        let op = graph.segment_ranges()[s].start;
        let dispute = Dispute::element(ElementRef { op, row: 0, col: 0 }, false);
        let w = Withheld { dispute, coarse: asks.to_vec(), fine: None, found: false, from_block };
        Ok(Some(Plan::Withheld(Box::new(w))))
    }

    /// The trace of `claim` rebuilt from the data published for `w` (cached until the segment's data arrives).
    async fn rebuilt(&mut self, claim: &ClaimSeen, w: &Withheld) -> Result<Arc<Trace>> {
        if let Some(t) = self.traces.get(&claim.id) {
            return Ok(t.clone());
        }
        let mut asks = w.coarse.clone();
        if w.found {
            asks.extend(w.fine.iter().flatten());
        }
        let known = self.published(&asks, w.from_block).await?;
        let t = Arc::new(tokio::task::block_in_place(|| self.watcher.rebuild(&known))?);
        self.traces.insert(claim.id, t.clone());
        Ok(t)
    }

    /// Step 3 and the game: asks for the disputed segment's interior once its fine root is posted, checks it
    /// when published, and otherwise moves the game (from the rebuilt trace). The next plan, if it changed.
    pub(super) async fn step_withheld(&mut self, claim: &ClaimSeen, w: &Withheld) -> Result<Option<Plan>> {
        let (game, g) = self.watcher.partition(claim, &w.dispute).await?;
        if Phase::from(g.phase) == Phase::Element && !w.found {
            let (start, end) = (g.segStart as usize, g.segEnd as usize);
            let Some(fine) = &w.fine else {
                let interior: Vec<(u32, usize)> = (1..end - start).map(|l| (l as u32, start + l)).collect();
                return Ok(Some(match self.ask(claim, (game, g.pending), &interior).await? {
                    Ok(asks) => Plan::Withheld(Box::new(Withheld { fine: Some(asks), ..w.clone() })),
                    Err(why) => Plan::Done(format!("the segment's data can no longer be asked: {why}")),
                }));
            };
            match self.asked(claim, fine).await? {
                Asked::Waiting => return Ok(None),
                Asked::Settled(plan) => return Ok(Some(plan)),
                Asked::Answered => {}
            }
            let found = Withheld { found: true, ..w.clone() };
            self.traces.remove(&claim.id);
            let trace = self.rebuilt(claim, &found).await?;
            let finding = tokio::task::block_in_place(|| self.watcher.check_segment(&trace, g.lo as usize))?;
            tracing::warn!(claim = %claim.id, ?finding, "the disputed segment's published data checked");
            let dispute = |at, escalate| Dispute { at, escalate, ..w.dispute };
            return Ok(Some(match finding {
                Finding::Violation(at) => Plan::Withheld(Box::new(Withheld { dispute: dispute(at, false), ..found })),
                Finding::OffChain(at) | Finding::OverThreshold(at) => {
                    Plan::Withheld(Box::new(Withheld { dispute: dispute(at, true), ..found }))
                }
                // the segment's check does not compare outputs (OutputOff does not come of it)
                Finding::Clean { .. } | Finding::OutputOff(_) => {
                    tracing::error!(claim = %claim.id, segment = g.lo, "the located segment checks clean: the game is lost on the clock");
                    Plan::Done("the located segment checked clean".into())
                }
            }));
        }
        let trace = self.rebuilt(claim, w).await?;
        Ok(match self.watcher.advance(claim, &w.dispute, Some(&trace)).await? {
            Advance::Ended(outcome) => Some(Plan::Done(format!("{outcome:?}"))),
            Advance::NotStarted(why) => Some(Plan::Done(why)),
            _ => None,
        })
    }

    /// Pays out the reward this watcher's data request won, once its grace closed.
    pub(super) async fn take_reward(&self, claim: &ClaimSeen) -> Result<Option<Plan>> {
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
}
