//! The OpenAI-compatible API of `nao prover`: every answer it sells is a claim on the chain.
//!
//! - `GET /v1/models` → the one model this prover serves;
//! - `POST /v1/embeddings` `{"model", "input": "..." | ["...", ...], "encoding_format"?}` (an embedding
//!   model: MiniLM);
//! - `POST /v1/chat/completions` `{"model", "messages": [{"role": "user", "content": "..."}], "max_tokens"?,
//!   "stream"?}` and `POST /v1/completions` `{"model", "prompt", "max_tokens"?, "stream"?}` (a language model:
//!   SmolLM2; `stream: true` answers with server-sent events);
//! - `GET /v1/claims/{id}` → `{"id", "status": "pending" | "challenged" | "finalized" | "slashed"}`.
//!
//! Every answer carries a `nao` field (an object; for embeddings one per input, in order): the claim id, the
//! output tensor the claim commits (`{"shape", "values"}`: what `nao verify` checks against the claim's output
//! root), the index of the inference in its claim, the trace root, the posting transaction (none when the same input was
//! claimed before: claims are content-addressed) and the URL to poll the claim's status. Errors have OpenAI's
//! shape, `{"error": {"message", "type", "param", "code"}}`: 400 a malformed request or one this registration
//! cannot serve (a prompt of another length, more tokens than it generates, a conversation with more than one
//! turn), 404 another model or an unknown claim, 500 what the prover itself failed at.

use std::sync::Arc;

use alloy::primitives::B256;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::prover::{Job, JobReceipt, ProverNode};
use crate::chain::{call_err, ClaimStatus, Claims};
use crate::Error;
use nao_bindings::ClaimManager;

/// What the model behind a prover answers through the OpenAI API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serves {
    /// Chat and text completions (a language model; its output is the generated token ids).
    Completions {
        /// The most tokens a request may ask for.
        max_tokens: usize,
        /// The token ids that end an answer (the end of the turn; the prover stops generating there).
        stop: Vec<u32>,
    },
    /// Embeddings (its output is the embedding).
    Embeddings,
    /// Neither (a built-in MLP): only `POST /jobs`.
    Nothing,
}

/// The OpenAI API's view of a prover.
#[derive(Debug, Clone)]
pub struct OpenAi {
    /// The model's name (`GET /v1/models`; a request naming another is 404).
    pub model: String,
    /// What it answers.
    pub serves: Serves,
    /// Where the API is reached (the claims' status URLs).
    pub public_url: String,
}

type Shared = (Arc<tokio::sync::Mutex<ProverNode>>, Arc<OpenAi>);

/// The routes of the OpenAI API over `node`.
pub fn routes(node: Arc<tokio::sync::Mutex<ProverNode>>, api: OpenAi) -> Router {
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/claims/{id}", get(claim))
        .with_state((node, Arc::new(api)))
}

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with its HTTP status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.status.is_server_error() { "server_error" } else { "invalid_request_error" };
        let body = json!({"error": {"message": self.message, "type": kind, "param": null, "code": self.code}});
        (self.status, Json(body)).into_response()
    }
}

type Answered = std::result::Result<Response, ApiError>;

fn error(status: StatusCode, code: &'static str, message: impl std::fmt::Display) -> ApiError {
    ApiError { status, code, message: message.to_string() }
}

/// The request body, or the error naming what is wrong with it.
fn body<T>(b: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|r| error(r.status(), "invalid_request", r.body_text()))
}

/// 404 unless the request names this prover's model; 400 unless the model answers `what`.
fn check_model(api: &OpenAi, model: &str, answers: bool, what: &str) -> std::result::Result<(), ApiError> {
    if model != api.model {
        let msg = format!("model '{model}' is not served here (this prover serves '{}')", api.model);
        return Err(error(StatusCode::NOT_FOUND, "model_not_found", msg));
    }
    if !answers {
        return Err(error(StatusCode::BAD_REQUEST, "unsupported", format!("model '{model}' does not answer {what}")));
    }
    Ok(())
}

/// A failed job as an OpenAI error: what the registration cannot serve is the request's fault (400).
fn job_error(e: Error) -> ApiError {
    tracing::warn!(error = %e, "OpenAI request failed");
    match e {
        Error::Shape { .. } | Error::Config(_) => error(StatusCode::BAD_REQUEST, "invalid_request", e),
        e => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e),
    }
}

/// The `nao` field of an answer: with the output tensor the claim commits (`nao verify` checks it).
fn nao(api: &OpenAi, r: &JobReceipt) -> Value {
    json!({
        "claim_id": r.claim_id,
        "output": {"shape": r.output_shape, "values": r.output},
        "index": r.index,
        "batch": r.batch,
        "trace_root": r.trace_root,
        "output_proof": r.output_proof,
        "transaction": r.tx,
        "status_url": format!("{}/v1/claims/{}", api.public_url.trim_end_matches('/'), r.claim_id),
    })
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn models(State((_, api)): State<Shared>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": api.model, "object": "model", "created": 0, "owned_by": "nao"}]}))
}

/// `input` of an embeddings request: one text or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct EmbeddingsRequest {
    model: String,
    input: Input,
    #[serde(default)]
    encoding_format: Option<String>,
}

async fn embeddings(
    State((node, api)): State<Shared>,
    req: std::result::Result<Json<EmbeddingsRequest>, JsonRejection>,
) -> Answered {
    let req = body(req)?;
    check_model(&api, &req.model, api.serves == Serves::Embeddings, "embeddings")?;
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(f) => return Err(error(StatusCode::BAD_REQUEST, "invalid_request", format!("encoding_format '{f}'"))),
    };
    let inputs = match req.input {
        Input::One(s) => vec![s],
        Input::Many(v) if !v.is_empty() => v,
        Input::Many(_) => return Err(error(StatusCode::BAD_REQUEST, "invalid_request", "input: no text to embed")),
    };
    // every input is queued before any is awaited, so one request's inputs share a batch
    let mut tickets = Vec::with_capacity(inputs.len());
    {
        let mut node = node.lock().await;
        for prompt in inputs {
            tickets.push(node.submit(&Job { prompt, steps: None }).await.map_err(job_error)?);
        }
    }
    let (mut data, mut naos, mut tokens) = (Vec::new(), Vec::new(), 0);
    for (i, ticket) in tickets.into_iter().enumerate() {
        let r = ProverNode::receipt(ticket).await.map_err(job_error)?;
        let embedding = if base64 {
            use base64::Engine;
            let bytes: Vec<u8> = r.output.iter().flat_map(|v| v.to_le_bytes()).collect();
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            json!(r.output)
        };
        data.push(json!({"object": "embedding", "index": i, "embedding": embedding}));
        naos.push(nao(&api, &r));
        tokens += r.input_tokens;
    }
    let usage = json!({"prompt_tokens": tokens, "total_tokens": tokens});
    Ok(Json(json!({"object": "list", "data": data, "model": api.model, "usage": usage, "nao": naos})).into_response())
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    content: String,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<Message>,
    #[serde(default, alias = "max_completion_tokens")]
    max_tokens: Option<usize>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    model: String,
    prompt: String,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    stream: bool,
}

/// A completion: the answer's text, why it stopped, the tokens of prompt and answer, the `nao` field.
struct Completion {
    text: String,
    finish: &'static str,
    prompt_tokens: usize,
    tokens: usize,
    nao: Value,
}

/// Runs `prompt` and reads the first `max_tokens` generated tokens (at most what the registration
/// generates), up to the end of the turn.
async fn complete(
    node: &Shared,
    prompt: String,
    max_tokens: Option<usize>,
) -> std::result::Result<Completion, ApiError> {
    let (node, api) = node;
    let Serves::Completions { max_tokens: most, stop } = &api.serves else { unreachable!("checked by check_model") };
    let most = *most;
    let n = max_tokens.unwrap_or(most);
    if n == 0 || n > most {
        let msg = format!("max_tokens {n}: this prover generates 1 to {most} tokens an answer");
        return Err(error(StatusCode::BAD_REQUEST, "invalid_request", msg));
    }
    // the claim covers the `n` steps asked for; the answer ends at the end of the turn
    let r = ProverNode::job(node, &Job { prompt, steps: Some(n as u32) }).await.map_err(job_error)?;
    let node = node.lock().await;
    let ids = &r.output[..n.min(r.output.len())];
    let text = node.answer_of(ids).map_err(job_error)?;
    let finish = match ids.iter().any(|id| stop.contains(&(*id as u32))) {
        true => "stop",
        false => "length",
    };
    Ok(Completion { text, finish, prompt_tokens: r.input_tokens, tokens: ids.len(), nao: nao(api, &r) })
}

/// Which message of an answer a choice is for: the whole answer, or the stream's text chunk and finish chunk.
enum Part {
    Whole,
    Text,
    Finish,
}

/// Completion `c` as an OpenAI answer: `(id prefix, object, chunk object)` name it, `choice` builds its choice
/// for each part. Streamed: server-sent events, the text in one chunk, the finish reason in the next, then
/// `[DONE]`.
fn respond(
    api: &OpenAi,
    c: &Completion,
    (prefix, object, chunk): (&str, &str, &str),
    stream: bool,
    choice: impl Fn(Part, &Completion) -> Value,
) -> Response {
    let id = format!("{prefix}-{}", c.nao["claim_id"].as_str().unwrap_or_default());
    let created = now();
    let message = |object: &str, part: Part| {
        json!({"id": id, "object": object, "created": created, "model": api.model, "choices": [choice(part, c)],
            "nao": c.nao})
    };
    if !stream {
        let mut whole = message(object, Part::Whole);
        whole["usage"] = usage(c);
        return Json(whole).into_response();
    }
    let body: String = [message(chunk, Part::Text), message(chunk, Part::Finish)]
        .iter()
        .map(|m| format!("data: {m}\n\n"))
        .chain(["data: [DONE]\n\n".to_string()])
        .collect();
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

fn usage(c: &Completion) -> Value {
    json!({"prompt_tokens": c.prompt_tokens, "completion_tokens": c.tokens, "total_tokens": c.prompt_tokens + c.tokens})
}

async fn chat(State(s): State<Shared>, req: std::result::Result<Json<ChatRequest>, JsonRejection>) -> Answered {
    let req = body(req)?;
    check_model(&s.1, &req.model, matches!(s.1.serves, Serves::Completions { .. }), "chat")?;
    // one user turn: the registered graph takes the prompt in the model's chat template
    let prompt = match req.messages.as_slice() {
        [Message { role, content }] if role == "user" => content.clone(),
        _ => {
            let msg = "messages: one message with role 'user' (conversations of several turns are not served yet)";
            return Err(error(StatusCode::BAD_REQUEST, "invalid_request", msg));
        }
    };
    let c = complete(&s, prompt, req.max_tokens).await?;
    let choice = |part: Part, c: &Completion| match part {
        Part::Whole => {
            json!({"index": 0, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish})
        }
        Part::Text => json!({"index": 0, "delta": {"role": "assistant", "content": c.text}, "finish_reason": null}),
        Part::Finish => json!({"index": 0, "delta": {}, "finish_reason": c.finish}),
    };
    Ok(respond(&s.1, &c, ("chatcmpl", "chat.completion", "chat.completion.chunk"), req.stream, choice))
}

async fn completions(
    State(s): State<Shared>,
    req: std::result::Result<Json<CompletionRequest>, JsonRejection>,
) -> Answered {
    let req = body(req)?;
    check_model(&s.1, &req.model, matches!(s.1.serves, Serves::Completions { .. }), "completions")?;
    let c = complete(&s, req.prompt, req.max_tokens).await?;
    let choice = |part: Part, c: &Completion| {
        let text = if matches!(part, Part::Finish) { "" } else { c.text.as_str() };
        let finish = if matches!(part, Part::Text) { Value::Null } else { json!(c.finish) };
        json!({"index": 0, "text": text, "finish_reason": finish, "logprobs": null})
    };
    Ok(respond(&s.1, &c, ("cmpl", "text_completion", "text_completion"), req.stream, choice))
}

async fn claim(State((node, _)): State<Shared>, Path(id): Path<String>) -> Answered {
    let Ok(id) = id.parse::<B256>() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("claim id '{id}': not a 32-byte hex id"),
        ));
    };
    let status = claim_status(node.lock().await.claims(), id).await;
    match status {
        Ok(Some((_, s))) => Ok(Json(json!({"id": id, "status": s})).into_response()),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "claim_not_found", format!("no claim {id} on this chain"))),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e)),
    }
}

/// Claim `id` as the chain holds it, with its status as the API (and `nao verify`) names it; `None`: no such
/// claim.
pub async fn claim_status(claims: &Claims, id: B256) -> crate::Result<Option<(ClaimManager::Claim, &'static str)>> {
    let Some(claim) = claims.get(id).await? else { return Ok(None) };
    let open = claims.contract().openGames(id).call().await.map_err(call_err("openGames"))?;
    Ok(status_name(claim.status.into(), !open.is_zero()).map(|s| (claim, s)))
}

/// A claim's status as the API names it: `challenged` is pending with a game open against it.
fn status_name(status: ClaimStatus, open_games: bool) -> Option<&'static str> {
    match status {
        ClaimStatus::None => None,
        ClaimStatus::Pending if open_games => Some("challenged"),
        ClaimStatus::Pending => Some("pending"),
        ClaimStatus::Finalized => Some("finalized"),
        ClaimStatus::Slashed => Some("slashed"),
    }
}
