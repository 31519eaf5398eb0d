//! Acceptance regions: what an honest fp32 execution may produce for each output element.
//!
//! [`sound`] holds the IEEE-754 worst-case bounds, decided exactly as the contract decides them.

/// Unit roundoff of fp32, `u = 2^-24`.
pub const U: f64 = 1.0 / 16_777_216.0;
/// The smallest positive subnormal fp32, `2^-149`: the absolute error budget of a result that underflows.
pub const ETA: f64 = 1.401_298_464_324_817e-45;
/// Relative widening applied to regions evaluated in f64, covering the f64 evaluation itself.
pub const WIDEN: f64 = 1e-9;

pub mod admission;
pub mod calibrate;
pub mod composition;
pub mod gelu;
pub mod norms;
pub mod ops;
pub mod orders;
pub mod output;
pub mod profile;
pub mod reach;
pub mod rope;
pub mod softmax;
pub mod sound;
#[cfg(test)]
mod soundness;

pub use sound::{check_node, ElementVerdict, NodeCheck};
