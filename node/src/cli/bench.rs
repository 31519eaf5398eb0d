//! `nao bench`.

use clap::Args;

/// Measures ratios that hold on noisy machines (best of several repetitions, both sides in one run).
///
/// Examples:
///   nao bench
///   nao bench --mb 9.1 --reps 20
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Megabytes of fp32 data to hash (9.1 MB = the 31 residual-stream boundaries of a 128-token SmolLM2
    /// prefill).
    #[arg(long, default_value_t = 9.1)]
    mb: f64,
    /// Repetitions (the best of each side counts).
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl BenchArgs {
    pub fn run(self) -> eyre::Result<i32> {
        let elements = (self.mb * 1e6 / 4.0) as usize;
        let h = nao::bench::hash_vs_limit(elements, self.reps);
        if self.json {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "hash_vs_limit": h }))?);
        } else {
            println!(
                "hash_vs_limit: {:.3} (commitment {:.2} GB/s, plain SHA-256 {:.2} GB/s, {} bytes, one core, best of {}); \
                 with 4 KiB leaves: {:.3}",
                h.ratio, h.commitment_gbps, h.sha256_gbps, h.bytes, self.reps, h.ratio_4k_leaves
            );
        }
        Ok(0)
    }
}
