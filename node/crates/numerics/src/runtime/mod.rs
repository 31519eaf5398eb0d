//! The traced runtime: executes a [`Graph`] with candle (CPU by default) in one of the honest execution
//! [`Config`]urations and records every op output in order; [`replay`] re-executes one node from its operand
//! tensors alone.

mod config;

pub use crate::region::orders::dot_matmul;
pub use config::Config;

use std::ops::ControlFlow;

use candle_core::{Device, Tensor};

use crate::commit::TensorCommitment;
use crate::graph::{Graph, Node, Op, Src};
use crate::model::Model;
use crate::tensor::HostTensor;
use crate::trace::{ListCommitment, Trace};
use crate::{Error, Result};

/// A hook that may rewrite an op's output before later ops read it (how dishonest provers are simulated).
pub type Tamper<'a> = &'a mut dyn FnMut(usize, &mut HostTensor);

/// A model's weights on the device, prepared once and reused by every run.
pub struct Runtime {
    device: Device,
    weights: Vec<Tensor>,
    config: Config,
}

fn to_device(t: &HostTensor, dev: &Device) -> candle_core::Result<Tensor> {
    Tensor::from_slice(&t.data, t.shape.as_slice(), dev)
}

fn to_host(t: &Tensor) -> candle_core::Result<HostTensor> {
    Ok(HostTensor::new(t.dims().to_vec(), t.flatten_all()?.to_vec1::<f32>()?))
}

/// Executes `op` the way `config` does (the reference kernels of a [`Config::Dot`] for dot products), reshaped
/// to the node's output `shape`.
fn exec_in(config: Config, op: &Op, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor> {
    let y = match config {
        Config::Dot(order) => op.operator().exec_dot(order, x, shape)?,
        _ => op.operator().exec(x, shape)?,
    };
    y.reshape(shape)
}

/// Sets `RAYON_NUM_THREADS` (which candle reads at every matmul) for the life of the guard.
struct Threads(Option<Option<String>>);

impl Threads {
    fn set(config: Config) -> Self {
        match config {
            Config::Candle { threads } if threads > 0 => {
                let old = std::env::var("RAYON_NUM_THREADS").ok();
                std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
                Threads(Some(old))
            }
            _ => Threads(None),
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Some(v)) => std::env::set_var("RAYON_NUM_THREADS", v),
            Some(None) => std::env::remove_var("RAYON_NUM_THREADS"),
            None => {}
        }
    }
}

impl Runtime {
    /// Moves `model`'s weights to the CPU device, to run in the default configuration (what provers run).
    pub fn new(model: &Model) -> Result<Self> {
        Self::with_config(model, Config::default())
    }

    /// Prepares `model` to run in `config` (on the GPU for [`Config::Cuda`]); a configuration this machine
    /// cannot run is refused with the reason.
    pub fn with_config(model: &Model, config: Config) -> Result<Self> {
        config.available().map_err(|why| Error::Config(format!("{config}: {why}")))?;
        let device = match config {
            Config::Cuda => Device::new_cuda(0)?,
            _ => Device::Cpu,
        };
        let weights = model.weights.iter().map(|w| to_device(w, &device)).collect::<candle_core::Result<_>>()?;
        Ok(Self { device, weights, config })
    }

    /// The configuration this runtime executes in.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Runs `graph` on `input` and returns the trace on the host: the input, then every node's output.
    /// `tamper`, when given, may rewrite each op's output before later ops read it.
    pub fn run(&self, graph: &Graph, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<Trace> {
        self.record(graph, input, tamper)?.to_host()
    }

    /// Runs `graph` on `input` keeping every op output on the device, uncopied (the hot path: hash the
    /// coarse trace from there, keep the rest for disputes).
    pub fn record(&self, graph: &Graph, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<Recorded> {
        let live = self.execute(graph, input, true, tamper, |_, _| Ok(ControlFlow::Continue(())))?;
        Ok(Recorded { tensors: live.into_iter().map(|t| t.expect("every tensor is kept")).collect() })
    }

    /// Runs `graph` on `input` the plain way: nothing recorded, each intermediate dropped after its last use;
    /// returns the output. The baseline of the posting-overhead measurement.
    pub fn run_plain(&self, graph: &Graph, input: &HostTensor) -> Result<HostTensor> {
        let out = self.stream(graph, input, |_, _| Ok(()))?;
        Ok(to_host(&out)?)
    }

    /// The posting hot path: runs like [`Runtime::run_plain`] and hashes each coarse-trace tensor (input,
    /// segment boundaries, output) as it is produced, its chunks on every core ([`TensorCommitment::new`]);
    /// nothing else is kept. The fine trace of a disputed segment is recomputed with [`Runtime::record`] (CPU
    /// runs are deterministic; the recomputed boundary roots are checked against the posted ones).
    pub fn run_committed(&self, graph: &Graph, input: &HostTensor) -> Result<(HostTensor, ListCommitment)> {
        let (out, coarse, _) = self.run_committed_until(graph, input, &[], |_| false)?;
        Ok((out, coarse))
    }

    /// [`Runtime::run_committed`] that may end early: at trace tensor `i` in `ends` (coarse indices,
    /// ascending) where `stop` holds of its elements, the run ends; that tensor is the output and the
    /// commitment covers the coarse trace up to it (a language model stopping at the end of its turn: the graph
    /// of fewer steps is the longer one's prefix). Returns the output, the commitment and the trace index the
    /// run ended at.
    pub fn run_committed_until(
        &self,
        graph: &Graph,
        input: &HostTensor,
        ends: &[usize],
        mut stop: impl FnMut(&[f32]) -> bool,
    ) -> Result<(HostTensor, ListCommitment, usize)> {
        // (Hashing on a thread of its own while the model computes, at normal or idle priority, was measured
        // no faster on 2 cores than waiting for each boundary's all-core hash.)
        let indices = graph.coarse_indices();
        let mut commits = Vec::with_capacity(indices.len());
        let mut want = indices.iter().peekable();
        let mut end = graph.trace_len() - 1;
        let out = self.stream_until(graph, input, |i, t| {
            if want.peek() == Some(&&i) {
                want.next();
                commits.push(with_f32(t, |d| TensorCommitment::new(d, t.dims()))?);
            }
            if ends.binary_search(&i).is_ok() && with_f32(t, &mut stop)? {
                end = i;
                return Ok(ControlFlow::Break(()));
            }
            Ok(ControlFlow::Continue(()))
        })?;
        let done = commits.len();
        Ok((to_host(&out)?, ListCommitment::from_commitments(indices[..done].to_vec(), commits), end))
    }

    /// Whether executing `node` on its operands among `tensors` (trace tensors, this runtime's weights) gives
    /// `output` bit for bit: the watcher's first check of an op. Such an output is this runtime's own fp32
    /// evaluation of the op, which every region of the op contains, so it needs no region evaluated; any
    /// difference (another kernel, another summation order, a cheat) sends the op to its regions.
    pub fn replays(&self, node: &Node, tensors: &[HostTensor], output: &HostTensor) -> Result<bool> {
        let operands: Vec<Tensor> = node
            .inputs
            .iter()
            .map(|s| match s {
                Src::Trace(t) => to_device(&tensors[*t as usize], &self.device),
                Src::Weight(w) => Ok(self.weights[*w as usize].clone()),
            })
            .collect::<candle_core::Result<_>>()?;
        let _threads = Threads::set(self.config);
        let y = exec_in(self.config, &node.op, &operands, &node.shape)?;
        same_bits(&y, output)
    }

    /// [`Runtime::replays`] for every op of `trace`, at the cost of about one inference for a claim this runtime
    /// reproduces. First the graph runs forward on `trace`'s input as a plain run and only the coarse trace
    /// (every segment's boundary and the output: what the claim commits) is compared: when all of it matches,
    /// the claim is this runtime's own evaluation and every op is accepted (the interior tensors a prover
    /// serves are not committed at posting; a dispute's fine trace is recomputed). Otherwise every op is
    /// replayed and compared on the claim's own operands ([`Runtime::replay_each`]). Element `i` is true when
    /// op `i` replays.
    pub fn replay_trace(&self, graph: &Graph, trace: &Trace) -> Result<Vec<bool>> {
        let coarse = graph.coarse_indices();
        let mut want = coarse.iter().peekable();
        let mut same = true;
        self.stream(graph, &trace.tensors[0], |i, t| {
            if want.peek() == Some(&&i) {
                want.next();
                same &= same_bits(t, &trace.tensors[i])?;
            }
            Ok(())
        })?;
        if same {
            return Ok(vec![true; graph.nodes.len()]);
        }
        self.replay_each(graph, trace)
    }

    /// The ops marked in `picked` that replay ([`Runtime::replays`]): the whole graph at once
    /// ([`Runtime::replay_trace`], about one inference) when every op is picked, op by op otherwise (a
    /// spot-check); an op that is not picked, or whose replay fails, is false.
    pub fn replay_picked(&self, graph: &Graph, trace: &Trace, picked: &[bool]) -> Vec<bool> {
        if picked.iter().all(|p| *p) {
            if let Ok(r) = self.replay_trace(graph, trace) {
                return r;
            }
        }
        graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| picked[i] && self.replays(n, &trace.tensors, &trace.tensors[i + 1]).unwrap_or(false))
            .collect()
    }

    /// Every op of `trace` replayed on the claim's own operands and compared ([`Runtime::replays`] for each):
    /// the graph runs forward on this runtime, an op reading its own earlier results where they matched
    /// (nothing is copied) and the trace's tensor where they did not. Element `i` is true when op `i` replays.
    pub fn replay_each(&self, graph: &Graph, trace: &Trace) -> Result<Vec<bool>> {
        let tensors = &trace.tensors;
        let last_use = last_uses(graph);
        let _threads = Threads::set(self.config);
        // own[t]: this runtime's tensor t while it is live and equal to the trace's
        let mut own: Vec<Option<Tensor>> = vec![None; graph.trace_len()];
        own[0] = Some(to_device(&tensors[0], &self.device)?);
        let mut replayed = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let operands: Vec<Tensor> = node
                .inputs
                .iter()
                .map(|s| match s {
                    Src::Trace(t) => match &own[*t as usize] {
                        Some(x) => Ok(x.clone()),
                        None => to_device(&tensors[*t as usize], &self.device),
                    },
                    Src::Weight(w) => Ok(self.weights[*w as usize].clone()),
                })
                .collect::<candle_core::Result<_>>()?;
            let y = exec_in(self.config, &node.op, &operands, &node.shape)?;
            let same = same_bits(&y, &tensors[i + 1])?;
            replayed.push(same);
            if same {
                own[i + 1] = Some(y);
            }
            for s in &node.inputs {
                if let Src::Trace(t) = s {
                    if last_use[*t as usize] == i {
                        own[*t as usize] = None;
                    }
                }
            }
        }
        Ok(replayed)
    }

    /// Executes `graph`, showing every trace tensor (input first) to `visit` as it is produced and dropping
    /// each one after its last use; returns the output.
    fn stream(
        &self,
        graph: &Graph,
        input: &HostTensor,
        mut visit: impl FnMut(usize, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        self.stream_until(graph, input, |i, t| visit(i, t).map(|()| ControlFlow::Continue(())))
    }

    /// [`Runtime::stream`], ending after the tensor at which `visit` breaks; returns that tensor (the output
    /// when it never breaks).
    fn stream_until(
        &self,
        graph: &Graph,
        input: &HostTensor,
        visit: impl FnMut(usize, &Tensor) -> Result<ControlFlow<()>>,
    ) -> Result<Tensor> {
        let mut live = self.execute(graph, input, false, None, visit)?;
        Ok(live.pop().flatten().expect("the last tensor is live"))
    }

    /// The one execution loop: every trace tensor is shown to `visit` as it is produced (after `tamper`, if
    /// any, rewrote it), and the run ends after the first at which `visit` breaks (the tensors returned end
    /// there); with `keep_all` every tensor is kept, otherwise each is dropped after its last use (the last
    /// always stays).
    fn execute(
        &self,
        graph: &Graph,
        input: &HostTensor,
        keep_all: bool,
        mut tamper: Option<Tamper<'_>>,
        mut visit: impl FnMut(usize, &Tensor) -> Result<ControlFlow<()>>,
    ) -> Result<Vec<Option<Tensor>>> {
        if input.shape != graph.input_shape {
            return Err(Error::Shape {
                name: "input".into(),
                got: input.shape.clone(),
                expected: graph.input_shape.clone(),
            });
        }
        let last_use = last_uses(graph);
        let _threads = Threads::set(self.config);
        let mut live: Vec<Option<Tensor>> = vec![None; graph.trace_len()];
        let x = to_device(input, &self.device)?;
        let first = visit(0, &x)?;
        live[0] = Some(x);
        if first.is_break() {
            live.truncate(1);
            return Ok(live);
        }
        for (i, node) in graph.nodes.iter().enumerate() {
            let operands: Vec<Tensor> = node
                .inputs
                .iter()
                .map(|s| match s {
                    Src::Trace(t) => live[*t as usize].clone().expect("operand is live until its last use"),
                    Src::Weight(w) => self.weights[*w as usize].clone(),
                })
                .collect();
            let mut y = exec_in(self.config, &node.op, &operands, &node.shape)?;
            if let Some(f) = tamper.as_mut() {
                let mut h = to_host(&y)?;
                f(i, &mut h);
                y = to_device(&h, &self.device)?;
            }
            let flow = visit(i + 1, &y)?;
            live[i + 1] = Some(y);
            if flow.is_break() {
                live.truncate(i + 2);
                return Ok(live);
            }
            if !keep_all {
                for s in &node.inputs {
                    if let Src::Trace(t) = s {
                        if last_use[*t as usize] == i && (*t as usize) < graph.nodes.len() {
                            live[*t as usize] = None;
                        }
                    }
                }
            }
        }
        Ok(live)
    }
}

/// A run's tensors kept on the device: the input at 0, the output of node i at i + 1.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The tensors, in trace order.
    pub tensors: Vec<Tensor>,
}

/// For every trace tensor, the last node that reads it (0 for none).
fn last_uses(graph: &Graph) -> Vec<usize> {
    let mut last_use = vec![0usize; graph.trace_len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for s in &node.inputs {
            if let Src::Trace(t) = s {
                last_use[*t as usize] = i;
            }
        }
    }
    last_use
}

/// Whether `y` has `want`'s shape and exactly its bits (compared as bytes).
fn same_bits(y: &Tensor, want: &HostTensor) -> Result<bool> {
    if y.dims() != want.shape.as_slice() {
        return Ok(false);
    }
    with_f32(y, |v| bytemuck::cast_slice::<f32, u8>(v) == bytemuck::cast_slice::<f32, u8>(&want.data))
}

/// Calls `f` with the fp32 elements of `t`, borrowed from CPU storage when contiguous (no copy).
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    if t.is_contiguous() {
        let (storage, layout) = t.storage_and_layout();
        if let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)) = &*storage {
            let o = layout.start_offset();
            return Ok(f(&v[o..o + t.elem_count()]));
        }
    }
    Ok(f(&t.flatten_all()?.to_vec1::<f32>()?))
}

impl Recorded {
    /// Commits tensor `i` straight from device storage.
    pub fn commit_tensor(&self, i: usize) -> Result<TensorCommitment> {
        let t = &self.tensors[i];
        with_f32(t, |d| TensorCommitment::new(d, t.dims()))
    }

    /// The coarse trace commitment: only the tensors at `indices` (input, segment boundaries, output).
    pub fn commit_coarse(&self, graph: &Graph) -> Result<ListCommitment> {
        ListCommitment::build(graph.coarse_indices(), |i| self.commit_tensor(i))
    }

    /// The fine trace commitment of segment `s`: every op output inside it.
    pub fn commit_fine(&self, graph: &Graph, s: usize) -> Result<ListCommitment> {
        let r = graph.segment_ranges()[s].clone();
        ListCommitment::build((r.start + 1..=r.end).collect(), |i| self.commit_tensor(i))
    }

    /// Copies every tensor to the host.
    pub fn to_host(&self) -> Result<Trace> {
        Ok(Trace { tensors: self.tensors.iter().map(to_host).collect::<candle_core::Result<_>>()? })
    }
}

/// Runs `model` on `input` (preparing its weights for this one run).
pub fn run(model: &Model, input: &HostTensor, tamper: Option<Tamper<'_>>) -> Result<Trace> {
    Runtime::new(model)?.run(&model.graph, input, tamper)
}

/// Re-executes `node` from its operand tensors alone (what a watcher or validator does for one op).
pub fn replay(node: &Node, operands: &[&HostTensor]) -> Result<HostTensor> {
    let dev = Device::Cpu;
    let x = operands.iter().map(|t| to_device(t, &dev)).collect::<candle_core::Result<Vec<_>>>()?;
    Ok(to_host(&exec_in(Config::default(), &node.op, &x, &node.shape)?)?)
}

/// The operand tensors of node `i` of a trace (trace tensors or model weights).
pub fn operands<'a>(model: &'a Model, trace: &'a Trace, node: &Node) -> Vec<&'a HostTensor> {
    operands_of(model, &trace.tensors, node)
}

/// The operand tensors of `node` among trace tensors `tensors` (a whole trace, or a run's tensors so far).
pub fn operands_of<'a>(model: &'a Model, tensors: &'a [HostTensor], node: &Node) -> Vec<&'a HostTensor> {
    node.inputs
        .iter()
        .map(|s| match s {
            Src::Trace(t) => &tensors[*t as usize],
            Src::Weight(w) => &model.weights[*w as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MLP_TINY;
    use crate::op;
    use crate::region::orders::Order;

    #[test]
    fn records_every_op_output_and_matches_a_naive_forward() {
        let m = MLP_TINY.generated();
        let x = MLP_TINY.input(7);
        let t = run(&m, &x, None).unwrap();
        assert_eq!(t.tensors.len(), m.graph.trace_len());
        let w = &m.weights[0];
        let s: f64 = (0..64).map(|k| x.data[k] as f64 * w.data[k] as f64).sum();
        assert!((t.tensors[1].data[0] as f64 - s).abs() < 1e-5);
        assert!(t.tensors[3].data.iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn replay_of_every_node_reproduces_the_run_bit_for_bit() {
        let m = MLP_TINY.generated();
        let t = run(&m, &MLP_TINY.input(3), None).unwrap();
        for (i, node) in m.graph.nodes.iter().enumerate() {
            let y = replay(node, &operands(&m, &t, node)).unwrap();
            assert_eq!(y, t.tensors[i + 1], "node {i}");
        }
    }

    /// The watcher's replay: every op of a default-kernel run replays bit for bit; a tampered op does not (the
    /// op after it still does: it is replayed from the claim's operands); a matmul computed by another kernel
    /// does not, while the ops after it, by the same kernels, do.
    #[test]
    fn replays_accept_the_same_kernels_bit_for_bit_and_nothing_else() {
        let m = MLP_TINY.generated();
        let x = MLP_TINY.input(3);
        let rt = Runtime::new(&m).unwrap();
        let t = rt.run(&m.graph, &x, None).unwrap();
        assert!(m.graph.nodes.iter().enumerate().all(|(i, n)| rt.replays(n, &t.tensors, &t.tensors[i + 1]).unwrap()));
        let mut tamper = |op: usize, y: &mut HostTensor| {
            if op == 1 {
                y.data[5] = f32::from_bits(y.data[5].to_bits() + 1);
            }
        };
        let bad = rt.run(&m.graph, &x, Some(&mut tamper)).unwrap();
        let replayed: Vec<bool> = m
            .graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| rt.replays(n, &bad.tensors, &bad.tensors[i + 1]).unwrap())
            .collect();
        assert!(!replayed[1] && replayed.iter().enumerate().all(|(i, r)| *r || i == 1), "{replayed:?}");
        // the whole-trace replay decides every op as the per-op replay does
        assert_eq!(rt.replay_trace(&m.graph, &bad).unwrap(), replayed);
        assert_eq!(rt.replay_each(&m.graph, &bad).unwrap(), replayed);
        // a spot-check replays only its picked ops
        let picked: Vec<bool> = (0..replayed.len()).map(|i| i % 2 == 1).collect();
        let want: Vec<bool> = replayed.iter().zip(&picked).map(|(r, p)| *r && *p).collect();
        assert_eq!(rt.replay_picked(&m.graph, &bad, &picked), want);
        assert_eq!(rt.replay_picked(&m.graph, &bad, &vec![true; replayed.len()]), replayed);
        assert!(rt.replay_each(&m.graph, &t).unwrap().iter().all(|r| *r));
        // a served interior tensor (not committed by the claim) altered after the run: the claim's boundaries
        // are still this runtime's own, so the claim is accepted whole; op by op, that op differs
        let mut one = m.graph.clone();
        one.segments = Vec::new(); // one segment: every tensor but the input and the output is interior
        let mut served = t.clone();
        served.tensors[1].data[0] = f32::from_bits(served.tensors[1].data[0].to_bits() ^ 1);
        assert!(rt.replay_trace(&one, &served).unwrap().iter().all(|r| *r));
        assert!(!rt.replay_each(&one, &served).unwrap()[0]);
        assert!(!rt.replay_trace(&m.graph, &served).unwrap()[0], "a boundary there: op by op");
        assert!(rt.replay_trace(&m.graph, &t).unwrap().iter().all(|r| *r));
        let other = Runtime::with_config(&m, Config::Dot(Order::Pairwise)).unwrap().run(&m.graph, &x, None).unwrap();
        for (i, n) in m.graph.nodes.iter().enumerate() {
            let r = rt.replays(n, &other.tensors, &other.tensors[i + 1]).unwrap();
            assert_eq!(rt.replay_each(&m.graph, &other).unwrap()[i], r, "op {i}: both replays agree");
            if n.op == Op::MatMul && other.tensors[i + 1] != t.tensors[i + 1] {
                assert!(!r, "op {i}: another kernel's matmul");
            } else if n.op != Op::MatMul {
                assert!(r, "op {i}: the same kernel");
            }
        }
    }

    #[test]
    fn coarse_and_fine_commitments_cover_the_right_tensors_and_plain_runs_agree() {
        let mut m = MLP_TINY.generated();
        m.graph.segments = vec![0..3, 3..6, 6..8];
        m.graph.validate().unwrap();
        let rt = Runtime::new(&m).unwrap();
        let x = MLP_TINY.input(5);
        let rec = rt.record(&m.graph, &x, None).unwrap();
        let host = rec.to_host().unwrap();
        let full = host.commit();
        let coarse = rec.commit_coarse(&m.graph).unwrap();
        assert_eq!(coarse.indices, [0, 3, 6, 8]);
        for (k, i) in coarse.indices.iter().enumerate() {
            assert_eq!(coarse.tensors[k].root(), full.tensors[*i].root());
        }
        let fine = rec.commit_fine(&m.graph, 1).unwrap();
        assert_eq!(fine.indices, [4, 5, 6]);
        assert_eq!(rt.run_plain(&m.graph, &x).unwrap(), *host.output());
        let (out, streamed) = rt.run_committed(&m.graph, &x).unwrap();
        assert_eq!(out, *host.output());
        assert_eq!(streamed.root(), coarse.root(), "the hot path commits the same coarse trace");
        m.graph.segments = vec![0..3, 4..8];
        assert!(m.graph.validate().is_err(), "segments must tile the nodes");
    }

    #[test]
    fn every_configuration_stays_inside_every_sound_region_and_some_differ_in_bits() {
        let m = MLP_TINY.generated();
        let x = MLP_TINY.input(9);
        let base = run(&m, &x, None).unwrap();
        let mut differ = 0;
        for c in Config::all().into_iter().filter(|c| c.available().is_ok()) {
            let t = Runtime::with_config(&m, c).unwrap().run(&m.graph, &x, None).unwrap();
            for (i, n) in m.graph.nodes.iter().enumerate() {
                let check = crate::region::ops::check(n, &operands(&m, &t, n), &t.tensors[i + 1]).unwrap();
                assert!(check.first_violation().is_none(), "{c}: node {i}");
            }
            differ += usize::from(t.tensors != base.tensors);
            if let Config::Candle { .. } = c {
                assert_eq!(t.tensors, base.tensors, "{c}: candle's thread count splits rows, not reductions");
            }
        }
        assert!(differ >= 3, "only {differ} configurations differ from candle in any bit");
        assert!(Runtime::with_config(&m, Config::Cuda).is_err() || cfg!(feature = "cuda"));
    }

    #[test]
    fn a_wrong_input_shape_is_refused() {
        let e = run(&MLP_TINY.generated(), &HostTensor::new(vec![4, 63], vec![0.0; 252]), None).unwrap_err();
        assert!(e.to_string().contains("input"), "{e}");
    }

    fn node(op: Op, n: usize, shape: &[usize]) -> Node {
        Node { op, inputs: (0..n as u32).map(Src::Trace).collect(), shape: shape.to_vec() }
    }

    #[test]
    fn attention_pieces_compute_what_they_say() {
        // causal mask: row 0 sees key 0 only
        let s = HostTensor::new(vec![1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let m = replay(&node(Op::CausalMask(op::CausalMask { offset: 0 }), 1, &[1, 2, 2]), &[&s]).unwrap();
        assert_eq!(m.data[1], f32::NEG_INFINITY);
        assert_eq!(m.data[2..], [3.0, 4.0]);
        let p = replay(&node(Op::Softmax, 1, &[1, 2, 2]), &[&m]).unwrap();
        assert_eq!(p.data[..2], [1.0, 0.0]);
        // rope at position 0 is the identity
        let x = HostTensor::new(vec![1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]);
        let r = replay(&node(Op::Rope(op::Rope { theta: 10000.0, offset: 0, scaled: false }), 1, &[1, 1, 4]), &[&x])
            .unwrap();
        assert_eq!(r.data, x.data);
        // argmax as fp32 index
        let a = replay(&node(Op::Argmax, 1, &[2]), &[&HostTensor::new(vec![2, 3], vec![0.0, 5.0, 1.0, 9.0, 2.0, 3.0])])
            .unwrap();
        assert_eq!(a.data, [1.0, 0.0]);
    }
}
