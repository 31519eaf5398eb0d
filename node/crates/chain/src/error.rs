//! The chain side's error type.

use std::path::PathBuf;

/// Everything that can go wrong talking to a chain or keeping a daemon's state; each variant names what is
/// wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chain interaction failed.
    #[error("chain: {0}")]
    Chain(String),
    /// An RPC request failed in transport or at the node (no contract was asked: a block, logs, a receipt).
    #[error("chain: {call}: {source}")]
    Rpc {
        /// What was asked (`eth_getLogs`, `latest block`, ...).
        call: String,
        /// The transport's or the node's error.
        source: alloy::transports::TransportError,
    },
    /// A transaction reverted (or would: its gas estimate did).
    #[error("chain: {call}: {}", revert.reason)]
    Reverted {
        /// What was sent (`post`, `challenge`, ...).
        call: String,
        /// Why it reverted.
        revert: crate::Revert,
    },
    /// A deployment or setting cannot be used.
    #[error("{0}")]
    Config(String),
    /// Data published on chain does not fit what was asked for.
    #[error("trace data: {0}")]
    TraceData(String),
    /// An I/O error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    /// The contracts' custom error `E` this is, if it is a revert with that error (matched by selector, so
    /// any contract's binding of `E` will do).
    pub fn revert<E: alloy::sol_types::SolError>(&self) -> Option<E> {
        match self {
            Self::Reverted { revert, .. } => revert.decode(),
            _ => None,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
