//! The daemons as separate processes against a real anvil: six provers (honest, corrupt, withholding, nudging one
//! weight, serving nothing over HTTP, serving a corrupted trace only on-chain), three watchers (two honest, one
//! that disputes clean claims) and three validators, all reaching anvil through a TCP proxy the test can cut.
//! Asserted: the honest claim finalizes and its false challenger loses its bond, though its prover was SIGKILLed
//! mid-game and restarted; the corrupt claim is slashed though a watcher was SIGKILLed after challenging; the
//! withholding prover is slashed by a data request it leaves unanswered; the prover serving nothing over HTTP
//! publishes what the watchers ask for on-chain, is not challenged and ends richer; the one serving a corrupted
//! trace only on-chain is disputed from its published boundaries and slashed by an element adjudicated outside its
//! region; the nudged weight is voted down by the committee; and every role rides out a few seconds without RPC.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use nao::chain::{self, ClaimStatus, DeploymentFile, GameOutcome, LocalChain};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_ports, key, post_job, register_mlp, run, tails, Daemon, NAO};

/// A TCP proxy to anvil that the test can cut (every connection dropped, new ones refused) and restore.
struct Proxy {
    url: String,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().unwrap().push(task);
            }
        });
        Self { url, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

struct Chain {
    claims: nao_bindings::ClaimManager::ClaimManagerInstance<alloy::providers::DynProvider>,
    game: nao_bindings::DisputeGame::DisputeGameInstance<alloy::providers::DynProvider>,
}

impl Chain {
    async fn status(&self, claim: B256) -> ClaimStatus {
        ClaimStatus::from(self.claims.claim(claim).call().await.unwrap().status)
    }

    /// Games against `claim`: (game id, challenger).
    async fn games(&self, claim: B256) -> Vec<(B256, Address)> {
        let logs = self.game.GameCreated_filter().topic2(claim).from_block(0).query().await.unwrap();
        logs.into_iter().map(|(e, _)| (e.gameId, e.challenger)).collect()
    }

    async fn ended(&self, game: B256) -> Option<GameOutcome> {
        let logs = self.game.GameEnded_filter().topic1(game).from_block(0).query().await.unwrap();
        logs.first().map(|(e, _)| GameOutcome::from(e.outcome))
    }

    async fn phase(&self, game: B256) -> chain::Phase {
        chain::Phase::from(self.game.partitionGame(game).call().await.unwrap().phase)
    }
}

async fn wait_for<F, Fut>(what: &str, secs: u64, logs: &[(String, PathBuf)], mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}\n{}", tails(logs));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provers_watchers_and_validators_as_processes_settle_every_claim_through_kills_and_an_rpc_outage() {
    let anvil = LocalChain::start_with_accounts(16).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dep = d.join("deployment.json");
    let dep_s = dep.to_str().unwrap().to_string();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let profile = format!("{root}/profiles/mlp-tiny.json");

    // windows and clocks in seconds of real time: long enough for a restart, short enough for a test
    run(
        &anvil,
        0,
        &[
            "deploy",
            "--out",
            &dep_s,
            "--challenge-window",
            "20",
            "--clock-budget",
            "25",
            "--vote-window",
            "25",
            "--data-window",
            "8",
        ],
    );
    register_mlp(&anvil, &dep_s);
    for v in [10, 11, 12] {
        run(&anvil, v, &["stake", "--deployment", &dep_s, "--amount-wei", "1000000000000000000"]);
    }
    let file = DeploymentFile::read(&dep).unwrap();
    let client = chain::connect(&anvil.rpc_url(), anvil.signer(0)).await.unwrap();
    let c = Chain {
        claims: nao_bindings::ClaimManager::new(file.contracts.claims, client.provider.clone()),
        game: nao_bindings::DisputeGame::new(file.contracts.game, client.provider.clone()),
    };

    let port: u16 = anvil.rpc_url().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let proxy = Proxy::start(target).await;
    let common = |store: &str, poll: &str| -> Vec<String> {
        let store = d.join(store).to_str().unwrap().to_string();
        ["--deployment", &dep_s, "--model", "mlp-tiny", "--profile", &profile, "--store", &store, "--poll-ms", poll]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let spawn = |name: &str, k: usize, role: &str, store: &str, poll: &str, extra: &[&str]| {
        let mut args = vec![role.to_string()];
        args.extend(common(store, poll));
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        Daemon::spawn(name, d, &proxy.url, key(&anvil, k), &a)
    };

    let validators: Vec<Daemon> = [10, 11, 12]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let follow = if i == 0 { "filter" } else { "poll" };
            spawn(&format!("validator{i}"), *k, "validate", &format!("v{i}.json"), "300", &["--follow", follow])
        })
        .collect();
    let mut w1 = spawn("watcher1", 5, "watch", "w1.json", "300", &[]);
    let w2 = spawn("watcher2", 6, "watch", "w2.json", "300", &["--follow", "filter", "--sample", "0.5"]);
    let fc = spawn("false-challenger", 7, "watch", "fc.json", "300", &["--fault", "false-challenge"]);
    let ports = free_ports(6);
    let listen = |i: usize| format!("127.0.0.1:{}", ports[i]);
    // the honest prover looks at the chain every 2 s, so that it can be killed before it answers
    let mut honest = spawn("honest", 1, "prover", "p-honest.json", "2000", &["--listen", &listen(0)]);
    let corrupt =
        spawn("corrupt", 2, "prover", "p-corrupt.json", "300", &["--listen", &listen(1), "--fault", "corrupt"]);
    let withhold =
        spawn("withhold", 3, "prover", "p-withhold.json", "300", &["--listen", &listen(2), "--fault", "withhold"]);
    let nudge = spawn("nudge", 4, "prover", "p-nudge.json", "300", &["--listen", &listen(3), "--fault", "nudge"]);
    let unserved =
        spawn("unserved", 8, "prover", "p-unserved.json", "300", &["--listen", &listen(4), "--fault", "unserved"]);
    let uc = ["--listen", &listen(5), "--fault", "unserved-corrupt"];
    let unserved_corrupt = spawn("unserved-corrupt", 9, "prover", "p-unserved-corrupt.json", "300", &uc);

    let http = reqwest::Client::new();
    let a = post_job(&http, ports[0], "an honest job").await;
    // a repeated prompt answers with its claim (content-addressed), posting nothing and storing nothing more
    let api = format!("http://127.0.0.1:{}", ports[0]);
    let post = |body: &'static str| {
        http.post(format!("{api}/jobs")).header("content-type", "application/json").body(body).send()
    };
    let again = post(r#"{"prompt": "an honest job"}"#).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = serde_json::from_slice(&again.bytes().await.unwrap()).unwrap();
    assert_eq!((again["claim_id"].as_str(), again["gas"].as_u64()), (Some(a.to_string().as_str()), Some(0)), "{again}");
    let stored = http.get(format!("{api}/claims")).send().await.unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&stored.bytes().await.unwrap()).unwrap();
    assert_eq!(stored.as_object().map(|o| o.len()), Some(1), "{stored}");
    // the answer carries the whole output: the claim's committed output tensor, value for value
    let root = again["trace_root"].as_str().unwrap();
    let missing = http.get(format!("{api}/traces/{root}/999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let why: serde_json::Value = serde_json::from_slice(&missing.bytes().await.unwrap()).unwrap();
    let why = why["error"].as_str().unwrap().to_string();
    let n: usize = why.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{why}"));
    let last = http.get(format!("{api}/traces/{root}/{}", n - 1)).send().await.unwrap().bytes().await.unwrap();
    let committed: Vec<f32> = last.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let output: Vec<f32> = serde_json::from_value(again["output"].clone()).unwrap();
    assert!(!output.is_empty() && output == committed, "{output:?} vs {committed:?}");
    // every error has one shape, {"error": "..."}, naming what is wrong
    for (r, status, names) in [
        (post("{not json").await.unwrap(), 400, "failed to parse the request body as json"),
        (post(r#"{"promt": "x"}"#).await.unwrap(), 422, "prompt"),
        (http.get(format!("{api}/traces/zz/0")).send().await.unwrap(), 400, "not a trace root"),
        (http.get(format!("{api}/traces/{root}/x")).send().await.unwrap(), 400, "not a tensor index"),
        (http.get(format!("{api}/traces/0x{}/0", "00".repeat(32))).send().await.unwrap(), 404, "no trace"),
    ] {
        assert_eq!(r.status(), status);
        let e: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).expect("a JSON error body");
        assert!(e["error"].as_str().is_some_and(|m| m.to_lowercase().contains(names)), "{e}");
    }
    let b = post_job(&http, ports[1], "a corrupt job").await;
    let cw = post_job(&http, ports[2], "a withheld job").await;
    let n = post_job(&http, ports[3], "a nudged job").await;
    let unserved_addr = anvil.signer(8).address();
    let unserved_before = client.provider.get_balance(unserved_addr).await.unwrap();
    let u = post_job(&http, ports[4], "an unserved job").await;
    let uc = post_job(&http, ports[5], "an unserved corrupt job").await;
    let all: Vec<(String, PathBuf)> = validators
        .iter()
        .chain([&w1, &w2, &fc, &honest, &corrupt, &withhold, &nudge, &unserved, &unserved_corrupt])
        .map(Daemon::log)
        .collect();
    let logs = |l: &[(String, PathBuf)]| tails(l);

    // The false challenger disputes the honest claim; the prover is killed before it answers, and restarted.
    let fc_addr = anvil.signer(7).address();
    wait_for("the false challenge", 40, &all, || async { c.games(a).await.iter().any(|(_, ch)| *ch == fc_addr) }).await;
    let fc_game = c.games(a).await.into_iter().find(|(_, ch)| *ch == fc_addr).unwrap().0;
    honest.kill();
    assert_eq!(c.phase(fc_game).await, chain::Phase::Fine, "killed while the move was the prover's");
    // A watcher that challenged the corrupt claim is killed too.
    let w1_addr = anvil.signer(5).address();
    wait_for("watcher1's challenge", 40, &all, || async { c.games(b).await.iter().any(|(_, ch)| *ch == w1_addr) })
        .await;
    w1.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // ... and anvil is unreachable for every daemon for four seconds
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.restore();
    honest.start();
    w1.start();

    wait_for("every claim settled", 150, &all, || async {
        let mut done = true;
        for (claim, want) in [
            (a, ClaimStatus::Finalized),
            (b, ClaimStatus::Slashed),
            (cw, ClaimStatus::Slashed),
            (n, ClaimStatus::Slashed),
            (u, ClaimStatus::Finalized),
            (uc, ClaimStatus::Slashed),
        ] {
            let s = c.status(claim).await;
            assert!(s == ClaimStatus::Pending || s == want, "claim {claim}: {s:?}, expected {want:?}\n{}", logs(&all));
            done &= s == want;
        }
        done
    })
    .await;

    // the honest prover, restarted, answered in time and won the false challenge
    wait_for("the false challenge to end", 60, &all, || async { c.ended(fc_game).await.is_some() }).await;
    assert_eq!(c.ended(fc_game).await, Some(GameOutcome::ProverWon), "{}", logs(&all));
    // the spot-checking watcher ran, with the most sensitive ops always in its sample
    let w2_log = std::fs::read_to_string(w2.log().1).unwrap();
    assert!(w2_log.contains("spot-checking 50 % of") && w2_log.contains("most sensitive always"), "{w2_log}");
    // the restarted watcher's game against the corrupt claim ended without its losing the bond
    let w1_game = c.games(b).await.into_iter().find(|(_, ch)| *ch == w1_addr).unwrap().0;
    wait_for("watcher1's game to end", 60, &all, || async { c.ended(w1_game).await.is_some() }).await;
    assert_ne!(c.ended(w1_game).await, Some(GameOutcome::ProverWon), "{}", logs(&all));
    // the withholding prover was slashed by a data request it left unanswered, without a fraud game
    let withheld = c.claims.DataWithheld_filter().topic2(cw).from_block(0).query().await.unwrap();
    assert!(!withheld.is_empty() && c.games(cw).await.is_empty(), "{}", logs(&all));
    // the prover serving nothing over HTTP published its input and output when asked; the watchers judged it
    // by them, challenged nothing, and paid it only their data bonds
    let published = c.claims.DataPublished_filter().topic2(u).from_block(0).query().await.unwrap();
    assert!(!published.is_empty() && c.games(u).await.is_empty(), "{}", logs(&all));
    // the corrupt prover serving nothing over HTTP published its boundaries when asked; a watcher located the
    // faulty segment from them, pointed its game at it and opened the element from the published data
    let located = c.claims.DataPublished_filter().topic2(uc).from_block(0).query().await.unwrap();
    let opened = c.game.ElementAdjudicated_filter().from_block(0).query().await.unwrap();
    let uc_games: Vec<B256> = c.games(uc).await.into_iter().map(|g| g.0).collect();
    assert!(
        located.len() >= 3 && opened.iter().any(|(e, _)| uc_games.contains(&e.gameId) && !e.inside),
        "{}",
        logs(&all)
    );
    // ... which pay more than its gas: it ends richer than before the job, its claim bond back
    wait_for("the unserved prover's bonds withdrawn", 30, &all, || async {
        c.claims.credit(unserved_addr).call().await.unwrap().is_zero()
            && client.provider.get_balance(unserved_addr).await.unwrap() > unserved_before
    })
    .await;
    // the nudge was voted down by the committee
    let committee = nao_bindings::Committee::new(file.contracts.committee, client.provider.clone());
    let resolved = committee.VoteResolved_filter().from_block(0).query().await.unwrap();
    let nudge_games: Vec<B256> = c.games(n).await.into_iter().map(|g| g.0).collect();
    assert!(
        resolved.iter().any(|(e, _)| nudge_games.contains(&e.voteId) && e.outsideWins && e.outside == 3),
        "every validator voted the nudge outside\n{}",
        logs(&all)
    );

    // bonds were withdrawn: nobody keeps credit in the claim manager once its daemon settled up
    let credit_of = |i: usize| {
        let cl = c.claims.clone();
        let who = anvil.signer(i).address();
        async move { cl.credit(who).call().await.unwrap() }
    };
    wait_for("credits withdrawn", 30, &all, || async {
        let mut zero = true;
        for i in [1, 5, 6, 7] {
            zero &= credit_of(i).await.is_zero();
        }
        zero
    })
    .await;
    // a watcher joining now finds every claim settled: it checks none, fetches no trace and warns of none
    let late = spawn("late-watcher", 13, "watch", "late.json", "300", &[]);
    let store = d.join("late.json");
    let settled = || {
        let st: serde_json::Value =
            std::fs::read(&store).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let claims = st["state"]["claims"].as_object().cloned().unwrap_or_default();
        claims.len() == 6
            && claims.values().all(|f| f["plan"]["done"].as_str().is_some_and(|w| w.contains("not checked")))
    };
    wait_for("the late watcher to mark every claim settled", 30, &[late.log()], || std::future::ready(settled())).await;
    let log = std::fs::read_to_string(late.log().1).unwrap();
    assert!(!log.contains("trace unavailable") && !log.contains("WARN"), "{log}");
    // a log written to a file has no colour codes in it
    assert!(log.contains("INFO") && !log.contains('\u{1b}'), "{log:?}");
    let _ = client.provider.get_block_number().await.unwrap();
}

/// Runs a daemon that must refuse to start; returns its exit code and stderr.
fn refused(chain_rpc: &str, key: &str, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(NAO)
        .args(args)
        .env("NAO_RPC_URL", chain_rpc)
        .env("NAO_KEY", key)
        .env("NAO_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?} kept running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn daemons_refuse_bad_setups_by_name_and_change_nothing() {
    let anvil = LocalChain::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dep = d.join("deployment.json");
    let dep_s = dep.to_str().unwrap().to_string();
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles/mlp-tiny.json");
    run(&anvil, 0, &["deploy", "--out", &dep_s]);
    let store = d.join("w.json");
    let store_s = store.to_str().unwrap().to_string();
    let watch = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["watch", "--model", "mlp-tiny", "--profile", profile, "--store", &store_s]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let rpc = anvil.rpc_url();
    let k1 = key(&anvil, 1);
    let client = chain::connect(&rpc, anvil.signer(1)).await.unwrap();
    let nonce = client.provider.get_transaction_count(client.address).await.unwrap();
    let check = |args: Vec<String>, rpc: &str, key: &str, want: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (rc, err) = refused(rpc, key, &a);
        assert_ne!(rc, 0, "{a:?} started");
        assert!(err.contains(want), "{a:?}: expected `{want}` in\n{err}");
    };

    // a model nobody registered: named, with what to check
    check(watch(&["--deployment", &dep_s]), &rpc, &k1, "check --model and --profile against the registration");
    // no model
    let bare = |extra: &[&str]| -> Vec<String> {
        ["watch", "--store", &store_s, "--deployment", &dep_s].iter().chain(extra).map(|s| s.to_string()).collect()
    };
    check(bare(&[]), &rpc, &k1, "no model: pass --model");
    register_mlp(&anvil, &dep_s);
    // a dead RPC
    check(watch(&["--deployment", &dep_s]), "http://127.0.0.1:9", &k1, "does not answer");
    // an account without ETH
    let broke = "0x0000000000000000000000000000000000000000000000000000000000000b0b";
    check(watch(&["--deployment", &dep_s]), &rpc, broke, "has no ETH");
    // a deployment file of another chain, and one whose addresses hold no code
    let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&dep).unwrap()).unwrap();
    let other = d.join("other-chain.json");
    file["chain_id"] = 1.into();
    std::fs::write(&other, file.to_string()).unwrap();
    check(watch(&["--deployment", other.to_str().unwrap()]), &rpc, &k1, "the deployment is on chain 1");
    file["chain_id"] = 31337.into();
    file["contracts"]["game"] = "0x00000000000000000000000000000000000000aa".into();
    let empty = d.join("no-code.json");
    std::fs::write(&empty, file.to_string()).unwrap();
    check(watch(&["--deployment", empty.to_str().unwrap()]), &rpc, &k1, "no contract at");
    // a configuration file with a key nao does not know
    let cfg = d.join("nao.toml");
    std::fs::write(&cfg, "[watch]\npoll = 5\n").unwrap();
    check(watch(&["--deployment", &dep_s, "--config", cfg.to_str().unwrap()]), &rpc, &k1, "unknown field `poll`");
    // a corrupt store: named, and left as it was
    std::fs::write(&store, b"{\"format\": \"nao-store/1\", \"role\"").unwrap();
    check(watch(&["--deployment", &dep_s]), &rpc, &k1, "not a nao store file");
    assert_eq!(std::fs::read(&store).unwrap(), b"{\"format\": \"nao-store/1\", \"role\"");
    // another role's store
    std::fs::remove_file(&store).unwrap();
    let p = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> =
            ["prover", "--model", "mlp-tiny", "--profile", profile, "--store", &store_s, "--listen", "127.0.0.1:0"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut prover = Command::new(NAO)
        .args(p(&["--deployment", &dep_s]))
        .env("NAO_RPC_URL", &rpc)
        .env("NAO_KEY", &k1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store.exists() {
        assert!(Instant::now() < deadline, "the prover never wrote its store");
        std::thread::sleep(Duration::from_millis(100));
    }
    prover.kill().unwrap();
    prover.wait().unwrap();
    check(watch(&["--deployment", &dep_s]), &rpc, &k1, "written for role prover");
    // a prover advertising an address nobody else reaches
    std::fs::remove_file(&store).unwrap();
    let unroutable = p(&["--deployment", &dep_s, "--public-url", "http://0.0.0.0:8600"]);
    check(unroutable, &rpc, &k1, "is unroutable: watchers elsewhere could not fetch the traces");
    assert!(!store.exists(), "refused before its store was written");

    // a validator whose key never staked starts, but says it will never be drawn and with which key to stake
    let vstore = d.join("v.json");
    let vlog = d.join("validate.log");
    let mut validator = Command::new(NAO)
        .args(["validate", "--model", "mlp-tiny", "--profile", profile, "--deployment", &dep_s])
        .args(["--store", vstore.to_str().unwrap()])
        .env("NAO_RPC_URL", &rpc)
        .env("NAO_KEY", &k1)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&vlog).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let warned = loop {
        let log = std::fs::read_to_string(&vlog).unwrap_or_default();
        if log.contains("never drawn") || Instant::now() > deadline || validator.try_wait().unwrap().is_some() {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = validator.kill();
    validator.wait().unwrap();
    assert!(warned.contains("this key has no stake in the committee, so it is never drawn"), "{warned}");
    assert!(warned.contains("stake with this same key") && warned.contains(&format!("{}", client.address)), "{warned}");

    // the same MLP registered again (by another account) with another declared tolerance, part of the id: a
    // daemon naming none cannot tell which registration it serves, and is told to say
    let again = ["register", "--deployment", &dep_s, "--model", "mlp-tiny", "--profile", profile];
    run(&anvil, 0, &[&again[..], &["--declared-tolerance", "2e-3"]].concat());
    let want = "registered with several declared output tolerances ([0.001, 0.002]): name the one served";
    check(watch(&["--deployment", &dep_s]), &rpc, &k1, want);

    // nothing was sent by any of them
    assert_eq!(client.provider.get_transaction_count(client.address).await.unwrap(), nonce);
}
