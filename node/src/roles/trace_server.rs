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
use crate::trace::Trace;
use crate::{Error, Result};

/// The traces of a prover's open claims, by trace root.
#[derive(Debug, Default, Clone)]
pub struct TraceStore {
    traces: Arc<Mutex<HashMap<Hash, Arc<Trace>>>>,
}

impl TraceStore {
    /// Keeps `trace` under `root`.
    pub fn insert(&self, root: Hash, trace: Trace) {
        self.traces.lock().expect("trace store lock").insert(root, Arc::new(trace));
    }

    /// The trace with `root`.
    pub fn get(&self, root: &Hash) -> Option<Arc<Trace>> {
        self.traces.lock().expect("trace store lock").get(root).cloned()
    }
}

/// A running trace server.
pub struct TraceServer {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

async fn tensor(
    State(store): State<TraceStore>,
    Path((root, index)): Path<(String, usize)>,
) -> std::result::Result<(HeaderMap, Vec<u8>), StatusCode> {
    let root: Hash = hex::decode(root.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(StatusCode::BAD_REQUEST)?;
    let trace = store.get(&root).ok_or(StatusCode::NOT_FOUND)?;
    let t = trace.tensors.get(index).ok_or(StatusCode::NOT_FOUND)?;
    let shape = t.shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let mut headers = HeaderMap::new();
    headers.insert("x-nao-shape", HeaderValue::from_str(&shape).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?);
    Ok((headers, bytemuck::cast_slice(&t.data).to_vec()))
}

impl TraceServer {
    /// Serves `store` on a free loopback port.
    pub async fn start(store: TraceStore) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Chain(format!("trace server bind: {e}")))?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| Error::Chain(e.to_string()))?);
        let app = Router::new().route("/traces/{root}/{index}", get(tensor)).with_state(store);
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
