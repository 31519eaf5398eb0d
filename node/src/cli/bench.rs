//! `nao bench`.

use clap::Args;
use nao::model::{bert::Bert, fetch, llama::Llama};

/// Measures ratios that hold on noisy machines (both sides in one run, interleaved, best and median of
/// several repetitions): hashing throughput against plain SHA-256, and posting overhead (traced +
/// committed inference over plain inference of the same IR).
///
/// Examples:
///   nao bench
///   nao bench --reps 20 --json
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Megabytes of fp32 data to hash (9.1 MB = the 31 residual-stream boundaries of a 128-token SmolLM2
    /// prefill).
    #[arg(long, default_value_t = 9.1)]
    mb: f64,
    /// Repetitions.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Input tokens for the posting-overhead runs.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A text of exactly `tokens` MiniLM tokens ([CLS] and [SEP] included).
fn minilm_input(b: &Bert, tokens: usize) -> eyre::Result<nao::model::HostTensor> {
    let mut text = String::new();
    loop {
        text.push_str("the quick brown fox jumps over the lazy dog ");
        let ids = b.encode(&text)?;
        if ids.data.len() >= tokens {
            let mut ids = ids;
            let sep = *ids.data.last().expect("non-empty");
            ids.data.truncate(tokens);
            ids.data[tokens - 1] = sep;
            ids.shape = vec![tokens];
            return Ok(ids);
        }
    }
}

/// A prompt of exactly `tokens` SmolLM2 tokens.
fn llama_input(l: &Llama, tokens: usize) -> eyre::Result<nao::model::HostTensor> {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(tokens);
    let mut ids = l.encode(&text)?;
    ids.data.truncate(tokens);
    ids.shape = vec![tokens];
    Ok(ids)
}

impl BenchArgs {
    pub fn run(self) -> eyre::Result<i32> {
        let elements = (self.mb * 1e6 / 4.0) as usize;
        let h = nao::bench::hash_vs_limit(elements, self.reps);
        let cache = fetch::default_cache_dir();
        let bert = Bert::load(&fetch::minilm_dir(&cache)?)?;
        let input = minilm_input(&bert, self.tokens)?;
        let mut posting = vec![nao::bench::posting_overhead(&bert.model(self.tokens)?, &input, self.reps)?];
        let mut watcher = vec![nao::bench::watcher_ratio(&bert.model(self.tokens)?, &input, 3)?];
        drop(bert);
        let llama = Llama::smollm2(&cache)?;
        let ids = llama_input(&llama, self.tokens)?;
        posting.push(nao::bench::posting_overhead(&llama.model(self.tokens, 1)?, &ids, self.reps)?);
        watcher.push(nao::bench::watcher_ratio(&llama.model(self.tokens, 1)?, &ids, 3)?);
        if self.json {
            let v = serde_json::json!({ "hash_vs_limit": h, "posting_overhead": posting, "watcher_ratio": watcher });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            println!(
                "hash_vs_limit: {:.3} (commitment {:.2} GB/s, plain SHA-256 {:.2} GB/s, {} bytes, one core, best of {}); \
                 with 1 KiB leaves: {:.3}",
                h.ratio, h.commitment_gbps, h.sha256_gbps, h.bytes, self.reps, h.ratio_other_leaves
            );
            for p in &posting {
                println!(
                "posting_overhead[{}, {} tokens]: {:.4} best, {:.4} median (plain {:.1} ms, traced+committed {:.1} ms; \
                 coarse trace {:.2} MB hashed, all op outputs {:.1} MB, {:.0} MiB resident when kept; {} nodes; peak RSS {:.0} MiB)",
                p.model,
                p.tokens,
                p.ratio,
                p.median_ratio,
                p.plain_s * 1e3,
                p.traced_s * 1e3,
                p.coarse_bytes as f64 / 1e6,
                p.fine_bytes as f64 / 1e6,
                p.fine_trace_rss_mib,
                p.nodes,
                p.peak_rss_mib
            );
            }
            for w in &watcher {
                println!(
                    "watcher_ratio[{}]: {:.2} (checking {} elements against their regions {:.0} ms, one plain inference {:.0} ms; the check runs on one thread)",
                    w.model,
                    w.ratio,
                    w.elements,
                    w.check_s * 1e3,
                    w.plain_s * 1e3
                );
            }
        }
        Ok(0)
    }
}
