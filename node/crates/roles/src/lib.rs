//! # nao-roles
//!
//! The roles that join numerics and chain: model owner, prover, watcher, validator, the prover's trace
//! server, and the [`daemon`]s that run them as long-lived, restart-safe processes.

pub mod calldata;
pub mod daemon;
mod error;
mod prover;
mod registered;
mod trace_server;
mod validator;
mod watcher;
mod withheld;

pub use error::{Error, Result};
pub use prover::{PostedClaim, Prover, Run};
pub use registered::{abi_spec, RegisteredModel};
pub use trace_server::{TraceServer, TraceStore};
pub use validator::{Ballot, Validator, VoteStep};
pub use watcher::{fetch_trace, sample_ops, Advance, Checking, ClaimSeen, Dispute, Finding, Sample, Watcher};

// The layers below, under the names the roles' modules use.
use nao_chain as chain;
use nao_numerics::{attack, commit, graph, model, region, runtime, trace};
