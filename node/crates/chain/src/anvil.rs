//! A local anvil chain, started on a free port and stopped (by PID) when dropped, error paths included.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::signers::local::PrivateKeySigner;

use crate::{Error, Result};

/// Finds a toolchain binary: `$NAO_TOOLS/<name>`, then `.tools/bin/<name>` in the current directory or any
/// parent (the project's install), then `<name>` on PATH.
pub fn find_tool(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("NAO_TOOLS") {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.extend(cwd.ancestors().map(PathBuf::from));
    }
    if let Ok(exe) = std::env::current_exe() {
        dirs.extend(exe.ancestors().map(PathBuf::from));
    }
    dirs.into_iter()
        .map(|d| d.join(".tools/bin").join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A running anvil with its funded dev keys.
pub struct LocalChain {
    instance: AnvilInstance,
}

impl LocalChain {
    /// Starts anvil on a free port.
    pub fn start() -> Result<Self> {
        Self::start_with_accounts(10)
    }

    /// Starts anvil on a free port with `accounts` funded dev keys.
    pub fn start_with_accounts(accounts: usize) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::Chain(format!("no free port for anvil: {e}")))?
            .port();
        let path = find_tool("anvil");
        let instance =
            Anvil::new().path(&path).port(port).arg("--accounts").arg(accounts.to_string()).try_spawn().map_err(
                |e| Error::Chain(format!("starting {} failed ({e}); run scripts/install.sh", path.display())),
            )?;
        tracing::info!(pid = instance.child().id(), port, "anvil started");
        Ok(Self { instance })
    }

    /// The HTTP RPC URL.
    pub fn rpc_url(&self) -> String {
        self.instance.endpoint()
    }

    /// Dev key number `i` (funded with 10000 ETH).
    pub fn signer(&self, i: usize) -> PrivateKeySigner {
        self.instance.keys()[i].clone().into()
    }

    /// The process id (for logs).
    pub fn pid(&self) -> u32 {
        self.instance.child().id()
    }
}

impl Drop for LocalChain {
    fn drop(&mut self) {
        tracing::info!(pid = self.pid(), "stopping anvil");
        // AnvilInstance's own Drop kills the child by PID and reaps it.
    }
}
