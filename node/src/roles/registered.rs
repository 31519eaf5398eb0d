//! A model as registered on-chain: the model, its commitment and its id.

use alloy::primitives::{FixedBytes, B256};
use nao_bindings::ModelRegistry;

use crate::chain::{send, Client, Deployment, Sent};
use crate::model::{HostTensor, Model, ModelCommitment};
use crate::region::composition::{self, Audit, Tolerances};
use crate::region::profile::Profile;
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
    /// The declared output tolerance as registered (0: none): how far an element of a claim's output may be
    /// from an honest run of its input, which the output vote enforces.
    pub output_tolerance: f32,
}

impl RegisteredModel {
    /// The registry spec of `model`.
    fn spec(model: &Model, c: &ModelCommitment, uri: &str, output_tolerance: f32) -> ModelRegistry::ModelSpec {
        ModelRegistry::ModelSpec {
            graphRoot: FixedBytes(c.graph.root()),
            nodeCount: model.graph.nodes.len() as u32,
            segmentCount: model.graph.segment_ranges().len() as u32,
            segmentsRoot: FixedBytes(crate::trace::segments_tree(&model.graph).root()),
            weightsRoot: FixedBytes(c.weights_tree.root()),
            weightCount: model.weights.len() as u32,
            profileRoot: FixedBytes(c.profile_root),
            outputTolerance: output_tolerance.to_bits(),
            uri: uri.to_string(),
        }
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
        let spec = Self::spec(&model, &commitment, uri, output_tolerance);
        let id = registry.modelIdOf(spec.clone()).call().await.map_err(|e| Error::Chain(format!("modelIdOf: {e}")))?;
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
        Ok((Self { model, commitment, id, output_tolerance }, sent))
    }

    /// `model` (with the profile file's bytes) as registered on `d` by someone: its id, checked against the
    /// registry's roots. A model nobody registered is [`Error::UnknownModel`].
    pub async fn attach(client: &Client, d: &Deployment, model: Model, profile: &[u8]) -> Result<Self> {
        let commitment = model.commit(profile);
        let registry = ModelRegistry::new(d.registry, client.provider.clone());
        let spec = Self::spec(&model, &commitment, "", 0.0);
        let id = registry.modelIdOf(spec).call().await.map_err(|e| Error::Chain(format!("modelIdOf: {e}")))?;
        let mut registered = Self { model, commitment, id, output_tolerance: 0.0 };
        let spec = registered.check_registered(client, d).await?;
        registered.output_tolerance = f32::from_bits(spec.outputTolerance);
        Ok(registered)
    }

    /// Registers `model` only if the composition audit admits it at `operating_point` (a representative
    /// input): errors of any size inside every sound region must not move the output by more than `declared`
    /// ([`Admission::Sound`]), or, failing that, errors inside the calibrated thresholds of `profile` must not
    /// ([`Admission::Tightened`]: the committee vote enforces those thresholds), or, failing that, they must
    /// not to first order ([`Admission::OutputVote`]: claims' outputs are then held to `declared` by the
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
        tracing::info!(
            model = %model.name,
            admission = ?admitted.admission,
            sound = admitted.sound.budget,
            calibrated = admitted.calibrated.budget,
            declared,
            "composition audit passed"
        );
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

/// On what terms the composition audit admitted a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Errors of any size inside every sound region stay within the declared tolerance: the element checks
    /// alone bound the output.
    Sound,
    /// Errors of any size inside the calibrated thresholds do: the thresholds (enforced by the committee) and
    /// the element checks bound the output.
    Tightened,
    /// Only to first order: errors the size honest runs make stay within the declared tolerance, but the
    /// audit cannot bound larger in-region errors (its interval reach saturates on deep networks). What a
    /// claim's output may be is then enforced by the output vote (a committee re-runs the claim's input).
    OutputVote,
}

/// The audit a model passed at registration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Admitted {
    /// On what terms.
    pub admission: Admission,
    /// The audit with sound bounds.
    pub sound: Audit,
    /// The audit with the calibrated thresholds.
    pub calibrated: Audit,
}

impl Admitted {
    /// Audits `model` at `operating_point` against `declared` (see [`RegisteredModel::register_audited`]).
    pub fn audit(model: &Model, profile: &[u8], operating_point: &HostTensor, declared: f64) -> Result<Self> {
        let honest = crate::runtime::run(model, operating_point, None)?;
        let p = Profile::parse(profile)?;
        let [sound, calibrated]: [Audit; 2] =
            composition::audits(model, &honest, declared, &[Tolerances::Sound, Tolerances::Calibrated(&p)])?
                .try_into()
                .expect("one audit per tolerance set");
        let admission = if sound.passed() {
            Admission::Sound
        } else if calibrated.passed() {
            Admission::Tightened
        } else if calibrated.first_order <= declared {
            Admission::OutputVote
        } else {
            let worst =
                sound.worst().map_or("-".to_string(), |w| format!("{} ({})", w.op, model.graph.nodes[w.op].op.name()));
            return Err(Error::Refused {
                model: model.name.clone(),
                budget: sound.first_order,
                calibrated: calibrated.first_order,
                declared,
                worst,
            });
        };
        Ok(Self { admission, sound, calibrated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::steering::steering_mlp;
    use crate::model::MLP_TINY;

    #[test]
    fn the_audit_admits_the_mlp_on_sound_bounds_and_refuses_its_steering_twin_by_name() {
        let at = MLP_TINY.input(1000);
        let m = MLP_TINY.generated();
        let ok = Admitted::audit(&m, crate::simulate::MLP_TINY_PROFILE, &at, 1e-3).unwrap();
        assert_eq!(ok.admission, Admission::Sound);
        assert!(ok.calibrated.budget < ok.sound.budget && ok.sound.budget < 1e-3, "{ok:?}");
        // the MLP's units sit far from their kinks for the deviations its regions admit: no remainder
        assert!(ok.sound.budget < 1.01 * ok.sound.first_order, "{ok:?}");
        let twin = steering_mlp(&MLP_TINY, 1024.0, 3).unwrap();
        let e = Admitted::audit(&twin.model, crate::simulate::MLP_STEERING_PROFILE, &at, 1e-3).unwrap_err();
        let Error::Refused { budget, calibrated, declared, .. } = &e else { panic!("{e}") };
        assert!(*budget > 1.0 && *calibrated > *declared, "{e}");
        assert!(e.to_string().contains("mlp-steering") && e.to_string().contains("declared tolerance"), "{e}");
    }
}
