//! Fetching a claim's trace from its prover over HTTP, checked against the claim's root.

use super::ClaimSeen;
use crate::commit::Hash;
use crate::model::HostTensor;
use crate::trace::Trace;
use crate::{Error, Result};

/// Fetches every trace tensor of `claim` from its data URI and checks shapes and roots against the claim (the
/// watcher before it checks, a validator before it votes).
pub async fn fetch_trace(http: &reqwest::Client, model: &crate::model::Model, claim: &ClaimSeen) -> Result<Trace> {
    let graph = &model.graph;
    let mut tensors = Vec::with_capacity(graph.trace_len());
    for i in 0..graph.trace_len() {
        let want = if i == 0 { graph.input_shape.clone() } else { graph.nodes[i - 1].shape.clone() };
        let url = format!("{}/{i}", claim.data_uri);
        let resp = http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::TraceData(format!("{url}: {e}")))?;
        let shape: Vec<usize> = resp
            .headers()
            .get("x-nao-shape")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(',').filter_map(|d| d.parse().ok()).collect())
            .unwrap_or_default();
        if shape != want {
            return Err(Error::TraceData(format!("{url}: shape {shape:?}, the graph says {want:?}")));
        }
        let bytes = resp.bytes().await.map_err(|e| Error::TraceData(format!("{url}: {e}")))?;
        if bytes.len() != 4 * want.iter().product::<usize>() {
            return Err(Error::TraceData(format!("{url}: {} bytes for shape {want:?}", bytes.len())));
        }
        let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        tensors.push(HostTensor::new(want, data));
    }
    let trace = Trace { tensors };
    let root: Hash = trace.commit_coarse(graph).root();
    if root != claim.trace_root.0 {
        return Err(Error::TraceData(format!(
            "trace served for claim {} has root 0x{}, the claim commits {}",
            claim.id,
            hex::encode(root),
            claim.trace_root
        )));
    }
    Ok(trace)
}
