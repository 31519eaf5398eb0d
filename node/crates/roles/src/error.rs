//! The roles' error type: the numerics' and the chain's errors, and what goes wrong joining them.

use std::path::PathBuf;

/// Everything that can go wrong playing a role; each variant names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading, running, committing or auditing a model failed.
    #[error(transparent)]
    Numerics(#[from] nao_numerics::Error),
    /// A chain interaction failed.
    #[error("chain: {0}")]
    Chain(String),
    /// An RPC request failed in transport or at the node (see [`nao_chain::Error::Rpc`]).
    #[error("chain: {call}: {source}")]
    Rpc {
        /// What was asked.
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
        revert: nao_chain::Revert,
    },
    /// A setting or request cannot be used.
    #[error("{0}")]
    Config(String),
    /// Trace data fetched from a prover or published on chain does not match the claim's commitment.
    #[error("trace data: {0}")]
    TraceData(String),
    /// A model is unknown (to the registry or to this node).
    #[error("unknown model {0}")]
    UnknownModel(String),
    /// An index is outside the structure it indexes.
    #[error("{what} index {index} is out of range (length {len})")]
    OutOfRange {
        /// What is indexed.
        what: &'static str,
        /// The index.
        index: usize,
        /// The length.
        len: usize,
    },
    /// A tensor has a shape other than the one required.
    #[error("tensor `{name}` has shape {got:?}, expected {expected:?}")]
    Shape {
        /// Which tensor.
        name: String,
        /// Its shape.
        got: Vec<usize>,
        /// The required shape.
        expected: Vec<usize>,
    },
    /// An I/O error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl From<nao_chain::Error> for Error {
    fn from(e: nao_chain::Error) -> Self {
        match e {
            nao_chain::Error::Chain(m) => Self::Chain(m),
            nao_chain::Error::Rpc { call, source } => Self::Rpc { call, source },
            nao_chain::Error::Reverted { call, revert } => Self::Reverted { call, revert },
            nao_chain::Error::Config(m) => Self::Config(m),
            nao_chain::Error::TraceData(m) => Self::TraceData(m),
            nao_chain::Error::Io { path, source } => Self::Io { path, source },
        }
    }
}

impl Error {
    /// The contracts' custom error `E` this is, if it is a revert with that error (see
    /// [`nao_chain::Revert::decode`]).
    pub fn revert<E: alloy::sol_types::SolError>(&self) -> Option<E> {
        let Self::Reverted { revert, .. } = self else { return None };
        revert.decode()
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
