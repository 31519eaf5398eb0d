//! The roles that join numerics and chain: model owner, prover, watcher, validator, and the prover's trace
//! server.

pub mod calldata;
mod prover;
mod registered;
mod trace_server;
mod validator;
mod watcher;
mod withheld;

pub use prover::{PostedClaim, Prover, Run};
pub use registered::RegisteredModel;
pub use trace_server::{TraceServer, TraceStore};
pub use validator::{Ballot, Validator, VoteStep};
pub use watcher::{fetch_trace, sample_ops, Advance, Checking, ClaimSeen, Dispute, Finding, Sample, Watcher};
