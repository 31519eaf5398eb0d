//! `nao bench`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};
use eyre::{bail, eyre, WrapErr};
use nao::bench::{self, Mode, PostingBench, Report, RoleMemory, Slot};
use nao::model::{bert::Bert, llama::Llama, HostTensor, Model};

use super::models::{Checkpoint, ModelName};
use nao::plot::{LineChart, Series};

/// Measures nao against its limits, in one run, with ratios that hold on noisy machines (both sides timed
/// in the same run, interleaved; best and median of several repetitions): posting overhead (committed over
/// plain inference, MiniLM and SmolLM2, and SmolLM2 against prompt length), hashing throughput against
/// plain SHA-256, the watcher's full check over one inference, and the peak memory of prover and watcher
/// (each in a process of its own). GPU figures need `--features cuda` and a GPU; otherwise they are
/// reported as skipped.
///
/// With `--report PATH` it writes the JSON report there, the plot `bench-overhead.png` next to it, and
/// the markdown report (docs/BENCHMARKS.md by default, not in `--short` mode unless `--markdown` is given)
/// with the plot next to it; the markdown's `## Profile` section onwards is kept as it was.
///
/// Examples:
///   nao bench
///   nao bench --short --json
///   nao bench --report bench.report.json
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Megabytes of fp32 data to hash (2.95 MB = the 10 segment boundaries of a 128-token SmolLM2 prefill,
    /// what posting hashes).
    #[arg(long, default_value_t = 2.95)]
    mb: f64,
    /// Repetitions of each interleaved timing [default: 10, 3 with --short].
    #[arg(long)]
    reps: Option<usize>,
    /// Input tokens for the posting-overhead and watcher runs.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// SmolLM2 prompt lengths for the overhead-against-length sweep [default: 16,32,64,128,256; 16,32,64
    /// with --short].
    #[arg(long, value_delimiter = ',')]
    sweep: Option<Vec<usize>>,
    /// CI-sized run: fewer repetitions and a shorter sweep (well under a minute in release).
    #[arg(long)]
    short: bool,
    /// Write the JSON report here (and the plot next to it, and the markdown report).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where to write the markdown report [default with --report: docs/BENCHMARKS.md; none with --short].
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// (internal) Run one role once and print its memory as JSON: how `nao bench` measures each role in a
    /// process of its own.
    #[arg(long, hide = true, requires = "model")]
    role: Option<Role>,
    /// The models whose posting overhead, watcher ratio and peak memory are measured: built-in names
    /// (minilm, smollm2, qwen2.5-coder) or checkpoint paths, as `--model` elsewhere.
    #[arg(long, value_delimiter = ',', default_value = "minilm,smollm2")]
    models: Vec<ModelName>,
    /// (internal) The model of `--role`.
    #[arg(long, hide = true)]
    model: Option<ModelName>,
}

/// A role whose memory is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Prover,
    Watcher,
}

const GPU_ABSENT: &str = "cuda: not available on this machine (no GPU), skipped";

/// A text of exactly `tokens` tokens of a BERT encoder ([CLS] and [SEP] included).
fn minilm_input(b: &Bert, tokens: usize) -> eyre::Result<HostTensor> {
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

/// A prompt of exactly `tokens` tokens of a decoder.
fn llama_input(l: &Llama, tokens: usize) -> eyre::Result<HostTensor> {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(tokens);
    let mut ids = l.encode(&text)?;
    ids.data.truncate(tokens);
    ids.shape = vec![tokens];
    Ok(ids)
}

/// The benchmarked models, each loaded once when first asked for; graphs built per input length (one
/// generated token for a decoder).
#[derive(Default)]
struct Models {
    loaded: std::cell::RefCell<Vec<(ModelName, std::rc::Rc<Checkpoint>)>>,
}

impl Models {
    fn checkpoint(&self, which: &ModelName) -> eyre::Result<std::rc::Rc<Checkpoint>> {
        if let Some((_, c)) = self.loaded.borrow().iter().find(|(m, _)| m == which) {
            return Ok(c.clone());
        }
        let c = std::rc::Rc::new(which.open()?);
        self.loaded.borrow_mut().push((which.clone(), c.clone()));
        Ok(c)
    }

    fn get(&self, which: &ModelName, tokens: usize) -> eyre::Result<(Model, HostTensor)> {
        let (mut model, input) = match &*self.checkpoint(which)? {
            Checkpoint::Encoder(b, _) => (b.model(tokens)?, minilm_input(b, tokens)?),
            Checkpoint::Decoder(l, _) => (l.model(tokens, 1)?, llama_input(l, tokens)?),
            Checkpoint::Fixed(_) => bail!("{which}: a fixed-graph model has no input length to benchmark"),
        };
        model.name = match which {
            ModelName::Minilm => "MiniLM-L6-v2".into(),
            ModelName::Smollm2 => "SmolLM2-135M".into(),
            ModelName::Qwen25Coder => "Qwen2.5-Coder-0.5B".into(),
            other => other.key(),
        };
        Ok((model, input))
    }
}

impl BenchArgs {
    pub async fn run(self) -> eyre::Result<i32> {
        if let (Some(role), Some(model)) = (self.role, &self.model) {
            return run_role(role, model, self.tokens);
        }
        let mut protocol = bench::ProtocolFigures::default().with_profiles(std::path::Path::new("profiles"));
        if !self.short {
            // disputes played on a fresh anvil (seconds): gas and transactions from receipts
            use nao::simulate::{simulate, Scenario, SimulateOptions};
            let opts = SimulateOptions {
                scenarios: vec![
                    Scenario::CorruptedElement,
                    Scenario::FalseChallenge,
                    Scenario::CorruptedBisection,
                    Scenario::MiniLmCorrupted,
                    Scenario::SteeringPoint,
                ],
                ..SimulateOptions::default()
            };
            match simulate(&opts).await {
                Ok(r) => {
                    let segments = nao::model::MLP_TINY.generated().graph.segment_ranges().len();
                    protocol = protocol.with_disputes(&r, segments);
                }
                Err(e) => tracing::warn!(error = %e, "disputes not measured (anvil)"),
            }
        }
        let mode = if self.short { Mode::Short } else { Mode::Full };
        let reps = self.reps.unwrap_or(if self.short { 3 } else { 10 }).max(1);
        let sweep_reps = if self.short { 2 } else { reps.min(8) };
        let watch_reps = if self.short { 1 } else { 3 };
        let sweep =
            self.sweep
                .clone()
                .unwrap_or_else(|| if self.short { vec![16, 32, 64] } else { vec![16, 32, 64, 128, 256] });
        let load_start = bench::load_average();
        let steps = 1 + 2 * self.models.len() + sweep.len() + 2 * self.models.len() + 1;
        let bar = indicatif::ProgressBar::new(steps as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"),
        );
        let step = |msg: String| {
            tracing::debug!("{msg}");
            bar.set_message(msg);
        };

        step(format!("hash_vs_limit over {} MB", self.mb));
        // Each repetition takes milliseconds: three times as many give the best of each side a fair chance of a
        // quiet moment on a busy machine.
        let hash = bench::hash_vs_limit((self.mb * 1e6 / 4.0) as usize, 3 * reps);
        bar.inc(1);
        let models = Models::default();
        let (mut posting, mut watcher) = (Vec::new(), Vec::new());
        for which in &self.models {
            let (model, input) = models.get(which, self.tokens)?;
            step(format!("posting_overhead[{}, {} tokens]", model.name, self.tokens));
            posting.push(bench::posting_overhead(&model, &input, mode.reps(reps))?);
            bar.inc(1);
            step(format!("watcher_ratio[{}]", model.name));
            watcher.push(bench::watcher_ratio(&model, &input, mode.reps(watch_reps))?);
            bar.inc(1);
        }
        let mut sweep_runs = Vec::new();
        for t in &sweep {
            step(format!("posting_overhead[SmolLM2, {t} tokens]"));
            let (model, input) = models.get(&ModelName::Smollm2, *t)?;
            sweep_runs.push(bench::posting_overhead(&model, &input, mode.reps(sweep_reps))?);
            bar.inc(1);
        }
        let mut memory = Vec::new();
        for which in &self.models {
            for role in [Role::Prover, Role::Watcher] {
                step(format!("peak memory of the {role:?} ({which}) in a child process"));
                memory.push(role_in_child(&models, role, which, self.tokens)?);
                bar.inc(1);
            }
        }
        step("GPU".into());
        let gpu = gpu_posting(&models, self.tokens, mode.reps(reps))?;
        bar.inc(1);
        bar.finish_and_clear();
        drop(models);

        let mut report = Report {
            schema: 1,
            mode,
            command: command_line(),
            machine: bench::Machine::this(),
            date: bench::now_utc(),
            git_commit: bench::git_commit(),
            reps,
            nice: bench::nice(),
            load_average: load_start.into_iter().chain(bench::load_average()).collect(),
            hash_vs_limit: hash,
            posting_overhead: posting,
            watcher_ratio: watcher,
            peak_memory: memory,
            overhead_vs_prompt: sweep_runs,
            plot: None,
            gpu_posting_overhead: gpu,
            protocol,
        };
        let markdown = self
            .markdown
            .clone()
            .or_else(|| (self.report.is_some() && mode == Mode::Full).then(|| PathBuf::from("docs/BENCHMARKS.md")));
        if let Some(path) = &self.report {
            let png = sibling(path, "bench-overhead.png");
            plot_overhead(&report.overhead_vs_prompt, &report.hash_vs_limit, &png)?;
            report.plot = Some(png.display().to_string());
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .wrap_err_with(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "report written");
        }
        if let Some(md) = &markdown {
            let png = sibling(md, "bench-overhead.png");
            plot_overhead(&report.overhead_vs_prompt, &report.hash_vs_limit, &png)?;
            let old = std::fs::read_to_string(md).unwrap_or_default();
            let text = report.markdown(Some("bench-overhead.png"), bench::kept_tail(&old));
            std::fs::write(md, text).wrap_err_with(|| format!("writing {}", md.display()))?;
            tracing::info!(path = %md.display(), "markdown report written");
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_text(&report);
        }
        Ok(0)
    }
}

/// `path`'s directory joined with `name`.
fn sibling(path: &Path, name: &str) -> PathBuf {
    path.parent().map_or_else(|| PathBuf::from(name), |d| d.join(name))
}

/// The command line, with the program name shortened to `nao`.
fn command_line() -> String {
    std::iter::once("nao".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ")
}

/// Runs one role once in this process and prints its [`RoleMemory`] as one JSON line (the child side of
/// [`role_in_child`]); the watcher reads the trace from stdin.
fn run_role(role: Role, which: &ModelName, tokens: usize) -> eyre::Result<i32> {
    let models = Models::default();
    let (model, input) = models.get(which, tokens)?;
    // Only what the role itself needs stays loaded: the model's weights (shared) and its graph.
    drop(models);
    let m = match role {
        Role::Prover => bench::prover_memory(&model, &input)?,
        Role::Watcher => bench::watcher_memory(&model, std::io::stdin().lock())?,
    };
    println!("{}", serde_json::to_string(&m)?);
    Ok(0)
}

/// Measures `role` on `which` in a child process (this binary with `--role`); the watcher child is sent the
/// whole trace, computed here, on its stdin.
fn role_in_child(models: &Models, role: Role, which: &ModelName, tokens: usize) -> eyre::Result<RoleMemory> {
    let exe = std::env::current_exe().wrap_err("locating this binary")?;
    let role_arg = role.to_possible_value().expect("no skipped variants").get_name().to_string();
    let model_arg = which.to_string();
    let mut child = Command::new(exe)
        .args(["bench", "--role", &role_arg, "--model", &model_arg, "--tokens", &tokens.to_string()])
        .env("NAO_LOG", "error")
        .stdin(if role == Role::Watcher { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .wrap_err("starting the role's process")?;
    if role == Role::Watcher {
        let (model, input) = models.get(which, tokens)?;
        let trace = nao::runtime::Runtime::new(&model)?.run(&model.graph, &input, None)?;
        let stdin = child.stdin.take().expect("piped");
        bench::write_trace(&trace, std::io::BufWriter::with_capacity(1 << 20, stdin))?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{role:?} process failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let line = out
        .stdout
        .as_slice()
        .lines()
        .map_while(Result::ok)
        .last()
        .ok_or_else(|| eyre!("{role:?} process printed nothing"))?;
    Ok(serde_json::from_str(&line)?)
}

/// Posting overhead on the GPU when this build has the `cuda` feature and the machine a GPU; otherwise why
/// not.
fn gpu_posting(models: &Models, tokens: usize, reps: bench::Reps) -> eyre::Result<Slot<Vec<PostingBench>>> {
    let gpu_present = Path::new("/dev/nvidia0").exists() || Path::new("/proc/driver/nvidia").exists();
    if !gpu_present {
        return Ok(Slot::skipped(GPU_ABSENT));
    }
    if let Err(why) = nao::runtime::Config::Cuda.available() {
        return Ok(Slot::skipped(format!("cuda: {why} (a GPU is present: build with --features cuda), skipped")));
    }
    let mut v = Vec::new();
    for which in [ModelName::Minilm, ModelName::Smollm2] {
        let (model, input) = models.get(&which, tokens)?;
        v.push(bench::posting_overhead_in(&model, &input, reps, nao::runtime::Config::Cuda)?);
    }
    Ok(Slot::measured(v))
}

/// The plot of posting overhead and inference times against prompt length.
fn plot_overhead(runs: &[PostingBench], hash: &bench::HashBench, png: &Path) -> eyre::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let xy = |f: &dyn Fn(&PostingBench) -> f64| runs.iter().map(|p| (p.tokens as f64, f(p))).collect::<Vec<_>>();
    let model = &runs[0].model;
    let times = LineChart {
        title: "inference time, best of the repetitions".into(),
        x_label: "prompt tokens".into(),
        y_label: "ms".into(),
        series: vec![
            Series { name: "plain (run_plain)".into(), points: xy(&|p| p.plain_s * 1e3) },
            Series { name: "committed (run_committed)".into(), points: xy(&|p| p.traced_s * 1e3) },
        ],
        reference: None,
    };
    let ratio = LineChart {
        title: "posting overhead = committed / plain".into(),
        x_label: "prompt tokens".into(),
        y_label: "ratio".into(),
        series: vec![
            Series { name: "best / best".into(), points: xy(&|p| p.ratio) },
            Series { name: "ratio of 10th-percentile times (judged)".into(), points: xy(&|p| p.judged()) },
            Series { name: "median of per-repetition ratios".into(), points: xy(&|p| p.median_ratio) },
            Series {
                name: "CPU time, median of per-repetition ratios".into(),
                points: runs.iter().filter_map(|p| Some((p.tokens as f64, p.cpu_ratio?))).collect(),
            },
            Series {
                name: "hashing alone (derived: coarse bytes / hash throughput / plain)".into(),
                points: xy(&|p| 1.0 + p.coarse_bytes as f64 / (hash.posting_gbps() * 1e9) / p.plain_s),
            },
        ],
        reference: Some(("goal 1.01".into(), 1.01)),
    };
    nao::plot::line_chart(png, &format!("{model}: posting overhead against prompt length"), &[times, ratio])?;
    Ok(())
}

fn print_text(r: &Report) {
    let mut t = comfy_table::Table::new();
    t.set_header(["figure", "value", "goal", "result"]);
    for c in r.checks() {
        let verdict = match c.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "not measured",
        };
        t.add_row([c.figure, c.value.map_or("-".into(), |v| format!("{v:.3}")), c.goal, verdict.into()]);
    }
    for m in &r.peak_memory {
        t.add_row([
            format!("peak memory[{}, {}]", m.role, m.model),
            format!("{:.0} MiB", m.peak_rss_mib),
            "recorded".into(),
            "-".into(),
        ]);
    }
    println!("{t}");
    for p in r.posting_overhead.iter().chain(&r.overhead_vs_prompt) {
        println!(
            "posting_overhead[{}, {} tokens]: {:.4} (10th percentiles), {:.4} median, {:.4} best, {} in CPU time \
             (plain {:.1} ms, committed {:.1} ms; coarse trace {:.2} MB hashed, all op outputs {:.1} MB; {} nodes)",
            p.model,
            p.tokens,
            p.judged(),
            p.median_ratio,
            p.ratio,
            p.cpu_ratio.map_or("-".into(), |r| format!("{r:.4}")),
            p.plain_s * 1e3,
            p.traced_s * 1e3,
            p.coarse_bytes as f64 / 1e6,
            p.fine_bytes as f64 / 1e6,
            p.nodes
        );
    }
    let h = &r.hash_vs_limit;
    println!(
        "hash_vs_limit: {:.3} (commitment {:.2} GB/s, plain SHA-256 {:.2} GB/s, {} bytes, one core, best of {}); \
         with 1 KiB leaves: {:.3}; with copied leaves: {:.3}",
        h.ratio, h.commitment_gbps, h.sha256_gbps, h.bytes, h.reps, h.ratio_other_leaves, h.ratio_copied_leaves
    );
    for w in &r.watcher_ratio {
        println!(
            "watcher_ratio[{}]: {:.2} median, {:.2} best (checking {} elements {:.0} ms, one plain inference {:.0} ms); \
             composition audit {:.2} inferences",
            w.model,
            w.median_ratio,
            w.ratio,
            w.elements,
            w.check_s * 1e3,
            w.plain_s * 1e3,
            w.audit_median_ratio
        );
    }
    for m in &r.peak_memory {
        println!(
            "peak memory[{}, {}, {} tokens]: {:.0} MiB (weights {:.0} MiB, {:.0} MiB after loading; {})",
            m.role, m.model, m.tokens, m.peak_rss_mib, m.weights_mib, m.loaded_rss_mib, m.work
        );
    }
    match &r.gpu_posting_overhead.value {
        Some(g) => {
            g.iter().for_each(|p| println!("gpu posting_overhead[{}, {} tokens]: {:.4}", p.model, p.tokens, p.ratio))
        }
        None => println!("{}", r.gpu_posting_overhead.not_measured.as_deref().unwrap_or(GPU_ABSENT)),
    }
    for (name, why) in r.not_measured() {
        println!("{name}: {why}");
    }
}
