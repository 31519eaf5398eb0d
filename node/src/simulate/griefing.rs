//! Griefing an honest prover (attacks 3 and 4 of the security review, #17): the scenarios `long-row-request`
//! and `escalation-grinding`. A griefer disputes an honest claim and tries what the review did: make the
//! prover open an element no transaction can carry (`requestElement` of MiniLM's mean-pooled column over a
//! long prompt), or have a vote decide an element the contract's exact check decides, escalating at a block of
//! its choosing with validator stake of its own. Each try reverts and changes nothing. The griefer's one way
//! on is a vote of validators drawn from a block sealed after its escalation, which the honest majority
//! decides: the griefer ends poorer, the prover no poorer.

use alloy::primitives::U256;
use alloy::providers::ext::AnvilApi;
use alloy::providers::Provider;

use super::{
    advance_past_window, advance_time, committee_vote_with, seen_by, Outcome, Parties, Scenario, ScenarioReport, TxGas,
    World,
};
use crate::chain::{ClaimStatus, GameOutcome, Phase, Sent};
use crate::graph::OpKind;
use crate::model::HostTensor;
use crate::roles::{Advance, Dispute, Finding, Validator, Watcher};
use crate::trace::ElementRef;
use crate::{Error, Result};

/// The op of `kind` first in `ops` of `graph`.
fn first_of(graph: &crate::graph::Graph, ops: std::ops::Range<usize>, kind: OpKind) -> Option<usize> {
    ops.into_iter().find(|i| graph.descriptor(*i).is_some_and(|d| d.kind == kind))
}

/// Mines blocks until the head's hash is one the griefer likes (first byte below 0x10, as if it could read its
/// committee off that hash, as it could from the old draw's seed), so that its escalation lands in the next
/// block; returns the blocks mined and the head's number.
async fn grind(w: &World) -> Result<(u64, u64)> {
    let p = &w.deployer.provider;
    for mined in 0..1024 {
        let b = p
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(crate::chain::rpc_err("block"))?
            .ok_or_else(|| Error::Chain("no head block".into()))?;
        if b.header.hash[0] < 0x10 {
            return Ok((mined, b.header.number));
        }
        p.anvil_mine(Some(1), None).await.map_err(crate::chain::rpc_err("anvil_mine"))?;
    }
    Err(Error::Chain("no liked block in 1024".into()))
}

/// One griefer's game over an honest claim.
struct Game<'a> {
    w: &'a World,
    parties: &'a Parties,
    griefer: &'a Watcher,
    claim: &'a crate::roles::ClaimSeen,
    trace: &'a crate::trace::Trace,
    posted: &'a crate::roles::PostedClaim,
    from_block: u64,
    /// Validators of the griefer's, voting outside whatever they find.
    outside: Vec<&'a Validator>,
}

impl Game<'_> {
    /// Moves the game of `d` (the griefer's moves, the prover's answers, a validator's draw, the committee's
    /// vote) until it ends, or with `until_element` until the element is to be named; the outcome once ended.
    async fn drive(&self, d: &Dispute, until_element: bool, txs: &mut Vec<Sent>) -> Result<Option<GameOutcome>> {
        let (griefer, posted) = (self.griefer, self.posted);
        loop {
            if until_element && griefer.phase(self.claim, d).await? == Phase::Element {
                return Ok(None);
            }
            match griefer.advance(self.claim, d, Some(self.trace)).await? {
                Advance::Moved(sent) => txs.push(*sent),
                Advance::ProverToMove(_) => {
                    let sent = self.parties.prover.answer_games(posted.id, self.from_block).await?;
                    if sent.is_empty() {
                        return Err(Error::Chain(format!("claim {}: the prover had no move to make", posted.id)));
                    }
                    txs.extend(sent);
                }
                Advance::DrawPending(_) => {
                    let game = griefer.game_of(self.claim, d).await?;
                    let v = self.parties.validators.first().ok_or_else(|| Error::Chain("no validator".into()))?;
                    txs.extend(v.draw(game).await?);
                }
                Advance::Committee => {
                    let game = griefer.game_of(self.claim, d).await?;
                    let validators = &self.parties.validators;
                    txs.extend(committee_vote_with(validators, &self.outside, game, self.from_block).await?);
                }
                Advance::RewardPending(left) => advance_time(self.w, left + 1).await?,
                Advance::Ended(outcome) => return Ok(Some(outcome)),
                Advance::NotStarted(why) => return Err(Error::Chain(format!("claim {}: {why}", posted.id))),
            }
        }
    }

    /// Drives `d` to its element, makes the griefer's `try_` there (which must revert), and returns the revert.
    async fn refused(&self, d: &Dispute, txs: &mut Vec<Sent>, try_: Try) -> Result<String> {
        self.drive(d, true, txs).await?;
        let game = self.griefer.game_of(self.claim, d).await?;
        let tried = match try_ {
            Try::Request => self.griefer.request_element(game, d.at).await,
            Try::Escalate => self.griefer.escalate(game, Some(self.trace), d.at).await,
        };
        match tried {
            Ok(_) => Err(Error::Chain(format!("the griefer's {try_:?} of op {} was accepted", d.at.op))),
            Err(e) => Ok(e.to_string()),
        }
    }
}

/// A move the griefer tries at the element.
#[derive(Debug, Clone, Copy)]
enum Try {
    /// Make the prover open it.
    Request,
    /// Have the committee decide it.
    Escalate,
}

/// Plays `s` (long-row-request or escalation-grinding) against an honest claim of `parties`' model on `input`.
pub(super) async fn play_grief(w: &World, parties: &Parties, s: Scenario, input: HostTensor) -> Result<ScenarioReport> {
    let prover = &parties.prover;
    let registered = parties.watcher.registered();
    // the griefer's two accounts: the second also stakes a validator (one minimum stake against the honest
    // validators' twelve each) in escalation-grinding
    let griefer = Watcher::new(w.rival.clone(), &w.deployment, registered.clone());
    let second = Watcher::new(w.grinder.clone(), &w.deployment, registered.clone());
    let own = Validator::new(w.grinder.clone(), &w.deployment, registered, &parties.profile)?;
    let (pc, gc, sc) = (prover.claims(), griefer.claims(), second.claims());
    let credits = || async { Ok::<_, Error>((pc.credit().await?, gc.credit().await?, sc.credit().await?)) };
    let (p0, g0, s0) = credits().await?;
    let mut txs = Vec::new();
    let grinding = s == Scenario::EscalationGrinding;
    if grinding {
        txs.push(own.stake(U256::from(w.params.committee.min_stake)).await?);
    }
    let from_block = w.deployer.provider.get_block_number().await.map_err(|e| Error::Chain(e.to_string()))?;
    let posted = prover.post(&input, None).await?;
    txs.push(posted.sent.clone());
    let claim = seen_by(&griefer, from_block, posted.id).await?.swap_remove(0);
    let trace = griefer.fetch_trace(&claim).await?;
    // the registered model at this claim's lengths (the registration serves every prompt length)
    let model = prover.model_at(claim.lengths)?;
    let graph = &model.model.graph;
    let outside = if grinding { vec![&own] } else { vec![] };
    let game = |griefer| Game {
        w,
        parties,
        griefer,
        claim: &claim,
        trace: &trace,
        posted: &posted,
        from_block,
        outside: outside.clone(),
    };
    let dispute = Dispute::element;
    let kind = |op: usize| graph.nodes[op].op.name();
    let (answer, disputed, outcome, ground) = if grinding {
        // 1. a vote instead of the exact verdict on a ReLU element: refused, so the griefer must open it
        let relu = first_of(graph, 0..graph.nodes.len(), OpKind::Relu)
            .ok_or_else(|| Error::Config("escalation-grinding: the model has no ReLU".into()))?;
        let exact = dispute(ElementRef { op: relu, row: 0, col: 0 }, false);
        let g1 = game(&griefer);
        let refused = g1.refused(&exact, &mut txs, Try::Escalate).await?;
        let game_id = griefer.game_of(&claim, &exact).await?;
        txs.push(griefer.open_element(game_id, &trace, exact.at).await?.1);
        let first = g1.drive(&exact, false, &mut txs).await?;
        // 2. its second account disputes the element nearest its bound in an op with a threshold, escalating
        // at a block it ground for
        let Finding::Clean { closest: Some(at) } = second.check_every_element(&trace) else {
            return Err(Error::Chain("escalation-grinding: the honest claim did not check clean".into()));
        };
        let voted = dispute(at, true);
        let g2 = game(&second);
        g2.drive(&voted, true, &mut txs).await?;
        let (mined, liked) = grind(w).await?;
        let second_outcome = g2.drive(&voted, false, &mut txs).await?;
        let answer = format!(
            "a vote on ReLU op {relu} was refused ({}) and its exact check decided it ({first:?}); the griefer's \
             second account mined {mined} blocks for a head it liked (block {liked}), escalated {} op {}, and \
             the committee was drawn from a block sealed after that",
            short(&refused),
            kind(at.op),
            at.op
        );
        let both = if first == Some(GameOutcome::ProverWon) { second_outcome } else { first };
        (answer, at, both, Some(serde_json::json!({ "refused": refused, "blocks_ground": mined })))
    } else {
        // MiniLM's mean pooling over the long paragraph: its column fits no transaction
        let op = first_of(graph, 0..graph.nodes.len(), OpKind::MeanRows)
            .ok_or_else(|| Error::Config("long-row-request: the model has no mean pooling".into()))?;
        if graph.descriptor(op).is_some_and(|d| d.openable()) {
            return Err(Error::Config("long-row-request: the prompt is too short for an unopenable column".into()));
        }
        let pooled = dispute(ElementRef { op, row: 0, col: 0 }, true);
        let g = game(&griefer);
        let refused = g.refused(&pooled, &mut txs, Try::Request).await?;
        let outcome = g.drive(&pooled, false, &mut txs).await?;
        let answer = format!(
            "requesting {} op {op} was refused ({}); the griefer escalated it unopened",
            kind(op),
            short(&refused)
        );
        (answer, pooled.at, outcome, Some(serde_json::json!({ "refused": refused })))
    };
    if pc.status(posted.id).await? == ClaimStatus::Pending {
        advance_past_window(w).await?;
        txs.push(pc.finalize(posted.id).await?);
    }
    let (p1, g1, s1) = credits().await?;
    for c in [pc, gc, sc] {
        txs.extend(c.withdraw_credit().await?);
    }
    // the griefer's validator: the seats it was drawn to and what its ballots cost it; then out of the pool
    let mut details = ground.unwrap_or_default();
    if grinding {
        let committee = own.committee();
        let vote = second.game_of(&claim, &dispute(disputed, true)).await?;
        let opened = committee
            .VoteOpened_filter()
            .topic1(vote)
            .from_block(from_block)
            .query()
            .await
            .map_err(crate::chain::call_err("VoteOpened logs"))?;
        let (e, _) = opened.first().ok_or_else(|| Error::Chain(format!("vote {vote} was never drawn")))?;
        let members = &e.members;
        let seats: u64 =
            members.iter().zip(&e.seats).filter(|(m, _)| **m == own.address()).map(|(_, n)| u64::from(*n)).sum();
        let left = committee.validator(own.address()).call().await.map_err(crate::chain::call_err("validator"))?.stake_;
        txs.push(crate::chain::send("requestWithdrawal", committee.requestWithdrawal()).await?);
        let lost = U256::from(w.params.committee.min_stake).saturating_sub(left);
        details["griefer_validator"] =
            serde_json::json!({ "seats": seats, "members": members.len(), "stake_lost_wei": lost.to_string() });
    }
    let status = pc.status(posted.id).await?;
    let wei = |v: U256| i128::try_from(v).unwrap_or(i128::MAX);
    let bond = w.params.claims.challenge_bond as i128;
    let prover_delta = wei(p1) - wei(p0) - w.params.claims.claim_bond as i128;
    let games = if grinding { 2 } else { 1 };
    let griefer_delta = wei(g1) - wei(g0) + wei(s1) - wei(s0) - games * bond;
    let outcome = match (status, outcome) {
        (ClaimStatus::Finalized, Some(GameOutcome::ProverWon)) => Outcome::ChallengerSlashed,
        (ClaimStatus::Slashed, _) => Outcome::ProverSlashed,
        _ => Outcome::Unresolved,
    };
    Ok(ScenarioReport {
        name: s.name().into(),
        expected: s.expected(),
        outcome,
        gas_used: txs.iter().map(|t| t.gas_used).sum(),
        txs: txs.len(),
        tx_gas: txs.iter().map(|t| TxGas { label: t.label.clone(), gas: t.gas_used }).collect(),
        prover_delta_wei: prover_delta.to_string(),
        watcher_delta_wei: griefer_delta.to_string(),
        answer,
        finding: format!("honest claim; the griefer disputes {} op {}", kind(disputed.op), disputed.op),
        level: "committee vote (griefing)".into(),
        detected: true,
        details: Some(details),
    })
}

/// The custom error out of a revert message (`chain: <call>: <error>`).
fn short(e: &str) -> &str {
    e.splitn(3, ": ").nth(2).unwrap_or(e)
}
