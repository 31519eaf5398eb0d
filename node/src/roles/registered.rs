//! A model as registered on-chain: the model, its commitment and its id.

use alloy::primitives::{FixedBytes, B256};
use nao_bindings::ModelRegistry;

use crate::chain::{send, Client, Deployment, Sent};
use crate::model::{Model, ModelCommitment};
use crate::{Error, Result};

/// A model together with what the registry knows of it.
#[derive(Debug, Clone)]
pub struct RegisteredModel {
    /// The model.
    pub model: Model,
    /// Its commitment.
    pub commitment: ModelCommitment,
    /// Its on-chain id.
    pub id: B256,
}

impl RegisteredModel {
    /// The registry spec of `model`.
    fn spec(model: &Model, c: &ModelCommitment, uri: &str) -> ModelRegistry::ModelSpec {
        ModelRegistry::ModelSpec {
            graphRoot: FixedBytes(c.graph.root()),
            nodeCount: model.graph.nodes.len() as u32,
            segmentCount: model.graph.segment_ranges().len() as u32,
            segmentsRoot: FixedBytes(crate::trace::segments_tree(&model.graph).root()),
            weightsRoot: FixedBytes(c.weights_tree.root()),
            weightCount: model.weights.len() as u32,
            profileRoot: FixedBytes(c.profile_root),
            uri: uri.to_string(),
        }
    }

    /// Registers `model` (with the profile file's bytes) as the sender of `client`.
    pub async fn register(
        client: &Client,
        d: &Deployment,
        model: Model,
        profile: &[u8],
        uri: &str,
    ) -> Result<(Self, Sent)> {
        let commitment = model.commit(profile);
        let registry = ModelRegistry::new(d.registry, client.provider.clone());
        let spec = Self::spec(&model, &commitment, uri);
        let id = registry.modelIdOf(spec.clone()).call().await.map_err(|e| Error::Chain(format!("modelIdOf: {e}")))?;
        let sent = send("register", registry.register(spec)).await?;
        tracing::info!(model = %model.name, id = %id, "model registered");
        Ok((Self { model, commitment, id }, sent))
    }

    /// Checks that the registry knows this model with exactly these roots.
    pub async fn check_registered(&self, client: &Client, d: &Deployment) -> Result<()> {
        let registry = ModelRegistry::new(d.registry, client.provider.clone());
        let spec = registry
            .model(self.id)
            .call()
            .await
            .map_err(|_| Error::UnknownModel(format!("{} ({})", self.model.name, self.id)))?;
        if spec.graphRoot.0 != self.commitment.graph.root() || spec.weightsRoot.0 != self.commitment.weights_tree.root()
        {
            return Err(Error::UnknownModel(format!("{}: registered roots differ from the local model", self.id)));
        }
        Ok(())
    }
}
