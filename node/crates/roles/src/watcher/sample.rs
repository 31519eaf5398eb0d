//! Which ops a watcher checks: every op, a uniform spot-check, or the most sensitive first.

use crate::model::HostTensor;
use crate::Result;

/// Which ops a spot-checking watcher looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The share of ops checked per claim, on average.
    pub rate: f64,
    /// Ops checked in every claim (the most sensitive).
    pub always: Vec<bool>,
    /// The probability each other op is checked, drawn afresh per claim.
    pub others: f64,
}

impl Sample {
    /// Every op of `ops` with probability `rate`.
    pub fn uniform(ops: usize, rate: f64) -> Self {
        Self { rate, always: vec![false; ops], others: rate }
    }

    /// Sensitivity first: half the budget of `rate * ops` ops goes to the ops of largest `gains` (how far an
    /// error in the op moves the output, from the composition audit: the ops a cheat that wants the most
    /// effect for the least error must touch), checked in every claim; the rest is spread evenly over the
    /// other ops.
    pub fn sensitivity_first(rate: f64, gains: &[f64]) -> Self {
        let n = gains.len();
        let budget = rate * n as f64;
        let top = ((budget / 2.0).floor() as usize).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| gains[*b].total_cmp(&gains[*a]));
        let mut always = vec![false; n];
        order.iter().take(top).for_each(|i| always[*i] = true);
        let others = if n > top { ((budget - top as f64) / (n - top) as f64).clamp(0.0, 1.0) } else { 0.0 };
        Self { rate, always, others }
    }

    /// [`Sample::sensitivity_first`] with the gains of `model`'s composition audit at `operating_point` (a
    /// representative input, as at registration); uniform when the output is too wide for the audit's
    /// Jacobian (an LM's logits), which the log says.
    pub fn for_model(model: &crate::model::Model, operating_point: &HostTensor, rate: f64) -> Result<Self> {
        let n = model.graph.nodes.len();
        let honest = crate::runtime::run(model, operating_point, None)?;
        if honest.output().data.len() > 4096 {
            tracing::warn!(outputs = honest.output().data.len(), "output too wide for the audit: uniform sample");
            return Ok(Self::uniform(n, rate));
        }
        let audit = crate::region::composition::audit_with(
            model,
            &honest,
            f64::INFINITY,
            crate::region::composition::Tolerances::Sound,
        )?;
        let mut gains = vec![0.0; n];
        audit.ops.iter().for_each(|o| gains[o.op] = o.gain);
        Ok(Self::sensitivity_first(rate, &gains))
    }

    /// The ops one claim's check looks at.
    pub fn draw(&self) -> Vec<bool> {
        let mut rng = rand::rng();
        self.always.iter().map(|a| *a || rand::Rng::random::<f64>(&mut rng) < self.others).collect()
    }
}

/// Which of `ops` ops a spot-check looks at: each with probability `rate`, drawn from the thread's
/// cryptographically seeded generator (every op when `rate` is `None`).
pub fn sample_ops(ops: usize, rate: Option<f64>) -> Vec<bool> {
    rate.map_or_else(|| vec![true; ops], |r| Sample::uniform(ops, r).draw())
}

#[cfg(test)]
mod tests {
    use super::sample_ops;

    #[test]
    fn a_spot_check_draws_about_its_rate_of_ops_afresh_and_no_rate_draws_all() {
        assert!(sample_ops(500, None).iter().all(|p| *p));
        let (a, b) = (sample_ops(10_000, Some(0.1)), sample_ops(10_000, Some(0.1)));
        let count = |v: &[bool]| v.iter().filter(|p| **p).count();
        assert!((800..1200).contains(&count(&a)), "{}", count(&a));
        assert_ne!(a, b, "each claim draws its own ops");
    }

    #[test]
    fn sensitivity_first_always_checks_the_most_sensitive_ops_and_spreads_the_rest() {
        let gains: Vec<f64> = (0..100).map(|i| if i % 10 == 3 { 1e3 } else { 1.0 + i as f64 * 1e-3 }).collect();
        let s = super::Sample::sensitivity_first(0.2, &gains);
        // half of 20 ops: the ten of gain 1e3, every time; the other ten spread over the other 90 ops
        assert_eq!(s.always.iter().filter(|a| **a).count(), 10);
        assert!((0..100).filter(|i| i % 10 == 3).all(|i| s.always[i]));
        assert!((s.others - 10.0 / 90.0).abs() < 1e-12, "{}", s.others);
        let drawn: usize = (0..200).map(|_| s.draw().iter().filter(|p| **p).count()).sum();
        assert!((3600..4400).contains(&drawn), "about 20 ops per claim: {drawn} in 200");
    }
}
