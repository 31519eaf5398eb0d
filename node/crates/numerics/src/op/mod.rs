//! Operator kinds: each kind is one type implementing [`Operator`] in the module of its family, and one line
//! of [`Op`] registers it.
//!
//! | module | kinds |
//! | --- | --- |
//! | [`linear`] | MatMul, BatchMatMul |
//! | [`elementwise`] | Add, Mul, Scale |
//! | [`activation`] | ReLU, GELU, SiLU |
//! | [`norm`] | LayerNorm, RMSNorm |
//! | [`attention`] | Softmax, CausalMask, RoPE |
//! | [`movement`] | Embedding, Reshape, Transpose, Narrow, Concat |
//! | [`reduce`] | Argmax, MeanRows |
//! | [`clamp`] | Clamp (ReLU6) |
//!
//! An operator knows its name, whether honest runs of it agree bit for bit, how candle executes it (and the
//! reference kernel of an [`Order`]ed dot product, for the matmuls), its acceptance region element by element
//! from its operands alone, its reverse-mode product and reachable deviation for the composition audit, and
//! its on-chain descriptor ([`OpNode`], when the contracts adjudicate it). Adding a kind: a type with an
//! `Operator` impl in its family's module (or a new one, as [`clamp`]), a variant of [`Op`] and its arm of
//! [`Op::operator`]; for an on-chain check, its [`OpKind`] and [`Params`] variant here, and on the Solidity side
//! its check (with its params struct) in the library of the same family (`contracts/src/ops/`), its `OpKind`
//! entry and its line in `Adjudicator._decide`.

pub mod activation;
pub mod attention;
pub mod clamp;
mod descriptor;
pub mod elementwise;
pub mod linear;
pub mod movement;
pub mod norm;
pub mod reduce;

use candle_core::{Device, Tensor};

pub use activation::{Relu, Smooth, GELU, SILU};
pub use attention::{CausalMask, Rope, Softmax};
pub use clamp::Clamp;
pub use descriptor::{OpKind, OpNode, Params, MAX_OPENING_BYTES, MAX_OPENING_GAS};
pub use elementwise::{Add, Mul, Scale};
pub use linear::{BatchMatMul, MatMul};
pub use movement::{Concat, Embedding, Narrow, Reshape, Transpose};
pub use norm::{LayerNorm, RmsNorm};
pub use reduce::{Argmax, MeanRows};

use crate::region::orders::Order;
use crate::tensor::HostTensor;

/// Where an operand comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Src {
    /// Trace tensor (0 = input, i + 1 = output of node i).
    Trace(u32),
    /// Weight tensor of the model.
    Weight(u32),
}

/// The per-element verdicts of an op's region: (inside, ratio of the deviation to the region's half-width),
/// and, for the dot products, each element's bound over its empirical error scale.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// (inside, ratio) per output element.
    pub elements: Vec<(bool, f64)>,
    /// `B_e / scale_e` per element (the matmuls' screens); `None`: 1 for every element.
    pub bound_to_scale: Option<Vec<f64>>,
}

impl From<Vec<(bool, f64)>> for Verdicts {
    fn from(elements: Vec<(bool, f64)>) -> Self {
        Self { elements, bound_to_scale: None }
    }
}

/// What one operator kind is: every place that needs to know an op asks its `Operator`.
pub trait Operator {
    /// The op's name as reports show it.
    fn name(&self) -> &'static str;

    /// Whether the op moves or selects values without arithmetic (so any honest run is bit-exact).
    fn is_exact(&self) -> bool {
        false
    }

    /// Whether every honest run of the op gives the same bits, so its region is exactly the replayed value and
    /// no calibrated threshold applies.
    fn has_exact_region(&self) -> bool {
        self.is_exact()
    }

    /// Executes the op with candle on operands `x`; `shape` is the node's output shape (the result is
    /// reshaped to it by the caller).
    fn exec(&self, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor>;

    /// Executes the op with every dot product summed in `order` (the reference kernels of
    /// [`crate::runtime::Config::Dot`]); ops without dot products run as [`Operator::exec`].
    fn exec_dot(&self, order: Order, x: &[Tensor], shape: &[usize]) -> candle_core::Result<Tensor> {
        let _ = order;
        self.exec(x, shape)
    }

    /// Checks every element of a claimed output `y` (of `shape`) given the op's `operands`; `None` when the
    /// operands do not have the shapes the op needs. The default is the bit-exact region: the replay must give
    /// the same bits.
    fn region(&self, shape: &[usize], operands: &[&HostTensor], y: &[f32]) -> Option<Verdicts> {
        let want = run(self, operands, shape).ok()?.data;
        Some(
            want.iter()
                .zip(y)
                .map(|(a, b)| if a.to_bits() == b.to_bits() { (true, 0.0) } else { (false, f64::INFINITY) })
                .collect::<Vec<_>>()
                .into(),
        )
    }

    /// The per-layer tolerance of a verifier that checks "each layer within tolerance" (MatMul and Add;
    /// never used to judge a claim): whether element `g`, outside its region, is inside that tolerance; `None`
    /// for ops without one.
    fn per_layer(&self, operands: &[&HostTensor], y: &[f32], g: usize) -> Option<bool> {
        let _ = (operands, y, g);
        None
    }

    /// The sound bound `B_e = gamma_k sum |x w| + k 2^-149` of every element of a dot-product op.
    fn dot_bounds(&self, shape: &[usize], operands: &[&HostTensor]) -> Option<Vec<f64>> {
        let _ = (shape, operands);
        None
    }

    /// The reverse-mode product of the composition audit at the operands `x` (output `y`): for each operand
    /// slot that may carry an error, the rows `G_x = G_y J` for all `kk` rows of `gy` (`[kk x len(y)]`,
    /// row-major), as `(slot, [kk x len(x)])`; `traced[s]` says whether slot `s` is a trace tensor (a weight's
    /// product may be left out). Discrete ops (token ids in, an index out) give none.
    fn vjp(&self, x: &[&HostTensor], traced: &[bool], y: &HostTensor, gy: &[f64], kk: usize) -> Grads;

    /// Reachable deviation over the box `|D_x| <= dx` around the honest operands `x` (output `y`): per output
    /// element, the largest `|f(x + D_x) - f(x)|` and the largest linearization remainder
    /// ([`crate::region::reach`]).
    fn reach(&self, x: &[&HostTensor], dx: &[&[f64]], y: &HostTensor) -> Reached;

    /// Length of the op's reduction (what its region's half-width sums over).
    fn reduction(&self, x: &[&HostTensor]) -> usize {
        let _ = x;
        1
    }

    /// The on-chain descriptor of a node of this op reading `inputs` (of shapes `shapes`) into an output of
    /// `shape`, if the contracts can adjudicate it: the op has an [`OpKind`], its operands come from where
    /// that kind reads them, and they have the shapes the contracts open them with. `None` for the others
    /// (their elements go to the committee).
    fn descriptor(&self, inputs: &[Src], shapes: &[&[usize]], shape: &[usize]) -> Option<OpNode> {
        let _ = (inputs, shapes, shape);
        None
    }

    /// How many output elements are nonlinear units whose box crosses a kink or a flat region, given the
    /// op's reach `lin` and remainder `r` ([`Operator::reach`]).
    fn opened(&self, x: &[&HostTensor], dx: &[&[f64]], lin: &[f64], r: &[f64]) -> usize {
        let _ = (x, dx, lin, r);
        0
    }
}

/// [`Operator::vjp`]'s result: `(operand slot, kk rows of its gradient)`, or why the op cannot be audited.
pub type Grads = Result<Vec<(usize, Vec<f64>)>, String>;

/// [`Operator::reach`]'s result: (reach, remainder) per output element, or why it cannot be bounded.
pub type Reached = Result<(Vec<f64>, Vec<f64>), String>;

/// Runs `op` on host tensors on the CPU, reshaped to `shape` (a replay from operands alone).
pub fn run<O: Operator + ?Sized>(op: &O, operands: &[&HostTensor], shape: &[usize]) -> candle_core::Result<HostTensor> {
    let x = operands
        .iter()
        .map(|t| Tensor::from_slice(&t.data, t.shape.as_slice(), &Device::Cpu))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let y = op.exec(&x, shape)?.reshape(shape)?;
    Ok(HostTensor::new(y.dims().to_vec(), y.flatten_all()?.to_vec1::<f32>()?))
}

/// The descriptor of a kind that reads one trace tensor of the output's shape, with constants `params`.
fn unary_descriptor(
    kind: OpKind,
    params: Params,
    inputs: &[Src],
    shapes: &[&[usize]],
    shape: &[usize],
) -> Option<OpNode> {
    let [Src::Trace(x)] = *inputs else { return None };
    (shapes[0] == shape).then_some(OpNode { input: x, params, ..OpNode::of_shape(kind, shape, true)? })
}

/// `|v|` of every element, in f64.
fn abs(t: &HostTensor) -> Vec<f64> {
    t.data.iter().map(|v| (*v as f64).abs()).collect()
}

/// The last dim of `t` (1 for a scalar).
fn last(t: &HostTensor) -> usize {
    *t.shape.last().unwrap_or(&1)
}

/// An operator with its parameters: the graph IR's op. Each variant is one kind (its type holds the
/// parameters, and its module everything about it).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// [`MatMul`]: operands `[x, w]`.
    MatMul,
    /// [`BatchMatMul`]: operands `[a, b]`.
    BatchMatMul(BatchMatMul),
    /// [`Add`]: operands `[a, b]`.
    Add,
    /// [`Mul`]: operands `[a, b]`.
    Mul,
    /// [`Scale`]: operands `[x]`.
    Scale(Scale),
    /// [`Embedding`]: operands `[ids, table]`.
    Embedding,
    /// [`LayerNorm`]: operands `[x, gamma, beta]`.
    LayerNorm(LayerNorm),
    /// [`RmsNorm`]: operands `[x, gamma]`.
    RmsNorm(RmsNorm),
    /// [`Softmax`]: operands `[x]`.
    Softmax,
    /// [`GELU`]: operands `[x]`.
    Gelu,
    /// [`SILU`]: operands `[x]`.
    Silu,
    /// [`Relu`]: operands `[x]`.
    Relu,
    /// [`Rope`]: operands `[x]`.
    Rope(Rope),
    /// [`CausalMask`]: operands `[scores]`.
    CausalMask(CausalMask),
    /// [`Reshape`]: operands `[x]`.
    Reshape,
    /// [`Transpose`]: operands `[x]`.
    Transpose(Transpose),
    /// [`Narrow`]: operands `[x]`.
    Narrow(Narrow),
    /// [`Concat`]: operands `[a, b]`.
    Concat(Concat),
    /// [`Argmax`]: operands `[x]`.
    Argmax,
    /// [`MeanRows`]: operands `[x]`.
    MeanRows,
    /// [`Clamp`]: operands `[x]`.
    Clamp(Clamp),
}

impl Op {
    /// The kind's [`Operator`]: the registry.
    pub fn operator(&self) -> &dyn Operator {
        match self {
            Op::MatMul => &MatMul,
            Op::BatchMatMul(o) => o,
            Op::Add => &Add,
            Op::Mul => &Mul,
            Op::Scale(o) => o,
            Op::Embedding => &Embedding,
            Op::LayerNorm(o) => o,
            Op::RmsNorm(o) => o,
            Op::Softmax => &Softmax,
            Op::Gelu => &GELU,
            Op::Silu => &SILU,
            Op::Relu => &Relu,
            Op::Rope(o) => o,
            Op::CausalMask(o) => o,
            Op::Reshape => &Reshape,
            Op::Transpose(o) => o,
            Op::Narrow(o) => o,
            Op::Concat(o) => o,
            Op::Argmax => &Argmax,
            Op::MeanRows => &MeanRows,
            Op::Clamp(o) => o,
        }
    }

    /// The op's name as reports show it.
    pub fn name(&self) -> &'static str {
        self.operator().name()
    }

    /// [`Operator::has_exact_region`].
    pub fn has_exact_region(&self) -> bool {
        self.operator().has_exact_region()
    }

    /// [`Operator::is_exact`].
    pub fn is_exact(&self) -> bool {
        self.operator().is_exact()
    }
}
