//! nao daemons as child processes, for the tests and benchmarks that run them (included with `#[path]`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use nao::chain::LocalChain;

pub const NAO: &str = env!("CARGO_BIN_EXE_nao");

pub fn key(chain: &LocalChain, i: usize) -> String {
    format!("0x{}", hex::encode(chain.signer(i).to_bytes()))
}

/// A daemon process, killed when dropped; its log goes to a file.
pub struct Daemon {
    name: String,
    args: Vec<String>,
    key: String,
    rpc: String,
    log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    pub fn spawn(name: &str, dir: &Path, rpc: &str, key: String, args: &[&str]) -> Self {
        let mut d = Daemon {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            key,
            rpc: rpc.into(),
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        d.start();
        d
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(NAO)
            .args(&self.args)
            .env("NAO_KEY", &self.key)
            .env("NAO_RPC_URL", &self.rpc)
            .env("NAO_LOG", "warn,nao=info,nao_numerics=info,nao_chain=info,nao_roles=info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown handler runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> (String, PathBuf) {
        (self.name.clone(), self.log.clone())
    }
}

/// The last lines of every daemon's log.
pub fn tails(logs: &[(String, PathBuf)]) -> String {
    let mut out = String::new();
    for (name, path) in logs {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        out += &format!("--- {name} ---\n{}\n", lines[lines.len().saturating_sub(15)..].join("\n"));
    }
    out
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn run(chain: &LocalChain, k: usize, args: &[&str]) -> String {
    let out = Command::new(NAO)
        .args(args)
        .env("NAO_RPC_URL", chain.rpc_url())
        .env("NAO_KEY", key(chain, k))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nao register` of the MLP (admitted on its sound bounds) on the deployment in `dep`, as key 0.
pub fn register_mlp(chain: &LocalChain, dep: &str) {
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles/mlp-tiny.json");
    let args = ["register", "--deployment", dep, "--model", "mlp-tiny", "--profile", profile];
    run(chain, 0, &[&args[..], &["--declared-tolerance", "1e-3"]].concat());
}

pub async fn post_job(http: &reqwest::Client, port: u16, prompt: &str) -> B256 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .post(format!("http://127.0.0.1:{port}/jobs"))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "prompt": prompt }).to_string())
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                return v["claim_id"].as_str().unwrap().parse().unwrap();
            }
            Ok(r) => panic!("job on :{port}: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("prover on :{port} never came up: {e}"),
        }
    }
}

pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct free ports: their listeners are all held until every port is known (ports taken one at a time
/// and released at once can repeat, and two daemons then race for one).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    held.iter().map(|l| l.local_addr().unwrap().port()).collect()
}
