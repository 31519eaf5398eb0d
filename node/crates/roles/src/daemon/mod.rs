//! The roles as long-running, restart-safe processes (`nao prover`, `nao watch`, `nao validate`).
//!
//! Each daemon is a [`Node`]: a state kept in its [`Store`] and a `tick` that reads the chain and makes the
//! moves due. Every move is decided from the chain's state at that tick (a game's phase, a vote's windows,
//! a claim's status), never from a memory of having sent it, so a daemon killed at any point and restarted
//! makes exactly the moves still missing: a transaction that landed changed the state and is not sent again;
//! one that did not is sent again. What the chain cannot tell (a ballot's salt, a claim's input, the element
//! a watcher disputes) is written to the store before the transaction that depends on it.

mod config;
pub mod openai;
mod prover;
mod validator;
mod watcher;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ConfigFile, Settings};
pub use nao_chain::{FollowMode, Follower, SeatWatch, Store};
pub use openai::{OpenAi, Serves};
pub use prover::{Answer, Batching, Encode, Job, JobReceipt, OpenClaim, ProverFault, ProverNode, ProverState, Ticket};
pub use validator::{ValidatorNode, ValidatorState};
pub use watcher::{Followed, Plan, WatcherFault, WatcherNode, WatcherState};

use crate::Result;

/// A daemon: a role with its state, moved one tick at a time.
pub trait Node: Send {
    /// `prover`, `watcher`, `validator`.
    fn role(&self) -> &'static str;
    /// Reads the chain and makes every move due.
    fn tick(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// Ticks `node` every `every` until `shutdown` resolves. A failed tick (an RPC outage, a transaction that did
/// not land) is logged and retried with exponential backoff (up to 32 ticks' worth, 30 s at most); the next
/// good tick resets it. After every tick, `seats` warns when the daemon's key sits in a committee vote that
/// nobody votes for (whatever the role: a staked key drawn with no `nao validate` running loses its penalty).
pub async fn run<N: Node>(
    node: Arc<tokio::sync::Mutex<N>>,
    every: Duration,
    mut seats: SeatWatch,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut failures = 0u32;
    loop {
        let result = node.lock().await.tick().await;
        // a warning for the operator, whether the tick went well or not: a failed look waits for the next tick
        // and never holds up the role's moves
        if let Err(e) = seats.check().await {
            tracing::debug!(error = %e, "seats not read");
        }
        let wait = match result {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(failures, "recovered");
                }
                failures = 0;
                every
            }
            Err(e) => {
                failures += 1;
                let wait = (every * 2u32.pow(failures.min(5))).min(Duration::from_secs(30));
                tracing::warn!(error = %e, failures, retry_in_ms = wait.as_millis() as u64, "tick failed");
                wait
            }
        };
        tokio::select! {
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
