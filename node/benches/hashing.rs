//! Tensor hashing: the prover's hot path (the coarse trace is hashed as the model runs).
//!
//! `cargo bench -p nao --bench hashing` (add `-- --quick` for a short run). Sizes: ~1 MB (one 128-token
//! SmolLM2 residual-stream boundary is 0.29 MB; a MiniLM one 0.2 MB) and ~3 MB (the coarse trace of a
//! 128-token SmolLM2 prefill: its 10 segment boundaries). Plain SHA-256 over the same bytes is the limit the
//! commitment is measured against (`nao bench` reports the ratio).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nao::commit::{leaf_hash, tensor_root, TensorCommitment, CHUNK_BYTES};
use sha2::{Digest, Sha256};

fn data(elements: usize) -> Vec<f32> {
    (0..elements).map(|i| (i as f32 * 0.37).sin()).collect()
}

fn hashing(c: &mut Criterion) {
    for (name, elements) in [("1MB", 262_144usize), ("3MB", 737_280)] {
        let d = data(elements);
        let bytes: &[u8] = bytemuck::cast_slice(&d);
        let mut g = c.benchmark_group(format!("tensor_hash/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.sample_size(20);
        g.bench_function("tensor_root", |b| {
            b.iter(|| {
                let t = TensorCommitment::new(black_box(&d), &[elements]);
                black_box(tensor_root(&t.data_root(), t.shape()))
            })
        });
        g.bench_function("sha256_plain", |b| b.iter(|| black_box(Sha256::digest(black_box(bytes)))));
        g.finish();
    }
}

/// The leaf hash as it was before the profile: the chunk copied behind the prefix into a zeroed buffer, then
/// hashed as one message.
fn leaf_hash_copied(data: &[u8]) -> [u8; 32] {
    let mut buf = [0u8; 1 + CHUNK_BYTES];
    buf[1..=data.len()].copy_from_slice(data);
    Sha256::digest(&buf[..=data.len()]).into()
}

/// One 4 KiB leaf: `leaf_hash` (prefix byte, then blocks straight from the data) against the copying variant and
/// plain SHA-256 of the same bytes, over a 9 MB tensor's chunks (so the data comes from memory, as it does
/// when a tensor is committed).
fn leaves(c: &mut Criterion) {
    let d = data(2_275_000);
    let bytes: &[u8] = bytemuck::cast_slice(&d);
    assert_eq!(leaf_hash(&bytes[..CHUNK_BYTES]), leaf_hash_copied(&bytes[..CHUNK_BYTES]));
    let mut g = c.benchmark_group("leaves_9MB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function("leaf_hash", |b| b.iter(|| bytes.chunks(CHUNK_BYTES).map(leaf_hash).collect::<Vec<_>>()));
    g.bench_function("leaf_hash_copied", |b| {
        b.iter(|| bytes.chunks(CHUNK_BYTES).map(leaf_hash_copied).collect::<Vec<_>>())
    });
    g.bench_function("sha256_per_chunk", |b| {
        b.iter(|| bytes.chunks(CHUNK_BYTES).map(|c| <[u8; 32]>::from(Sha256::digest(c))).collect::<Vec<_>>())
    });
    g.finish();
}

criterion_group!(benches, hashing, leaves);
criterion_main!(benches);
