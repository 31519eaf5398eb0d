//! The prover's trace server: serves the tensors of its claims over HTTP, content-addressed by trace root.
//!
//! `GET /traces/<trace root hex>/<index>` answers the fp32 little-endian bytes of trace tensor `index`, with
//! its shape in the `x-nao-shape` header (`4,128`). Anyone can check the answer against the claim's roots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;

use crate::commit::Hash;
use crate::graph::Graph;
use crate::model::HostTensor;
use crate::runtime::Runtime;
use crate::trace::Trace;
use crate::{Error, Result};

/// How a claim's fine trace is held: materialized, or recomputable from its input (the posting hot path
/// hashes only the coarse trace; CPU runs are deterministic, so the same run gives the same tensors).
#[derive(Clone)]
enum Entry {
    Ready(Arc<Trace>),
    Recompute { input: HostTensor, runtime: Arc<Runtime>, graph: Arc<Graph> },
}

/// The traces of a prover's open claims, by (coarse) trace root.
#[derive(Default, Clone)]
pub struct TraceStore {
    traces: Arc<Mutex<HashMap<Hash, Entry>>>,
}

impl std::fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceStore").field("claims", &self.traces.lock().map(|t| t.len()).unwrap_or(0)).finish()
    }
}

impl TraceStore {
    /// Keeps `trace` under `root`.
    pub fn insert(&self, root: Hash, trace: Trace) {
        self.traces.lock().expect("trace store lock").insert(root, Entry::Ready(Arc::new(trace)));
    }

    /// Stops serving the trace under `root` (a prover withholding its data, in the simulation's scenarios).
    pub fn remove(&self, root: &Hash) {
        self.traces.lock().expect("trace store lock").remove(root);
    }

    /// Keeps the means to recompute the trace of `input` under `root` (materialized on first request).
    pub fn insert_recomputable(&self, root: Hash, input: HostTensor, runtime: Arc<Runtime>, graph: Arc<Graph>) {
        self.traces.lock().expect("trace store lock").insert(root, Entry::Recompute { input, runtime, graph });
    }

    /// The trace with `root`, recomputed (and kept) if needed; a recomputation whose coarse root differs from
    /// `root` is an error (it would serve data that does not match the claim).
    pub fn get(&self, root: &Hash) -> Result<Option<Arc<Trace>>> {
        let entry = self.traces.lock().expect("trace store lock").get(root).cloned();
        match entry {
            None => Ok(None),
            Some(Entry::Ready(t)) => Ok(Some(t)),
            Some(Entry::Recompute { input, runtime, graph }) => {
                let rec = runtime.record(&graph, &input, None)?;
                let got = rec.commit_coarse(&graph)?.root();
                if &got != root {
                    return Err(Error::TraceData(format!(
                        "recomputed trace has root 0x{}, the claim commits 0x{}",
                        hex::encode(got),
                        hex::encode(root)
                    )));
                }
                let trace = Arc::new(rec.to_host()?);
                self.traces.lock().expect("trace store lock").insert(*root, Entry::Ready(trace.clone()));
                Ok(Some(trace))
            }
        }
    }
}

/// A running trace server.
pub struct TraceServer {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

/// An HTTP error with the API's one error shape, `{"error": "..."}`.
pub(crate) fn http_error(
    status: StatusCode,
    why: impl std::fmt::Display,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    (status, axum::Json(serde_json::json!({ "error": why.to_string() })))
}

type HttpError = (StatusCode, axum::Json<serde_json::Value>);

async fn tensor(
    State(store): State<TraceStore>,
    Path((root, index)): Path<(String, String)>,
) -> std::result::Result<(HeaderMap, Vec<u8>), HttpError> {
    let bad = |why: String| http_error(StatusCode::BAD_REQUEST, why);
    let root: Hash = hex::decode(root.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(format!("`{root}` is not a trace root (32 bytes of hex)")))?;
    let index: usize = index.parse().map_err(|_| bad(format!("`{index}` is not a tensor index")))?;
    let internal = |e: String| {
        tracing::error!(error = %e, "trace unavailable");
        http_error(StatusCode::INTERNAL_SERVER_ERROR, "trace unavailable")
    };
    let trace = tokio::task::spawn_blocking(move || store.get(&root))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(|| http_error(StatusCode::NOT_FOUND, format!("no trace 0x{}", hex::encode(root))))?;
    let n = trace.tensors.len();
    let t = trace
        .tensors
        .get(index)
        .ok_or_else(|| http_error(StatusCode::NOT_FOUND, format!("no tensor {index}: the trace has {n}")))?;
    let shape = t.shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let mut headers = HeaderMap::new();
    headers.insert("x-nao-shape", HeaderValue::from_str(&shape).map_err(|e| internal(e.to_string()))?);
    Ok((headers, bytemuck::cast_slice(&t.data).to_vec()))
}

impl TraceServer {
    /// The trace routes over `store` (`GET /traces/{root}/{index}`), to serve alone or beside other routes.
    pub fn routes(store: TraceStore) -> Router {
        Router::new().route("/traces/{root}/{index}", get(tensor)).with_state(store)
    }

    /// Serves `store` on a free loopback port.
    pub async fn start(store: TraceStore) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Chain(format!("trace server bind: {e}")))?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| Error::Chain(e.to_string()))?);
        let app = Self::routes(store);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "trace server stopped");
            }
        });
        tracing::info!(%url, "trace server listening");
        Ok(Self { url, task })
    }
}

impl Drop for TraceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
