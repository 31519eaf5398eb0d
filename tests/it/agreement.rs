//! Rust and Solidity agree: roots computed in Rust verify in the contract, a flipped byte does not, and
//! the contract's exact bound check accepts and rejects exactly what `nao::region::sound` does.

use alloy::primitives::{Bytes, FixedBytes};
use nao::chain::revert_reason;
use nao::graph::{Graph, Node, Op, Src};
use nao::model::{HostTensor, Model, MLP_TINY};
use nao::region::{check_node, sound};
use nao::roles::calldata::element_challenge;
use nao::runtime;
use nao::trace::ElementRef;
use nao::trace::Trace;
use nao_bindings::DisputeGame;
use rand::{Rng, SeedableRng};

use super::{deployed, register};

/// Every op of a real MLP run: elements opened in Rust are adjudicated "inside" on-chain, the corrupted one
/// "outside", and a flipped byte in any opening makes the contract refuse the proof.
#[tokio::test(flavor = "multi_thread")]
async fn rust_openings_verify_in_solidity_and_a_flipped_byte_is_rejected() {
    let (_chain, client, d) = deployed().await;
    let game = DisputeGame::new(d.game, client.provider.clone());
    let model = MLP_TINY.generated();
    let (s, mc) = register(&client, &d, model.clone()).await;
    let mut tamper = |op: usize, t: &mut HostTensor| {
        if op == 3 {
            t.data[7] *= 1.001;
        }
    };
    let trace = runtime::run(&model, &MLP_TINY.input(3), Some(&mut tamper)).unwrap();
    let tc = trace.commit();
    for op in 0..model.graph.nodes.len() {
        let node = model.graph.descriptor(op).expect("the MLP's ops are all adjudicable");
        for (row, col) in [(0, 0), (1, 7), (3, node.cols as usize - 1), (0, 7)] {
            let at = ElementRef { op, row, col };
            let c = element_challenge(&model, &mc, &trace, &tc, at).unwrap();
            let r = game.adjudicate(s, 1, 1, FixedBytes(tc.root()), c.clone()).call().await.unwrap();
            let weight = node.uses_weight().then(|| &model.weights[node.weight as usize]);
            let rust = check_node(&node, &trace.tensors[node.input as usize], weight, &trace.tensors[op + 1])
                .expect("the MLP's kinds are decided by region::sound");
            let g = row * node.cols as usize + col;
            assert_eq!(r.inside, rust.elements[g].inside, "op {op} element {g}");
            assert_eq!(r.inside, !(op == 3 && g == 7), "only the corrupted element is outside (op {op}, {g})");
            assert_eq!(r.yBits, trace.tensors[op + 1].data[g].to_bits());

            let mut bad = c.clone();
            let mut bytes = bad.output.chunks[0].data.to_vec();
            bytes[3] ^= 0x10;
            bad.output.chunks[0].data = Bytes::from(bytes);
            let err = game.adjudicate(s, 1, 1, FixedBytes(tc.root()), bad).call().await.unwrap_err();
            assert!(revert_reason(&err).contains("ProofDoesNotVerify"), "{}", revert_reason(&err));
        }
    }
}

/// Shared test vectors near the edge of the bound: for random dot products, claimed results a few ulps either
/// side of the boundary get the same verdict from the contract as from Rust. The last 16 cases are computed
/// exactly by every order (small integers times small powers of two): their region is the point {s}, and one
/// ulp away is outside for both.
#[tokio::test(flavor = "multi_thread")]
async fn contract_and_rust_bound_checks_agree_on_random_edge_vectors() {
    let (_chain, client, d) = deployed().await;
    let game = DisputeGame::new(d.game, client.provider.clone());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let (mut inside, mut outside) = (0, 0);
    for case in 0..64 {
        let n = [1usize, 3, 64, 300][case % 4];
        let scale = [1.0f32, 1e-20, 1e20, 1e-38][case / 4 % 4];
        let exact = case >= 48;
        let x: Vec<f32> = (0..n)
            .map(|_| if exact { rng.random_range(-50i32..50) as f32 } else { rng.random_range(-1.0f32..1.0) * scale })
            .collect();
        let w: Vec<f32> = (0..n)
            .map(|_| {
                if exact {
                    [-2.0, -1.0, 0.0, 0.5, 1.0, 4.0][rng.random_range(0..6)]
                } else {
                    rng.random_range(-1.0f32..1.0)
                }
            })
            .collect();
        let s: f64 = x.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum();
        let graph = Graph {
            input_shape: vec![1, n],
            weight_shapes: vec![vec![1, n]],
            nodes: vec![Node { op: Op::MatMul, inputs: vec![Src::Trace(0), Src::Weight(0)], shape: vec![1, 1] }],
            segments: Vec::new(), // one segment: the only op
        };
        let model = Model::new("dot", graph, vec!["w".into()], vec![HostTensor::new(vec![1, n], w.clone())]).unwrap();
        let (spec, mc) = register(&client, &d, model.clone()).await;
        // find the edge of the region outwards from fl(s) (galloping, then bisection on the ulp offset)
        let start = s as f32;
        let dir: i64 = if (case % 2 == 0) == (start >= 0.0) { 1 } else { -1 };
        let at = |k: i64| f32::from_bits((start.to_bits() as i64 + dir * k) as u32);
        let inside_at = |k: i64| sound::dot_within(&x, &w, at(k)) == Some(true);
        assert!(inside_at(0), "case {case}: fl(s) itself must be inside");
        let mut hi = 1i64;
        while inside_at(hi) {
            hi *= 2;
        }
        let mut lo = hi / 2; // inside_at(lo), !inside_at(hi)
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if inside_at(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if exact {
            assert_eq!((lo, hi), (0, 1), "case {case}: an exactly computed sum has a point region");
        }
        let (prev, y) = (at(lo), at(hi));
        for claimed in [prev, y] {
            let trace = Trace {
                tensors: vec![HostTensor::new(vec![1, n], x.clone()), HostTensor::new(vec![1, 1], vec![claimed])],
            };
            let tc = trace.commit();
            let c = element_challenge(&model, &mc, &trace, &tc, ElementRef { op: 0, row: 0, col: 0 }).unwrap();
            let r = game.adjudicate(spec, 1, 1, FixedBytes(tc.root()), c).call().await.unwrap();
            let want = sound::dot_within(&x, &w, claimed).unwrap();
            assert_eq!(r.inside, want, "case {case}: n {n}, scale {scale}, y {claimed:e}");
            if want {
                inside += 1;
            } else {
                outside += 1;
            }
        }
    }
    assert_eq!((inside, outside), (64, 64));
}
