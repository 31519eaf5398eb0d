//! Acceptance regions: what an honest fp32 execution may produce for each output element.
//!
//! [`sound`] holds the IEEE-754 worst-case bounds, decided exactly as the contract decides them.

pub mod calibrate;
pub mod composition;
pub mod gelu;
pub mod norms;
pub mod ops;
pub mod orders;
pub mod rope;
pub mod softmax;
pub mod sound;
#[cfg(test)]
mod soundness;

pub use sound::{check_node, ElementVerdict, NodeCheck};
