//! Benchmarks that print ratios measured in one run (noisy machines make absolute times meaningless).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::commit::TensorCommitment;

/// Best of `reps` timings of `f`.
pub fn best_of(reps: usize, mut f: impl FnMut()) -> Duration {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Throughput of the tensor commitment against plain SHA-256 over one contiguous buffer, on one core.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HashBench {
    /// Bytes hashed per repetition.
    pub bytes: usize,
    /// Plain SHA-256, GB/s.
    pub sha256_gbps: f64,
    /// Chunked Merkle tensor commitment, GB/s.
    pub commitment_gbps: f64,
    /// commitment / plain (the goal is >= 0.8).
    pub ratio: f64,
    /// The same ratio with 4 KiB leaves instead of the protocol's 1 KiB.
    pub ratio_4k_leaves: f64,
}

/// Hashes `elements` fp32 values both ways, `reps` times each, interleaved, and keeps the best of each.
pub fn hash_vs_limit(elements: usize, reps: usize) -> HashBench {
    let data: Vec<f32> = (0..elements).map(|i| (i as f32).sin()).collect();
    let bytes: &[u8] = bytemuck::cast_slice(&data);
    let (mut plain, mut ours, mut ours4) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..reps {
        ours4 = ours4.min(best_of(1, || {
            let c = TensorCommitment::with_chunk_bytes(std::hint::black_box(&data), &[elements], 4096);
            std::hint::black_box(c.root());
        }));
        plain = plain.min(best_of(1, || {
            std::hint::black_box(Sha256::digest(std::hint::black_box(bytes)));
        }));
        ours = ours.min(best_of(1, || {
            std::hint::black_box(TensorCommitment::new(std::hint::black_box(&data), &[elements]).root());
        }));
    }
    let gbps = |d: Duration| bytes.len() as f64 / d.as_secs_f64() / 1e9;
    HashBench {
        bytes: bytes.len(),
        sha256_gbps: gbps(plain),
        commitment_gbps: gbps(ours),
        ratio: plain.as_secs_f64() / ours.as_secs_f64(),
        ratio_4k_leaves: plain.as_secs_f64() / ours4.as_secs_f64(),
    }
}
