//! The prover: runs the model with tracing, commits the run, posts the claim, serves the trace.

use std::sync::Arc;

use alloy::primitives::{FixedBytes, B256};
use nao_bindings::ClaimManager;

use super::{RegisteredModel, TraceStore};
use crate::chain::{list_proof, send, Claims, Client, Deployment, Sent};
use crate::model::HostTensor;
use crate::runtime::{Runtime, Tamper};
use crate::{Error, Result};

/// A claim the prover posted.
#[derive(Debug, Clone)]
pub struct PostedClaim {
    /// On-chain id.
    pub id: B256,
    /// The claimed output.
    pub output: HostTensor,
    /// The trace root.
    pub trace_root: B256,
    /// The posting transaction.
    pub sent: Sent,
}

/// A prover bound to one model and one account.
pub struct Prover {
    client: Client,
    claims: Claims,
    model: Arc<RegisteredModel>,
    store: TraceStore,
    data_url: String,
    runtime: Runtime,
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
        let runtime = Runtime::new(&model.model)?;
        Ok(Self { client, claims, model, store, data_url, runtime })
    }

    /// The prover's address.
    pub fn address(&self) -> alloy::primitives::Address {
        self.client.address
    }

    /// Runs the model on `input` (through `tamper`, which honest provers leave empty), commits every op
    /// output, keeps the trace for the trace server and posts the claim with its bond.
    pub async fn post(&self, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<PostedClaim> {
        let m = &self.model.model;
        let trace = self.runtime.run(&m.graph, input, tamper)?;
        let tc = trace.commit();
        let last = tc.tensors.len() - 1;
        let bond = self.claims.claim_bond().await?;
        let root = tc.root();
        let call = ClaimManager::ClaimInput {
            modelId: self.model.id,
            inputRoot: FixedBytes(tc.input_root()),
            outputRoot: FixedBytes(tc.output_root()),
            traceRoot: FixedBytes(root),
            inputProof: list_proof(&tc.tree, 0)?,
            outputProof: list_proof(&tc.tree, last)?,
            dataUri: format!("{}/traces/0x{}", self.data_url, hex::encode(root)),
        };
        let output = trace.output().clone();
        self.store.insert(root, trace);
        let sent = send("post", self.claims.contract().postClaim(call).value(bond)).await?;
        let id = sent
            .receipt
            .decoded_log::<ClaimManager::ClaimPosted>()
            .map(|l| l.claimId)
            .ok_or_else(|| Error::Chain("post: no ClaimPosted event".into()))?;
        tracing::info!(claim = %id, trace_root = %FixedBytes(root), gas = sent.gas_used, "claim posted");
        Ok(PostedClaim { id, output, trace_root: FixedBytes(root), sent })
    }

    /// The claim manager as this prover.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}
