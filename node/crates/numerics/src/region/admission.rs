//! Admission at registration: the composition audit's verdict on a model at a representative input, and on
//! what terms (sound regions, calibrated thresholds, or the output vote) its claims are then judged.

use crate::graph::Op;
use crate::model::Model;
use crate::region::composition::{self, Audit, TokenAudit, Tolerances};
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

/// What the audit measured, by what the model outputs.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audited {
    /// Values (an embedding, an MLP's output): how far in-region errors move them (inf-norm), with sound
    /// bounds and with the calibrated thresholds, against the declared tolerance.
    Values {
        /// With sound bounds.
        sound: Audit,
        /// With the calibrated thresholds.
        calibrated: Audit,
    },
    /// Tokens (a language model's argmax at every step): how far in-region errors move each token's lead over
    /// the runner-up, with sound bounds and with the calibrated thresholds, against that lead (its margin).
    /// Nothing flows through a token id, so the output audit would charge nothing: this is what can go wrong.
    Tokens {
        /// With sound bounds, one per generated token.
        sound: Vec<TokenAudit>,
        /// With the calibrated thresholds.
        calibrated: Vec<TokenAudit>,
    },
}

/// The audit a model passed at registration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Admitted {
    /// On what terms.
    pub admission: Admission,
    /// What it measured.
    pub audited: Audited,
}

impl Admitted {
    /// Audits `model` at `operating_point` against `declared` (see `RegisteredModel::register_audited` in the
    /// roles). A model whose output is tokens is audited token by token ([`composition::audits_tokens`]):
    /// admitted `Sound` or `Tightened` when no in-region error can flip any token, else `OutputVote` (a near
    /// tie is a property of the prompt, not of the model: every language model meets some, and the output
    /// vote's committee decides them), never refused here.
    pub fn audit(model: &Model, profile: &[u8], operating_point: &HostTensor, declared: f64) -> Result<Self> {
        let honest = crate::runtime::run(model, operating_point, None)?;
        let p = Profile::parse(profile)?;
        let tols = [Tolerances::Sound, Tolerances::Calibrated(&p)];
        if model.graph.nodes.iter().any(|n| n.op == Op::Argmax) {
            let [sound, calibrated]: [Vec<TokenAudit>; 2] =
                composition::audits_tokens(model, &honest, &tols)?.try_into().expect("one audit per tolerance set");
            let admission = if sound.iter().all(TokenAudit::stable) {
                Admission::Sound
            } else if calibrated.iter().all(TokenAudit::stable) {
                Admission::Tightened
            } else {
                Admission::OutputVote
            };
            return Ok(Self { admission, audited: Audited::Tokens { sound, calibrated } });
        }
        let [sound, calibrated]: [Audit; 2] =
            composition::audits(model, &honest, declared, &tols)?.try_into().expect("one audit per tolerance set");
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
        Ok(Self { admission, audited: Audited::Values { sound, calibrated } })
    }

    /// The output audits with sound bounds and with calibrated thresholds, for a model whose output is values.
    pub fn values(&self) -> Option<(&Audit, &Audit)> {
        match &self.audited {
            Audited::Values { sound, calibrated } => Some((sound, calibrated)),
            Audited::Tokens { .. } => None,
        }
    }

    /// The near ties of a model whose output is tokens: the tokens that errors of the size honest runs make
    /// could flip (the calibrated first-order budget reaches the margin), `(step, token, margin, first order)`.
    /// (The all-orders budget of a deep network saturates, as MiniLM's does, so it names every token.)
    pub fn near_ties(&self) -> Vec<(usize, usize, f64, f64)> {
        match &self.audited {
            Audited::Values { .. } => Vec::new(),
            Audited::Tokens { calibrated, .. } => calibrated
                .iter()
                .enumerate()
                .filter(|(_, t)| t.near_tie())
                .map(|(step, t)| (step, t.token, t.margin, t.first_order))
                .collect(),
        }
    }

    /// One line a person reads: the terms and the figures they rest on.
    pub fn summary(&self) -> String {
        match &self.audited {
            Audited::Values { sound, calibrated } => format!(
                "admitted {:?}: in-region errors move the output by {:.2e} (sound bounds), {:.2e} (calibrated \
                 thresholds), {:.2e} to first order; declared {:.1e}",
                self.admission, sound.budget, calibrated.budget, calibrated.first_order, sound.declared
            ),
            Audited::Tokens { sound, calibrated } => {
                let stable = |v: &[TokenAudit]| v.iter().filter(|t| t.stable()).count();
                format!(
                    "admitted {:?}: of {} tokens, {} cannot flip for in-region errors of any size (sound bounds), {} \
                     (calibrated thresholds); {} near ties that errors of honest size could flip",
                    self.admission,
                    calibrated.len(),
                    stable(sound),
                    stable(calibrated),
                    self.near_ties().len()
                )
            }
        }
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
        let (sound, calibrated) = ok.values().expect("an MLP outputs values");
        assert!(calibrated.budget < sound.budget && sound.budget < 1e-3, "{ok:?}");
        // the MLP's units sit far from their kinks for the deviations its regions admit: no remainder
        assert!(sound.budget < 1.01 * sound.first_order, "{ok:?}");
        let twin = steering_mlp(&MLP_TINY, 1024.0, 3).unwrap();
        let e = Admitted::audit(&twin.model, crate::model::builtin::MLP_STEERING_PROFILE, &at, 1e-3).unwrap_err();
        let Error::Refused { budget, calibrated, declared, .. } = &e else { panic!("{e}") };
        assert!(*budget > 1.0 && *calibrated > *declared, "{e}");
        assert!(e.to_string().contains("mlp-steering") && e.to_string().contains("declared tolerance"), "{e}");
    }

    /// A language model is audited on its tokens, not on its output ids (nothing flows through an id, so the
    /// output audit would charge 0): SmolLM2 is admitted under the output vote (its all-orders reach
    /// saturates, as MiniLM's does), and the first answer token to the France question is named as a near
    /// tie that errors of honest size could flip; the second token is not.
    #[test]
    fn a_language_model_is_admitted_on_its_tokens_and_a_near_tie_is_named() {
        use crate::model::builtin::SMOLLM2_PROFILE;
        use crate::model::gguf_tokenizer::smollm2_chat_prompt;
        use crate::model::llama::Llama;
        let llama = Llama::smollm2(&crate::model::fetch::default_cache_dir()).unwrap();
        let input = llama.encode(&smollm2_chat_prompt("What is the capital of France?")).unwrap();
        let model = llama.model(input.data.len(), 2).unwrap();
        let a = Admitted::audit(&model, SMOLLM2_PROFILE, &input, 0.5).unwrap();
        let Audited::Tokens { sound, calibrated } = &a.audited else { panic!("{a:?}") };
        assert_eq!((sound.len(), calibrated.len()), (2, 2), "{a:?}");
        for (c, s) in calibrated.iter().zip(sound) {
            assert!(c.first_order > 0.0 && c.first_order <= s.first_order && c.margin == s.margin, "{c:?} {s:?}");
            assert!(c.budget >= c.first_order && s.budget >= s.first_order, "{c:?} {s:?}");
        }
        assert!(calibrated[1].margin > 10.0 * calibrated[1].first_order, "{:?}", calibrated[1]);
        assert_eq!(a.admission, Admission::OutputVote, "{a:?}");
        // the first token leads by 0.08, within what calibrated errors move it by to first order; the second by 4.7
        let ties = a.near_ties();
        assert_eq!(ties.iter().map(|u| u.0).collect::<Vec<_>>(), vec![0], "{ties:?}");
        assert!(a.values().is_none());
        assert!(a.summary().contains("of 2 tokens"), "{}", a.summary());
        eprintln!("{}; {ties:?}", a.summary());
    }
}
