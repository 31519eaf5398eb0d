//! `nao prover`: takes inference jobs over HTTP, runs the model with tracing, posts each run as a claim,
//! serves the traces, answers every game move against its claims, finalizes them and withdraws its bonds.
//!
//! HTTP API (JSON):
//! - `POST /jobs` `{"prompt": "..."}` → `{"claim_id", "trace_root", "answer", "output", "gas"}` (`output`:
//!   the whole output tensor the claim commits), or an error; an input claimed before answers with its
//!   existing claim (`gas` 0: nothing posted);
//! - `GET /claims` → the open claims in the store;
//! - the OpenAI-compatible API (`/v1/models`, `/v1/embeddings`, `/v1/chat/completions`, `/v1/completions`,
//!   `/v1/claims/{id}`; see [`super::openai`]);
//! - `GET /traces/{root}/{index}` → a trace tensor (see [`crate::TraceServer`]).
//!
//! Every error is `{"error": "..."}` naming what is wrong: 400 malformed JSON, a bad trace root or index, or a
//! prompt of another length than the registered graph takes; 415 not JSON; 422 a missing or mistyped field;
//! 404 an unknown trace or tensor; 500 what the prover itself failed at.

use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// The block before the post (games against the claim are looked for from here).
    pub from_block: u64,
    /// The fault committed on this claim, if any.
    pub fault: Option<ProverFault>,
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
}

/// What a job returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobReceipt {
    /// The claim posted.
    pub claim_id: B256,
    /// Its trace root.
    pub trace_root: B256,
    /// The output, as a person reads it.
    pub answer: String,
    /// The whole output (the tensor the claim's output root commits: an embedding, token ids, an MLP's
    /// output), as its fp32 values.
    pub output: Vec<f32>,
    /// Gas of the post.
    pub gas: u64,
    /// The posting transaction (none when the same input was claimed before).
    pub tx: Option<B256>,
    /// The input's length (its tokens, for a language model or an encoder).
    pub input_tokens: usize,
    /// The output's shape (with `output`, the tensor the claim's output root commits).
    pub output_shape: Vec<usize>,
}

/// The prover daemon.
pub struct ProverNode {
    prover: Prover,
    store: Store<ProverState>,
    traces: TraceStore,
    encode: Encode,
    answer: Answer,
    fault: Option<ProverFault>,
    profile: Option<Profile>,
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
        let node = Self { prover, store, traces, encode, answer, fault, profile };
        for (root, c) in &node.store.state().claims {
            if matches!(c.fault, None | Some(ProverFault::Withhold | ProverFault::Unserved)) {
                // an honest run is recomputed when first asked for, and checked against its root then
                node.prover.keep(root.0, c.input.clone());
                continue;
            }
            let run = node.execute(&c.input, c.fault)?;
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

    /// Runs the model on `input`, committing `fault`, and keeps the trace for the trace server.
    fn execute(&self, input: &HostTensor, fault: Option<ProverFault>) -> Result<Run> {
        match fault {
            None | Some(ProverFault::Withhold | ProverFault::Unserved) => self.prover.run(input, None),
            Some(ProverFault::Corrupt | ProverFault::UnservedCorrupt) => {
                let mut moved = |op: usize, t: &mut HostTensor| {
                    if op == 0 {
                        let i = 5.min(t.data.len() - 1);
                        t.data[i] += 1.0;
                    }
                };
                self.prover.run(input, Some(&mut moved))
            }
            Some(ProverFault::Nudge) => {
                let model = self.prover.model();
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

    /// Runs `job`, persists it, posts the claim and persists the claim id.
    pub async fn job(&mut self, job: &Job) -> Result<JobReceipt> {
        let input = (self.encode)(&job.prompt)?;
        let input_tokens = input.data.len();
        let want = &self.prover.model().graph.input_shape;
        if &input.shape != want {
            return Err(Error::Shape {
                name: "job input (the prompt, encoded)".into(),
                got: input.shape,
                expected: want.clone(),
            });
        }
        let run = tokio::task::block_in_place(|| self.execute(&input, self.fault))?;
        let (from_block, _) = head(self.prover.provider()).await?;
        let root = run.trace_root();
        let answer = (self.answer)(&run.output)?;
        // the same input ran before: its claim is content-addressed, the buyer gets that one
        let (id, posted) = self.prover.claim_of(&run).await?;
        let mut receipt = JobReceipt {
            claim_id: id,
            trace_root: root,
            answer,
            output: run.output.data.clone(),
            gas: 0,
            tx: None,
            input_tokens,
            output_shape: run.output.shape.clone(),
        };
        if posted {
            tracing::info!(claim = %id, "claimed before: answering with the existing claim");
            return Ok(receipt);
        }
        let entry = OpenClaim { prompt: job.prompt.clone(), input, claim: None, from_block, fault: self.fault };
        // persisted before posting, so a prover killed in between finds the run again
        self.store.update(|s| s.claims.insert(root, entry))?;
        let posted = match self.prover.post_run(run).await {
            Ok(p) => p,
            Err(e @ Error::Chain(_)) => {
                // refused by the chain (nothing posted): no entry stays behind for a claim that does not exist
                if !self.prover.claims().posted(id).await? {
                    self.store.update(|s| s.claims.remove(&root))?;
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.store.update(|s| {
            if let Some(c) = s.claims.get_mut(&root) {
                c.claim = Some(posted.id)
            }
        })?;
        receipt.claim_id = posted.id;
        (receipt.gas, receipt.tx) = (posted.sent.gas_used, Some(posted.sent.receipt.transaction_hash));
        Ok(receipt)
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

    /// Finds the id of a claim whose post was interrupted (sent, but not recorded), from the logs.
    async fn recover_id(&self, root: B256, from_block: u64) -> Result<Option<B256>> {
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
        Ok(logs.into_iter().find(|(e, _)| e.traceRoot == root).map(|(e, _)| e.claimId))
    }

    /// One tick's moves for the open claim `c` (trace root `root`): its id (found again if the post was
    /// interrupted) and whether it is settled (or was never posted) and can be forgotten.
    async fn step(&self, root: B256, c: &OpenClaim, now: u64) -> Result<(Option<B256>, bool)> {
        let cm = self.prover.claims();
        let id = match c.claim {
            Some(id) => id,
            None => match self.recover_id(root, c.from_block).await? {
                Some(id) => id,
                None => {
                    // never posted (killed before the post landed); forget it once the post cannot be pending
                    let (block, _) = head(self.prover.provider()).await?;
                    return Ok((None, block > c.from_block + 64));
                }
            },
        };
        match cm.status(id).await? {
            ClaimStatus::Pending => {
                if c.fault != Some(ProverFault::Withhold) {
                    self.prover.answer_games(id, root, c.from_block).await?;
                    self.prover.answer_data(id, root, c.from_block).await?;
                }
                let cl = cm.contract().claim(id).call().await.map_err(call_err("claim"))?;
                let open = cm.contract().openGames(id).call().await.map_err(call_err("openGames"))?;
                if now > cl.postedAt + cm.challenge_window().await? && open.is_zero() {
                    cm.finalize(id).await?;
                    tracing::info!(claim = %id, "claim finalized");
                }
                Ok((Some(id), false))
            }
            status => {
                tracing::info!(claim = %id, ?status, "claim settled");
                Ok((Some(id), true))
            }
        }
    }
}

impl Node for ProverNode {
    fn role(&self) -> &'static str {
        "prover"
    }

    async fn tick(&mut self) -> Result<()> {
        let now = next_block_time(self.prover.provider()).await?;
        let open: Vec<(B256, OpenClaim)> = self.store.state().claims.iter().map(|(r, c)| (*r, c.clone())).collect();
        for (root, c) in open {
            let (id, settled) = self.step(root, &c, now).await?;
            if id != c.claim || settled {
                self.store.update(|s| {
                    if settled {
                        s.claims.remove(&root);
                    } else if let Some(e) = s.claims.get_mut(&root) {
                        e.claim = id;
                    }
                })?;
            }
        }
        self.prover.claims().withdraw_credit().await?;
        Ok(())
    }
}

type Shared = Arc<tokio::sync::Mutex<ProverNode>>;

async fn job(
    State(node): State<Shared>,
    job: std::result::Result<Json<Job>, JsonRejection>,
) -> (StatusCode, Json<serde_json::Value>) {
    // malformed JSON (400), a missing or mistyped field (422), a wrong content type (415): the same shape
    let Json(job) = match job {
        Ok(j) => j,
        Err(r) => return crate::trace_server::http_error(r.status(), r.body_text()),
    };
    let result = node.lock().await.job(&job).await;
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
