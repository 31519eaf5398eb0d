//! The prover: runs the model with tracing, commits the run, posts the claim, serves the trace.

use std::sync::Arc;

use alloy::primitives::{FixedBytes, B256};
use alloy::providers::DynProvider;
use nao_bindings::{ClaimManager, DisputeGame};

use super::calldata::{batch_tree, data_answer, fine_answer, fine_challenge, inferences, reveal_openings};
use super::{RegisteredModel, TraceStore};
use crate::chain::{call_err, send, Claims, Client, Deployment, Phase, Position, Sent};
use crate::graph::template::Lengths;
use crate::model::HostTensor;
use crate::runtime::{Runtime, Tamper};
use crate::trace::ElementRef;
use crate::{Error, Result};

/// A claim the prover posted: a batch of inferences.
#[derive(Debug, Clone)]
pub struct PostedClaim {
    /// On-chain id.
    pub id: B256,
    /// The claimed output of each inference, in batch order.
    pub outputs: Vec<HostTensor>,
    /// The coarse trace root of each inference, in batch order (their list root is the claim's batch root).
    pub trace_roots: Vec<B256>,
    /// The posting transaction.
    pub sent: Sent,
}

impl PostedClaim {
    /// The claimed output of the first inference (the only one of a claim posted with [`Prover::post`]).
    pub fn output(&self) -> &HostTensor {
        &self.outputs[0]
    }

    /// The trace root of the first inference.
    pub fn trace_root(&self) -> B256 {
        self.trace_roots[0]
    }
}

/// A committed run, not yet posted.
#[derive(Debug, Clone)]
pub struct Run {
    /// The output.
    pub output: HostTensor,
    /// The coarse commitment (its root is the claim's trace root).
    pub coarse: crate::trace::ListCommitment,
    /// The lengths its graph was built for.
    pub lengths: Lengths,
}

impl Run {
    /// The trace root the claim will carry.
    pub fn trace_root(&self) -> B256 {
        FixedBytes(self.coarse.root())
    }
}

/// A prover bound to one model and one account.
pub struct Prover {
    client: Client,
    claims: Claims,
    model: Arc<RegisteredModel>,
    store: TraceStore,
    data_url: String,
    runtime: Arc<Runtime>,
    game: DisputeGame::DisputeGameInstance<DynProvider>,
    /// Token ids that end a generation (the end of the turn): an honest run stops after the step that
    /// produced one, and is claimed at the steps it ran.
    stop: Vec<u32>,
}

impl Prover {
    /// A prover posting to `d` with `client`'s account, serving traces from `store` at `data_url`.
    pub fn new(
        client: Client,
        d: &Deployment,
        model: Arc<RegisteredModel>,
        store: TraceStore,
        data_url: String,
    ) -> Result<Self> {
        let claims = Claims::new(&client, d);
        let runtime = Arc::new(Runtime::new(&model.model)?);
        let game = DisputeGame::new(d.game, client.provider.clone());
        Ok(Self { client, claims, model, store, data_url, runtime, game, stop: Vec::new() })
    }

    /// This prover, ending each honest generation after the first step whose token is one of `stop` (a model
    /// that does not generate ignores it).
    pub fn with_stop(mut self, stop: Vec<u32>) -> Self {
        self.stop = stop;
        self
    }

    /// The provider it sends with.
    pub fn provider(&self) -> &DynProvider {
        &self.client.provider
    }

    /// The prover's address.
    pub fn address(&self) -> alloy::primitives::Address {
        self.client.address
    }

    /// Runs the model on `input` (through `tamper`, which honest provers leave empty), commits every op
    /// output, keeps the trace for the trace server and posts the claim with its bond.
    pub async fn post(&self, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<PostedClaim> {
        let run = self.run(input, tamper)?;
        self.post_run(run).await
    }

    /// The first half of [`Prover::post`]: runs the model and commits the run, keeping its trace for the trace
    /// server, without sending anything (a daemon persists the run before it posts it). The graph is the
    /// model's at the input's length (and, for a model that generates, the steps this prover was set up with).
    pub fn run(&self, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<Run> {
        self.run_at(self.lengths_of(input, None), input, tamper)
    }

    /// The lengths of a job on `input` generating `steps` tokens (this prover's default when `None`): the
    /// input's length as the prompt, for a model whose graph varies.
    pub fn lengths_of(&self, input: &HostTensor, steps: Option<u32>) -> Lengths {
        let m = &self.model.model;
        if m.template().context == 1 {
            return m.lengths;
        }
        Lengths::new(input.data.len() as u32, steps.unwrap_or(m.lengths.steps))
    }

    /// [`Prover::run`] at lengths `l` (refused when the model does not serve them: the error names the limit).
    /// An honest generation ends early at a stop token ([`Prover::with_stop`]): the run is then the one at
    /// the steps it took.
    pub fn run_at(&self, l: Lengths, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<Run> {
        let at = self.model.at(l)?;
        let graph = &at.model.graph;
        // Honest runs take the hot path (only the coarse trace is hashed; the fine trace is recomputed when
        // asked for); a tampered run is recorded whole, as it cannot be recomputed.
        let Some(f) = tamper else {
            let t = at.model.template();
            // the graph of k steps is the first nodes of this one: the token row after step k is its last
            let ends: Vec<usize> = match self.stop.is_empty() || !t.generates() {
                true => Vec::new(),
                false => (1..l.steps).map(|k| t.nodes(Lengths::new(l.prompt, k)) as usize).collect(),
            };
            let stop = |row: &[f32]| row.last().is_some_and(|id| self.stop.contains(&(*id as u32)));
            let (output, coarse, end) = self.runtime.run_committed_until(graph, input, &ends, stop)?;
            let l = match ends.binary_search(&end) {
                Ok(k) => {
                    let l = Lengths::new(l.prompt, k as u32 + 1);
                    let want = self.model.at(l)?.model.graph.coarse_indices();
                    if coarse.indices != want {
                        return Err(Error::TraceData(format!(
                            "a generation stopped at {l:?} is not its graph's prefix"
                        )));
                    }
                    l
                }
                Err(_) => l,
            };
            self.keep(coarse.root(), input.clone(), l)?;
            return Ok(Run { output, coarse, lengths: l });
        };
        self.keep_trace(self.runtime.run(graph, input, Some(f))?)
    }

    /// Serves the trace of an honest run of `input` at lengths `l` under `root` (recomputed when first asked
    /// for): what a restarted prover does for the open claims in its store.
    pub fn keep(&self, root: crate::commit::Hash, input: HostTensor, l: Lengths) -> Result<()> {
        let graph = Arc::new(self.model.at(l)?.model.graph.clone());
        self.store.insert_recomputable(root, input, self.runtime.clone(), graph);
        Ok(())
    }

    /// The registered model at the lengths of `trace` (its input's length and node count).
    fn model_of(&self, trace: &crate::trace::Trace) -> Result<Arc<RegisteredModel>> {
        let t = self.model.model.template();
        let input = trace.tensors.first().map_or(0, |x| x.data.len());
        self.model.at(t.lengths_of(input, trace.tensors.len().saturating_sub(1))?)
    }

    /// Commits `trace` on the registered graph of its lengths and serves it; the run to post.
    pub fn keep_trace(&self, trace: crate::trace::Trace) -> Result<Run> {
        let at = self.model_of(&trace)?;
        let graph = &at.model.graph;
        if trace.tensors.len() != graph.trace_len() {
            return Err(Error::TraceData(format!(
                "a trace of {} tensors for a graph of {}",
                trace.tensors.len(),
                graph.trace_len()
            )));
        }
        let coarse = trace.commit_coarse(graph);
        let output = trace.output().clone();
        self.store.insert(coarse.root(), trace);
        Ok(Run { output, coarse, lengths: at.model.lengths })
    }

    /// Posts a trace computed elsewhere (what a dishonest prover running another model does): commits it on
    /// the registered graph, keeps it for the trace server and posts the claim with its bond.
    pub async fn post_trace(&self, trace: crate::trace::Trace) -> Result<PostedClaim> {
        let run = self.keep_trace(trace)?;
        self.post_run(run).await
    }

    /// The second half of [`Prover::post`]: posts a run with the claim bond, as a batch of one.
    pub async fn post_run(&self, run: Run) -> Result<PostedClaim> {
        self.post_runs(vec![run]).await
    }

    /// Posts one claim on a batch of runs (in order) with one claim bond: their trace roots go on-chain, their
    /// traces are served by trace root at this prover's data URL.
    pub async fn post_runs(&self, runs: Vec<Run>) -> Result<PostedClaim> {
        if runs.is_empty() {
            return Err(Error::TraceData("a claim needs at least one inference".into()));
        }
        let bond = self.claims.claim_bond().await?;
        let batch: Vec<_> = runs.iter().map(|r| (r.trace_root(), r.lengths)).collect();
        let trace_roots: Vec<B256> = batch.iter().map(|(r, _)| *r).collect();
        let call = self.claims.contract().postClaim(self.model.id, inferences(&batch), self.data_uri());
        let sent = send("post", call.value(bond)).await?;
        let id = sent
            .receipt
            .decoded_log::<ClaimManager::ClaimPosted>()
            .map(|l| l.claimId)
            .ok_or_else(|| Error::Chain("post: no ClaimPosted event".into()))?;
        tracing::info!(claim = %id, inferences = runs.len(), gas = sent.gas_used, "claim posted");
        Ok(PostedClaim { id, outputs: runs.into_iter().map(|r| r.output).collect(), trace_roots, sent })
    }

    /// Where this prover's claims say their traces are served (`<data URL>/traces`, then `/<trace root>/<i>`).
    pub fn data_uri(&self) -> String {
        format!("{}/traces", self.data_url)
    }

    /// The id a batch of `runs` has (or would have) as this prover's claim, and whether it was posted already:
    /// claims are content-addressed (model, batch root, prover).
    pub async fn claim_of(&self, runs: &[Run]) -> Result<(B256, bool)> {
        let batch: Vec<_> = runs.iter().map(|r| (r.trace_root(), r.lengths)).collect();
        let batch_root = FixedBytes(batch_tree(&batch).root());
        let id = self
            .claims
            .contract()
            .claimIdOf(self.model.id, batch_root, self.claims.account())
            .call()
            .await
            .map_err(call_err("claimIdOf"))?;
        Ok((id, self.claims.posted(id).await?))
    }

    /// The model this prover runs.
    pub fn model(&self) -> &crate::model::Model {
        &self.model.model
    }

    /// The model this prover runs, at lengths `l`.
    pub fn model_at(&self, l: Lengths) -> Result<Arc<RegisteredModel>> {
        self.model.at(l)
    }

    /// The claim manager as this prover.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Makes every move waiting for this prover in the partition games against `claim` opened since
    /// `from_block`, each on the inference it names: reveals the interior boundaries of a bisection range, posts
    /// the disputed segment's fine-trace root, or opens a requested element (recomputing the trace if needed).
    /// Returns the transactions sent.
    pub async fn answer_games(&self, claim: B256, from_block: u64) -> Result<Vec<Sent>> {
        let mut sent = Vec::new();
        for (id, g) in self.games_against(claim, from_block).await? {
            let phase = Phase::from(g.phase);
            if !matches!(phase, Phase::Reveal | Phase::Fine | Phase::Open) {
                continue;
            }
            let trace = self.trace(claim, g.traceRoot)?;
            let at = self.model.at(Lengths::new(g.prompt, g.steps))?;
            let model = &at.model;
            if phase == Phase::Fine {
                let a = fine_answer(model, &trace, g.lo as usize)?;
                sent.push(send("postFine", self.game.postFine(id, a)).await?);
            } else if phase == Phase::Open {
                let at = ElementRef { op: g.reqOp as usize, row: g.reqRow as usize, col: g.reqCol as usize };
                let c = fine_challenge(model, &self.model.commitment, &trace, at)?;
                sent.push(send("openRequested", self.game.openRequested(id, c)).await?);
            } else {
                let k: u64 = self.game.arity().call().await.map_err(call_err("arity"))?.to();
                let w = Position(g.position).child_width(k, u64::from(g.segments)) as usize;
                let r = reveal_openings(model, &trace, g.lo as usize, g.hi as usize, w)?;
                sent.push(send("reveal", self.game.reveal(id, r)).await?);
            }
        }
        Ok(sent)
    }

    /// Publishes the chunks of every open data request against `claim` made since `from_block`, recomputing the
    /// trace if needed: leaves of the coarse trace of one of its inferences, or of the fine root this prover
    /// posted in one of its games. An honest prover always answers, so a data request costs it only the gas,
    /// which the request's bond pays. Returns the transactions sent.
    pub async fn answer_data(&self, claim: B256, from_block: u64) -> Result<Vec<Sent>> {
        let cm = self.claims.contract();
        let asked = cm
            .DataRequested_filter()
            .topic2(claim)
            .from_block(from_block)
            .query()
            .await
            .map_err(call_err("DataRequested logs"))?;
        let mut sent = Vec::new();
        for (e, _) in asked {
            let open = cm.dataRequests(e.requestId).call().await.map_err(call_err("dataRequests"))?;
            if open.requester.is_zero() {
                continue; // answered or expired
            }
            let (trace, list) = if let Some(trace) = self.store.get(&e.root.0)? {
                let coarse = trace.commit_coarse(&self.model_of(&trace)?.model.graph);
                (trace, coarse)
            } else {
                match self.fine_segment(claim, e.root, from_block).await? {
                    Some((trace_root, s)) => {
                        let trace = self.trace(claim, trace_root)?;
                        let fine = trace.commit_fine(&self.model_of(&trace)?.model.graph, s)?;
                        (trace, fine)
                    }
                    None => {
                        tracing::warn!(request = %e.requestId, root = %e.root, "data request against no root of ours");
                        continue;
                    }
                }
            };
            let leaf = e.leaf as usize;
            let index = *list.indices.get(leaf).ok_or(Error::OutOfRange {
                what: "requested leaf",
                index: leaf,
                len: list.indices.len(),
            })?;
            let (shape, opening) = data_answer(&list, &trace.tensors[index], leaf, e.first as usize, e.count as usize)?;
            let tx = send("publishData", cm.publishData(e.requestId, shape, opening)).await?;
            tracing::info!(request = %e.requestId, leaf, first = e.first, gas = tx.gas_used, "data published");
            sent.push(tx);
        }
        Ok(sent)
    }

    /// The partition games against `claim` opened since `from_block`, by id, as they stand.
    async fn games_against(&self, claim: B256, from_block: u64) -> Result<Vec<(B256, DisputeGame::PartitionGame)>> {
        let created = self
            .game
            .GameCreated_filter()
            .topic2(claim)
            .from_block(from_block)
            .query()
            .await
            .map_err(call_err("GameCreated logs"))?;
        let mut games = Vec::with_capacity(created.len());
        for (e, _) in created {
            let g = self.game.partitionGame(e.gameId).call().await.map_err(call_err("partitionGame"))?;
            games.push((e.gameId, g));
        }
        Ok(games)
    }

    /// The inference (its trace root) and segment whose fine root this prover posted as `root` in a game against
    /// `claim` opened since `from_block`.
    async fn fine_segment(&self, claim: B256, root: B256, from_block: u64) -> Result<Option<(B256, usize)>> {
        for (_, g) in self.games_against(claim, from_block).await? {
            if g.segEnd != 0 && g.pending == root {
                return Ok(Some((g.traceRoot, g.lo as usize)));
            }
        }
        Ok(None)
    }

    /// The trace of the inference of `claim` with coarse root `root`, from the store (recomputed if needed).
    fn trace(&self, claim: B256, root: B256) -> Result<Arc<crate::trace::Trace>> {
        self.store.get(&root.0)?.ok_or_else(|| Error::TraceData(format!("no trace kept for {root} of claim {claim}")))
    }
}
