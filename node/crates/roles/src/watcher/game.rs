//! The challenger's side of a dispute: starting the game (one-step, partition or output vote) and advancing it
//! move by move from the chain's state.

use alloy::primitives::B256;
use nao_bindings::{ClaimManager, DisputeGame};

use super::{ClaimSeen, Watcher};
use crate::calldata::{boundary, element_request, fine_challenge, segment_of, segment_pointer};
use crate::chain::call_err;
use crate::chain::{partition_game_id, send, ClaimStatus, Clock, GameOutcome, Phase, Position, Sent, Side};
use crate::graph::template::Lengths;
use crate::graph::OpNode;
use crate::trace::{ElementRef, Trace};
use crate::{Error, Result};

impl Watcher {
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
        let here = self.at(claim.lengths)?;
        let m = &here.model.model;
        let p = segment_pointer(m, trace, segment_of(m, at.op)?)?;
        let (salt, _) = self.commitment(claim);
        let sent = send("pointSegment", self.game.pointSegment(claim.id, claim.opening()?, p, salt)).await?;
        Ok((Self::created(&sent, "pointSegment")?, sent))
    }

    /// Starts an output vote against `claim` on element `at` of its output (row and column; the op is the
    /// graph's last), with the bond of this watcher's commitment.
    pub async fn escalate_output(&self, claim: &ClaimSeen, trace: &Trace, at: ElementRef) -> Result<(B256, Sent)> {
        let (salt, _) = self.commitment(claim);
        let coarse = trace.commit_coarse(&self.at(claim.lengths)?.model.model.graph);
        let output = boundary(&coarse, coarse.tensors.len() - 1)?;
        let call = self.game.escalateOutput(claim.id, claim.opening()?, output, at.row as u32, at.col as u32, salt);
        let sent = send("escalateOutput", call).await?;
        tracing::info!(claim = %claim.id, ?at, gas = sent.gas_used, "output vote opened");
        Ok((Self::created(&sent, "escalateOutput")?, sent))
    }

    /// Starts a partition game against `claim` by k-ary bisection over its boundaries (its input and output, the
    /// first and last of `coarse`, opened), with the bond of this watcher's commitment.
    pub async fn bisect(&self, claim: &ClaimSeen, coarse: &crate::trace::ListCommitment) -> Result<(B256, Sent)> {
        let (salt, _) = self.commitment(claim);
        let (input, output) = (boundary(coarse, 0)?, boundary(coarse, coarse.tensors.len() - 1)?);
        let sent = send("bisect", self.game.bisect(claim.id, claim.opening()?, input, output, salt)).await?;
        Ok((Self::created(&sent, "bisect")?, sent))
    }

    /// Bisection: picks, among the prover's last reveal, the child range that holds the segment of `at`.
    pub async fn pick(&self, game: B256, at: ElementRef) -> Result<Sent> {
        let g = self.game.partitionGame(game).call().await.map_err(call_err("partitionGame"))?;
        let k: u64 = self.game.arity().call().await.map_err(call_err("arity"))?.to();
        let revealed = self
            .game
            .BoundariesRevealed_filter()
            .topic1(game)
            .from_block(0)
            .query()
            .await
            .map_err(call_err("BoundariesRevealed logs"))?;
        let roots = revealed
            .last()
            .map(|(e, _)| e.roots.clone())
            .ok_or_else(|| Error::Chain(format!("game {game}: nothing revealed")))?;
        let w = Position(g.position).child_width(k, u64::from(g.segments));
        let here = self.at(Lengths::new(g.prompt, g.steps))?;
        let s = segment_of(&here.model.model, at.op)? as u64;
        let child = (s - u64::from(g.lo)) / w;
        Ok(send("pick", self.game.pick(game, alloy::primitives::U256::from(child), roots)).await?)
    }

    /// Opens element `at` against the fine root the prover posted: the game ends with the op's verdict.
    pub async fn open_element(&self, game: B256, trace: &Trace, at: ElementRef) -> Result<(u8, Sent)> {
        let m = &self.for_trace(trace)?.model;
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
    /// differently from this watcher's ([`nao_numerics::graph::OpNode::bounds_differ_on_chain`]): the element
    /// then goes to the committee instead.
    /// The verdict is read with a call of `openElement` that changes nothing.
    async fn contract_holds_inside(&self, game: B256, trace: &Trace, at: ElementRef) -> Result<bool> {
        let here = self.for_trace(trace)?;
        let m = &here.model.model;
        let differs = m.graph.descriptor(at.op).is_some_and(|d| d.bounds_differ_on_chain());
        if !differs {
            return Ok(false);
        }
        let c = fine_challenge(m, &here.model.commitment, trace, at)?;
        let outcome = self.game.openElement(game, c).call().await.map_err(call_err("openElement"))?;
        Ok(GameOutcome::from(outcome) == GameOutcome::ProverWon)
    }

    /// Makes the prover open element `at` (when this watcher lacks the data or the fine root commits leaves it
    /// cannot open); the prover's answer decides the game, or its clock runs out.
    pub async fn request_element(&self, game: B256, at: ElementRef) -> Result<Sent> {
        let m = &self.at_game(game).await?.model;
        let r = element_request(&m.model, &m.commitment, at)?;
        Ok(send("requestElement", self.game.requestElement(game, r)).await?)
    }

    /// Escalates element `at` to a committee vote: with its openings when the contracts can open it (it is inside
    /// its sound bound but over its threshold, or inside the contract's own evaluation of its region), unopened
    /// when they cannot (its op has no on-chain check or reads an interior tensor of an earlier segment). The
    /// staked validators drawn recompute it and vote.
    pub async fn escalate(&self, game: B256, trace: Option<&Trace>, at: ElementRef) -> Result<Sent> {
        let m = &self.at_game(game).await?.model;
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
                let u = crate::calldata::unopenable(&m.model, &m.commitment, at)?;
                Ok(send("escalateUnopenable", self.game.escalateUnopenable(game, u)).await?)
            }
        }
    }

    /// This watcher at the lengths of game `game`'s inference (read from the chain); itself for a game that
    /// does not exist, whose move the contract refuses by name.
    async fn at_game(&self, game: B256) -> Result<Watcher> {
        let g = self.game.partitionGame(game).call().await.map_err(call_err("partitionGame"))?;
        if g.prompt == 0 {
            return Ok(self.clone());
        }
        self.at(Lengths::new(g.prompt, g.steps))
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
        let m = &self.model.at(claim.lengths)?.model;
        let start = if d.output {
            Position::OUTPUT
        } else if d.bisect || d.withheld {
            Position::ROOT
        } else {
            let k: u64 = self.game.arity().call().await.map_err(call_err("arity"))?.to();
            Position::leaf(k, m.graph.segment_ranges().len() as u64, segment_of(m, d.at.op)? as u64)
        };
        Ok(partition_game_id(claim.id, claim.index, self.address(), start))
    }

    /// The phase of this watcher's game over `claim` under `d` ([`Phase::None`] before it starts).
    pub async fn phase(&self, claim: &ClaimSeen, d: &Dispute) -> Result<Phase> {
        Ok(Phase::from(self.partition(claim, d).await?.1.phase))
    }

    /// This watcher's game over `claim` under `d`: its id and its state on the chain.
    pub async fn partition(&self, claim: &ClaimSeen, d: &Dispute) -> Result<(B256, DisputeGame::PartitionGame)> {
        let game = self.game_of(claim, d).await?;
        let g = self.game.partitionGame(game).call().await.map_err(call_err("partitionGame"))?;
        Ok((game, g))
    }

    /// Makes this watcher's next move in its dispute `d` of `claim` (whose verified trace is `trace`, unless
    /// withheld), as the game's phase on the chain asks: commit the challenge, start the game, pick, open or
    /// escalate the element, end the game on the prover's clock, end a game another game made moot, resolve a
    /// vote the committee left unresolved, take a commitment back or the reward out. Every decision is read from
    /// the chain, so a restarted watcher resumes where it was.
    pub async fn advance(&self, claim: &ClaimSeen, d: &Dispute, trace: Option<&Trace>) -> Result<Advance> {
        self.at(claim.lengths)?.advance_here(claim, d, trace).await
    }

    /// [`Watcher::advance`] with this view's graph (the claim's lengths).
    async fn advance_here(&self, claim: &ClaimSeen, d: &Dispute, trace: Option<&Trace>) -> Result<Advance> {
        let game = self.game_of(claim, d).await?;
        let g = self.game.partitionGame(game).call().await.map_err(call_err("partitionGame"))?;
        let phase = Phase::from(g.phase);
        let clock = Clock::from(g.clock);
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
                    self.escalate_output(claim, need()?, d.at).await
                } else if d.bisect || d.withheld {
                    self.bisect(claim, &need()?.commit_coarse(&self.model.model.graph)).await
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
            Phase::Reveal | Phase::Fine | Phase::Open => match clock.left(Side::Prover, now) {
                Some(left) => Advance::ProverToMove(left),
                None => {
                    let (outcome, sent) = self.timeout(game).await?;
                    tracing::info!(%game, outcome, "the prover's clock ran out");
                    Advance::Moved(Box::new(sent))
                }
            },
            Phase::Pick | Phase::Element if clock.left(Side::Challenger, now).is_none() => {
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
                let v = self.committee.vote(game).call().await.map_err(call_err("vote"))?;
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
                    .map_err(call_err("GameEnded logs"))?;
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
