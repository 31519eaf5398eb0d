//! Merkle trees: building one over leaf hashes, opening a leaf, verifying the proof (what a watcher does
//! for every fetched tensor and the contract for every opened chunk).
//!
//! `cargo bench -p nao --bench merkle` (add `-- --quick` for a short run). 2^11 leaves = one ~9 MB tensor
//! in 4 KiB chunks; 7511 leaves = one fine trace list of SmolLM2 (every op output of a 1-token run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nao::commit::{leaf_hash, MerkleTree, TensorCommitment};

fn leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn merkle(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle");
    for n in [2048usize, 7511] {
        let l = leaves(n);
        g.bench_with_input(BenchmarkId::new("build", n), &l, |b, l| {
            b.iter(|| black_box(MerkleTree::from_leaf_hashes(l.clone()).root()))
        });
        let tree = MerkleTree::from_leaf_hashes(l.clone());
        let root = tree.root();
        let i = n * 2 / 3;
        g.bench_with_input(BenchmarkId::new("open", n), &i, |b, i| b.iter(|| black_box(tree.proof(*i).unwrap())));
        let proof = tree.proof(i).unwrap();
        g.bench_with_input(BenchmarkId::new("verify", n), &i, |b, i| {
            b.iter(|| proof.verify(black_box(l[*i]), n, &root).unwrap())
        });
    }
    // A chunk opening of a committed tensor and its check (leaf hash of 4 KiB + proof + tensor root).
    let data: Vec<f32> = (0..2_275_000).map(|i| (i as f32).cos()).collect();
    let t = TensorCommitment::new(&data, &[data.len()]);
    let opening = t.open(&data, 1_000_000..1_000_001).unwrap();
    g.bench_function("tensor_open_9MB", |b| b.iter(|| black_box(t.open(&data, 1_000_000..1_000_001).unwrap())));
    g.bench_function("tensor_verify_9MB", |b| b.iter(|| opening.verify(&[data.len()], &t.root()).unwrap()));
    g.finish();
}

criterion_group!(benches, merkle);
criterion_main!(benches);
