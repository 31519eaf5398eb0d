//! The daemons' configuration: a TOML file, layered under environment variables and flags.
//!
//! ```toml
//! [node]                      # every role
//! rpc_url = "http://127.0.0.1:8545"
//! deployment = "deployment.json"
//! poll_ms = 1000
//! follow = "poll"             # or "filter"
//! model = "minilm"
//! prompt = "Optimistic verification settles inference disputes on-chain."
//! max_tokens = 16            # smollm2: the most tokens an answer generates
//!
//! [prover]                    # overrides [node] for `nao prover`
//! store = "prover.json"
//! listen = "0.0.0.0:8600"
//! public_url = "http://prover.example:8600"
//! batch_size = 64            # most jobs one claim commits
//! batch_ms = 2000            # longest a job waits for its batch
//!
//! [watch]
//! store = "watcher.json"
//! sample = 0.1                # spot-check: each op with probability 0.1 (every op when absent)
//! profile = "profiles/minilm.json"
//!
//! [validate]
//! store = "validator.json"
//! profile = "profiles/minilm.json"
//! ```
//!
//! A flag wins over its environment variable (clap reads both), which wins over the role's section, which wins
//! over `[node]`, which wins over the built-in default. The private key is never read from the file: `--key`
//! or `NAO_KEY` only.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::FollowMode;
use crate::{Error, Result};

/// One layer of settings; every field optional, so layers merge field by field.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// JSON-RPC URL of the chain.
    pub rpc_url: Option<String>,
    /// The deployment file `nao deploy` wrote.
    pub deployment: Option<PathBuf>,
    /// The role's store file.
    pub store: Option<PathBuf>,
    /// Milliseconds between two looks at the chain.
    pub poll_ms: Option<u64>,
    /// How new events are learnt.
    pub follow: Option<FollowMode>,
    /// The model (`mlp-tiny`, `minilm`, `smollm2`, ...).
    pub model: Option<String>,
    /// The operating point: the prompt the model is loaded at first (any length).
    pub prompt: Option<String>,
    /// SmolLM2: the most tokens an answer generates.
    pub max_tokens: Option<usize>,
    /// The model's threshold profile.
    pub profile: Option<PathBuf>,
    /// The declared output tolerance of the registration served (part of its id); needed only when the model's
    /// roots are registered with several.
    pub declared_tolerance: Option<f64>,
    /// Watcher: spot-check each op of each claim with this probability (every op when absent).
    pub sample: Option<f64>,
    /// Prover: the address its HTTP API listens on.
    pub listen: Option<String>,
    /// Prover: the URL others reach its HTTP API at (the claims' data URIs); defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Prover: most inferences in one claim (1: every job is its own claim).
    pub batch_size: Option<usize>,
    /// Prover: longest a job waits for others to share its claim, in milliseconds.
    pub batch_ms: Option<u64>,
}

macro_rules! or_fields {
    ($a:ident, $b:ident, $($f:ident),*) => { Settings { $($f: $a.$f.or($b.$f)),* } };
}

impl Settings {
    /// Field by field: this layer's value where it has one, else `under`'s.
    pub fn or(self, under: Settings) -> Settings {
        let (a, b) = (self, under);
        or_fields!(
            a,
            b,
            rpc_url,
            deployment,
            store,
            poll_ms,
            follow,
            model,
            prompt,
            max_tokens,
            profile,
            sample,
            listen,
            public_url,
            batch_size,
            batch_ms,
            declared_tolerance
        )
    }
}

/// A configuration file: `[node]` for every role and one section per role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings of every role.
    #[serde(default)]
    pub node: Settings,
    /// `nao prover`.
    #[serde(default)]
    pub prover: Settings,
    /// `nao watch`.
    #[serde(default)]
    pub watch: Settings,
    /// `nao validate`.
    #[serde(default)]
    pub validate: Settings,
}

impl ConfigFile {
    /// Reads and parses `path`; an unknown key or a wrong type is an error naming the file and the key.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("config {}: {e}", path.display())))
    }

    /// The settings of `role` (`prover`, `watch`, `validate`): its section over `[node]`.
    pub fn role(&self, role: &str) -> Settings {
        let section = match role {
            "prover" => &self.prover,
            "watch" => &self.watch,
            _ => &self.validate,
        };
        section.clone().or(self.node.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_the_role_section_over_node_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nao.toml");
        std::fs::write(
            &p,
            "[node]\nrpc_url = \"http://a:1\"\npoll_ms = 500\nmodel = \"minilm\"\n[watch]\npoll_ms = 200\nfollow = \"filter\"\n",
        )
        .unwrap();
        let f = ConfigFile::read(&p).unwrap();
        let flags = Settings { model: Some("mlp-tiny".into()), ..Default::default() };
        let s = flags.or(f.role("watch"));
        assert_eq!(s.rpc_url.as_deref(), Some("http://a:1"));
        assert_eq!(s.poll_ms, Some(200));
        assert_eq!(s.follow, Some(FollowMode::Filter));
        assert_eq!(s.model.as_deref(), Some("mlp-tiny"));
        assert_eq!(f.role("prover").poll_ms, Some(500));
        std::fs::write(&p, "[node]\nrpc = \"x\"\n").unwrap();
        let e = ConfigFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("nao.toml") && e.contains("rpc"), "{e}");
    }
}
