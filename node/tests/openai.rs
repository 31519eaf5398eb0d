//! The official `openai` Python client (from PyPI, installed by scripts/install.sh into `.tools/py`), unmodified,
//! buys answers from two `nao prover` processes on a real anvil: MiniLM embeddings and SmolLM2 chat (plain and
//! streamed). Asserted: each answer names a claim that is on the chain, pending, by the prover that answered,
//! with the trace root the answer gives; the chat answer is right; and the client's own error types come back
//! for another model (404), a prompt this registration does not take or too many tokens (400), as OpenAI's API
//! names them (tests/openai/client.py).

use std::process::Command;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use nao::chain::{self, ClaimStatus, DeploymentFile, LocalChain};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_port, run, tails, Daemon};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs the Python client against `base` and returns the JSON line it prints.
fn client(args: &[&str]) -> serde_json::Value {
    let python = format!("{ROOT}/.tools/py/bin/python");
    let out = Command::new(&python)
        .arg(format!("{ROOT}/tests/openai/client.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run scripts/install.sh)"));
    assert!(
        out.status.success(),
        "client.py {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(out.stdout.trim_ascii()).expect("client.py prints one JSON line")
}

/// Waits until the prover on `port` answers `GET /v1/models`.
async fn up(port: u16, logs: &[(String, std::path::PathBuf)]) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while reqwest::get(format!("http://127.0.0.1:{port}/v1/models")).await.is_err() {
        assert!(Instant::now() < deadline, "the prover never came up:\n{}", tails(logs));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_client_buys_verifiable_embeddings_and_chat_answers() {
    let anvil = LocalChain::start_with_accounts(4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dep = d.join("deployment.json");
    let dep_s = dep.to_str().unwrap().to_string();
    run(&anvil, 0, &["deploy", "--out", &dep_s]);
    let (sentence, question) = ("A watcher re-runs every claim it sees.", "What is the capital of France?");
    // SmolLM2 registered without the token audit (as `nao simulate` does: ~70 s of the test's time); MiniLM
    // through the composition audit
    let models = [
        ("minilm", sentence, 1, &["--declared-tolerance", "1e-2"][..]),
        ("smollm2", question, 2, &["--declared-tolerance", "0", "--no-audit"][..]),
    ];
    // MiniLM's prover batches two jobs a claim (a lone job waits half a second for company)
    let batching = [&["--batch-size", "2", "--batch-ms", "500"][..], &[][..]];
    let mut provers = Vec::new();
    for ((model, prompt, k, how), batch) in models.into_iter().zip(batching) {
        let profile = format!("{ROOT}/profiles/{model}.json");
        let reg = ["register", "--deployment", &dep_s, "--model", model, "--prompt", prompt, "--profile", &profile];
        run(&anvil, 0, &[&reg[..], how].concat());
        let port = free_port();
        let store = d.join(format!("{model}.json"));
        let args = [
            "prover",
            "--deployment",
            &dep_s,
            "--model",
            model,
            "--prompt",
            prompt,
            "--profile",
            &profile,
            "--store",
            store.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ];
        let args = [&args[..], batch].concat();
        provers.push((Daemon::spawn(model, d, &anvil.rpc_url(), procs::key(&anvil, k), &args), port));
    }
    let logs: Vec<_> = provers.iter().map(|(p, _)| p.log()).collect();
    for (_, port) in &provers {
        up(*port, &logs).await;
    }
    let url = |i: usize| format!("http://127.0.0.1:{}", provers[i].1);
    let saved = |name: &str| d.join(name).to_str().unwrap().to_string();
    let embedding = client(&[&url(0), "embeddings", "minilm", sentence, &saved("embedding.json")]);
    let chat = client(&[&url(1), "chat", "smollm2", question, &saved("chat.json"), "16"]);
    let answer = chat["answer"].as_str().unwrap();
    assert!(answer.contains("Paris"), "SmolLM2 answers {question:?} with {answer:?}");

    let file = DeploymentFile::read(&dep).unwrap();
    let c = chain::connect(&anvil.rpc_url(), anvil.signer(0)).await.unwrap();
    let claims = nao_bindings::ClaimManager::new(file.contracts.claims, c.provider.clone());
    for (got, k) in [(&embedding, 1), (&chat, 2)] {
        let id: B256 = got["claim_id"].as_str().unwrap().parse().unwrap();
        let cl = claims.claim(id).call().await.unwrap();
        assert_eq!(ClaimStatus::from(cl.status), ClaimStatus::Pending, "{got}");
        assert_eq!(cl.prover, anvil.signer(k).address(), "the prover that answered posted the claim");
        let batch = chain::Claims::new(&c, &file.contracts).inferences(id).await.unwrap();
        let index = got["index"].as_u64().unwrap() as usize;
        let root = batch[index].traceRoot.to_string();
        assert_eq!(root, got["trace_root"].as_str().unwrap(), "the answer names its inference");
        assert!(got["transaction"].is_string(), "a first answer was posted: {got}");
        assert_eq!(got["status"], "pending");
    }

    // SmolLM2 under one registration: the first answer ended its turn before 16 tokens, and its claim has the
    // steps it ran (the end-of-turn token included); the one asked for 4 tokens has 4
    let tokens = chat["tokens"].as_u64().unwrap() as u32;
    assert!(chat["finish"] == "stop" && tokens < 16, "SmolLM2 ends its turn early: {chat}");
    for (got, steps) in [(&chat, tokens), (&chat["short"], 4)] {
        let id: B256 = got["claim_id"].as_str().unwrap().parse().unwrap();
        let inference = &chain::Claims::new(&c, &file.contracts).inferences(id).await.unwrap()[0];
        assert_eq!(inference.steps, steps, "{got}");
    }

    // the buyer checks what it received against the claim, and a changed output fails the check
    let verify = |claim: &serde_json::Value, file: &str| {
        let out = Command::new(procs::NAO)
            .args(["verify", "--deployment", &dep_s, "--claim", claim.as_str().unwrap(), "--output", file])
            .env("NAO_RPC_URL", anvil.rpc_url())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    for (got, file) in [(&embedding, saved("embedding.json")), (&chat, saved("chat.json"))] {
        let (code, said) = verify(&got["claim_id"], &file);
        assert_eq!(code, Some(0), "{said}");
        assert!(said.contains("is the claimed one") && said.contains("status pending"), "{said}");
    }
    let mut bought: serde_json::Value = serde_json::from_slice(&std::fs::read(saved("chat.json")).unwrap()).unwrap();
    bought["nao"]["output"]["values"][0] = serde_json::json!(42.0);
    std::fs::write(saved("changed.json"), bought.to_string()).unwrap();
    let (code, said) = verify(&chat["claim_id"], &saved("changed.json"));
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("NOT the claimed one"), "{said}");
    // the batched pair: one claim of two inferences, each answer verifiable on its own, a wrong index refused
    let batched = &embedding["batched"];
    let id: B256 = batched["claim_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(claims.claim(id).call().await.unwrap().count, 2, "{batched}");
    // one registration, three prompt lengths: the first claim's and the pair's two, each posted with its lengths
    let first: B256 = embedding["claim_id"].as_str().unwrap().parse().unwrap();
    let inferences = chain::Claims::new(&c, &file.contracts);
    let mut prompts: Vec<u32> = inferences.inferences(id).await.unwrap().iter().map(|i| i.prompt).collect();
    prompts.push(inferences.inferences(first).await.unwrap()[0].prompt);
    assert_eq!(prompts[..2].iter().sum::<u32>(), embedding["pair_tokens"].as_u64().unwrap() as u32, "{prompts:?}");
    prompts.sort();
    prompts.dedup();
    assert_eq!(prompts.len(), 3, "three lengths under one registration: {prompts:?}");
    std::fs::write(saved("batched.json"), batched.to_string()).unwrap();
    let (code, said) = verify(&batched["claim_id"], &saved("batched.json"));
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains(&format!("inference {} of 2", batched["index"])), "{said}");
    let mut moved = batched.clone();
    moved["index"] = serde_json::json!(1 - batched["index"].as_u64().unwrap());
    std::fs::write(saved("moved.json"), moved.to_string()).unwrap();
    let (code, said) = verify(&batched["claim_id"], &saved("moved.json"));
    assert!(code == Some(1) && said.contains("has no trace root"), "{said}");
    let (code, said) = verify(&serde_json::json!(format!("0x{}", "00".repeat(32))), &saved("chat.json"));
    assert!(code != Some(0) && said.contains("no such claim"), "{said}");
}
