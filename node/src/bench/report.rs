//! The performance report of `nao bench --report`: one serde struct (the JSON file) rendered as markdown
//! (docs/BENCHMARKS.md).
//!
//! Every figure is a ratio or a size measured in one run, with its goal and a pass/fail verdict. Figures that
//! other parts of the project will measure are present as [`Slot`]s holding `null` and the reason, never a
//! made-up number: to add one, give it a type here, fill the slot where it is measured, and add its goal in
//! [`Report::checks`].

use serde::{Deserialize, Serialize};

use super::{HashBench, PostingBench, Reps, RoleMemory, WatcherBench};

/// The reason every not-yet-measured slot starts with.
pub const NOT_MEASURED: &str = "not measured yet";

/// The heading from which docs/BENCHMARKS.md is written by hand (profiles): [`Report::markdown`] keeps the
/// file's text from this heading on when it rewrites the rest.
pub const PROFILE_HEADING: &str = "## Profile";

/// A figure that may not be measured yet: `value` is `null` and `not_measured` says why (and where it will
/// come from) until someone measures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot<T> {
    /// The measurement, when there is one.
    pub value: Option<T>,
    /// Why there is none (starts with [`NOT_MEASURED`] for figures nothing measures yet).
    pub not_measured: Option<String>,
}

impl<T> Slot<T> {
    /// A measured figure.
    pub fn measured(value: T) -> Self {
        Self { value: Some(value), not_measured: None }
    }

    /// A figure nothing measures yet, with where it will come from.
    pub fn pending(why: &str) -> Self {
        Self { value: None, not_measured: Some(format!("{NOT_MEASURED}: {why}")) }
    }

    /// A figure skipped on this machine, with the reason as it is printed.
    pub fn skipped(why: impl Into<String>) -> Self {
        Self { value: None, not_measured: Some(why.into()) }
    }
}

/// Run size of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every figure at the sizes, enough repetitions for stable ratios (minutes in release).
    Full,
    /// CI-sized: the same figures with fewer repetitions and a shorter prompt sweep (about a minute).
    Short,
}

impl Mode {
    /// `count` repetitions of a timed ratio in this mode: each stands for two seconds of plain inference in a
    /// full run, a fifth of one in a short run ([`Reps`]).
    pub fn reps(self, count: usize) -> Reps {
        let seconds = match self {
            Mode::Full => 2.0,
            Mode::Short => 0.2,
        };
        Reps { count, seconds }
    }
}

/// The machine the report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `/proc/cpuinfo` model name.
    pub cpu: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// `/proc/meminfo` MemTotal, GiB.
    pub memory_gib: f64,
    /// Kernel release and architecture.
    pub os: String,
}

impl Machine {
    /// This machine (fields unknown on non-Linux systems say so).
    pub fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self::parse(
            &cpuinfo,
            &meminfo,
            std::thread::available_parallelism().map_or(0, usize::from),
            &format!("Linux {} {}", release.trim(), std::env::consts::ARCH),
        )
    }

    /// The machine described by `/proc/cpuinfo` and `/proc/meminfo` texts.
    pub fn parse(cpuinfo: &str, meminfo: &str, cores: usize, os: &str) -> Self {
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let kib = field(meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
            .unwrap_or(0.0);
        Self {
            cpu: field(cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            cores,
            memory_gib: kib / (1024.0 * 1024.0),
            os: os.into(),
        }
    }
}

/// `B_e / T_e` of one op kind (sound bound over the honest spread it must accept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundTightness {
    /// Op kind (`matmul`, `softmax`, ...).
    pub op: String,
    /// Median over elements.
    pub median: f64,
    /// Worst element.
    pub worst: f64,
}

/// Gas of adjudicating one challenged element of one op kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjudicationGas {
    /// Op kind.
    pub op: String,
    /// Gas used by the adjudicating transaction.
    pub gas: u64,
}

/// Rounds of the partition game over `segments` segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundsPoint {
    /// Segments of the claim.
    pub segments: usize,
    /// Rounds with k-ary bisection.
    pub k_ary: usize,
    /// Rounds with direct pointing.
    pub direct: usize,
}

/// One figure against its goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The figure (e.g. `posting_overhead[minilm, 128 tokens]`).
    pub figure: String,
    /// Its value, if measured.
    pub value: Option<f64>,
    /// The goal as text (`<= 1.01`).
    pub goal: String,
    /// Whether the value meets the goal; `None` when not measured.
    pub pass: Option<bool>,
}

impl Check {
    fn at_most(figure: String, value: Option<f64>, goal: f64) -> Self {
        Self { figure, value, goal: format!("<= {goal}"), pass: value.map(|v| v <= goal) }
    }

    fn at_least(figure: String, value: Option<f64>, goal: f64) -> Self {
        Self { figure, value, goal: format!(">= {goal}"), pass: value.map(|v| v >= goal) }
    }
}

/// Everything `nao bench --report` measures in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Version of this structure (bumped when a field changes meaning).
    pub schema: u32,
    /// Run size.
    pub mode: Mode,
    /// The command line that produced it.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// When it ran (UTC, ISO 8601).
    pub date: String,
    /// `git rev-parse HEAD` of the source (with `-dirty` when the tree had changes), when known.
    pub git_commit: Option<String>,
    /// Repetitions of each interleaved timing.
    pub reps: usize,
    /// 1-minute load average (`/proc/loadavg`) when the run started and when it ended: how busy the machine
    /// was with other work.
    #[serde(default)]
    pub load_average: Vec<f64>,
    /// The nice value the run had (`/proc/self/stat`): below 0 when it was given priority over other work.
    #[serde(default)]
    pub nice: Option<i64>,
    /// Tensor commitment / plain SHA-256 throughput, one core (goal >= 0.8).
    pub hash_vs_limit: HashBench,
    /// Committed / plain inference, per model at the prompt length (goal <= 1.01).
    pub posting_overhead: Vec<PostingBench>,
    /// Full watcher check / one plain inference, per model (goal <= 1.2).
    pub watcher_ratio: Vec<WatcherBench>,
    /// Peak resident memory of each role, each measured in a process of its own.
    pub peak_memory: Vec<RoleMemory>,
    /// Posting overhead of SmolLM2 against prompt length (the plot).
    pub overhead_vs_prompt: Vec<PostingBench>,
    /// The plot of `overhead_vs_prompt`, as written next to the report.
    pub plot: Option<String>,
    /// The same posting figures on a GPU (`--features cuda`), or why they are absent.
    pub gpu_posting_overhead: Slot<Vec<PostingBench>>,
    /// The figures of the calibration and the dispute game (flattened into the report's top level).
    #[serde(flatten)]
    pub protocol: ProtocolFigures,
}

/// Figures measured by other parts of nao (calibration, the dispute game on anvil): each a [`Slot`] that is
/// `null` with its reason until that part fills it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFigures {
    /// Sound bound over honest spread, per op kind.
    pub bound_tightness: Slot<Vec<BoundTightness>>,
    /// Gas of a whole dispute (every transaction of both parties), from anvil receipts.
    pub dispute_gas_total: Slot<u64>,
    /// Transactions of a whole dispute.
    pub dispute_txs: Slot<u64>,
    /// Gas of the adjudicating transaction, per op kind.
    pub adjudication_gas: Slot<Vec<AdjudicationGas>>,
    /// Rounds of the partition game against segment count.
    pub rounds: Slot<Vec<RoundsPoint>>,
}

impl Default for ProtocolFigures {
    /// Every figure not measured yet, with where it will come from.
    fn default() -> Self {
        Self {
            bound_tightness: Slot::pending(
                "median and worst B_e / T_e per op kind, from the calibration runs (`nao calibrate`)",
            ),
            dispute_gas_total: Slot::pending(
                "gas of every transaction of a played dispute, from anvil receipts (the partition game)",
            ),
            dispute_txs: Slot::pending("transactions of a played dispute, from anvil receipts (the partition game)"),
            adjudication_gas: Slot::pending("gas of the adjudicating transaction per op kind, from anvil receipts"),
            rounds: Slot::pending("rounds of the partition game, k-ary vs direct pointing, against segment count"),
        }
    }
}

impl ProtocolFigures {
    /// Fills the dispute figures from a simulation on anvil (receipts): `dispute_gas_total` and `dispute_txs`
    /// from `minilm-corrupted` (a MiniLM transformer layer disputed through its fine trace: every transaction
    /// after the claim's post, both parties), `adjudication_gas` from every scenario's `openElement`, and
    /// `rounds` from `corrupted-element` (direct pointing) and `corrupted-bisection` (k-ary) over the MLP's
    /// `segments` segments.
    pub fn with_disputes(mut self, report: &crate::simulate::Report, segments: usize) -> Self {
        let by = |name: &str| report.scenarios.iter().find(|s| s.name == name);
        let moves = |s: &crate::simulate::ScenarioReport| {
            s.tx_gas
                .iter()
                .filter(|t| !matches!(t.label.as_str(), "register" | "post"))
                .map(|t| t.gas)
                .collect::<Vec<_>>()
        };
        if let Some(s) = by("minilm-corrupted") {
            let m = moves(s);
            self.dispute_gas_total = Slot::measured(m.iter().sum());
            self.dispute_txs = Slot::measured(m.len() as u64);
        }
        let what = |s: &crate::simulate::ScenarioReport| -> Option<String> {
            Some(match s.name.as_str() {
                "corrupted-element" => "matmul n = 64 (MLP)".into(),
                "false-challenge" => "add (MLP)".into(),
                "minilm-corrupted" => "matmul n = 384 (MiniLM)".into(),
                "steering-point" => "matmul n = 130, point region (steering MLP)".into(),
                // the MiniLM rewrites end on the op the watcher found outside: its kind is in the level
                "norm-dropped" | "gelu-approximated" => {
                    let kind = s.level.split_once('(')?.1.trim_end_matches(')');
                    format!("{kind} (MiniLM, {})", s.name)
                }
                _ => return None,
            })
        };
        let adj: Vec<AdjudicationGas> = report
            .scenarios
            .iter()
            .filter_map(|s| {
                let op = what(s)?;
                let t = s.tx_gas.iter().find(|t| t.label == "openElement")?;
                Some(AdjudicationGas { op, gas: t.gas })
            })
            .collect();
        if !adj.is_empty() {
            self.adjudication_gas = Slot::measured(adj);
        }
        let count = |name: &str, label: &str| by(name).map(|s| s.tx_gas.iter().filter(|t| t.label == label).count());
        if let (Some(k_ary), Some(direct)) =
            (count("corrupted-bisection", "reveal"), count("corrupted-element", "pointSegment"))
        {
            self.rounds = Slot::measured(vec![RoundsPoint { segments, k_ary, direct }]);
        }
        self
    }

    /// Fills `bound_tightness` from the calibrated profiles in `dir` (`<model>.json`, written by
    /// `nao calibrate`; their op kinds with a zero threshold have no finite tightness and are left out).
    pub fn with_profiles(mut self, dir: &std::path::Path) -> Self {
        let mut v = Vec::new();
        for model in ["minilm", "smollm2"] {
            let Ok(bytes) = std::fs::read(dir.join(format!("{model}.json"))) else { continue };
            let Ok(p) = crate::region::profile::Profile::parse(&bytes) else { continue };
            for (op, o) in &p.ops {
                if let (Some(median), Some(worst)) = (o.tightness.median, o.tightness.worst) {
                    v.push(BoundTightness { op: format!("{model}/{op}"), median, worst });
                }
            }
        }
        if !v.is_empty() {
            self.bound_tightness = Slot::measured(v);
        }
        self
    }
}

/// `f` with 3 significant-looking decimals, or a dash.
fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.decimals$}"))
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "**fail**",
        None => "not measured",
    }
}

impl Report {
    /// Every figure that has a goal, with its verdict (not-measured slots included, without one).
    pub fn checks(&self) -> Vec<Check> {
        let mut v = vec![Check::at_least("hash_vs_limit".into(), Some(self.hash_vs_limit.ratio), 0.8)];
        for p in &self.posting_overhead {
            let figure = format!("posting_overhead[{}, {} tokens]", p.model, p.tokens);
            v.push(Check::at_most(figure.clone(), Some(p.judged()), 1.01));
            if p.cpu_ratio.is_some() {
                v.push(Check::at_most(format!("{figure} in CPU time"), p.cpu_ratio, 1.01));
            }
        }
        for w in &self.watcher_ratio {
            v.push(Check::at_most(format!("watcher_ratio[{}]", w.model), Some(w.median_ratio), 1.2));
            let spot = (w.spot_rate > 0.0).then_some(w.spot_median_ratio);
            v.push(Check::at_most(format!("watcher_spot_ratio[{}, rate {}]", w.model, w.spot_rate), spot, 1.2));
        }
        let p = &self.protocol;
        if let (Some(gas), Some(txs)) = (p.dispute_gas_total.value, p.dispute_txs.value) {
            v.push(Check::at_most("dispute_gas_total".into(), Some(gas as f64), 3e6));
            v.push(Check::at_most("dispute_txs".into(), Some(txs as f64), 8.0));
        }
        for a in p.adjudication_gas.value.iter().flatten() {
            v.push(Check::at_most(format!("adjudication_gas[{}]", a.op), Some(a.gas as f64), 1.5e6));
        }
        v
    }

    /// The report as markdown; `kept` (the previous file's text from [`PROFILE_HEADING`] on, written by hand)
    /// is appended unchanged, and `plot` is the image's path relative to the markdown file.
    pub fn markdown(&self, plot: Option<&str>, kept: Option<&str>) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        self.md_header(&mut s);
        self.md_summary(&mut s);
        self.md_posting(&mut s, plot);
        self.md_hashing(&mut s);
        self.md_watcher(&mut s);
        self.md_memory(&mut s);
        self.md_protocol(&mut s);
        self.md_gaps(&mut s);
        s.push('\n');
        match kept {
            Some(k) => s.push_str(k),
            None => {
                let _ = writeln!(s, "{PROFILE_HEADING}\n\n(none recorded yet)");
            }
        }
        s
    }

    /// The title, the command that wrote the report and the machine table.
    fn md_header(&self, s: &mut String) {
        use std::fmt::Write;
        let m = &self.machine;
        let _ = writeln!(s, "# nao benchmarks\n");
        let _ = writeln!(
            s,
            "Written by `{}` (do not edit above [Profile](#profile): the command rewrites it). Every figure is a \
             ratio of two timings taken in the same run, interleaved, so it holds on a noisy machine; absolute \
             times are for scale only.\n",
            self.command
        );
        let _ = writeln!(s, "| | |\n| --- | --- |");
        let _ = writeln!(s, "| machine | {} ({} cores, {:.1} GiB, {}) |", m.cpu, m.cores, m.memory_gib, m.os);
        let _ = writeln!(s, "| date | {} |", self.date);
        let _ = writeln!(s, "| commit | {} |", self.git_commit.as_deref().unwrap_or("unknown"));
        let mode = match self.mode {
            Mode::Full => "full",
            Mode::Short => "short (CI-sized)",
        };
        let _ = writeln!(s, "| mode | {mode}, {} repetitions per timing |", self.reps);
        let load = self.load_average.iter().map(|l| format!("{l:.1}")).collect::<Vec<_>>().join(" at the start, ");
        if !self.load_average.is_empty() {
            let _ = writeln!(s, "| load average (1 min) | {load} at the end |");
        }
        if let Some(n) = self.nice.filter(|n| *n != 0) {
            let _ = writeln!(s, "| priority | nice {n} (run as `nice -n {n} nao bench ...`) |");
        }
        if self.load_average.iter().any(|l| *l > 0.5 * m.cores as f64) {
            let _ = writeln!(
                s,
                "\nThe machine was busy with other work during the run (load average above half its cores): the \
                 ratios below are less certain than on an idle machine."
            );
        }
        s.push('\n');
    }

    /// Every judged figure against its goal, then the recorded ones and the slots not measured.
    fn md_summary(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(s, "## Summary\n\n| figure | value | goal | result |\n| --- | --- | --- | --- |");
        for c in self.checks() {
            let _ = writeln!(s, "| {} | {} | {} | {} |", c.figure, num(c.value, 3), c.goal, verdict(c.pass));
        }
        for w in self.watcher_ratio.iter().filter(|w| w.other_kernel_median_ratio > 0.0) {
            let _ = writeln!(
                s,
                "| watcher_ratio[{}, claim from another kernel] | {:.3} | recorded | — |",
                w.model, w.other_kernel_median_ratio
            );
        }
        for w in self.watcher_ratio.iter().filter(|w| w.audit_median_ratio > 0.0) {
            let _ = writeln!(
                s,
                "| composition audit[{}] / one inference | {:.2} | recorded | — |",
                w.model, w.audit_median_ratio
            );
        }
        for r in &self.peak_memory {
            let _ = writeln!(s, "| peak memory[{}, {}] | {:.0} MiB | recorded | — |", r.role, r.model, r.peak_rss_mib);
        }
        for (name, why) in self.not_measured() {
            let _ = writeln!(s, "| {name} | — | — | {why} |");
        }
    }

    /// Posting overhead, against prompt length with the plot when there is one.
    fn md_posting(&self, s: &mut String, plot: Option<&str>) {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "\n## Posting overhead\n\nTraced + committed inference (`Runtime::run_committed`: streaming run hashing \
             the coarse trace as it is produced) over plain inference (`run_plain`) of the same graph and input. \
             Each repetition runs both back to back, in alternating order. The judged figure is the ratio of the \
             two sides' 10th-percentile times: other work on the machine only adds time to a run (10-30 % to many \
             runs here), so the runs it disturbed least compare the work itself, and of the estimators tried this \
             one varied least (Profile, below). The median of the per-repetition ratios and the best of each side \
             are shown too. \
             A short inference gets more repetitions (each asked-for one stands for {} s of plain runs), so \
             every model's figures are drawn from about the same share of the machine's time. The CPU-time ratio \
             (every thread's CPU time, from `/proc/self/task/*/schedstat`) is the work added: other processes \
             disturb it less than wall time. \"Hashing alone\" is derived, not timed: 1 + the coarse trace's \
             bytes at this run's posting-path commitment throughput (every core; see Hashing) over the best plain \
             run, the overhead that would remain if hashing were all `run_committed` added.\n",
            self.mode.reps(0).seconds
        );
        posting_table(s, &self.posting_overhead, Some(&self.hash_vs_limit));
        if !self.overhead_vs_prompt.is_empty() {
            let _ = writeln!(s, "\n### Against prompt length\n");
            posting_table(s, &self.overhead_vs_prompt, Some(&self.hash_vs_limit));
            if let Some(p) = plot {
                let _ = writeln!(s, "\n![posting overhead and inference time against prompt length]({p})");
            }
        }
    }

    /// The commitment's hashing throughput against plain SHA-256.
    fn md_hashing(&self, s: &mut String) {
        use std::fmt::Write;
        let h = &self.hash_vs_limit;
        let _ = writeln!(
            s,
            "\n## Hashing\n\nhash_vs_limit = {:.3}: the tensor commitment (4 KiB leaves) runs at {:.2} GB/s, plain \
             SHA-256 over the same {:.1} MB contiguous buffer at {:.2} GB/s (one core, best of {} interleaved \
             repetitions). With 1 KiB leaves the ratio would be {:.3}; with each chunk copied behind its prefix \
             byte before hashing (the leaf hash before the profile below) {:.3}. The posting path hashes the \
             chunks of each boundary on every core (`TensorCommitment::new`, the model waiting meanwhile): {:.2} \
             GB/s here, which \"hashing alone\" above uses.",
            h.ratio,
            h.commitment_gbps,
            h.bytes as f64 / 1e6,
            h.sha256_gbps,
            h.reps,
            h.ratio_other_leaves,
            h.ratio_copied_leaves,
            h.all_cores_gbps
        );
    }

    /// The watcher's check over one plain inference.
    fn md_watcher(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "\n## Watcher\n\nThe watcher's check of a whole claim, over one plain inference; each repetition checks \
             then infers, and the judged figure is the median of the per-repetition ratios (more repetitions for a \
             short inference, as above). The watcher first replays each op on its own prepared runtime from the \
             claim's operands: an output reproduced bit for bit is its own fp32 evaluation, inside every region, \
             and is accepted whole; the elements of every other op are checked against their regions. The claim \
             here comes from the default CPU kernels, as \
             the watcher's own, so every op replays; \"another kernel\" checks the same input computed with nao's \
             pairwise reference kernel for MatMul and BatchMatMul, whose elements are then all decided by their \
             regions (the worst case, recorded). \
             The spot-check (`nao watch --sample RATE`) checks each op with probability RATE, drawn afresh per \
             claim: one watcher then catches a cheat confined to one op with probability RATE, and a cheat that \
             moves m ops with 1 - (1 - RATE)^m.\n\n\
             | model | elements | repetitions | check (best) | plain inference (best) | ratio (median, judged) | \
             best / best | claim from another kernel (median) | spot-check rate | spot-check ratio (median) |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for w in &self.watcher_ratio {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} ms | {:.1} ms | {:.2} | {:.2} | {:.2} | {} | {:.2} |",
                w.model,
                w.elements,
                w.reps,
                w.check_s * 1e3,
                w.plain_s * 1e3,
                w.median_ratio,
                w.ratio,
                w.other_kernel_median_ratio,
                w.spot_rate,
                w.spot_median_ratio
            );
        }
    }

    /// Peak memory per role.
    fn md_memory(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "\n## Memory\n\nEach role runs in a process of its own (`nao bench` starts itself with `--role`): it \
             loads the model, builds the graph, reads VmRSS, does its work once, and reports VmHWM (the process's \
             peak resident set) from `/proc/self/status`. The prover prepares its runtime and posts one claim \
             (`run_committed`); the watcher prepares the runtime it replays with (a second copy of the weights), \
             reads the whole trace (every op output, streamed to it the way it fetches it from the prover), checks \
             the coarse root and checks every op (replayed whole, or element by element where it differs).\n\n\
             | role | model | \
             tokens | weights | after loading | peak | work |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        for r in &self.peak_memory {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} MiB | {:.0} MiB | {:.0} MiB | {} |",
                r.role, r.model, r.tokens, r.weights_mib, r.loaded_rss_mib, r.peak_rss_mib, r.work
            );
        }
    }

    /// Dispute gas and transactions on anvil, and the bounds' tightness.
    fn md_protocol(&self, s: &mut String) {
        use std::fmt::Write;
        let p = &self.protocol;
        if let (Some(gas), Some(txs)) = (p.dispute_gas_total.value, p.dispute_txs.value) {
            let _ = writeln!(s, "\n## Disputes on anvil (receipts)\n");
            let _ = writeln!(s, "| figure | value | goal |\n| --- | --- | --- |");
            let _ = writeln!(s, "| dispute_gas_total (MiniLM layer, every tx after the post) | {gas} | <= 3,000,000 |");
            let _ = writeln!(s, "| dispute_txs | {txs} | <= 8 |");
            for a in p.adjudication_gas.value.iter().flatten() {
                let _ = writeln!(s, "| adjudication_gas[{}] | {} | <= 1,500,000 |", a.op, a.gas);
            }
            for r in p.rounds.value.iter().flatten() {
                let _ =
                    writeln!(s, "| rounds over {} segments | {} k-ary, {} pointing | |", r.segments, r.k_ary, r.direct);
            }
        }
        if let Some(t) = &self.protocol.bound_tightness.value {
            let _ = writeln!(s, "\n## Bound tightness (B_e / T_e, from the calibrated profiles)\n");
            let _ = writeln!(s, "| model/op | median | worst |\n| --- | --- | --- |");
            for b in t {
                let _ = writeln!(s, "| {} | {:.1} | {:.1} |", b.op, b.median, b.worst);
            }
        }
    }

    /// The GPU section and the list of what is not measured yet.
    fn md_gaps(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(s, "\n## GPU\n");
        match (&self.gpu_posting_overhead.value, &self.gpu_posting_overhead.not_measured) {
            (Some(g), _) => posting_table(s, g, None),
            (None, why) => {
                let _ = writeln!(s, "{}", why.as_deref().unwrap_or("not measured"));
            }
        }

        let _ = writeln!(s, "\n## Not measured yet\n");
        for (name, why) in self.not_measured() {
            let _ = writeln!(s, "- `{name}`: {why}");
        }
    }

    /// The slots without a value, with their reasons.
    pub fn not_measured(&self) -> Vec<(&'static str, String)> {
        let why = |n: &Option<String>| n.clone().unwrap_or_else(|| NOT_MEASURED.into());
        let mut v = Vec::new();
        if self.protocol.bound_tightness.value.is_none() {
            v.push(("bound_tightness", why(&self.protocol.bound_tightness.not_measured)));
        }
        if self.protocol.dispute_gas_total.value.is_none() {
            v.push(("dispute_gas_total", why(&self.protocol.dispute_gas_total.not_measured)));
        }
        if self.protocol.dispute_txs.value.is_none() {
            v.push(("dispute_txs", why(&self.protocol.dispute_txs.not_measured)));
        }
        if self.protocol.adjudication_gas.value.is_none() {
            v.push(("adjudication_gas", why(&self.protocol.adjudication_gas.not_measured)));
        }
        if self.protocol.rounds.value.is_none() {
            v.push(("rounds", why(&self.protocol.rounds.not_measured)));
        }
        v
    }
}

/// The posting rows as a markdown table; with `hash`, a column of the overhead hashing alone accounts for
/// (the coarse bytes at this run's posting-path commitment throughput, over the best plain run).
fn posting_table(s: &mut String, rows: &[PostingBench], hash: Option<&HashBench>) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "| model | tokens | repetitions | plain (best) | committed (best) | ratio of 10th percentiles (judged) | \
         median of pair ratios | best / best | CPU-time ratio (median) | hashing alone (derived) | coarse trace \
         hashed | all op outputs |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for p in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} ms | {:.1} ms | {:.4} | {:.4} | {:.4} | {} | {} | {:.2} MB | {:.1} MB |",
            p.model,
            p.tokens,
            p.reps,
            p.plain_s * 1e3,
            p.traced_s * 1e3,
            p.judged(),
            p.median_ratio,
            p.ratio,
            num(p.cpu_ratio, 4),
            num(hash.map(|h| 1.0 + p.coarse_bytes as f64 / (h.posting_gbps() * 1e9) / p.plain_s), 4),
            p.coarse_bytes as f64 / 1e6,
            p.fine_bytes as f64 / 1e6
        );
    }
}

/// The text of an existing docs/BENCHMARKS.md from [`PROFILE_HEADING`] on (kept when it is rewritten).
pub fn kept_tail(existing: &str) -> Option<&str> {
    existing.find(&format!("\n{PROFILE_HEADING}")).map(|i| &existing[i + 1..])
}

/// UTC date and time of `secs` since the Unix epoch, ISO 8601 (`2026-11-22T03:04:05Z`).
pub fn iso_utc(secs: u64) -> String {
    // Days to civil date (H. Hinnant's algorithm), valid for every date after 1970.
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Now, as [`iso_utc`].
pub fn now_utc() -> String {
    iso_utc(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// This process's nice value (`/proc/self/stat`, field 19), when known.
pub fn nice() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (in parentheses, which may itself hold spaces): state is field 3.
    stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()
}

/// The 1-minute load average (`/proc/loadavg`), when known.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// `git rev-parse HEAD` in the current directory, with `-dirty` when tracked files differ; `None` outside a
/// repository or without git.
pub fn git_commit() -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"])?;
    let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(model: &str, tokens: usize, ratio: f64) -> PostingBench {
        PostingBench {
            model: model.into(),
            tokens,
            nodes: 10,
            reps: 3,
            coarse_bytes: 1000,
            fine_bytes: 10_000,
            plain_s: 0.1,
            traced_s: 0.1 * ratio,
            ratio,
            median_ratio: ratio,
            quiet_ratio: ratio,
            cpu_ratio: Some(ratio),
            peak_rss_mib: 100.0,
            fine_trace_rss_mib: 1.0,
        }
    }

    fn report() -> Report {
        Report {
            schema: 1,
            mode: Mode::Short,
            command: "nao bench --short --report r.json".into(),
            machine: Machine::parse("model name\t: Test CPU\n", "MemTotal:       2097152 kB\n", 2, "Linux"),
            date: iso_utc(0),
            git_commit: None,
            reps: 3,
            load_average: vec![0.5, 1.5],
            nice: Some(-5),
            hash_vs_limit: HashBench {
                bytes: 9_100_000,
                reps: 9,
                sha256_gbps: 2.0,
                commitment_gbps: 1.7,
                ratio: 0.85,
                all_cores_gbps: 3.1,
                ratio_other_leaves: 0.7,
                ratio_copied_leaves: 0.8,
            },
            posting_overhead: vec![posting("minilm", 128, 1.04), posting("smollm2", 128, 1.005)],
            watcher_ratio: vec![WatcherBench {
                model: "minilm".into(),
                elements: 5,
                reps: 1,
                check_s: 1.0,
                plain_s: 0.1,
                ratio: 10.0,
                median_ratio: 1.1,
                other_kernel_median_ratio: 9.0,
                spot_rate: 0.1,
                spot_median_ratio: 0.9,
                audit_median_ratio: 20.0,
            }],
            peak_memory: vec![],
            overhead_vs_prompt: vec![posting("smollm2", 16, 1.02)],
            plot: None,
            gpu_posting_overhead: Slot::skipped("cuda: not available on this machine (no GPU), skipped"),
            protocol: ProtocolFigures::default(),
        }
    }

    #[test]
    fn goals_decide_pass_and_fail() {
        let c = report().checks();
        let pass: Vec<_> = c.iter().map(|c| (c.figure.as_str(), c.pass)).collect();
        assert_eq!(
            pass,
            [
                ("hash_vs_limit", Some(true)),
                ("posting_overhead[minilm, 128 tokens]", Some(false)),
                ("posting_overhead[minilm, 128 tokens] in CPU time", Some(false)),
                ("posting_overhead[smollm2, 128 tokens]", Some(true)),
                ("posting_overhead[smollm2, 128 tokens] in CPU time", Some(true)),
                ("watcher_ratio[minilm]", Some(true)),
                ("watcher_spot_ratio[minilm, rate 0.1]", Some(true)),
            ]
        );
    }

    #[test]
    fn slots_not_measured_are_null_with_a_reason() {
        let v = serde_json::to_value(report()).expect("serializes");
        for k in ["bound_tightness", "dispute_gas_total", "dispute_txs", "adjudication_gas", "rounds"] {
            assert!(v[k]["value"].is_null(), "{k}");
            assert!(v[k]["not_measured"].as_str().expect("reason").starts_with(NOT_MEASURED), "{k}");
        }
        assert_eq!(v["mode"], "short");
        let back: Report = serde_json::from_value(v).expect("deserializes");
        assert_eq!(back.protocol, report().protocol);
    }

    #[test]
    fn markdown_keeps_the_profile_and_shows_every_figure() {
        let old = "# old\nmeasured text\n\n## Profile\n\nhand-written profile\n";
        let md = report().markdown(Some("bench-overhead.png"), kept_tail(old));
        assert!(md.ends_with("## Profile\n\nhand-written profile\n"));
        assert!(!md.contains("measured text"));
        assert!(md.contains("Test CPU (2 cores, 2.0 GiB"));
        assert!(md.contains("| posting_overhead[minilm, 128 tokens] | 1.040 | <= 1.01 | **fail** |"));
        assert!(md.contains("![posting overhead and inference time against prompt length](bench-overhead.png)"));
        assert!(md.contains("cuda: not available on this machine (no GPU), skipped"));
        assert!(md.contains("- `rounds`: not measured yet"));
        assert!(md.contains("| load average (1 min) | 0.5 at the start, 1.5 at the end |"));
        assert!(md.contains("The machine was busy"));
        assert!(md.contains("| priority | nice -5 "));
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(nice().is_some_and(|n| (-20..=19).contains(&n)));
        }
        assert!(report().markdown(None, None).ends_with("## Profile\n\n(none recorded yet)\n"));
    }

    #[test]
    fn bound_tightness_comes_from_the_committed_profiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let mut r = report();
        r.protocol = ProtocolFigures::default().with_profiles(&dir);
        let t = r.protocol.bound_tightness.value.clone().expect("profiles/minilm.json and smollm2.json are committed");
        let mm = t.iter().find(|b| b.op == "minilm/matmul").expect("minilm matmul");
        assert!(mm.median >= mm.worst && mm.worst >= 1.0, "{mm:?}");
        assert!(t.iter().any(|b| b.op.starts_with("smollm2/")));
        assert!(r.markdown(None, None).contains("| minilm/matmul |"));
        assert!(!r.not_measured().iter().any(|(n, _)| *n == "bound_tightness"));
        // no profiles there: still pending, with its reason
        let none = ProtocolFigures::default().with_profiles(&dir.join("missing"));
        assert!(none.bound_tightness.value.is_none());
    }

    #[test]
    fn dates_are_utc_iso() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_316_645), "2026-11-22T03:04:05Z");
    }
}
