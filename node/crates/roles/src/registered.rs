//! A model as registered on-chain: the model, its commitment and its id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::primitives::{FixedBytes, B256};
use nao_bindings::ModelRegistry;

use crate::chain::call_err;
use crate::chain::{send, Client, Deployment, Sent};
use crate::graph::template::Lengths;
use crate::model::{HostTensor, Model, ModelCommitment, ModelSpec};
use crate::region::admission::Admitted;
use crate::region::profile::Profile;
use crate::{Error, Result};

/// `spec` as the registry's calldata (`ModelSpec` of `Types.sol`; every contract's bindings have the same
/// struct: `SolValue` converts between them).
pub fn abi_spec(spec: &ModelSpec) -> ModelRegistry::ModelSpec {
    ModelRegistry::ModelSpec {
        graphRoot: FixedBytes(spec.graph_root),
        pieceNodes: spec.piece_nodes,
        pieceSegments: spec.piece_segments,
        context: spec.context,
        segmentsRoot: FixedBytes(spec.segments_root),
        weightsRoot: FixedBytes(spec.weights_root),
        weightCount: spec.weight_count,
        profileRoot: FixedBytes(spec.profile_root),
        outputTolerance: spec.output_tolerance.to_bits(),
        uri: spec.uri.clone(),
    }
}

/// A model together with what the registry knows of it.
#[derive(Debug, Clone)]
pub struct RegisteredModel {
    /// The model.
    pub model: Model,
    /// Its commitment (shared by its graphs of every length).
    pub commitment: Arc<ModelCommitment>,
    /// Its on-chain id.
    pub id: B256,
    /// The declared output tolerance as registered (0: none): how far an element of a claim's output may be
    /// from an honest run of its input, which the output vote enforces.
    pub output_tolerance: f32,
    /// Its graphs at other lengths, made on first use.
    others: Arc<Mutex<HashMap<Lengths, Arc<RegisteredModel>>>>,
}

impl RegisteredModel {
    fn of(model: Model, commitment: ModelCommitment, id: B256, output_tolerance: f32) -> Self {
        Self { model, commitment: Arc::new(commitment), id, output_tolerance, others: Arc::default() }
    }

    /// This registered model with its graph at lengths `l` (the same id, commitment and tolerance), made once
    /// per lengths; refused when the template does not serve `l`.
    pub fn at(&self, l: Lengths) -> Result<Arc<RegisteredModel>> {
        let mut others = self.others.lock().expect("model cache lock");
        if let Some(m) = others.get(&l) {
            return Ok(m.clone());
        }
        let m = Arc::new(Self { model: self.model.at(l)?, ..self.clone() });
        others.insert(l, m.clone());
        Ok(m)
    }

    /// Registers `model` (with the profile file's bytes) as the sender of `client`, declaring
    /// `output_tolerance` (0: none, and no output votes on its claims).
    pub async fn register(
        client: &Client,
        d: &Deployment,
        model: Model,
        profile: &[u8],
        uri: &str,
        output_tolerance: f32,
    ) -> Result<(Self, Sent)> {
        if !output_tolerance.is_finite() || output_tolerance.is_sign_negative() {
            return Err(Error::Config(format!("output tolerance {output_tolerance}: must be finite and non-negative")));
        }
        let commitment = model.commit(profile);
        let registry = ModelRegistry::new(d.registry, client.provider.clone());
        let spec = abi_spec(&model.spec(&commitment, uri, output_tolerance));
        let id = registry.modelIdOf(spec.clone()).call().await.map_err(call_err("modelIdOf"))?;
        let sent = send("register", registry.register(spec)).await?;
        tracing::info!(model = %model.name, id = %id, "model registered");
        // what a prover cannot be asked to open goes to the committee unopened: say so at registration
        let costly: Vec<usize> = (0..model.graph.nodes.len())
            .filter(|i| model.graph.descriptor(*i).is_some_and(|d| !d.openable()))
            .collect();
        if !costly.is_empty() {
            tracing::warn!(
                ops = ?costly,
                "elements of these ops exceed a block's gas or a transaction's size to open: disputes over them \
                 are decided by the committee, unopened"
            );
        }
        Ok((Self::of(model, commitment, id, output_tolerance), sent))
    }

    /// `model` (with the profile file's bytes) as registered on `d` by someone, at declared output tolerance
    /// `tolerance` (part of the id). Without one, the registration of these roots found in the registry's logs:
    /// an error names the tolerances when there are several (say which is served) and none is
    /// [`Error::UnknownModel`].
    pub async fn attach(
        client: &Client,
        d: &Deployment,
        model: Model,
        profile: &[u8],
        tolerance: Option<f32>,
    ) -> Result<Self> {
        let commitment = model.commit(profile);
        let registry = ModelRegistry::new(d.registry, client.provider.clone());
        let id_at = |t: f32| registry.modelIdOf(abi_spec(&model.spec(&commitment, "", t)));
        let (tolerance, id) = match tolerance {
            Some(t) => (t, id_at(t).call().await.map_err(call_err("modelIdOf"))?),
            None => {
                let logs = registry
                    .ModelRegistered_filter()
                    .from_block(0)
                    .query()
                    .await
                    .map_err(call_err("ModelRegistered logs"))?;
                // registrations of this very spec at some tolerance: the id of the spec at the log's tolerance is
                // the log's (a spec that only shares the roots, its pieces or segments changed, is not this model)
                let (graph, weights) = (commitment.graph.root(), commitment.weights_tree.root());
                let mut found = Vec::new();
                for (e, _) in &logs {
                    if (e.graphRoot.0, e.weightsRoot.0, e.profileRoot.0) != (graph, weights, commitment.profile_root) {
                        continue;
                    }
                    let t = f32::from_bits(e.outputTolerance);
                    if id_at(t).call().await.map_err(call_err("modelIdOf"))? == e.modelId {
                        found.push((t, e.modelId));
                    }
                }
                match found.as_slice() {
                    [] => return Err(Error::UnknownModel(format!("{}: no registration of its roots", model.name))),
                    [one] => *one,
                    many => {
                        let many: Vec<f32> = many.iter().map(|(t, _)| *t).collect();
                        return Err(Error::Config(format!(
                            "{} is registered with several declared output tolerances ({many:?}): name the one \
                             served (--declared-tolerance)",
                            model.name
                        )));
                    }
                }
            }
        };
        let registered = Self::of(model, commitment, id, tolerance);
        registered.check_registered(client, d).await?;
        Ok(registered)
    }

    /// Registers `model` only if the composition audit admits it at `operating_point` (a representative
    /// input): errors of any size inside every sound region must not move the output by more than `declared`
    /// ([`crate::region::admission::Admission::Sound`]), or, failing that, errors inside the calibrated thresholds of `profile` must not
    /// ([`crate::region::admission::Admission::Tightened`]: the committee vote enforces those thresholds), or, failing that, they must
    /// not to first order ([`crate::region::admission::Admission::OutputVote`]: claims' outputs are then held to `declared` by the
    /// output vote). Otherwise nothing is sent and the error names the first-order budgets and the worst op.
    pub async fn register_audited(
        client: &Client,
        d: &Deployment,
        model: Model,
        profile: &[u8],
        uri: &str,
        operating_point: &HostTensor,
        declared: f64,
    ) -> Result<(Self, Sent, Admitted)> {
        let admitted = Admitted::audit(&model, profile, operating_point, declared)?;
        tracing::info!(model = %model.name, "composition audit passed: {}", admitted.summary());
        for (step, token, margin, first_order) in admitted.near_ties() {
            tracing::warn!(
                step,
                token,
                margin,
                first_order,
                "a near tie at the operating point: errors of honest size (the calibrated thresholds, to first order) \
                 could flip this token, so an honest run elsewhere may choose another; the output vote decides such claims"
            );
        }
        let (registered, sent) = Self::register(client, d, model, profile, uri, declared as f32).await?;
        Ok((registered, sent, admitted))
    }

    /// The profile in `bytes`, if it hashes to this model's registered profile root and fits its weights and
    /// every op kind (what a watcher or a validator judges claims against); else the error says why.
    pub fn profile(&self, bytes: &[u8]) -> Result<Profile> {
        let p = Profile::verify(bytes, self.commitment.profile_root)?;
        p.fit(&self.model, self.commitment.weights_tree.root())?;
        Ok(p)
    }

    /// Checks that the registry knows this model with exactly these roots; its registered spec.
    pub async fn check_registered(&self, client: &Client, d: &Deployment) -> Result<ModelRegistry::ModelSpec> {
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
        Ok(spec)
    }
}
