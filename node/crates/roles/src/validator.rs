//! The validator: stakes in the committee, and when a vote draws it, recomputes the escalated element from
//! the claim's trace data on its own hardware, judges it against the model's acceptance region, and votes by
//! commit-reveal.

use std::sync::Arc;

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolValue;
use nao_bindings::{ClaimManager, Committee, DisputeGame};

use super::watcher::fetch_trace;
use super::{ClaimSeen, RegisteredModel};
use crate::chain::call_err;
use crate::chain::{send, Client, Deployment, Sent};
use crate::region::profile::Profile;
use crate::runtime::operands;
use crate::{Error, Result};

/// The `op` of an output vote (`DisputeGame.OUTPUT_OP`): the question is the claim's output.
pub const OUTPUT_OP: u32 = u32::MAX;

/// A validator's ballot on one element, with why, and the salt that hides it until the reveal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ballot {
    /// The vote (the dispute game's id).
    pub vote: B256,
    /// Whether the element is outside its acceptance region by this validator's recomputation.
    pub outside: bool,
    /// What it found (the breach, `inside`, or why the data could not be checked).
    pub reason: String,
    /// The commitment's salt (fresh per ballot; kept until the reveal).
    pub salt: B256,
}

/// Where a validator stands in one vote (read from the chain, so a restarted validator knows its next move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// It committed a ballot.
    pub committed: bool,
    /// It revealed its ballot.
    pub revealed: bool,
    /// The vote is resolved.
    pub resolved: bool,
    /// The commit window is open and it has not committed.
    pub can_commit: bool,
    /// Reveals are open (every member committed, or the commit window closed) and the window has not closed.
    pub can_reveal: bool,
    /// The vote can be resolved now.
    pub can_resolve: bool,
}

/// What one [`Validator::advance`] did.
#[derive(Debug, Clone)]
pub enum VoteStep {
    /// The validator moved.
    Moved(Box<Sent>),
    /// Nothing to do yet (the others have not committed or revealed, and the windows are open).
    Waiting,
    /// The vote is resolved.
    Resolved,
}

/// A validator for one model.
pub struct Validator {
    client: Client,
    committee: Committee::CommitteeInstance<DynProvider>,
    game: DisputeGame::DisputeGameInstance<DynProvider>,
    claims: ClaimManager::ClaimManagerInstance<DynProvider>,
    model: Arc<RegisteredModel>,
    profile: Profile,
    http: reqwest::Client,
}

impl Validator {
    /// A validator with `client`'s account for `model`, judging against `profile` (which must hash to the
    /// registered profile root and fit the model).
    pub fn new(client: Client, d: &Deployment, model: Arc<RegisteredModel>, profile: &[u8]) -> Result<Self> {
        let p = model.profile(profile)?;
        Ok(Self {
            committee: Committee::new(d.committee, client.provider.clone()),
            game: DisputeGame::new(d.game, client.provider.clone()),
            claims: ClaimManager::new(d.claims, client.provider.clone()),
            client,
            model,
            profile: p,
            http: reqwest::Client::new(),
        })
    }

    /// The validator's address.
    pub fn address(&self) -> Address {
        self.client.address
    }

    /// Stakes `wei` in the committee.
    pub async fn stake(&self, wei: U256) -> Result<Sent> {
        Ok(send("stake", self.committee.stake().value(wei)).await?)
    }

    /// Votes opened since `from_block` that drew this validator.
    pub async fn votes_since(&self, from_block: u64) -> Result<Vec<B256>> {
        let logs = self
            .committee
            .VoteOpened_filter()
            .from_block(from_block)
            .query()
            .await
            .map_err(call_err("VoteOpened logs"))?;
        Ok(logs.into_iter().filter(|(e, _)| e.members.contains(&self.address())).map(|(e, _)| e.voteId).collect())
    }

    /// Recomputes the element escalated in `vote` from the claim's trace (fetched from the prover and checked
    /// against the claim's coarse root and the fine root of the game) and judges it; for an output vote
    /// ([`OUTPUT_OP`]), runs the trace's input itself and judges the claimed output element against the
    /// model's declared output tolerance. Data the prover does not
    /// serve, or serves wrong, counts against it: the prover must make its run checkable.
    pub async fn judge(&self, vote: B256) -> Result<Ballot> {
        let g = self.game.partitionGame(vote).call().await.map_err(call_err("partitionGame"))?;
        let salt = B256::from(rand::random::<[u8; 32]>());
        let against = |reason: String| Ballot { vote, outside: true, reason, salt };
        let logs = self
            .claims
            .ClaimPosted_filter()
            .topic1(g.claimId)
            .from_block(0)
            .query()
            .await
            .map_err(call_err("ClaimPosted logs"))?;
        let Some((e, _)) = logs.into_iter().next() else {
            return Err(Error::Chain(format!("vote {vote}: claim {} was never posted", g.claimId)));
        };
        // the game's inference of the claim's batch
        let Some(claim) = ClaimSeen::inferences(e).into_iter().nth(g.inference as usize) else {
            return Err(Error::Chain(format!("vote {vote}: claim {} has no inference {}", g.claimId, g.inference)));
        };
        // the inference's graph at its lengths (a claim posted them, so the model serves them)
        let at = self.model.at(claim.lengths)?;
        let m = &at.model;
        let trace = match fetch_trace(&self.http, m, &claim).await {
            Ok(t) => t,
            Err(e) => return Ok(against(format!("trace data unavailable: {e}"))),
        };
        if g.reqOp == OUTPUT_OP {
            let (row, col) = (g.reqRow as usize, g.reqCol as usize);
            let tolerance = f64::from(self.model.output_tolerance);
            let own = crate::runtime::run(m, &trace.tensors[0], None)?;
            let off = crate::region::output::judge_element(own.output(), trace.output(), row, col, tolerance);
            return Ok(match off {
                Some(d) => against(format!("output ({row}, {col}) off an honest run by {d:e} > {tolerance:e}")),
                None => Ballot { vote, outside: false, reason: "output within the declared tolerance".into(), salt },
            });
        }
        let seg = m.graph.segment_ranges().iter().position(|r| r.start == g.segStart as usize);
        let fine = seg.map(|s| trace.commit_fine(&m.graph, s)).transpose()?;
        if fine.map(|f| f.root()) != Some(g.pending.0) {
            return Ok(against("the served trace does not match the posted fine root".into()));
        }
        let (op, row, col) = (g.reqOp as usize, g.reqRow as usize, g.reqCol as usize);
        let node =
            m.graph.nodes.get(op).ok_or(Error::OutOfRange { what: "op", index: op, len: m.graph.nodes.len() })?;
        let cols = *node.shape.last().unwrap_or(&1);
        let element = row * cols + col;
        let out = &trace.tensors[op + 1];
        let Some(j) = self.profile.judge(node, &operands(m, &trace, node), out) else {
            return Ok(against(format!("op {op} ({}) cannot be recomputed from the served data", node.op.name())));
        };
        Ok(match j.breaches.iter().find(|b| b.element == element) {
            Some(b) => against(format!("{:?} breach, |y - s| / B_e = {:.3e}", b.kind, b.ratio)),
            None => Ballot { vote, outside: false, reason: "inside its acceptance region".into(), salt },
        })
    }

    /// Commits `ballot` (its salt must be kept until the reveal).
    pub async fn commit(&self, ballot: &Ballot) -> Result<Sent> {
        let c = keccak256((ballot.vote, self.address(), ballot.outside, ballot.salt).abi_encode_params());
        let sent = send("commit", self.committee.commit(ballot.vote, c)).await?;
        tracing::info!(vote = %ballot.vote, validator = %self.address(), outside = ballot.outside, reason = %ballot.reason, "ballot committed");
        Ok(sent)
    }

    /// Reveals `ballot`, committed before.
    pub async fn reveal(&self, ballot: &Ballot) -> Result<Sent> {
        Ok(send("reveal", self.committee.reveal(ballot.vote, ballot.outside, ballot.salt)).await?)
    }

    /// Where this validator stands in `vote`: whether it committed, whether it revealed, whether the vote is
    /// resolved, and whether it can be resolved now (every member revealed, or the reveal window closed).
    pub async fn standing(&self, vote: B256) -> Result<Standing> {
        let v = self.committee.vote(vote).call().await.map_err(call_err("vote"))?;
        let mine = self.committee.ballotOf(vote, self.address()).call().await.map_err(call_err("ballotOf"))?;
        let (committed, revealed) = (mine.commitment != B256::ZERO, mine.ballot != 0);
        let now = crate::chain::next_block_time(&self.client.provider).await?;
        let all = v.members.len() as u32;
        Ok(Standing {
            committed,
            revealed,
            resolved: v.resolved,
            can_commit: now <= v.commitEnd && !committed,
            can_reveal: (now > v.commitEnd || v.committed == all) && now <= v.revealEnd,
            can_resolve: !v.resolved && (now > v.revealEnd || v.revealed == all),
        })
    }

    /// Makes this validator's next move in the vote of `ballot`, as the vote's windows and this validator's
    /// logged ballots ask: commit, reveal, or resolve. Read from the chain, so a restarted validator resumes
    /// where it was (its ballot and salt must have been kept).
    pub async fn advance(&self, ballot: &Ballot) -> Result<VoteStep> {
        let st = self.standing(ballot.vote).await?;
        Ok(if st.resolved {
            VoteStep::Resolved
        } else if !st.committed && st.can_commit {
            VoteStep::Moved(Box::new(self.commit(ballot).await?))
        } else if st.committed && !st.revealed && st.can_reveal {
            let sent = self.reveal(ballot).await?;
            tracing::info!(vote = %ballot.vote, outside = ballot.outside, "ballot revealed");
            VoteStep::Moved(Box::new(sent))
        } else if st.can_resolve {
            let sent = self.resolve(ballot.vote).await?;
            tracing::info!(vote = %ballot.vote, "vote resolved by this validator");
            VoteStep::Moved(Box::new(sent))
        } else {
            VoteStep::Waiting
        })
    }

    /// Withdraws this validator's committee credit (its share of penalties), if any.
    pub async fn withdraw_credit(&self) -> Result<Option<Sent>> {
        let c = self.committee.credit(self.address()).call().await.map_err(call_err("credit"))?;
        if c.is_zero() {
            return Ok(None);
        }
        Ok(Some(send("withdrawCredit", self.committee.withdrawCredit()).await?))
    }

    /// Draws the members of `vote` once its draw block is sealed (anyone may; the escalating watcher usually
    /// does): `None` while the block is not sealed, or once the members were drawn.
    pub async fn draw(&self, vote: B256) -> Result<Option<Sent>> {
        let v = self.committee.vote(vote).call().await.map_err(call_err("vote"))?;
        let (number, _) = crate::chain::head(&self.client.provider).await?;
        if v.commitEnd != 0 || v.resolved || number <= v.drawBlock {
            return Ok(None);
        }
        match send("draw", self.committee.draw(vote)).await {
            Ok(sent) => Ok(Some(sent)),
            // drawn by someone else in the meantime
            Err(e) if e.revert::<Committee::AlreadyDrawn>().is_some() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends `vote` (anyone may, once every member revealed or the reveal window closed).
    pub async fn resolve(&self, vote: B256) -> Result<Sent> {
        Ok(send("resolve", self.committee.resolve(vote)).await?)
    }

    /// The provider it sends with.
    pub fn provider(&self) -> &DynProvider {
        &self.client.provider
    }

    /// The committee as this validator.
    pub fn committee(&self) -> &Committee::CommitteeInstance<DynProvider> {
        &self.committee
    }
}
