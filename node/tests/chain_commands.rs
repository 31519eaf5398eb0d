//! `nao deploy`, `nao register` and `nao stake` through the real binary against a real anvil: a deployment
//! file, an audited registration, a refused one that sends nothing, a stake; and bad input named.

use std::process::Command;

use alloy::providers::Provider;
use nao::chain::{self, DeploymentFile, LocalChain};

const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn nao(chain: &LocalChain, args: &[&str]) -> (i32, String, String) {
    nao_env(chain, args, &[])
}

/// `nao` with `env` on top of the chain's (an empty value removes the variable).
fn nao_env(chain: &LocalChain, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nao"));
    cmd.args(args).env("NAO_RPC_URL", chain.rpc_url()).env("NAO_KEY", ANVIL_KEY_0).env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("the nao binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_register_through_the_audit_and_stake_and_bad_input_is_named() {
    let chain = LocalChain::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dep = dir.path().join("deployment.json");
    let dep_s = dep.to_str().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let profile = |m: &str| format!("{root}/profiles/{m}.json");

    let (rc, out, err) = nao(&chain, &["deploy", "--out", dep_s]);
    assert_eq!(rc, 0, "{out}{err}");
    let file = DeploymentFile::read(&dep).unwrap();
    assert_eq!(file.chain_id, 31337);
    let client = chain::connect(&chain.rpc_url(), chain.signer(0)).await.unwrap();
    file.check(&client).await.unwrap();
    // every parameter in the file is the one its contract holds, under the same name
    let (p, d) = (&file.params, &file.contracts);
    let claims = nao_bindings::ClaimManager::new(d.claims, client.provider.clone());
    let game = nao_bindings::DisputeGame::new(d.game, client.provider.clone());
    let committee = nao_bindings::Committee::new(d.committee, client.provider.clone());
    let u = |x: u128| alloy::primitives::U256::from(x);
    assert_eq!(claims.challengeWindow().call().await.unwrap(), p.claims.challenge_window);
    assert_eq!(claims.claimBond().call().await.unwrap(), u(p.claims.claim_bond));
    assert_eq!(claims.challengeBond().call().await.unwrap(), u(p.claims.challenge_bond));
    assert_eq!(claims.rewardGrace().call().await.unwrap(), p.claims.reward_grace);
    assert_eq!(claims.dataBond().call().await.unwrap(), u(p.claims.data_bond));
    assert_eq!(claims.dataWindow().call().await.unwrap(), p.claims.data_window);
    assert_eq!(game.clockBudget().call().await.unwrap(), p.game.clock_budget);
    assert_eq!(game.arity().call().await.unwrap(), u(p.game.arity.into()));
    assert_eq!(committee.minStake().call().await.unwrap(), u(p.committee.min_stake));
    assert_eq!(committee.withdrawDelay().call().await.unwrap(), p.committee.withdraw_delay);
    assert_eq!(committee.size().call().await.unwrap(), u(p.committee.size.into()));
    assert_eq!(committee.commitWindow().call().await.unwrap(), p.committee.commit_window);
    assert_eq!(committee.revealWindow().call().await.unwrap(), p.committee.reveal_window);
    assert_eq!(committee.penalty().call().await.unwrap(), u(p.committee.penalty));

    // the MLP: admitted on its sound bounds
    let p = profile("mlp-tiny");
    let args =
        ["register", "--deployment", dep_s, "--model", "mlp-tiny", "--profile", &p, "--declared-tolerance", "1e-3"];
    let (rc, out, err) = nao(&chain, &args);
    assert_eq!(rc, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["admission"], "sound", "{v}");
    let registry = nao_bindings::ModelRegistry::new(file.contracts.registry, client.provider.clone());
    let id: alloy::primitives::B256 = v["model_id"].as_str().unwrap().parse().unwrap();
    assert!(registry.model(id).call().await.is_ok(), "registered on-chain");
    // registering it again is named at once, before the audit, and sends nothing
    let nonce = client.provider.get_transaction_count(client.address).await.unwrap();
    let (rc, out, err) = nao(&chain, &args);
    assert_eq!(rc, 2, "{out}{err}");
    assert!(err.contains("registered already as") && err.contains(v["model_id"].as_str().unwrap()), "{err}");
    assert!(!err.contains("composition audit"), "{err}");
    assert_eq!(client.provider.get_transaction_count(client.address).await.unwrap(), nonce, "nothing was sent");

    // the steering twin: refused by the audit, exit 2, and not a single transaction sent
    let nonce = client.provider.get_transaction_count(client.address).await.unwrap();
    let p = profile("mlp-steering");
    let args =
        ["register", "--deployment", dep_s, "--model", "mlp-steering", "--profile", &p, "--declared-tolerance", "1e-3"];
    let (rc, _, err) = nao(&chain, &args);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("composition audit refused `mlp-steering`"), "{err}");
    assert_eq!(client.provider.get_transaction_count(client.address).await.unwrap(), nonce, "nothing was sent");

    // a validator's stake
    let (rc, out, err) = nao(&chain, &["stake", "--deployment", dep_s, "--amount-wei", "1000000000000000000"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("1 validators in the draw"), "{out}");

    // the status view: the model, no claims or games yet, the stake
    let (rc, out, err) = nao(&chain, &["status", "--deployment", dep_s, "--json"]);
    assert_eq!(rc, 0, "{out}{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["models"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(st["models"][0]["model_id"], v["model_id"]);
    assert_eq!((st["claims"].as_array().unwrap().len(), st["games"].as_array().unwrap().len()), (0, 0));
    assert_eq!(st["balances"]["validator_stake_wei"], "1000000000000000000");
    let (rc, out, _) = nao(&chain, &["status", "--deployment", dep_s]);
    assert_eq!(rc, 0);
    assert!(out.contains("models: 1") && out.contains("claims: 0"), "{out}");
    // NAO_DEPLOYMENT stands for --deployment in every command, not only the daemons
    let (rc, out, err) = nao_env(&chain, &["status", "--json"], &[("NAO_DEPLOYMENT", dep_s)]);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["models"], st["models"]);
    // status only reads: no key needed; balances of the account named, or none
    let (rc, out, err) = nao_env(&chain, &["status", "--deployment", dep_s, "--json"], &[("NAO_KEY", "")]);
    assert_eq!(rc, 0, "{out}{err}");
    let keyless: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&keyless["models"], &keyless["balances"]), (&st["models"], &serde_json::Value::Null));
    let me = client.address.to_string();
    let args = ["status", "--deployment", dep_s, "--json", "--account", &me];
    let (rc, out, err) = nao_env(&chain, &args, &[("NAO_KEY", "")]);
    assert_eq!(rc, 0, "{out}{err}");
    let named: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(named["balances"]["validator_stake_wei"], "1000000000000000000", "{named}");
    // a command that sends still needs the key, and says so
    let (rc, _, err) = nao_env(&chain, &["stake", "--deployment", dep_s, "--amount-wei", "1"], &[("NAO_KEY", "")]);
    assert_ne!(rc, 0);
    assert!(err.contains("no key: pass --key or set NAO_KEY"), "{err}");

    // a profile that is not there: refused by name, before anything is fetched or sent
    let nonce = client.provider.get_transaction_count(client.address).await.unwrap();
    let args = [
        "register",
        "--deployment",
        dep_s,
        "--model",
        "minilm",
        "--profile",
        "profiles/nowhere.json",
        "--declared-tolerance",
        "1e-2",
    ];
    let (rc, _, err) = nao(&chain, &args);
    assert_ne!(rc, 0, "{err}");
    assert!(err.contains("reading profiles/nowhere.json"), "{err}");
    assert_eq!(client.provider.get_transaction_count(client.address).await.unwrap(), nonce, "nothing was sent");

    // bad input, named: a dead RPC, a deployment file of another chain's addresses, not a deployment file
    let dead = ["stake", "--rpc-url", "http://127.0.0.1:9", "--deployment", dep_s, "--amount-wei", "1"];
    let (rc, _, err) = nao(&chain, &dead);
    assert_ne!(rc, 0);
    assert!(err.contains("does not answer"), "{err}");
    let mut wrong = file.clone();
    wrong.contracts.registry = alloy::primitives::Address::repeat_byte(7);
    let wrong_path = dir.path().join("wrong.json");
    std::fs::write(&wrong_path, serde_json::to_string(&wrong).unwrap()).unwrap();
    let (rc, _, err) = nao(&chain, &["stake", "--deployment", wrong_path.to_str().unwrap(), "--amount-wei", "1"]);
    assert_ne!(rc, 0);
    assert!(err.contains("no contract at 0x0707070707070707070707070707070707070707 (ModelRegistry)"), "{err}");
    std::fs::write(&wrong_path, "{}").unwrap();
    let (rc, _, err) = nao(&chain, &["stake", "--deployment", wrong_path.to_str().unwrap(), "--amount-wei", "1"]);
    assert_ne!(rc, 0);
    assert!(err.contains("not a deployment file"), "{err}");
    // a missing deployment file: one line, with what to do, no source locations
    let missing = dir.path().join("missing.json");
    let (rc, _, err) = nao(&chain, &["stake", "--deployment", missing.to_str().unwrap(), "--amount-wei", "1"]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("no deployment file there") && err.contains("nao deploy --out"), "{err}");
    assert!(!err.contains("Location") && !err.contains("Caused by") && err.trim().lines().count() == 1, "{err}");
}
