//! The output vote's question, asked alike by the watcher (before it escalates a claim) and by a drawn
//! validator (when it votes): how far is a claim's output from an honest run of the claim's input, against
//! the output tolerance its model declared at registration?

use crate::model::Model;
use crate::tensor::HostTensor;
use crate::trace::ElementRef;

/// How far a claimed output value is from an honest run's: `|claimed - own|`, infinite when either is NaN
/// and their bits differ (a NaN is only ever equal to itself).
pub fn deviation(own: f32, claimed: f32) -> f64 {
    let d = (f64::from(own) - f64::from(claimed)).abs();
    if d.is_nan() {
        if own.to_bits() == claimed.to_bits() {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        d
    }
}

/// The element of `claimed` farthest from `own` and how far (`None` when their shapes differ: no element
/// can be compared).
pub fn worst(own: &HostTensor, claimed: &HostTensor) -> Option<(usize, f64)> {
    (own.shape == claimed.shape).then(|| {
        own.data.iter().zip(&claimed.data).map(|(a, b)| deviation(*a, *b)).enumerate().fold((0, 0.0), |w, (i, d)| {
            if d > w.1 {
                (i, d)
            } else {
                w
            }
        })
    })
}

/// The output element of `claimed` farthest from `own` (an honest run's output of the same input) if it is
/// more than `tolerance` off: the element an output vote asks about (op: `model`'s last), with its deviation.
/// `None` when every element is within `tolerance`. An output of another shape is off at element (0, 0).
pub fn off(model: &Model, own: &HostTensor, claimed: &HostTensor, tolerance: f64) -> Option<(ElementRef, f64)> {
    let last = model.graph.nodes.len() - 1;
    let cols = *own.shape.last().unwrap_or(&1);
    match worst(own, claimed) {
        None => Some((ElementRef { op: last, row: 0, col: 0 }, f64::INFINITY)),
        Some((i, d)) if d > tolerance => Some((ElementRef { op: last, row: i / cols, col: i % cols }, d)),
        Some(_) => None,
    }
}

/// A validator's answer to an output vote on element (`row`, `col`) of `claimed`: `Some(deviation)` when it
/// is more than `tolerance` from `own` (its own run of the claim's input), `None` when within it or when the
/// output has no such element (the challenger asked about nothing).
pub fn judge_element(own: &HostTensor, claimed: &HostTensor, row: usize, col: usize, tolerance: f64) -> Option<f64> {
    let cols = *claimed.shape.last().unwrap_or(&1);
    let element = row * cols + col;
    if col >= cols || element >= claimed.data.len() {
        return None;
    }
    if own.shape != claimed.shape {
        return Some(f64::INFINITY);
    }
    let d = deviation(own.data[element], claimed.data[element]);
    (d > tolerance).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_is_the_distance_and_a_nan_is_equal_only_to_itself() {
        assert_eq!(deviation(1.0, 1.5), 0.5);
        assert_eq!(deviation(f32::NAN, f32::NAN), 0.0);
        assert_eq!(deviation(1.0, f32::NAN), f64::INFINITY);
        assert_eq!(deviation(f32::INFINITY, f32::INFINITY), 0.0);
        assert_eq!(deviation(f32::INFINITY, f32::NEG_INFINITY), f64::INFINITY);
        let own = HostTensor::new(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let mut claimed = own.clone();
        claimed.data[4] += 0.25;
        claimed.data[1] -= 0.125;
        assert_eq!(worst(&own, &claimed), Some((4, 0.25)));
        assert_eq!(worst(&own, &HostTensor::new(vec![3, 2], own.data.clone())), None);
    }

    /// No honest claim goes to an output vote: runs of the MLP and of MiniLM in every execution configuration
    /// this machine has (candle's kernels at two thread counts, every reference dot-product order) stay within
    /// the tolerance each declares at registration, by a wide margin.
    #[test]
    fn honest_runs_in_every_configuration_are_within_the_declared_output_tolerance() {
        use crate::model::builtin::{MINILM_DECLARED_TOLERANCE, MINILM_SENTENCE, STEERING_DECLARED_TOLERANCE};
        use crate::model::{bert::Bert, fetch, MLP_TINY};
        use crate::runtime::{Config, Runtime};
        let bert = Bert::minilm(&fetch::default_cache_dir()).unwrap();
        let sentences = [MINILM_SENTENCE, "The capital of France is Paris.", "Rust is a systems language."];
        let mut cases: Vec<(Model, HostTensor, f64)> =
            (0..8).map(|s| (MLP_TINY.generated(), MLP_TINY.input(s), STEERING_DECLARED_TOLERANCE)).collect();
        for text in sentences {
            let x = bert.encode(text).unwrap();
            cases.push((bert.model(x.data.len()).unwrap(), x, MINILM_DECLARED_TOLERANCE));
        }
        for (m, x, declared) in &cases {
            let mut worst = 0.0f64;
            for config in Config::all().into_iter().filter(|c| c.available().is_ok()) {
                let other = Runtime::with_config(m, config).unwrap().run(&m.graph, x, None).unwrap();
                let own = crate::runtime::run(m, x, None).unwrap();
                assert_eq!(off(m, own.output(), other.output(), *declared), None, "{} in {config}", m.name);
                worst = worst.max(super::worst(own.output(), other.output()).unwrap().1);
            }
            assert!(worst < declared / 100.0, "{}: honest runs differ by {worst:e}", m.name);
            eprintln!("{}: honest configurations differ by {worst:.2e} at most (declared {declared:e})", m.name);
        }
    }
}
