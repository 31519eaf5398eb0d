//! # nao
//!
//! Tolerance-aware optimistic verification of neural-network inference. Data flows one way:
//! model files → [`graph`] IR → [`runtime`] (candle) → [`trace`] → [`commit`]ments → claim on chain
//! ([`chain`]) → dispute game → verdict, with [`region`]s deciding what an honest fp32 result may be.
//! The [`roles`] (prover, watcher) join numerics and chain; [`simulate`] assembles them against anvil;
//! [`bench`] measures it all and [`plot`] draws the charts.

pub mod attack;
pub mod bench;
pub mod chain;
pub mod commit;
pub mod daemon;
mod error;
pub mod graph;
pub mod model;
pub mod plot;
pub mod region;
pub mod roles;
pub mod runtime;
pub mod simulate;
pub mod trace;

pub use error::{Error, Result};
