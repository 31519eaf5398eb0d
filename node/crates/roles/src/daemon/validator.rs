//! `nao validate`: draws the members of every vote requested once its draw block is sealed (anyone may; the
//! escalating watcher usually does first); when a committee vote draws this validator, recomputes the element from the claim's trace,
//! commits its ballot, reveals it, resolves the vote when it can, and withdraws its share of penalties.
//!
//! The ballot (with its salt) is written to the store before the commit is sent: a validator restarted between
//! its commit and its reveal reveals the ballot it committed to.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::B256;
use alloy::sol_types::SolEvent;
use nao_bindings::Committee;
use serde::{Deserialize, Serialize};

use super::{FollowMode, Follower, Node, Store};
use crate::chain::{call_err, Deployment};
use crate::Result;
use crate::{Ballot, Validator, VoteStep};

/// The validator's store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ValidatorState {
    /// The next block whose VoteOpened logs are unread.
    pub cursor: u64,
    /// Ballots of votes that drew this validator and are not resolved yet, by vote id.
    pub ballots: BTreeMap<B256, Ballot>,
    /// Votes it took part in that are resolved.
    pub resolved: Vec<B256>,
    /// Votes requested whose members are not drawn yet.
    #[serde(default)]
    pub undrawn: BTreeSet<B256>,
}

/// The validator daemon.
pub struct ValidatorNode {
    validator: Validator,
    store: Store<ValidatorState>,
    follower: Follower,
}

impl ValidatorNode {
    /// A validator daemon over `validator` with its `store`, learning of votes by `follow`.
    pub fn new(validator: Validator, d: &Deployment, store: Store<ValidatorState>, follow: FollowMode) -> Self {
        let filter = alloy::rpc::types::Filter::new()
            .address(d.committee)
            .event_signature(vec![Committee::VoteRequested::SIGNATURE_HASH, Committee::VoteOpened::SIGNATURE_HASH]);
        Self { validator, store, follower: Follower::new(follow, filter) }
    }
}

impl Node for ValidatorNode {
    fn role(&self) -> &'static str {
        "validator"
    }

    async fn tick(&mut self) -> Result<()> {
        let me = self.validator.address();
        let mut cursor = self.store.state().cursor;
        let provider = self.validator.provider().clone();
        let logs = self.follower.next_logs(&provider, &mut cursor).await?;
        for l in &logs {
            if let Ok(e) = Committee::VoteRequested::decode_log(&l.inner) {
                self.store.update(|s| s.undrawn.insert(e.voteId))?;
            }
        }
        let undrawn: Vec<B256> = self.store.state().undrawn.iter().copied().collect();
        for vote in undrawn {
            if let Some(sent) = self.validator.draw(vote).await? {
                tracing::info!(%vote, gas = sent.gas_used, "committee drawn");
            }
            let v = self.validator.committee().vote(vote).call().await.map_err(call_err("vote"))?;
            if v.commitEnd != 0 || v.resolved {
                self.store.update(|s| s.undrawn.remove(&vote))?;
            }
        }
        let opened = logs.iter().filter_map(|l| Committee::VoteOpened::decode_log(&l.inner).ok().map(|e| e.data));
        for e in opened {
            let known =
                self.store.state().ballots.contains_key(&e.voteId) || self.store.state().resolved.contains(&e.voteId);
            if known || !e.members.contains(&me) {
                continue;
            }
            let ballot = self.validator.judge(e.voteId).await?;
            tracing::info!(vote = %e.voteId, outside = ballot.outside, reason = %ballot.reason, "drawn: element judged");
            // the salt is on disk before the commitment is sent
            self.store.update(|s| s.ballots.insert(e.voteId, ballot))?;
        }
        if cursor != self.store.state().cursor {
            self.store.update(|s| s.cursor = cursor)?;
        }
        let ballots: Vec<Ballot> = self.store.state().ballots.values().cloned().collect();
        for b in ballots {
            if let VoteStep::Resolved = self.validator.advance(&b).await? {
                tracing::info!(vote = %b.vote, "vote resolved");
                self.store.update(|s| {
                    s.ballots.remove(&b.vote);
                    s.resolved.push(b.vote);
                })?;
            }
        }
        if let Some(s) = self.validator.withdraw_credit().await? {
            tracing::info!(gas = s.gas_used, "committee credit withdrawn");
        }
        Ok(())
    }
}
