//! The numerics' error type.

use std::path::PathBuf;

/// Everything that can go wrong loading, running, committing and auditing a model; each variant names what is
/// wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read or parsed.
    #[error("weights file {path}: {reason}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
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
    /// A Merkle proof or opening does not match its root.
    #[error("proof does not verify: computed root {got}, committed root {expected}")]
    Proof {
        /// Root computed from the proof.
        got: String,
        /// Root committed.
        expected: String,
    },
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
    /// The numeric runtime failed.
    #[error("runtime: {0}")]
    Runtime(#[from] candle_core::Error),
    /// An execution configuration cannot run here, or a profile does not fit the model it is used with.
    #[error("{0}")]
    Config(String),
    /// A model is unknown (to the registry or to this node).
    #[error("unknown model {0}")]
    UnknownModel(String),
    /// The composition audit cannot evaluate a model (an op it cannot check or differentiate).
    #[error("composition audit: {0}")]
    Audit(String),
    /// The composition audit refused a model at registration; nothing was sent.
    #[error(
        "composition audit refused `{model}`: errors inside its regions can move its output by {budget:.3e} \
         to first order (inside its calibrated thresholds: {calibrated:.3e}), more than its declared tolerance \
         {declared:.1e}; the largest share is op {worst}"
    )]
    Refused {
        /// The model's name.
        model: String,
        /// First-order budget with sound bounds.
        budget: f64,
        /// First-order budget with calibrated thresholds.
        calibrated: f64,
        /// The declared output tolerance.
        declared: f64,
        /// The op with the largest share (index and kind).
        worst: String,
    },
    /// A graph template cannot be derived, does not serve the lengths asked for, or does not match a graph
    /// ([`crate::graph::template`]); the message names the piece, node or segment.
    #[error("graph template: {0}")]
    Template(String),
    /// An I/O error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
