//! The daemons under load, as separate processes on anvil: how many claims per minute one `nao prover`
//! sustains (jobs posted one after another over its HTTP API), and the CPU time a `nao watch` spends per claim
//! as a ratio to the prover's (a full check, and a spot-check at rate 0.1), all read from /proc in the same run.
//!
//! `cargo bench -p nao --bench daemons` (`NAO_BENCH_CLAIMS` jobs, 32 by default; `NAO_BENCH_MODEL` minilm, the
//! default, embedding a sentence, or smollm2 answering a chat prompt with 16 new tokens, registered without the
//! token audit as `nao simulate` does).

use std::time::{Duration, Instant};

use nao::chain::LocalChain;

#[path = "../tests/support/procs.rs"]
mod procs;
use procs::{free_port, key, post_job, run, Daemon};

/// The registered graph's prompt: eight single-token words, each repeated `NAO_BENCH_REPEAT` times (15 by
/// default: 122 tokens with [CLS] and [SEP]); every job is a reordering of the eight runs, so every job has
/// the registered input length and a distinct input.
const WORDS: [&str; 8] = ["one", "two", "three", "four", "five", "six", "seven", "eight"];

fn repeat() -> usize {
    let default = if model() == "smollm2" { 2 } else { 15 };
    std::env::var("NAO_BENCH_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn model() -> String {
    std::env::var("NAO_BENCH_MODEL").unwrap_or_else(|_| "minilm".into())
}

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // fields after the command name (which may hold spaces) start at the last ')'
    let fields: Vec<&str> = stat[stat.rfind(')').expect(")") + 2..].split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0 // USER_HZ, 100 on Linux
}

/// The `i`-th ordering of the words (every job a distinct input: a claim is content-addressed).
fn prompt(mut i: usize) -> String {
    let mut left = WORDS.to_vec();
    let mut out = Vec::new();
    while !left.is_empty() {
        out.push(vec![left.remove(i % left.len()); repeat()].join(" "));
        i /= left.len() + 1;
    }
    // SmolLM2's BPE: every word after a space, so each ordering has the same tokens
    if model() == "smollm2" {
        format!("Count: {}", out.join(" "))
    } else {
        out.join(" ")
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::var("NAO_BENCH_CLAIMS").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let anvil = LocalChain::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dep = d.join("deployment.json").to_str().unwrap().to_string();
    let name = model();
    let profile = &format!("{}/../profiles/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let how: &[&str] = match name.as_str() {
        "smollm2" => &["--declared-tolerance", "0", "--no-audit"],
        _ => &["--declared-tolerance", "1e-2"],
    };
    let registered = prompt(0);
    run(&anvil, 0, &["deploy", "--out", &dep]);
    let register = ["register", "--deployment", &dep, "--model", &name, "--profile", profile, "--prompt", &registered];
    run(&anvil, 0, &[&register[..], how].concat());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let common = |store: &str| {
        let s = d.join(store).to_str().unwrap().to_string();
        vec![
            "--deployment".to_string(),
            dep.clone(),
            "--model".into(),
            name.clone(),
            "--profile".into(),
            profile.into(),
            "--prompt".into(),
            registered.clone(),
            "--store".into(),
            s,
            "--poll-ms".into(),
            "200".into(),
        ]
    };
    let args = |role: &str, store: &str, extra: &[&str]| {
        let mut a = vec![role.to_string()];
        a.extend(common(store));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let pa = args("prover", "prover.json", &["--listen", &listen]);
    let wa = args("watch", "watcher.json", &[]);
    let sa = args("watch", "spot.json", &["--sample", "0.1"]);
    let prover = Daemon::spawn(
        "prover",
        d,
        &anvil.rpc_url(),
        key(&anvil, 1),
        &pa.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let spot = Daemon::spawn(
        "spot-watcher",
        d,
        &anvil.rpc_url(),
        key(&anvil, 3),
        &sa.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let watcher = Daemon::spawn(
        "watcher",
        d,
        &anvil.rpc_url(),
        key(&anvil, 2),
        &wa.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // one job to warm both up (the prover's first run, the watcher's first check), then the baseline
    let http = reqwest::Client::new();
    post_job(&http, port, &prompt(0)).await;
    let checked = |store: &str| -> usize {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(store)).unwrap_or_default()).unwrap_or_default();
        v["state"]["claims"].as_object().map_or(0, |m| m.len())
    };
    while checked("watcher.json") < 1 || checked("spot.json") < 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (pp, wp, sp) = (prover.pid().unwrap(), watcher.pid().unwrap(), spot.pid().unwrap());
    let (p0, w0, s0) = (cpu_seconds(pp), cpu_seconds(wp), cpu_seconds(sp));

    // the prover alone while it posts (the watchers stopped, so the rate is the prover's own), then the watchers
    let signal = |sig: &str, pid: u32| {
        std::process::Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill");
    };
    signal("-STOP", wp);
    signal("-STOP", sp);
    let t0 = Instant::now();
    for i in 1..=n {
        post_job(&http, port, &prompt(i)).await;
    }
    let posting = t0.elapsed().as_secs_f64();
    let p1 = cpu_seconds(pp);
    signal("-CONT", wp);
    signal("-CONT", sp);
    let t0 = Instant::now();
    while checked("spot.json") < n + 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let spot_all = t0.elapsed().as_secs_f64();
    let s1 = cpu_seconds(sp);
    while checked("watcher.json") < n + 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = t0.elapsed().as_secs_f64();
    let w1 = cpu_seconds(wp);
    let (pc, wc, sc) = ((p1 - p0) / n as f64, (w1 - w0) / n as f64, (s1 - s0) / n as f64);
    let tokens = WORDS.len() * repeat();
    println!("{name} ({tokens} words a prompt), {n} claims, one prover and one watcher on anvil");
    println!("  claims_per_minute (one prover, jobs one after another): {:.1}", n as f64 / posting * 60.0);
    println!("  posting took {posting:.1} s; then the full watcher checked all {n} in {all:.1} s");
    println!("  prover CPU per claim: {:.3} s; watcher CPU per claim: {:.3} s", pc, wc);
    println!("  watcher_cpu_ratio (watcher / prover CPU per claim): {:.2}", wc / pc);
    println!(
        "  spot-checking watcher (--sample 0.1): {sc:.3} s per claim, ratio {:.2}, all checked in {spot_all:.1} s",
        sc / pc
    );
    let v = serde_json::json!({
        "model": name, "words": tokens, "claims": n, "claims_per_minute": n as f64 / posting * 60.0,
        "prover_cpu_s_per_claim": pc, "watcher_cpu_s_per_claim": wc, "watcher_cpu_ratio": wc / pc,
        "spot_watcher_cpu_s_per_claim": sc, "spot_watcher_cpu_ratio": sc / pc,
    });
    println!("{v}");
}
