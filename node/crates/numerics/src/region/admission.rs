//! Admission at registration: the composition audit's verdict on a model at a representative input, and on
//! what terms (sound regions, calibrated thresholds, or the output vote) its claims are then judged.

use crate::model::Model;
use crate::region::composition::{self, Audit, Tolerances};
use crate::region::profile::Profile;
use crate::tensor::HostTensor;
use crate::{Error, Result};

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
    /// Audits `model` at `operating_point` against `declared` (see `RegisteredModel::register_audited` in the roles).
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
        let ok = Admitted::audit(&m, crate::model::builtin::MLP_TINY_PROFILE, &at, 1e-3).unwrap();
        assert_eq!(ok.admission, Admission::Sound);
        assert!(ok.calibrated.budget < ok.sound.budget && ok.sound.budget < 1e-3, "{ok:?}");
        // the MLP's units sit far from their kinks for the deviations its regions admit: no remainder
        assert!(ok.sound.budget < 1.01 * ok.sound.first_order, "{ok:?}");
        let twin = steering_mlp(&MLP_TINY, 1024.0, 3).unwrap();
        let e = Admitted::audit(&twin.model, crate::model::builtin::MLP_STEERING_PROFILE, &at, 1e-3).unwrap_err();
        let Error::Refused { budget, calibrated, declared, .. } = &e else { panic!("{e}") };
        assert!(*budget > 1.0 && *calibrated > *declared, "{e}");
        assert!(e.to_string().contains("mlp-steering") && e.to_string().contains("declared tolerance"), "{e}");
    }
}
