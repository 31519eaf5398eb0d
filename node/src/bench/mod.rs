//! Benchmarks that print ratios measured in one run (noisy machines make absolute times meaningless), and the
//! [`Report`] that `nao bench --report` writes (JSON and docs/BENCHMARKS.md).

mod report;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub use report::{
    git_commit, iso_utc, kept_tail, load_average, nice, now_utc, AdjudicationGas, BoundTightness, Check, Machine, Mode,
    ProtocolFigures, Report, RoundsPoint, Slot, NOT_MEASURED, PROFILE_HEADING,
};

use sha2::{Digest, Sha256};

use crate::commit::{TensorCommitment, CHUNK_BYTES};
use crate::region::orders::Order;
use crate::runtime::Config;

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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HashBench {
    /// Bytes hashed per repetition.
    pub bytes: usize,
    /// Interleaved repetitions (the best of each side is kept).
    #[serde(default)]
    pub reps: usize,
    /// Plain SHA-256, GB/s.
    pub sha256_gbps: f64,
    /// Chunked Merkle tensor commitment, GB/s.
    pub commitment_gbps: f64,
    /// commitment / plain (the goal is >= 0.8).
    pub ratio: f64,
    /// The commitment as the posting path computes it (`TensorCommitment::new`: chunks hashed on every
    /// core), GB/s.
    #[serde(default)]
    pub all_cores_gbps: f64,
    /// The same ratio with 1 KiB leaves instead of the protocol's 4 KiB (the alternative measured).
    pub ratio_other_leaves: f64,
    /// The same ratio with each 4 KiB chunk copied behind its prefix byte into a zeroed buffer before hashing
    /// (the leaf hash before profiling; `leaf_hash` now streams the chunk).
    #[serde(default)]
    pub ratio_copied_leaves: f64,
}

impl HashBench {
    /// The commitment throughput of the posting path: on every core where measured (reports before it was
    /// recorded: one core's).
    pub fn posting_gbps(&self) -> f64 {
        recorded_or(self.all_cores_gbps, self.commitment_gbps)
    }
}

/// The tensor root with every leaf hashed from a copy of its chunk behind the prefix byte (the variant
/// [`hash_vs_limit`] keeps measuring against the streamed leaf hash).
fn commit_copied_leaves(data: &[f32], shape: &[usize]) -> crate::commit::Hash {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let leaves = bytes
        .chunks(crate::commit::CHUNK_BYTES)
        .map(|c| {
            let mut buf = [0u8; 1 + crate::commit::CHUNK_BYTES];
            buf[1..=c.len()].copy_from_slice(c);
            Sha256::digest(&buf[..=c.len()]).into()
        })
        .collect();
    crate::commit::tensor_root(&crate::commit::MerkleTree::from_leaf_hashes(leaves).root(), shape)
}

/// Hashes `elements` fp32 values both ways, `reps` times each, interleaved, and keeps the best of each.
pub fn hash_vs_limit(elements: usize, reps: usize) -> HashBench {
    let data: Vec<f32> = (0..elements).map(|i| (i as f32).sin()).collect();
    let bytes: &[u8] = bytemuck::cast_slice(&data);
    let (mut plain, mut ours, mut ours4, mut copied) = (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let mut all_cores = Duration::MAX;
    for _ in 0..reps {
        all_cores = all_cores.min(best_of(1, || {
            std::hint::black_box(TensorCommitment::new(std::hint::black_box(&data), &[elements]).root());
        }));
        copied = copied.min(best_of(1, || {
            std::hint::black_box(commit_copied_leaves(std::hint::black_box(&data), &[elements]));
        }));
        ours4 = ours4.min(best_of(1, || {
            let c = TensorCommitment::with_chunk_bytes(std::hint::black_box(&data), &[elements], 1024);
            std::hint::black_box(c.root());
        }));
        plain = plain.min(best_of(1, || {
            std::hint::black_box(Sha256::digest(std::hint::black_box(bytes)));
        }));
        ours = ours.min(best_of(1, || {
            let c = TensorCommitment::with_chunk_bytes(std::hint::black_box(&data), &[elements], CHUNK_BYTES);
            std::hint::black_box(c.root());
        }));
    }
    let gbps = |d: Duration| bytes.len() as f64 / d.as_secs_f64() / 1e9;
    HashBench {
        bytes: bytes.len(),
        reps,
        sha256_gbps: gbps(plain),
        commitment_gbps: gbps(ours),
        ratio: plain.as_secs_f64() / ours.as_secs_f64(),
        all_cores_gbps: gbps(all_cores),
        ratio_other_leaves: plain.as_secs_f64() / ours4.as_secs_f64(),
        ratio_copied_leaves: plain.as_secs_f64() / copied.as_secs_f64(),
    }
}

/// Posting overhead of one model and input: traced + coarse-committed run over the plain run of the same IR.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PostingBench {
    /// Model name.
    pub model: String,
    /// Input tokens.
    pub tokens: usize,
    /// Nodes in the graph.
    pub nodes: usize,
    /// Repetitions timed (pairs of one plain and one committed run): at least the run's `reps`, more for a
    /// short inference ([`Reps::for_run`]).
    #[serde(default)]
    pub reps: usize,
    /// Bytes of the coarse trace hashed per run.
    pub coarse_bytes: usize,
    /// Bytes of every op output (recomputed for a dispute, never hashed on the hot path).
    pub fine_bytes: usize,
    /// Best plain run, seconds.
    pub plain_s: f64,
    /// Best traced + committed run, seconds.
    pub traced_s: f64,
    /// Best traced / best plain.
    pub ratio: f64,
    /// Median of the per-repetition ratios (each repetition runs both back to back, in alternating order).
    pub median_ratio: f64,
    /// The 10th percentile of the committed runs' times over that of the plain runs': the figure judged
    /// against the goal (<= 1.01). Other work on the machine only ever adds time to a run, 10-30 % to many
    /// runs here, so the runs it disturbed least compare the work itself; of the estimators tried on 240
    /// SmolLM2 pairs it varied least between subsets (see docs/BENCHMARKS.md, Profile).
    #[serde(default)]
    pub quiet_ratio: f64,
    /// Median of the per-repetition ratios of CPU time (every thread of the process): the work added, which
    /// other processes on the machine disturb less than wall time; `None` where CPU time is unknown.
    #[serde(default)]
    pub cpu_ratio: Option<f64>,
    /// Peak resident memory of the process so far, MiB (VmHWM).
    pub peak_rss_mib: f64,
    /// Resident memory the fine trace of one claim takes while kept in memory (every op output), MiB.
    pub fine_trace_rss_mib: f64,
}

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time every thread of this process has used so far, ns (`/proc/self/task/*/schedstat`, Linux); 0 where
/// unknown. Unlike wall time it does not grow while other processes hold the cores.
pub fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl PostingBench {
    /// The figure judged against the goal: [`PostingBench::quiet_ratio`] (the median of the pair ratios for
    /// reports written before it was recorded).
    pub fn judged(&self) -> f64 {
        recorded_or(self.quiet_ratio, self.median_ratio)
    }
}

/// `figure`, or `older` where a report from before `figure` was recorded reads it as 0 (its serde default).
fn recorded_or(figure: f64, older: f64) -> f64 {
    if figure > 0.0 {
        figure
    } else {
        older
    }
}

/// The `f` quantile of `v` (0 = smallest, 1 = largest; the nearest lower rank; NaN when empty).
pub fn quantile(v: &mut [f64], f: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * f.clamp(0.0, 1.0)) as usize]
}

/// Median of `v` (the mean of the two middle values for an even count; NaN when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), 0 if unknown.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Current resident set size of this process in MiB (Linux `VmRSS`), 0 if unknown.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// How many repetitions a timed ratio takes: `count`, or more for a short inference, each of the `count`
/// standing for `seconds` of plain runs ([`Reps::for_run`]; `nao bench` takes them from its [`Mode`]). A 36 ms
/// MiniLM run and a 290 ms SmolLM2 run then draw their figures from the same share of the machine's time: one
/// descheduling moves a short run's ratio by percents, and on this machine single runs vary by 10-30 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reps {
    /// Repetitions asked for (at least one is run).
    pub count: usize,
    /// Seconds of plain inference each of them stands for.
    pub seconds: f64,
}

impl Reps {
    /// The repetitions to time for an inference of `plain_s` seconds: `count`, or more if it is shorter than
    /// `seconds` (at least one).
    pub fn for_run(self, plain_s: f64) -> usize {
        self.count.max(1).max((self.count as f64 * self.seconds / plain_s.max(1e-6)).ceil() as usize)
    }
}

/// Seconds one plain run of `graph` takes on `rt` (after the caller's warm-up): what [`Reps::for_run`] reads.
fn one_plain_run(
    rt: &crate::runtime::Runtime,
    graph: &crate::graph::Graph,
    input: &crate::model::HostTensor,
) -> crate::Result<f64> {
    let t = Instant::now();
    std::hint::black_box(rt.run_plain(graph, input)?);
    Ok(t.elapsed().as_secs_f64())
}

/// Measures [`PostingBench`] over `reps` interleaved repetitions ([`Reps::for_run`]) (candle's CPU kernels,
/// default threads: what provers run).
pub fn posting_overhead(
    model: &crate::model::Model,
    input: &crate::model::HostTensor,
    reps: Reps,
) -> crate::Result<PostingBench> {
    posting_overhead_in(model, input, reps, crate::runtime::Config::default())
}

/// Measures [`PostingBench`] in one execution configuration (e.g. [`crate::runtime::Config::Cuda`]).
pub fn posting_overhead_in(
    model: &crate::model::Model,
    input: &crate::model::HostTensor,
    reps: Reps,
    config: crate::runtime::Config,
) -> crate::Result<PostingBench> {
    let rt = crate::runtime::Runtime::with_config(model, config)?;
    let g = &model.graph;
    // warm-up (allocator, caches), the sizes, and the memory one kept fine trace takes
    let before = rss_mib();
    let rec = rt.record(g, input, None)?;
    let fine_trace_rss_mib = rss_mib() - before;
    let coarse = rec.commit_coarse(g)?;
    let size = |i: &usize| rec.tensors[*i].elem_count() * 4;
    let coarse_bytes = coarse.indices.iter().map(size).sum();
    let fine_bytes = (0..rec.tensors.len()).map(|i| size(&i)).sum();
    drop(rec);
    let reps = reps.for_run(one_plain_run(&rt, g, input)?);
    let (mut plains, mut commits, mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        // Each repetition times both back to back, the order alternating (plain first, then committed first),
        // so neither side is always the one that runs after the other.
        let (mut p, mut p_cpu) = (0.0, 0);
        let mut plain_run = || -> crate::Result<()> {
            let (t, c) = (Instant::now(), process_cpu_ns());
            std::hint::black_box(rt.run_plain(g, input)?);
            (p, p_cpu) = (t.elapsed().as_secs_f64(), process_cpu_ns().saturating_sub(c));
            Ok(())
        };
        let (mut q, mut q_cpu) = (0.0, 0);
        let mut committed_run = || -> crate::Result<()> {
            let (t, c) = (Instant::now(), process_cpu_ns());
            std::hint::black_box(rt.run_committed(g, input)?.1.root());
            (q, q_cpu) = (t.elapsed().as_secs_f64(), process_cpu_ns().saturating_sub(c));
            Ok(())
        };
        if rep % 2 == 0 {
            plain_run()?;
            committed_run()?;
        } else {
            committed_run()?;
            plain_run()?;
        }
        plains.push(p);
        commits.push(q);
        ratios.push(q / p);
        if p_cpu > 0 {
            cpu_ratios.push(q_cpu as f64 / p_cpu as f64);
        }
    }
    let (plain, committed) = (quantile(&mut plains, 0.0), quantile(&mut commits, 0.0));
    Ok(PostingBench {
        model: model.name.clone(),
        tokens: input.data.len(),
        nodes: g.nodes.len(),
        reps,
        coarse_bytes,
        fine_bytes,
        plain_s: plain,
        traced_s: committed,
        ratio: committed / plain,
        median_ratio: median(&mut ratios),
        quiet_ratio: quantile(&mut commits, 0.1) / quantile(&mut plains, 0.1),
        cpu_ratio: (!cpu_ratios.is_empty()).then(|| median(&mut cpu_ratios)),
        peak_rss_mib: peak_rss_mib(),
        fine_trace_rss_mib,
    })
}

/// Time to check every element of every op of a claim against its region (the watcher's work, given the
/// trace) over the time of one plain inference of the same IR.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WatcherBench {
    /// Model name.
    pub model: String,
    /// Elements checked.
    pub elements: usize,
    /// Repetitions timed: at least the run's watcher repetitions, more for a short inference
    /// ([`Reps::for_run`]).
    #[serde(default)]
    pub reps: usize,
    /// Best check time, seconds.
    pub check_s: f64,
    /// Best plain inference, seconds.
    pub plain_s: f64,
    /// Best check / best plain.
    pub ratio: f64,
    /// Median of the per-repetition ratios (each repetition checks, then runs one plain inference): the figure
    /// judged against the goal (<= 1.2).
    #[serde(default)]
    pub median_ratio: f64,
    /// Median ratio of the full check of a claim computed with another kernel (nao's pairwise reference
    /// kernel for MatMul and BatchMatMul): those ops do not replay bit for bit and every one of their elements
    /// is decided by its region, the worst case of the check. Recorded, not judged.
    #[serde(default)]
    pub other_kernel_median_ratio: f64,
    /// The spot-check rate measured beside the full check ([`SPOT_CHECK_RATE`]): each op checked with this
    /// probability, which is also the chance one watcher catches a cheat confined to one op.
    #[serde(default)]
    pub spot_rate: f64,
    /// Median ratio of the spot-check (each repetition: a spot-check, then one plain inference).
    #[serde(default)]
    pub spot_median_ratio: f64,
    /// Ratio of the composition audit at this input (sound tolerances: the forward reach of every op's
    /// deviations, first order and all orders; the registration's work per tolerance set), each repetition an
    /// audit then a plain inference (one repetition: it takes seconds to minutes); 0 for an output too wide for
    /// the audit (an LM's logits).
    #[serde(default)]
    pub audit_median_ratio: f64,
}

/// The spot-check rate `nao bench` measures: one op in ten.
pub const SPOT_CHECK_RATE: f64 = 0.1;

/// Measures [`WatcherBench`] over `reps` repetitions, more for a short inference ([`Reps::for_run`]), each a
/// check and a plain inference back to back.
pub fn watcher_ratio(
    model: &crate::model::Model,
    input: &crate::model::HostTensor,
    reps: Reps,
) -> crate::Result<WatcherBench> {
    let rt = crate::runtime::Runtime::new(model)?;
    let trace = rt.run(&model.graph, input, None)?;
    let elements = check_all(model, Some(&rt), &trace, None);
    let other =
        crate::runtime::Runtime::with_config(model, Config::Dot(Order::Pairwise))?.run(&model.graph, input, None)?;
    let reps = reps.for_run(one_plain_run(&rt, &model.graph, input)?);
    let (mut check, mut plain, mut ratios, mut spot, mut others, mut audits) =
        (f64::MAX, f64::MAX, Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let auditable = trace.output().data.len() <= 4096;
    // one repetition: `work`, then a plain inference; the ratio of the two
    let timed = |work: &dyn Fn() -> usize| -> crate::Result<(f64, f64)> {
        let t = Instant::now();
        std::hint::black_box(work());
        let c = t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::hint::black_box(rt.run_plain(&model.graph, input)?);
        Ok((c, t.elapsed().as_secs_f64()))
    };
    for _ in 0..reps {
        let (c, p) = timed(&|| check_all(model, Some(&rt), &trace, None))?;
        check = check.min(c);
        plain = plain.min(p);
        ratios.push(c / p);
        let (c, p) = timed(&|| check_all(model, Some(&rt), &trace, Some(SPOT_CHECK_RATE)))?;
        spot.push(c / p);
        let (c, p) = timed(&|| check_all(model, Some(&rt), &other, None))?;
        others.push(c / p);
        // registration's work, long against an inference: timed once
        if auditable && audits.is_empty() {
            let audit = || crate::region::composition::audit(model, &trace, f64::INFINITY).map_or(0, |a| a.ops.len());
            let (c, p) = timed(&audit)?;
            audits.push(c / p);
        }
    }
    Ok(WatcherBench {
        model: model.name.clone(),
        elements,
        reps,
        check_s: check,
        plain_s: plain,
        ratio: check / plain,
        median_ratio: median(&mut ratios),
        other_kernel_median_ratio: median(&mut others),
        spot_rate: SPOT_CHECK_RATE,
        spot_median_ratio: median(&mut spot),
        audit_median_ratio: if audits.is_empty() { 0.0 } else { median(&mut audits) },
    })
}

/// Peak resident memory of one role (prover or watcher) doing its work once, measured in a process of its own
/// (`nao bench` runs itself as a child per role) so that no other role's allocations count.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RoleMemory {
    /// `prover` or `watcher`.
    pub role: String,
    /// Model name.
    pub model: String,
    /// Input tokens.
    pub tokens: usize,
    /// The model's fp32 weights, MiB.
    pub weights_mib: f64,
    /// Resident memory once the model was loaded and its graph built, before the role's work (VmRSS), MiB.
    pub loaded_rss_mib: f64,
    /// Peak resident memory of the process (VmHWM after the work), MiB.
    pub peak_rss_mib: f64,
    /// What the role did while measured.
    pub work: String,
}

impl RoleMemory {
    fn new(role: &str, model: &crate::model::Model, tokens: usize, loaded_rss_mib: f64, work: String) -> Self {
        let weights = model.weights.iter().map(|w| w.data.len() * 4).sum::<usize>();
        Self {
            role: role.into(),
            model: model.name.clone(),
            tokens,
            weights_mib: weights as f64 / (1 << 20) as f64,
            loaded_rss_mib,
            peak_rss_mib: peak_rss_mib(),
            work,
        }
    }
}

/// The prover's posting work, once, in this process: prepare the runtime (weights to candle tensors) and run
/// the committed hot path ([`crate::runtime::Runtime::run_committed`]). Call it in a fresh process right after
/// loading the model; the peak is read from `/proc/self/status`.
pub fn prover_memory(model: &crate::model::Model, input: &crate::model::HostTensor) -> crate::Result<RoleMemory> {
    let loaded = rss_mib();
    let rt = crate::runtime::Runtime::new(model)?;
    let (_, commitment) = rt.run_committed(&model.graph, input)?;
    std::hint::black_box(commitment.root());
    let work = "runtime prepared, one run_committed (streaming run hashing the coarse trace)".to_string();
    Ok(RoleMemory::new("prover", model, input.data.len(), loaded, work))
}

/// The watcher's work on one claim, once, in this process: prepare the runtime it replays ops with, read the
/// whole trace (every op output, as the watcher fetches it from the prover) from `trace` in the
/// [`write_trace`] format, check its coarse root, and check every op (replayed, or element by element). The peak is read from `/proc/self/status`.
pub fn watcher_memory(model: &crate::model::Model, trace: impl Read) -> crate::Result<RoleMemory> {
    let loaded = rss_mib();
    let trace = read_trace(&model.graph, trace)?;
    std::hint::black_box(trace.commit_coarse(&model.graph).root());
    // the watcher's replays run on the model prepared like the prover's (weights on the device)
    let rt = crate::runtime::Runtime::new(model)?;
    let elements = check_all(model, Some(&rt), &trace, None);
    let work = format!(
        "runtime prepared, whole trace read ({} tensors, as fetched), coarse root checked, every op replayed, \
         {elements} elements accepted",
        trace.tensors.len()
    );
    Ok(RoleMemory::new("watcher", model, trace.tensors[0].data.len(), loaded, work))
}

/// Writes every tensor of `trace` as fp32 little-endian bytes, in trace order (shapes come from the graph).
pub fn write_trace(trace: &crate::trace::Trace, mut out: impl Write) -> crate::Result<()> {
    for t in &trace.tensors {
        out.write_all(bytemuck::cast_slice(&t.data)).map_err(|e| crate::Error::TraceData(format!("write: {e}")))?;
    }
    out.flush().map_err(|e| crate::Error::TraceData(format!("write: {e}")))
}

/// Reads a trace written by [`write_trace`] for `graph`, tensor by tensor like the watcher's fetch (bytes,
/// then elements).
pub fn read_trace(graph: &crate::graph::Graph, mut input: impl Read) -> crate::Result<crate::trace::Trace> {
    let shapes = std::iter::once(&graph.input_shape).chain(graph.nodes.iter().map(|n| &n.shape));
    let tensors = shapes
        .map(|shape| {
            let mut bytes = vec![0u8; 4 * shape.iter().product::<usize>()];
            input.read_exact(&mut bytes).map_err(|e| crate::Error::TraceData(format!("read: {e}")))?;
            let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Ok(crate::model::HostTensor::new(shape.clone(), data))
        })
        .collect::<crate::Result<_>>()?;
    Ok(crate::trace::Trace { tensors })
}

/// Checks the ops of `trace` (all, or a spot-check at `rate` as the watcher draws it) as the watcher does:
/// with `rt`, an op that `rt` replays bit for bit is accepted whole, every other one element by element
/// against its regions. Returns the number of elements accepted.
fn check_all(
    model: &crate::model::Model,
    rt: Option<&crate::runtime::Runtime>,
    trace: &crate::trace::Trace,
    rate: Option<f64>,
) -> usize {
    let picked = crate::roles::sample_ops(model.graph.nodes.len(), rate);
    let replayed = rt.map_or_else(|| vec![false; picked.len()], |rt| rt.replay_picked(&model.graph, trace, &picked));
    model
        .graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| picked[*i])
        .filter_map(|(i, n)| {
            let out = &trace.tensors[i + 1];
            if replayed[i] {
                return Some(out.data.len());
            }
            crate::region::ops::check(n, &crate::runtime::operands(model, trace, n), out).map(|c| c.elements.len())
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MLP_TINY;

    #[test]
    fn a_trace_written_for_the_watcher_reads_back_whole_and_checks() {
        let model = MLP_TINY.generated();
        let trace = crate::runtime::run(&model, &MLP_TINY.input(1), None).expect("runs");
        let mut bytes = Vec::new();
        write_trace(&trace, &mut bytes).expect("written");
        assert_eq!(read_trace(&model.graph, bytes.as_slice()).expect("read"), trace);
        assert!(read_trace(&model.graph, &bytes[..bytes.len() - 1]).is_err());
        let m = watcher_memory(&model, bytes.as_slice()).expect("checked");
        assert_eq!((m.role.as_str(), m.tokens), ("watcher", 4 * 64));
        assert!(m.work.contains(&format!("{} tensors", trace.tensors.len())));
        let p = prover_memory(&model, &MLP_TINY.input(1)).expect("posted");
        assert!(p.peak_rss_mib >= p.loaded_rss_mib && p.weights_mib > 0.0);
    }

    #[test]
    fn the_copied_leaf_variant_commits_the_same_root() {
        let data: Vec<f32> = (0..5000).map(|i| i as f32 * 0.5).collect();
        assert_eq!(
            commit_copied_leaves(&data, &[50, 100]),
            crate::commit::TensorCommitment::new(&data, &[50, 100]).root()
        );
        assert!(hash_vs_limit(5000, 1).ratio_copied_leaves > 0.0);
    }
}
