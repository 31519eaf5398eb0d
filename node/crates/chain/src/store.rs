//! The embedded store: one JSON file per daemon, replaced atomically on every change.
//!
//! A daemon writes its state before it sends the transaction that state anticipates (a ballot's salt before
//! the commit, a claim's input before the post), so a process killed at any point finds on restart everything
//! it needs to finish what it began. Writes go to `<file>.tmp`, are synced, and are renamed over the file: a
//! reader sees the old state or the new one, never half of each.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Deployment;
use crate::{Error, Result};

/// What a store file holds: the role and deployment it belongs to, and the role's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct File<S> {
    /// `nao-store`.
    format: String,
    /// Which role wrote it (`prover`, `watcher`, `validator`).
    role: String,
    /// The chain it follows.
    chain_id: u64,
    /// The deployment it follows.
    deployment: Deployment,
    /// The role's state.
    state: S,
}

const FORMAT: &str = "nao-store/1";

/// A role's state, persisted in one file.
#[derive(Debug)]
pub struct Store<S> {
    path: PathBuf,
    file: File<S>,
}

impl<S: Serialize + DeserializeOwned + Default> Store<S> {
    /// Opens `path` for `role` on `deployment` of chain `chain_id`: a missing file starts from the default
    /// state (and is written at once, so that a bad directory fails now rather than at the first move); a file
    /// that does not parse, or that belongs to another role, chain or deployment, is an error naming what is
    /// wrong, and nothing is written.
    pub fn open(path: &Path, role: &str, chain_id: u64, deployment: Deployment) -> Result<Self> {
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let file = match std::fs::read(path) {
            Ok(bytes) => {
                // the envelope first (whose is it?), then the state it holds
                let f: File<serde_json::Value> = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Config(format!("store {}: not a nao store file ({e})", path.display())))?;
                let mismatch = |what: &str, got: String, want: String| {
                    Error::Config(format!("store {}: written for {what} {got}, this node runs {want}", path.display()))
                };
                if f.format != FORMAT {
                    return Err(mismatch("format", f.format, FORMAT.into()));
                }
                if f.role != role {
                    return Err(mismatch("role", f.role, role.into()));
                }
                if f.chain_id != chain_id {
                    return Err(mismatch("chain", f.chain_id.to_string(), chain_id.to_string()));
                }
                if f.deployment.claims != deployment.claims || f.deployment.game != deployment.game {
                    return Err(mismatch(
                        "the deployment with claim manager",
                        f.deployment.claims.to_string(),
                        deployment.claims.to_string(),
                    ));
                }
                let state = serde_json::from_value(f.state).map_err(|e| {
                    Error::Config(format!("store {}: its {role} state does not parse ({e})", path.display()))
                })?;
                File { format: f.format, role: f.role, chain_id: f.chain_id, deployment: f.deployment, state }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let f = File { format: FORMAT.into(), role: role.into(), chain_id, deployment, state: S::default() };
                let s = Self { path: path.to_path_buf(), file: f };
                s.save()?;
                return Ok(s);
            }
            Err(e) => return Err(io(e)),
        };
        Ok(Self { path: path.to_path_buf(), file })
    }

    /// The state.
    pub fn state(&self) -> &S {
        &self.file.state
    }

    /// Changes the state with `f` and writes it before returning.
    pub fn update<T>(&mut self, f: impl FnOnce(&mut S) -> T) -> Result<T> {
        let out = f(&mut self.file.state);
        self.save()?;
        Ok(out)
    }

    /// Writes the state: to a temporary file, synced, then renamed over the store.
    fn save(&self) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        let bytes = serde_json::to_vec_pretty(&self.file).map_err(|e| Error::Config(format!("store: {e}")))?;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // the rename itself is durable once the directory is synced
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Address;

    fn dep(a: u8) -> Deployment {
        let x = Address::repeat_byte(a);
        Deployment { registry: x, claims: x, game: x, committee: x }
    }

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    struct S {
        n: u64,
    }

    #[test]
    fn state_survives_reopening_and_a_foreign_or_corrupt_file_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.json");
        let mut s = Store::<S>::open(&p, "watcher", 1, dep(1)).unwrap();
        s.update(|s| s.n = 7).unwrap();
        drop(s);
        assert_eq!(Store::<S>::open(&p, "watcher", 1, dep(1)).unwrap().state().n, 7);
        for (role, chain, d, what) in
            [("prover", 1, dep(1), "role"), ("watcher", 2, dep(1), "chain"), ("watcher", 1, dep(2), "deployment")]
        {
            let e = Store::<S>::open(&p, role, chain, d).unwrap_err().to_string();
            assert!(e.contains(what) && e.contains("w.json"), "{e}");
        }
        std::fs::write(&p, b"{ not json").unwrap();
        let e = Store::<S>::open(&p, "watcher", 1, dep(1)).unwrap_err().to_string();
        assert!(e.contains("not a nao store file"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"{ not json", "a corrupt store is left as it is");
    }
}
