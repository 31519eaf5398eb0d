//! The hot paths in a loop, for profilers (perf, callgrind): MiniLM or SmolLM2 at a prompt length, and one of
//! `committed` (the prover posting: `run_committed`), `plain` (`run_plain`, the baseline) or `check` (the
//! watcher: every element of every op against its region, on a trace computed once), repeated.
//!
//! ```sh
//! cargo build --release -p nao --example hot_paths
//! perf record -g target/release/examples/hot_paths minilm 128 committed 50
//! valgrind --tool=callgrind target/release/examples/hot_paths minilm 32 committed 2
//! ```

use nao::model::{bert::Bert, fetch, llama::Llama, HostTensor, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("minilm", String::as_str);
    let tokens: usize = args.get(2).map_or(Ok(128), |s| s.parse())?;
    let what = args.get(3).map_or("committed", String::as_str);
    let iterations: usize = args.get(4).map_or(Ok(20), |s| s.parse())?;
    let cache = fetch::default_cache_dir();
    let text = "the quick brown fox jumps over the lazy dog ".repeat(tokens / 9 + 1);
    let (m, input): (Model, HostTensor) = match model {
        "minilm" => {
            let b = Bert::minilm(&cache)?;
            let mut ids = b.encode(&text)?;
            ids.data.truncate(tokens);
            ids.shape = vec![tokens];
            (b.model(tokens)?, ids)
        }
        "smollm2" => {
            let l = Llama::smollm2(&cache)?;
            let mut ids = l.encode(&text)?;
            ids.data.truncate(tokens);
            ids.shape = vec![tokens];
            (l.model(tokens, 1)?, ids)
        }
        other => return Err(format!("unknown model {other} (minilm or smollm2)").into()),
    };
    let rt = nao::runtime::Runtime::new(&m)?;
    let trace = if what == "check" { Some(rt.run(&m.graph, &input, None)?) } else { None };
    let t = std::time::Instant::now();
    for _ in 0..iterations {
        match (what, &trace) {
            ("committed", _) => {
                std::hint::black_box(rt.run_committed(&m.graph, &input)?.1.root());
            }
            ("plain", _) => {
                std::hint::black_box(rt.run_plain(&m.graph, &input)?);
            }
            ("check", Some(trace)) => {
                for (i, node) in m.graph.nodes.iter().enumerate() {
                    let operands = nao::runtime::operands(&m, trace, node);
                    std::hint::black_box(nao::region::ops::check(node, &operands, &trace.tensors[i + 1]));
                }
            }
            _ => return Err(format!("unknown work {what} (committed, plain or check)").into()),
        }
    }
    let per = t.elapsed().as_secs_f64() / iterations as f64;
    println!("{model} {tokens} tokens, {what}: {:.2} ms per run", per * 1e3);
    Ok(())
}
