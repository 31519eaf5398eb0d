//! # nao-numerics
//!
//! The numeric half of nao, with no chain in it: model files → [`graph`] IR of [`op`]s → [`runtime`] (candle) →
//! [`trace`] → [`commit`]ments, with [`region`]s deciding what an honest fp32 result may be and the
//! composition audit deciding whether a model may be registered; [`attack`] holds the adversaries' numerics.

pub mod attack;
pub mod commit;
mod error;
pub mod graph;
pub mod model;
pub mod op;
pub mod region;
pub mod runtime;
pub mod tensor;
pub mod trace;

pub use error::{Error, Result};
