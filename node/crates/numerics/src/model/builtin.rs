//! What the built-in models declare and are exercised with: their acceptance-region profiles (as committed
//! in `profiles/`), the output tolerances they declare at registration, and the inputs the simulation and
//! the attacks run them on.

/// The acceptance-region profile of the skeleton's model (hashed into its profile root).
pub const MLP_TINY_PROFILE: &[u8] = include_bytes!("../../../../../profiles/mlp-tiny.json");
/// The acceptance-region profile of the steering twin of the MLP.
pub const MLP_STEERING_PROFILE: &[u8] = include_bytes!("../../../../../profiles/mlp-steering.json");
/// The acceptance-region profile of all-MiniLM-L6-v2.
pub const MINILM_PROFILE: &[u8] = include_bytes!("../../../../../profiles/minilm.json");
/// The acceptance-region profile of SmolLM2-135M-Instruct.
pub const SMOLLM2_PROFILE: &[u8] = include_bytes!("../../../../../profiles/smollm2.json");
/// The acceptance-region profile of Qwen2.5-Coder-0.5B-Instruct.
pub const QWEN25_CODER_PROFILE: &[u8] = include_bytes!("../../../../../profiles/qwen2.5-coder.json");
/// Amplification per layer of the steering twin (an exact power of two).
pub const STEERING_AMPLIFIER: f32 = 1024.0;
/// Output tolerance MiniLM declares at registration (per component of its mean-pooled embedding, whose
/// components are of order 0.1 and compared by cosine similarity).
pub const MINILM_DECLARED_TOLERANCE: f64 = 1e-2;
/// Output tolerance the MLP family declares at registration.
pub const STEERING_DECLARED_TOLERANCE: f64 = 1e-3;
/// The sentence MiniLM embeds in the simulation (honest, corrupted and every MiniLM attack).
pub const MINILM_SENTENCE: &str = "Optimistic verification settles inference disputes on-chain.";
/// A paragraph long enough (over 56 tokens) that one column of MiniLM's mean pooling cannot be opened in one
/// transaction (`long-row-request`).
pub const MINILM_LONG_TEXT: &str = "People buy inference from machines they do not control. Floating point on \
    different hardware never gives bit-identical results, so re-running a model and comparing hashes fails, and \
    zero-knowledge proofs cost about a million times the inference they prove. Optimistic verification settles \
    it instead: a prover stakes and posts a claim, and a watcher re-runs it and challenges a bad one on-chain.";
