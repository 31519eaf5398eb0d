//! `--model`: built-in names and checkpoints by path, through the `nao` binary as a user runs it; bad input is
//! named and caches nothing.

use std::path::Path;
use std::process::Command;

/// Runs `nao run` with `args`; (exit code, stdout, stderr).
fn run(args: &[&str], cache: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nao"))
        .arg("run")
        .args(args)
        .env("NAO_LOG", "warn")
        .env("NAO_CACHE", cache)
        .output()
        .expect("nao runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The cache the tests share (the weights are fetched once, as `nao` does).
fn shared_cache() -> std::path::PathBuf {
    nao::model::fetch::default_cache_dir()
}

/// Writes a GGUF (version 3) of no tensors whose metadata is `general.architecture = arch`.
fn gguf_of_architecture(path: &Path, arch: &str) {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // metadata entries
    let key = b"general.architecture";
    b.extend((key.len() as u64).to_le_bytes());
    b.extend(key);
    b.extend(8u32.to_le_bytes()); // a string
    b.extend((arch.len() as u64).to_le_bytes());
    b.extend(arch.as_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn checkpoints_by_path_answer_and_bad_ones_are_named() {
    let cache = shared_cache();
    // A GGUF file by path: the family from its architecture, the tokenizer and chat format from its metadata.
    let smollm2 = nao::model::fetch::smollm2_gguf(&cache).unwrap();
    let (code, out, err) =
        run(&["--model", smollm2.to_str().unwrap(), "--prompt", "What is the capital of France?", "--json"], &cache);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report["answer"].as_str().unwrap().contains("Paris"), "{report}");
    // A Hugging Face directory by path: MiniLM's, a BERT encoder.
    let minilm = nao::model::fetch::minilm_dir(&cache).unwrap();
    let (code, out, err) = run(&["--model", minilm.to_str().unwrap(), "--prompt", "A sentence.", "--json"], &cache);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("embedding [384]"), "{out}");

    // Bad input: each named, and an empty cache stays empty.
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("cache");
    std::fs::create_dir(&empty).unwrap();
    let bad = |args: &[&str], wants: &[&str]| {
        let (code, _, err) = run(args, &empty);
        assert_ne!(code, 0, "{args:?} succeeded");
        for w in wants {
            assert!(err.contains(w), "{args:?}: `{w}` not in {err}");
        }
    };
    let missing = tmp.path().join("no-such-model.gguf");
    bad(&["--model", missing.to_str().unwrap(), "--prompt", "x"], &["no-such-model.gguf", "neither a built-in model"]);
    let gpt2 = tmp.path().join("gpt2.gguf");
    gguf_of_architecture(&gpt2, "gpt2");
    bad(&["--model", gpt2.to_str().unwrap(), "--prompt", "x"], &["gpt2.gguf", "`gpt2`", "llama, qwen2"]);
    let dir = tmp.path().join("checkpoint");
    std::fs::create_dir(&dir).unwrap();
    bad(&["--model", dir.to_str().unwrap(), "--prompt", "x"], &["checkpoint", "no config.json"]);
    std::fs::write(dir.join("config.json"), r#"{"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"]}"#)
        .unwrap();
    bad(&["--model", dir.to_str().unwrap(), "--prompt", "x"], &["`gpt_neox`", "qwen2"]);
    // MiniLM's files without its weights: the first tensor the graph needs is named.
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(minilm.join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("model.safetensors"), b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ").unwrap();
    bad(&["--model", dir.to_str().unwrap(), "--prompt", "x"], &["embeddings.word_embeddings.weight", "missing"]);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing cached");
}

/// The built-in shortcut for Qwen2.5-Coder-0.5B-Instruct (six PyPI parts joined, checked and cached).
#[test]
fn qwen_answers_through_its_shortcut() {
    let cache = shared_cache();
    let (code, out, err) = run(
        &["--model", "qwen2.5-coder", "--prompt", "What is the capital of France?", "--max-tokens", "10", "--json"],
        &cache,
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["model"], "qwen2.5-coder");
    assert!(report["answer"].as_str().unwrap().contains("Paris"), "{report}");
}
