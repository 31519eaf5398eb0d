//! `nao prover`: takes inference jobs over HTTP, runs the model with tracing, posts the runs as claims (a batch
//! of the jobs that arrive within a window, up to a size: [`Batching`]), serves the traces, answers every game
//! move against its claims, finalizes them and withdraws its bonds.
//!
//! HTTP API (JSON):
//! - `POST /jobs` `{"prompt": "..."}` → `{"claim_id", "index", "trace_root", "answer", "output", "gas"}`
//!   (`index`: the job's place in the claim's batch; `output`: the whole output tensor the claim commits;
//!   `gas`: the post's, shared by the batch), or an error; an input claimed before answers with its existing
//!   claim (`gas` 0: nothing posted);
//! - `GET /claims` → the open claims in the store;
//! - the OpenAI-compatible API (`/v1/models`, `/v1/embeddings`, `/v1/chat/completions`, `/v1/completions`,
//!   `/v1/claims/{id}`; see [`super::openai`]);
//! - `GET /traces/{root}/{index}` → a trace tensor (see [`crate::TraceServer`]).
//!
//! Every error is `{"error": "..."}` naming what is wrong: 400 malformed JSON, a bad trace root or index, or a
//! prompt of another length than the registered graph takes; 415 not JSON; 422 a missing or mistyped field;
//! 404 an unknown trace or tensor; 500 what the prover itself failed at.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use nao_bindings::ClaimManager;
use serde::{Deserialize, Serialize};

use super::{Node, OpenAi, Store};
use crate::attack::{search, Cheat};
use crate::chain::call_err;
use crate::chain::{head, next_block_time, ClaimStatus};
use crate::graph::template::Lengths;
use crate::model::HostTensor;
use crate::region::profile::Profile;
use crate::{Error, Result};
use crate::{Prover, Run, TraceServer, TraceStore};

/// A fault a prover can be told to commit: for tests and demonstrations of what the protocol catches, never
/// for real claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProverFault {
    /// Adds 1.0 to one element of the first op's output (outside its sound region: the contract decides).
    Corrupt,
    /// Changes one weight of the first matmul by more than its calibrated threshold allows but less than its
    /// sound bound does (found by search on each job): the committee vote decides.
    Nudge,
    /// Serves no trace data, publishes none when asked on-chain and makes no game move: a data request's expiry
    /// slashes it.
    Withhold,
    /// Runs honestly but serves no trace over HTTP; answers every data request and game move on-chain: watchers
    /// judge its claims by the input and output it publishes, and pay only their data bonds to do so.
    Unserved,
    /// [`ProverFault::Corrupt`] and [`ProverFault::Unserved`] at once: watchers find the fault from the data
    /// they ask for on-chain.
    UnservedCorrupt,
}

/// A claim the prover posted (or is about to post), kept until it is finalized or slashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenClaim {
    /// The job's prompt.
    pub prompt: String,
    /// The model input it encoded to (the trace is recomputed from it after a restart).
    pub input: HostTensor,
    /// The claim id, once the post landed.
    pub claim: Option<B256>,
    /// Its place in the claim's batch.
    #[serde(default)]
    pub index: u32,
    /// The block before the post (games against the claim are looked for from here).
    pub from_block: u64,
    /// The fault committed on this claim, if any.
    pub fault: Option<ProverFault>,
    /// The inference's lengths (absent in stores written before lengths varied: the input's length and the
    /// prover's default steps).
    #[serde(default)]
    pub lengths: Option<Lengths>,
}

/// The prover's store: its open claims by trace root.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProverState {
    /// Open claims by trace root (known before the post, so a post interrupted by a crash is found again).
    pub claims: BTreeMap<B256, OpenClaim>,
}

/// Turns a prompt into the model's input.
pub type Encode = Box<dyn Fn(&str) -> Result<HostTensor> + Send + Sync>;
/// Turns an output into what a person reads.
pub type Answer = Box<dyn Fn(&HostTensor) -> Result<String> + Send + Sync>;

/// A job: a prompt to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The prompt.
    pub prompt: String,
    /// Tokens to generate (a language model; the prover's default when absent).
    #[serde(default)]
    pub steps: Option<u32>,
}

/// What a job returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobReceipt {
    /// The claim posted.
    pub claim_id: B256,
    /// The job's place in the claim's batch.
    pub index: u32,
    /// Its trace root.
    pub trace_root: B256,
    /// The output, as a person reads it.
    pub answer: String,
    /// The whole output (the tensor the claim's output root commits: an embedding, token ids, an MLP's
    /// output), as its fp32 values.
    pub output: Vec<f32>,
    /// Gas of the post (of the whole batch).
    pub gas: u64,
    /// Inferences in the claim's batch.
    pub batch: usize,
    /// The posting transaction (none when the same input was claimed before).
    pub tx: Option<B256>,
    /// The input's length (its tokens, for a language model or an encoder).
    pub input_tokens: usize,
    /// The output's shape (with `output`, the tensor the claim's output root commits).
    pub output_shape: Vec<usize>,
    /// The proof that the output's root is the last leaf of the trace root (`nao verify` checks it).
    pub output_proof: Vec<B256>,
}

/// How a prover batches jobs into claims: a claim is posted once `size` jobs wait, or when the first waited
/// `window`. One claim bond, post and finalization serve the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Most inferences in one claim (1: every job is its own claim, posted at once).
    pub size: usize,
    /// Longest a job waits for others before its batch is posted.
    pub window: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self { size: 1, window: Duration::ZERO }
    }
}

/// A job that ran and waits for its batch to be posted.
struct Queued {
    run: Run,
    receipt: JobReceipt,
    reply: tokio::sync::oneshot::Sender<Result<JobReceipt>>,
}

/// The reply a queued job waits for.
pub type Ticket = tokio::sync::oneshot::Receiver<Result<JobReceipt>>;

/// The prover daemon.
pub struct ProverNode {
    prover: Prover,
    store: Store<ProverState>,
    traces: TraceStore,
    encode: Encode,
    answer: Answer,
    fault: Option<ProverFault>,
    profile: Option<Profile>,
    batching: Batching,
    queue: Vec<Queued>,
    /// When the oldest queued job arrived.
    opened: Option<Instant>,
}

impl ProverNode {
    /// A prover daemon over `prover` (whose trace store is `traces`) with its `store`; restores the trace of
    /// every open claim in the store so it can be served and disputed. `profile` is needed for
    /// [`ProverFault::Nudge`] only.
    pub fn new(
        prover: Prover,
        traces: TraceStore,
        store: Store<ProverState>,
        (encode, answer): (Encode, Answer),
        fault: Option<ProverFault>,
        profile: Option<Profile>,
    ) -> Result<Self> {
        if fault == Some(ProverFault::Nudge) && profile.is_none() {
            return Err(Error::Config("the nudge fault needs the model's profile".into()));
        }
        let node = Self {
            prover,
            store,
            traces,
            encode,
            answer,
            fault,
            profile,
            batching: Batching::default(),
            queue: Vec::new(),
            opened: None,
        };
        for (root, c) in &node.store.state().claims {
            if matches!(c.fault, None | Some(ProverFault::Withhold | ProverFault::Unserved)) {
                // an honest run is recomputed when first asked for, and checked against its root then
                node.prover.keep(root.0, c.input.clone(), node.lengths_of(c))?;
                continue;
            }
            let run = node.execute(&c.input, node.lengths_of(c), c.fault)?;
            if run.trace_root() != *root {
                return Err(Error::TraceData(format!(
                    "store {}: the run of claim {:?} recomputes to trace root {}, the store says {root}",
                    node.store.path().display(),
                    c.claim,
                    run.trace_root()
                )));
            }
        }
        tracing::info!(open = node.store.state().claims.len(), "prover restored its open claims");
        Ok(node)
    }

    /// Batches jobs as `b` says from now on; refuses a size of 0 or over the claim manager's `MAX_BATCH`.
    pub fn with_batching(mut self, b: Batching) -> Result<Self> {
        const MAX_BATCH: usize = 1024;
        if b.size == 0 || b.size > MAX_BATCH {
            return Err(Error::Config(format!("batch size {}: must be 1 to {MAX_BATCH}", b.size)));
        }
        self.batching = b;
        Ok(self)
    }

    /// The lengths open claim `c` ran at.
    fn lengths_of(&self, c: &OpenClaim) -> Lengths {
        c.lengths.unwrap_or_else(|| self.prover.lengths_of(&c.input, None))
    }

    /// Runs the model on `input` at lengths `l`, committing `fault`, and keeps the trace for the trace server.
    fn execute(&self, input: &HostTensor, l: Lengths, fault: Option<ProverFault>) -> Result<Run> {
        match fault {
            None | Some(ProverFault::Withhold | ProverFault::Unserved) => self.prover.run_at(l, input, None),
            Some(ProverFault::Corrupt | ProverFault::UnservedCorrupt) => {
                let mut moved = |op: usize, t: &mut HostTensor| {
                    if op == 0 {
                        let i = 5.min(t.data.len() - 1);
                        t.data[i] += 1.0;
                    }
                };
                self.prover.run_at(l, input, Some(&mut moved))
            }
            Some(ProverFault::Nudge) => {
                let at = self.prover.model_at(l)?;
                let model = &at.model;
                let honest = crate::runtime::run(model, input, None)?;
                let profile = self.profile.as_ref().expect("checked in new");
                let sw = search::single_weight(model, profile, &honest)?;
                // halfway (geometrically) between what the threshold flags and what the sound bound proves
                let delta = (sw.flagged * sw.proven).sqrt() as f32;
                let mut cheat = Cheat::weights(model, |i, w| {
                    if i == sw.weight {
                        w.data[sw.element] = sw.original + delta;
                    }
                })?;
                self.prover.keep_trace(cheat.run(input)?)
            }
        }
    }

    /// Runs `job` and queues it for the next claim, persisted; the ticket resolves with its receipt once its
    /// batch is posted (at once when the batch is full). An input whose claim is still open is answered with
    /// that claim.
    pub async fn submit(&mut self, job: &Job) -> Result<Ticket> {
        let input = (self.encode)(&job.prompt)?;
        let input_tokens = input.data.len();
        // one registration serves every length its template holds; a longer prompt is refused by name
        let lengths = self.prover.lengths_of(&input, job.steps);
        self.prover.model().template().lengths_ok(lengths).map_err(|e| Error::Config(format!("the prompt: {e}")))?;
        let run = tokio::task::block_in_place(|| self.execute(&input, lengths, self.fault))?;
        let (from_block, _) = head(self.prover.provider()).await?;
        let root = run.trace_root();
        let last = run.coarse.tensors.len() - 1;
        let receipt = JobReceipt {
            output_proof: crate::calldata::list_proof(&run.coarse.tree, last)?,
            claim_id: B256::ZERO,
            index: 0,
            trace_root: root,
            answer: (self.answer)(&run.output)?,
            output: run.output.data.clone(),
            gas: 0,
            batch: 1,
            tx: None,
            input_tokens,
            output_shape: run.output.shape.clone(),
        };
        let (reply, ticket) = tokio::sync::oneshot::channel();
        let open = self.store.state().claims.get(&root).map(|c| (c.claim, c.index));
        match open {
            // the same input ran before and its claim is open: the buyer gets that one
            Some((Some(id), index)) => {
                tracing::info!(claim = %id, index, "claimed before: answering with the existing claim");
                let _ = reply.send(Ok(JobReceipt { claim_id: id, index, ..receipt }));
                return Ok(ticket);
            }
            // the same input is queued already: it is claimed once, in this batch
            Some((None, _)) if self.queue.iter().any(|q| q.receipt.trace_root == root) => {
                return Err(Error::Config("the same input is already waiting for its claim".into()));
            }
            _ => {}
        }
        let entry = OpenClaim {
            prompt: job.prompt.clone(),
            input,
            claim: None,
            index: 0,
            from_block,
            fault: self.fault,
            lengths: Some(run.lengths), // fewer steps than asked when the generation stopped at the end of its turn
        };
        // persisted before posting, so a prover killed in between finds the run again
        self.store.update(|s| s.claims.insert(root, entry))?;
        self.queue.push(Queued { run, receipt, reply });
        self.opened.get_or_insert_with(Instant::now);
        if self.queue.len() >= self.batching.size {
            self.flush().await?;
        }
        Ok(ticket)
    }

    /// Runs `job` and waits for its claim (the daemon's [`ProverNode::submit`] and its ticket, the lock released
    /// while the batch fills).
    pub async fn job(node: &Shared, job: &Job) -> Result<JobReceipt> {
        let ticket = node.lock().await.submit(job).await?;
        Self::receipt(ticket).await
    }

    /// The receipt a ticket resolves with.
    pub async fn receipt(ticket: Ticket) -> Result<JobReceipt> {
        ticket.await.map_err(|_| Error::Config("the prover stopped before posting the job's claim".into()))?
    }

    /// Posts the queued jobs as one claim and answers each; a failed post fails every job of the batch, and the
    /// store forgets their runs unless the claim exists.
    async fn flush(&mut self) -> Result<()> {
        self.opened = None;
        let queued = std::mem::take(&mut self.queue);
        if queued.is_empty() {
            return Ok(());
        }
        let (runs, waiting): (Vec<Run>, Vec<_>) = queued.into_iter().map(|q| (q.run, (q.receipt, q.reply))).unzip();
        let roots: Vec<B256> = runs.iter().map(Run::trace_root).collect();
        let batch = runs.len();
        let posted = match self.prover.claim_of(&runs).await {
            // the same batch was claimed before (claims are content-addressed): that claim answers
            Ok((id, true)) => Ok((id, 0, None)),
            Ok((id, false)) => match self.prover.post_runs(runs).await {
                Ok(p) => Ok((p.id, p.sent.gas_used, Some(p.sent.receipt.transaction_hash))),
                Err(e) => {
                    // refused by the chain (nothing posted): no entry stays behind for a claim that does not exist
                    if matches!(e, Error::Chain(_)) && !self.prover.claims().posted(id).await? {
                        self.store.update(|s| roots.iter().for_each(|r| _ = s.claims.remove(r)))?;
                    }
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        let (id, gas, tx) = match posted {
            Ok(p) => p,
            Err(e) => {
                let why = e.to_string();
                let mut first = Some(e);
                for (_, reply) in waiting {
                    let _ = reply.send(Err(first.take().unwrap_or_else(|| Error::Chain(why.clone()))));
                }
                return Ok(());
            }
        };
        self.store.update(|s| {
            for (i, r) in roots.iter().enumerate() {
                if let Some(c) = s.claims.get_mut(r) {
                    (c.claim, c.index) = (Some(id), i as u32);
                }
            }
        })?;
        tracing::info!(claim = %id, batch, gas, "batch claimed");
        for (i, (receipt, reply)) in waiting.into_iter().enumerate() {
            let _ = reply.send(Ok(JobReceipt { claim_id: id, index: i as u32, gas, batch, tx, ..receipt }));
        }
        Ok(())
    }

    /// What a person reads of output values `out` (the first tokens of a generation, say).
    pub fn answer_of(&self, out: &[f32]) -> Result<String> {
        (self.answer)(&HostTensor::new(vec![out.len()], out.to_vec()))
    }

    /// The claim manager it posts to.
    pub fn claims(&self) -> &crate::chain::Claims {
        self.prover.claims()
    }

    /// The HTTP API over this node (jobs, claims, the OpenAI API described by `openai`, and unless withholding,
    /// traces).
    pub fn routes(node: Arc<tokio::sync::Mutex<Self>>, traces: Option<TraceStore>, openai: OpenAi) -> Router {
        let api = Router::new()
            .route("/jobs", post(job))
            .route("/claims", get(claims))
            .with_state(node.clone())
            .merge(super::openai::routes(node, openai));
        match traces {
            Some(t) => api.merge(TraceServer::routes(t)),
            None => api,
        }
    }

    /// The trace store this node serves over HTTP (none when it withholds or serves none).
    pub fn served(&self) -> Option<TraceStore> {
        let unserved = [ProverFault::Withhold, ProverFault::Unserved, ProverFault::UnservedCorrupt];
        (!self.fault.is_some_and(|f| unserved.contains(&f))).then(|| self.traces.clone())
    }

    /// Finds the id of the claim (and the index in it) of trace root `root` whose post was interrupted (sent, but
    /// not recorded), from the logs.
    async fn recover_id(&self, root: B256, from_block: u64) -> Result<Option<(B256, u32)>> {
        let logs = self
            .prover
            .claims()
            .contract()
            .ClaimPosted_filter()
            .topic3(self.prover.address())
            .from_block(from_block)
            .query()
            .await
            .map_err(call_err("ClaimPosted logs"))?;
        for (e, _) in logs {
            if let Some(i) = nao_chain::unpack(&e.inferences)?.iter().position(|i| i.traceRoot == root) {
                return Ok(Some((e.claimId, i as u32)));
            }
        }
        Ok(None)
    }

    /// One tick's moves for the open claim `id` (posted at or after block `from_block`, with `fault`): its game
    /// moves and data answers, its finalization after the window; whether it is settled and can be forgotten.
    async fn step(&self, id: B256, from_block: u64, fault: Option<ProverFault>, now: u64) -> Result<bool> {
        let cm = self.prover.claims();
        match cm.status(id).await? {
            ClaimStatus::Pending => {
                if fault != Some(ProverFault::Withhold) {
                    self.prover.answer_games(id, from_block).await?;
                    self.prover.answer_data(id, from_block).await?;
                }
                let cl = cm.contract().claim(id).call().await.map_err(call_err("claim"))?;
                let open = cm.contract().openGames(id).call().await.map_err(call_err("openGames"))?;
                if now > cl.postedAt + cm.challenge_window().await? && open.is_zero() {
                    cm.finalize(id).await?;
                    tracing::info!(claim = %id, inferences = cl.count, "claim finalized");
                }
                Ok(false)
            }
            status => {
                tracing::info!(claim = %id, ?status, "claim settled");
                Ok(true)
            }
        }
    }

    /// Records the claim of every stored run whose post was interrupted, found in the logs; forgets a run never
    /// posted once its post cannot be pending.
    async fn recover(&mut self) -> Result<()> {
        let lost: Vec<(B256, u64)> = self
            .store
            .state()
            .claims
            .iter()
            .filter(|(r, c)| c.claim.is_none() && !self.queue.iter().any(|q| q.receipt.trace_root == **r))
            .map(|(r, c)| (*r, c.from_block))
            .collect();
        for (root, from_block) in lost {
            let found = self.recover_id(root, from_block).await?;
            let (block, _) = head(self.prover.provider()).await?;
            self.store.update(|s| match found {
                Some((id, index)) => {
                    if let Some(c) = s.claims.get_mut(&root) {
                        (c.claim, c.index) = (Some(id), index);
                    }
                }
                // never posted (killed before the post landed)
                None if block > from_block + 64 => _ = s.claims.remove(&root),
                None => {}
            })?;
        }
        Ok(())
    }
}

impl Node for ProverNode {
    fn role(&self) -> &'static str {
        "prover"
    }

    async fn tick(&mut self) -> Result<()> {
        if self.opened.is_some_and(|t| t.elapsed() >= self.batching.window) {
            self.flush().await?;
        }
        self.recover().await?;
        let now = next_block_time(self.prover.provider()).await?;
        // one step per claim, however many of its inferences the store holds
        let mut seen = BTreeSet::new();
        let open: Vec<(B256, u64, Option<ProverFault>)> = self
            .store
            .state()
            .claims
            .values()
            .filter_map(|c| c.claim.filter(|id| seen.insert(*id)).map(|id| (id, c.from_block, c.fault)))
            .collect();
        for (id, from_block, fault) in open {
            if self.step(id, from_block, fault, now).await? {
                self.store.update(|s| s.claims.retain(|_, c| c.claim != Some(id)))?;
            }
        }
        self.prover.claims().withdraw_credit().await?;
        Ok(())
    }
}

/// The prover daemon, shared by its HTTP handlers and its ticks.
pub type Shared = Arc<tokio::sync::Mutex<ProverNode>>;

async fn job(
    State(node): State<Shared>,
    job: std::result::Result<Json<Job>, JsonRejection>,
) -> (StatusCode, Json<serde_json::Value>) {
    // malformed JSON (400), a missing or mistyped field (422), a wrong content type (415): the same shape
    let Json(job) = match job {
        Ok(j) => j,
        Err(r) => return crate::trace_server::http_error(r.status(), r.body_text()),
    };
    let result = ProverNode::job(&node, &job).await;
    match result {
        Ok(r) => {
            tracing::info!(claim = %r.claim_id, gas = r.gas, "job done");
            (StatusCode::OK, Json(serde_json::to_value(r).unwrap_or_default()))
        }
        Err(e) => {
            let status = match &e {
                Error::Shape { .. } | Error::Config(_) => StatusCode::BAD_REQUEST,
                // the same input was claimed before (claims are content-addressed)
                e if e.revert::<ClaimManager::ClaimExists>().is_some() => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::warn!(error = %e, "job failed");
            crate::trace_server::http_error(status, e)
        }
    }
}

async fn claims(State(node): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&node.lock().await.store.state().claims).unwrap_or_default())
}
