//! Bound computation: the sound dot-product region decided in exact integers (what the watcher runs for
//! elements its f64 screen cannot decide, and the contract for a challenged element), and the whole-node
//! check of a MatMul (screen by two f64 gemms, exact decision where needed).
//!
//! `cargo bench -p nao --bench bounds` (add `-- --quick` for a short run). n = 576 is SmolLM2's hidden size,
//! 1536 its MLP width.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nao::graph::{Node, Op, Src};
use nao::model::HostTensor;
use nao::region::{ops, sound::dot_within};

fn vector(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + seed) * 0.731).sin() * 0.5).collect()
}

/// Left-to-right f32 dot product (an honest evaluation order).
fn dot(x: &[f32], w: &[f32]) -> f32 {
    x.iter().zip(w).fold(0.0f32, |s, (a, b)| s + a * b)
}

fn bounds(c: &mut Criterion) {
    let mut g = c.benchmark_group("dot_within");
    for n in [576usize, 1536] {
        let (x, w) = (vector(n, 1.0), vector(n, 2.0));
        let y = dot(&x, &w);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| assert_eq!(dot_within(black_box(&x), black_box(&w), black_box(y)), Some(true)))
        });
    }
    g.finish();

    // One SmolLM2 MLP up-projection over 16 tokens: x [16, 576] @ w[1536, 576]^T.
    let (rows, k, n) = (16usize, 576usize, 1536usize);
    let x = HostTensor::new(vec![rows, k], vector(rows * k, 3.0));
    let w = HostTensor::new(vec![n, k], vector(n * k, 4.0));
    let y: Vec<f32> =
        (0..rows * n).map(|g| dot(&x.data[g / n * k..(g / n + 1) * k], &w.data[g % n * k..(g % n + 1) * k])).collect();
    let y = HostTensor::new(vec![rows, n], y);
    let node = Node { op: Op::MatMul, inputs: vec![Src::Trace(0), Src::Weight(0)], shape: vec![rows, n] };
    let mut g = c.benchmark_group("ops_check");
    g.throughput(Throughput::Elements((rows * n) as u64));
    g.sample_size(10);
    g.bench_function("matmul_16x576x1536", |b| {
        b.iter(|| {
            let check = ops::check(&node, &[&x, &w], black_box(&y)).expect("shapes fit");
            assert!(check.first_violation().is_none());
        })
    });
    g.finish();
}

criterion_group!(benches, bounds);
criterion_main!(benches);
