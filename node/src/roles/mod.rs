//! The roles that join numerics and chain: model owner, prover, watcher, and the prover's trace server.

mod prover;
mod registered;
mod trace_server;
mod watcher;

pub use prover::{PostedClaim, Prover};
pub use registered::RegisteredModel;
pub use trace_server::{TraceServer, TraceStore};
pub use watcher::{Checking, ClaimSeen, Finding, Watcher};
