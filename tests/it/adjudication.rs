//! Every op kind the contracts adjudicate, on a real SmolLM2 generation and a real MiniLM embedding: elements
//! opened in Rust are inside on-chain when honest and outside when corrupted, the contract agrees with the Rust
//! region (`nao::region::ops`) on both, and the gas of one adjudication per kind is printed at the model's sizes.

use std::collections::BTreeMap;

use alloy::primitives::{FixedBytes, U256};
use nao::graph::OpKind;
use nao::model::{bert::Bert, fetch, llama::Llama, HostTensor, Model};
use nao::op::{self, Params};
use nao::region::ops;
use nao::roles::calldata::element_challenge;
use nao::runtime;
use nao::trace::ElementRef;
use nao_bindings::DisputeGame;

use super::{deployed, register};

/// How a corrupted element of each kind is made: moved by 5 % of (|v| + 1), far outside every region (the widest,
/// a 1536-term dot product with cancellation, is ~1e-4 of its terms' magnitude sum), a masked score unmasked,
/// an argmax index moved off the maximum.
fn corrupt(kind: OpKind, t: &mut HostTensor, g: usize) {
    let v = &mut t.data[g];
    *v = match kind {
        OpKind::CausalMask if *v == f32::NEG_INFINITY => 0.0,
        OpKind::Argmax => (*v + 1.0) % 49_152.0,
        _ => *v + (v.abs() + 1.0) * 0.05,
    };
}

/// Adjudicates an honest and a corrupted element of the first op of every kind of `model` (and of every
/// MatMul length) that the contracts decide; `kinds` must all be among them. Returns the gas lines.
async fn every_kind(model: Model, input: HostTensor, kinds: &[OpKind]) -> Vec<String> {
    let (_chain, client, d) = deployed().await;
    let game = DisputeGame::new(d.game, client.provider.clone());
    // one segment per op: every op output is a leaf of the trace root, so the one-level `adjudicate` view opens
    // it directly (the partition game opens the same elements against fine roots)
    // (registered as a graph of its own: a fixed template of this graph, lengths (1, 1))
    let mut graph = model.graph.clone();
    graph.segments = (0..graph.nodes.len()).map(|i| i..i + 1).collect();
    let model =
        Model::with_shared_weights(&model.name, graph, model.weight_names.clone(), model.weights.clone()).unwrap();
    let (spec, mc) = register(&client, &d, model.clone()).await;

    // the first op of each kind and MatMul length (576 and 768), the last Argmax (the generated token), and
    // an element in its middle
    let mut first: BTreeMap<(u8, u32), usize> = BTreeMap::new();
    for i in 0..model.graph.nodes.len() {
        if let Some(d) = model.graph.descriptor(i) {
            let key = (
                d.kind as u8,
                match d.params {
                    Params::MatMul { inner } => inner,
                    Params::BatchMatMul { transposed, .. } => u32::from(transposed),
                    _ => 0,
                },
            );
            if d.kind == OpKind::Argmax || !first.contains_key(&key) {
                first.insert(key, i);
            }
        }
    }
    let found: Vec<u8> = first.keys().map(|k| k.0).collect();
    for k in kinds {
        assert!(found.contains(&(*k as u8)), "{}: no {k:?} the contracts adjudicate", model.name);
    }
    let element = |op: usize, trace: &nao::trace::Trace| {
        let d = model.graph.descriptor(op).unwrap();
        // a Concat's last row comes from its second operand
        let row = if d.kind == OpKind::Concat { d.rows as usize - 1 } else { d.rows as usize / 2 };
        let col = d.cols as usize / 3;
        if d.kind == OpKind::Argmax {
            // the witness: the first maximum of the row
            let x = &trace.tensors[d.input as usize].data;
            let Params::Argmax { length } = d.params else { unreachable!("an Argmax has its params") };
            let k = length as usize;
            let r = &x[row * k..(row + 1) * k];
            let best = (0..k).fold(0, |b, j| if r[j] > r[b] { j } else { b });
            return ElementRef { op, row, col: best };
        }
        ElementRef { op, row, col }
    };

    let honest = runtime::run(&model, &input, None).unwrap();
    let targets: Vec<(usize, ElementRef)> = first.values().map(|&op| (op, element(op, &honest))).collect();
    let mut tamper = |op: usize, t: &mut HostTensor| {
        if let Some((_, at)) = targets.iter().find(|(o, _)| *o == op) {
            let d = model.graph.descriptor(op).unwrap();
            corrupt(d.kind, t, d.output_index(at.row, at.col));
        }
    };
    let bad = runtime::run(&model, &input, Some(&mut tamper)).unwrap();
    let mut report = Vec::new();
    for (trace, want) in [(&honest, true), (&bad, false)] {
        let tc = trace.commit();
        for (op, _) in &targets {
            let at = &element(*op, trace);
            let node = &model.graph.nodes[*op];
            let d = model.graph.descriptor(*op).unwrap();
            let c = element_challenge(&model, &mc, trace, &tc, *at).unwrap();
            let call = game.adjudicate(spec, 1, 1, FixedBytes(tc.root()), c);
            let r = call.call().await.unwrap_or_else(|e| panic!("{:?} op {op}: {e}", d.kind));
            assert_eq!(r.inside, want, "{:?} op {op} {at:?}: the contract's verdict", d.kind);
            // the Rust region agrees (ops the contract decides bit-exactly are replayed there)
            let operands = runtime::operands(&model, trace, node);
            let g = d.output_index(at.row, at.col);
            if let Some(check) = ops::check(node, &operands, &trace.tensors[op + 1]) {
                assert_eq!(check.elements[g].inside, want, "{:?} op {op}: the Rust region's verdict", d.kind);
            }
            if want {
                let gas = call.estimate_gas().await.unwrap();
                report.push(format!("{:?} ({}x{}, {:?}): {gas} gas", d.kind, d.rows, d.cols, d.params));
            }
        }
    }
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adjudicated_kind_accepts_honest_and_rejects_corrupted_smollm2_elements() {
    let llama = Llama::smollm2(&fetch::default_cache_dir()).expect("SmolLM2 from PyPI");
    let input = llama.encode("The capital of France is").unwrap();
    // two new tokens: the second step concatenates its keys and values to the first step's
    let model = llama.model(input.data.len(), 2).unwrap();
    use OpKind::*;
    let kinds = [
        Embedding, RmsNorm, MatMul, Scale, CausalMask, Softmax, Residual, Silu, Mul, Argmax, Reshape, Transpose,
        Narrow, Concat,
    ];
    let gas = every_kind(model, input, &kinds).await;
    assert!(
        gas.iter().any(|l| l.contains("MatMul { inner: 768 }")),
        "SmolLM2's down projection sums its 1536 terms as two blocks of 768: {gas:?}"
    );
    println!("adjudication gas at SmolLM2 sizes (one element, openings included):\n{}", gas.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adjudicated_kind_accepts_honest_and_rejects_corrupted_minilm_elements() {
    let bert = Bert::load(&fetch::minilm_dir(&fetch::default_cache_dir()).expect("MiniLM from PyPI")).unwrap();
    let input = bert.encode("A watcher re-runs every claim it sees.").unwrap();
    let model = bert.model(input.data.len()).unwrap();
    use OpKind::*;
    let kinds =
        [Embedding, Residual, LayerNorm, MatMul, Add, Scale, Softmax, Gelu, Reshape, Transpose, MeanRows, BatchMatMul];
    let gas = every_kind(model, input, &kinds).await;
    println!("adjudication gas at MiniLM sizes (one element, openings included):\n{}", gas.join("\n"));
}

/// Clamp (ReLU6), the kind added through the op registry: an honest element of a ReLU6 is inside on-chain and a
/// corrupted one outside, as the Rust region (a bit-exact replay) decides them.
#[tokio::test(flavor = "multi_thread")]
async fn clamp_is_adjudicated_on_chain_as_in_rust() {
    use nao::graph::{Graph, Node, Op, Src};
    let mut graph = Graph { input_shape: vec![4, 8], weight_shapes: vec![], nodes: vec![], segments: Vec::new() };
    let relu6 = Op::Clamp(op::Clamp { lo: 0.0, hi: 6.0 });
    graph.nodes.push(Node { op: relu6, inputs: vec![Src::Trace(0)], shape: vec![4, 8] });
    let model = Model::new("relu6", graph, vec![], vec![]).unwrap();
    // -3 .. 9.4: below, inside and above the bounds
    let input = HostTensor::new(vec![4, 8], (0..32).map(|i| i as f32 * 0.4 - 3.0).collect());
    let gas = every_kind(model, input, &[OpKind::Clamp]).await;
    println!("adjudication gas of a ReLU6 element:\n{}", gas.join("\n"));
}

/// RoPE's on-chain region holds three honest implementations (candle, an f32 table from `powf`, f64 rounded
/// once) at positions up to 8191, element by element through `Regions.rope`, as the Rust region does: with
/// SmolLM2's base, and scaled as Llama 3.1 is (base 500,000, 128-wide heads, the frequency factors llama.cpp's
/// converter writes: 1, 8 and the band between); outputs moved by 0.1 (|y| + 1) are outside both (at position
/// 8191 the fastest pair's angle budget alone, 8u a, is 4e-3: honest tables differ that much).
#[tokio::test(flavor = "multi_thread")]
async fn rope_region_holds_honest_tables_at_long_positions() {
    use nao::graph::{Node, Op, Src};
    use nao::model::llama::Llama3Scaling;
    use nao::region::rope;
    use rand::{Rng, SeedableRng};
    let (_chain, client, d) = deployed().await;
    let game = DisputeGame::new(d.game, client.provider.clone());
    let adj = nao_bindings::Adjudicator::new(game.adjudicator().call().await.unwrap(), client.provider.clone());
    let regions = nao_bindings::Regions::new(adj.regions().call().await.unwrap(), client.provider.clone());
    let llama31 = Llama3Scaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 8192,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x20e);
    let (mut checked, mut moved) = (0, 0);
    for (theta, dim, freqs) in [(100_000.0f32, 64usize, None), (500_000.0, 128, Some(llama31.factors(500_000.0, 128)))]
    {
        let half = dim / 2;
        let factor = |k: usize| freqs.as_ref().map_or(1.0f32, |f: &Vec<f32>| f[k]);
        for p in [0usize, 1, 17, 1000, 4095, 8191] {
            let x: Vec<f32> = (0..dim).map(|_| rng.random_range(-3.0f32..3.0)).collect();
            let node = Node {
                op: Op::Rope(op::Rope { theta, offset: p as u32, scaled: freqs.is_some() }),
                inputs: std::iter::once(Src::Trace(0)).chain(freqs.as_ref().map(|_| Src::Weight(0))).collect(),
                shape: vec![1, 1, dim],
            };
            let xt = HostTensor::new(vec![1, 1, dim], x.clone());
            let ft = freqs.as_ref().map(|f| HostTensor::new(vec![half], f.clone()));
            let operands: Vec<&HostTensor> = std::iter::once(&xt).chain(ft.as_ref()).collect();
            let candle = runtime::replay(&node, &operands).unwrap().data;
            let table = |wide: bool| -> Vec<f32> {
                let mut y = vec![0f32; dim];
                for k in 0..half {
                    let (c, s) = if wide {
                        let a = p as f64 / ((theta as f64).powf(2.0 * k as f64 / dim as f64) * factor(k) as f64);
                        (a.cos(), a.sin())
                    } else {
                        let a = p as f32 * theta.powf(-2.0 * k as f32 / dim as f32) / factor(k);
                        (a.cos() as f64, a.sin() as f64)
                    };
                    let (x1, x2) = (x[k] as f64, x[k + half] as f64);
                    if wide {
                        y[k] = (x1 * c - x2 * s) as f32;
                        y[k + half] = (x2 * c + x1 * s) as f32;
                    } else {
                        let (c, s) = (c as f32, s as f32);
                        y[k] = x[k] * c - x[k + half] * s;
                        y[k + half] = x[k + half] * c + x[k] * s;
                    }
                }
                y
            };
            let xs: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
            let region = |y: &[f32]| rope::rope(&x, 1, dim, theta, p, freqs.as_deref(), y);
            for y in [candle, table(false), table(true)] {
                let rust = region(&y);
                for j in 0..dim {
                    assert!(rust[j].0, "the Rust region holds position {p}, element {j}");
                    let f = factor(j % half).to_bits();
                    let call =
                        regions.rope(xs.clone(), U256::from(j), U256::from(p), theta.to_bits(), f, y[j].to_bits());
                    assert!(call.call().await.unwrap(), "position {p}, element {j}: {:e} is inside on-chain", y[j]);
                    checked += 1;
                    if j % 8 == 0 {
                        let bad = y[j] + (y[j].abs() + 1.0) * 0.1;
                        let mut ybad = y.clone();
                        ybad[j] = bad;
                        assert!(!region(&ybad)[j].0, "position {p}, element {j}: Rust");
                        let call =
                            regions.rope(xs.clone(), U256::from(j), U256::from(p), theta.to_bits(), f, bad.to_bits());
                        assert!(!call.call().await.unwrap(), "position {p}, element {j}: {bad:e} is outside on-chain");
                        moved += 1;
                    }
                }
            }
        }
    }
    assert_eq!((checked, moved), (6 * 3 * (64 + 128), 6 * 3 * (8 + 16)));
}

/// Llama 3.1's scaled rope adjudicated through the game: an honest element of a pair scaled by the full factor
/// is inside on-chain (its factor opened from the weights root) and a corrupted one outside, as in Rust.
#[tokio::test(flavor = "multi_thread")]
async fn scaled_rope_is_adjudicated_on_chain_as_in_rust() {
    use nao::graph::{Graph, Node, Op, Src};
    use nao::model::llama::{Llama3Scaling, ROPE_FREQS};
    use rand::{Rng, SeedableRng};
    let (theta, dim, shape) = (500_000.0f32, 128usize, vec![2, 12, 128]);
    let s = Llama3Scaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 8192,
    };
    let freqs = s.factors(theta, dim);
    // the element the test opens (column 128 / 3) is pair 42, slowed by the full factor
    assert_eq!(freqs[42], 8.0);
    let mut graph =
        Graph { input_shape: shape.clone(), weight_shapes: vec![vec![dim / 2]], nodes: vec![], segments: Vec::new() };
    let op = Op::Rope(op::Rope { theta, offset: 1000, scaled: true });
    graph.nodes.push(Node { op, inputs: vec![Src::Trace(0), Src::Weight(0)], shape: shape.clone() });
    let weights = vec![HostTensor::new(vec![dim / 2], freqs)];
    let model = Model::new("llama3.1-rope", graph, vec![ROPE_FREQS.into()], weights).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x31);
    let input = HostTensor::new(shape, (0..2 * 12 * dim).map(|_| rng.random_range(-3.0f32..3.0)).collect());
    let gas = every_kind(model, input, &[OpKind::Rope]).await;
    println!("adjudication gas of a scaled rope element:\n{}", gas.join("\n"));
}
