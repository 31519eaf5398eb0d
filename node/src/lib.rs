//! # nao
//!
//! Tolerance-aware optimistic verification of neural-network inference. Data flows one way:
//! model files → [`graph`] IR → [`runtime`] (candle) → [`trace`] → [`commit`]ments → claim on chain
//! ([`chain`]) → dispute game → verdict, with [`region`]s deciding what an honest fp32 result may be.
//! The [`roles`] (prover, watcher) join numerics and chain; [`simulate`] assembles them against anvil;
//! [`bench`] measures it all and [`plot`] draws the charts.
//!
//! The layers are crates of their own, re-exported here under the names every tool uses: `nao-numerics`
//! (no chain), `nao-chain` (no numerics), `nao-roles` (both) and this one, the `nao` binary's library.

pub mod bench;
pub mod plot;
pub mod simulate;

pub use nao_chain as chain;
pub use nao_numerics::Error as NumericsError;
pub use nao_numerics::{attack, commit, graph, model, op, region, runtime, trace};
pub use nao_roles::{self as roles, daemon, Error, Result};
