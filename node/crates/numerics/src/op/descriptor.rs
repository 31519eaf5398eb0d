//! On-chain op descriptors: `OpKind` and `OpNode` of `contracts/src/lib/Types.sol`, for the ops the contracts
//! can adjudicate.

/// Operator kinds the contracts adjudicate; the numbering is the `OpKind` enum of Solidity. The constants each
/// kind needs are its [`Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum OpKind {
    /// `y[r, c] = sum_k x[r, k] * w[c, k]`, weight stored `[out, in]` as nn.Linear.
    MatMul = 1,
    /// `y[r, c] = x[r, c] + b[c]`.
    Add = 2,
    /// `y[r, c] = max(x[r, c], 0)`.
    Relu = 3,
    /// `y[r, c] = w[ids[r], c]`, bit-exact; `ids` a `[rows]` tensor of integral fp32 ids, `w` `[vocab, cols]`.
    Embedding = 4,
    /// `y = x + x2` over two trace tensors of the output's shape.
    Residual = 5,
    /// `y = x * x2` over two trace tensors of the output's shape.
    Mul = 6,
    /// `y = x * factor`.
    Scale = 7,
    /// RMSNorm of row `r` with gain `w[c]`.
    RmsNorm = 8,
    /// Softmax over the last dim.
    Softmax = 9,
    /// SiLU.
    Silu = 10,
    /// `-inf` where `c > offset + r mod (rows / batch)`, else `x`, bit-exact.
    CausalMask = 11,
    /// `y[r]` an index of a maximum of `x[r, :]` (`input2 = input`; `col` names the challenger's witness).
    Argmax = 12,
    /// LayerNorm of row `r` with gain `w[c]` and shift `b[c]` (`b` the weight its params name).
    LayerNorm = 13,
    /// GELU (erf form).
    Gelu = 14,
    /// The same flat element of the input, bit-exact.
    Reshape = 15,
    /// Two dims swapped, bit-exact.
    Transpose = 16,
    /// A window along one dim, bit-exact.
    Narrow = 17,
    /// `x` then `x2` along one dim, bit-exact.
    Concat = 18,
    /// `y[c] = mean_r x[r, c]`; output `[cols]`, elements `(0, c)`.
    MeanRows = 19,
    /// Rotary embedding of rows of `cols` at position `start + r mod (rows / batch)`.
    Rope = 20,
    /// `y[b, i, j] = sum_k x[b, i, k] x2[b, j, k]` (transposed) or `x2[b, k, j]`.
    BatchMatMul = 21,
    /// `min(max(x, lo), hi)` as a max then a min, bit-exact.
    Clamp = 22,
}

impl OpKind {
    /// Whether every op of this kind reads a weight tensor (a scaled [`OpKind::Rope`] does too:
    /// [`OpNode::uses_weight`]).
    pub fn uses_weight(self) -> bool {
        matches!(self, OpKind::MatMul | OpKind::Add | OpKind::Embedding | OpKind::RmsNorm | OpKind::LayerNorm)
    }

    /// Whether the op reads a second trace operand (`OpNode::input2`; `readsInput2` in `Types.sol`).
    pub fn reads_input2(self) -> bool {
        matches!(self, OpKind::Residual | OpKind::Mul | OpKind::Argmax | OpKind::Concat | OpKind::BatchMatMul)
    }
}

/// One node as the contracts see it (`OpNode` of `Types.sol`); its ABI encoding is its leaf of the graph root.
/// Every field has one meaning; what else a kind needs is in [`Params`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpNode {
    /// What the op computes.
    pub kind: OpKind,
    /// Trace index of the first trace operand.
    pub input: u32,
    /// Trace index of the second trace operand ([`OpKind::reads_input2`]); 0 when unused.
    pub input2: u32,
    /// Index of the weight tensor ([`OpNode::uses_weight`]); 0 when unused.
    pub weight: u32,
    /// Leading dim of a 3-D output `[batch, rows / batch, cols]`; 0 for a 2-D output `[rows, cols]`.
    pub batch: u32,
    /// Output rows.
    pub rows: u32,
    /// Output columns.
    pub cols: u32,
    /// The kind's constants.
    pub params: Params,
}

/// A kind's constants: each variant is the parameter struct of that kind in its family's Solidity library
/// (`contracts/src/ops/`), field for field and under the same names (`Linear.MatMulParams { inner }` is
/// [`Params::MatMul`]); `OpNode.params` is its ABI encoding. Kinds without constants have [`Params::None`]
/// (empty bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Params {
    /// No constants.
    #[default]
    None,
    /// `Linear.MatMulParams`.
    MatMul {
        /// The reduction length (x: `[rows, inner]`, w: `[cols, inner]`).
        inner: u32,
    },
    /// `Linear.BatchMatMulParams`.
    BatchMatMul {
        /// The reduction length.
        inner: u32,
        /// x2 is `[batch, cols, inner]` (its rows are read), else `[batch, inner, cols]`.
        transposed: bool,
    },
    /// `Elementwise.ScaleParams`.
    Scale {
        /// The factor's fp32 bits.
        factor: u32,
    },
    /// `Norm.RmsNormParams`.
    RmsNorm {
        /// Epsilon's fp32 bits.
        eps: u32,
    },
    /// `Norm.LayerNormParams`.
    LayerNorm {
        /// Epsilon's fp32 bits.
        eps: u32,
        /// The weight index of the shift (the gain is the node's `weight`).
        shift: u32,
    },
    /// `Attention.CausalMaskParams`.
    CausalMask {
        /// The position of the first query row.
        offset: u32,
    },
    /// `Attention.RopeParams`.
    Rope {
        /// The position of the first row.
        start: u32,
        /// The base's fp32 bits.
        theta: u32,
        /// Whether each pair's frequency is divided by its factor, element `col % (cols / 2)` of the node's
        /// weight (`[cols / 2]`).
        scaled: bool,
    },
    /// `Movement.EmbeddingParams`.
    Embedding {
        /// The table's row count (its weight is `[vocab, cols]`).
        vocab: u32,
    },
    /// `Movement.ReshapeParams`.
    Reshape {
        /// The input's shape.
        in_shape: Vec<u32>,
    },
    /// `Movement.TransposeParams`.
    Transpose {
        /// The input's shape.
        in_shape: Vec<u32>,
        /// One dim swapped.
        dim0: u32,
        /// The other.
        dim1: u32,
    },
    /// `Movement.NarrowParams`.
    Narrow {
        /// The input's shape.
        in_shape: Vec<u32>,
        /// The dim narrowed.
        dim: u32,
        /// The first index kept along it.
        start: u32,
    },
    /// `Movement.ConcatParams`.
    Concat {
        /// x's shape (x2's is the output's with `dim` shortened by x's).
        in_shape: Vec<u32>,
        /// The dim the parts are joined along.
        dim: u32,
    },
    /// `Reduce.ArgmaxParams`.
    Argmax {
        /// The length of the rows reduced (x: `[rows, length]`).
        length: u32,
    },
    /// `Reduce.MeanRowsParams`.
    MeanRows {
        /// The number of rows averaged (x: `[rows, cols]`).
        rows: u32,
    },
    /// `Clamp.ClampParams`.
    Clamp {
        /// The lower bound's fp32 bits.
        lo: u32,
        /// The upper bound's fp32 bits.
        hi: u32,
    },
}

impl Params {
    /// The kind these constants belong to (`None` for [`Params::None`]).
    pub fn kind(&self) -> Option<OpKind> {
        Some(match self {
            Params::None => return None,
            Params::MatMul { .. } => OpKind::MatMul,
            Params::BatchMatMul { .. } => OpKind::BatchMatMul,
            Params::Scale { .. } => OpKind::Scale,
            Params::RmsNorm { .. } => OpKind::RmsNorm,
            Params::LayerNorm { .. } => OpKind::LayerNorm,
            Params::CausalMask { .. } => OpKind::CausalMask,
            Params::Rope { .. } => OpKind::Rope,
            Params::Embedding { .. } => OpKind::Embedding,
            Params::Reshape { .. } => OpKind::Reshape,
            Params::Transpose { .. } => OpKind::Transpose,
            Params::Narrow { .. } => OpKind::Narrow,
            Params::Concat { .. } => OpKind::Concat,
            Params::Argmax { .. } => OpKind::Argmax,
            Params::MeanRows { .. } => OpKind::MeanRows,
            Params::Clamp { .. } => OpKind::Clamp,
        })
    }

    /// The struct's fields in declaration order.
    fn fields(&self) -> Vec<Abi> {
        use Abi::{Array, Word};
        match self {
            Params::None => vec![],
            Params::MatMul { inner } => vec![Word(*inner)],
            Params::BatchMatMul { inner, transposed } => vec![Word(*inner), Word(u32::from(*transposed))],
            Params::Scale { factor } => vec![Word(*factor)],
            Params::RmsNorm { eps } => vec![Word(*eps)],
            Params::LayerNorm { eps, shift } => vec![Word(*eps), Word(*shift)],
            Params::CausalMask { offset } => vec![Word(*offset)],
            Params::Rope { start, theta, scaled } => vec![Word(*start), Word(*theta), Word(u32::from(*scaled))],
            Params::Embedding { vocab } => vec![Word(*vocab)],
            Params::Reshape { in_shape } => vec![Array(in_shape.clone())],
            Params::Transpose { in_shape, dim0, dim1 } => vec![Array(in_shape.clone()), Word(*dim0), Word(*dim1)],
            Params::Narrow { in_shape, dim, start } => vec![Array(in_shape.clone()), Word(*dim), Word(*start)],
            Params::Concat { in_shape, dim } => vec![Array(in_shape.clone()), Word(*dim)],
            Params::Argmax { length } => vec![Word(*length)],
            Params::MeanRows { rows } => vec![Word(*rows)],
            Params::Clamp { lo, hi } => vec![Word(*lo), Word(*hi)],
        }
    }

    /// `abi.encode(params)` of the kind's struct; empty for [`Params::None`].
    pub fn abi_encode(&self) -> Vec<u8> {
        match self {
            Params::None => vec![],
            p => abi_struct(&p.fields()),
        }
    }

    /// The input's shape of a data-movement kind.
    pub fn in_shape(&self) -> Option<&[u32]> {
        match self {
            Params::Reshape { in_shape }
            | Params::Transpose { in_shape, .. }
            | Params::Narrow { in_shape, .. }
            | Params::Concat { in_shape, .. } => Some(in_shape),
            _ => None,
        }
    }
}

/// A member of an ABI-encoded struct: a `uint32` (or `bool`) word, a `uint32[]` or a `bytes`.
enum Abi {
    Word(u32),
    Array(Vec<u32>),
    Bytes(Vec<u8>),
}

/// A 32-byte big-endian word.
fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

/// `abi.encode(s)` of a struct with members `fields`: the tuple, behind an offset word when a member is
/// dynamic.
fn abi_struct(fields: &[Abi]) -> Vec<u8> {
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    for f in fields {
        match f {
            Abi::Word(v) => head.extend(word(*v as usize)),
            Abi::Array(vs) => {
                head.extend(word(32 * fields.len() + tail.len()));
                tail.extend(word(vs.len()));
                vs.iter().for_each(|v| tail.extend(word(*v as usize)));
            }
            Abi::Bytes(b) => {
                head.extend(word(32 * fields.len() + tail.len()));
                tail.extend(word(b.len()));
                tail.extend(b);
                tail.resize(tail.len().next_multiple_of(32), 0);
            }
        }
    }
    let dynamic = fields.iter().any(|f| !matches!(f, Abi::Word(_)));
    let mut out = if dynamic { word(32).to_vec() } else { vec![] };
    out.extend(head);
    out.extend(tail);
    out
}

/// Most calldata the openings of one element may take (`Adjudicator.MAX_OPENING_BYTES`): a 128 KiB
/// transaction less room for the rest of it.
pub const MAX_OPENING_BYTES: u64 = 120_000;
/// Most gas one element's adjudication may be estimated at (`Adjudicator.MAX_OPENING_GAS`): a 30M block less a
/// margin.
pub const MAX_OPENING_GAS: u64 = 25_000_000;

impl OpNode {
    /// Whether the op reads the weight tensor [`OpNode::weight`].
    pub fn uses_weight(&self) -> bool {
        self.kind.uses_weight() || matches!(self.params, Params::Rope { scaled: true, .. })
    }

    /// A descriptor of `kind` for an output of `shape`: `[rows, cols]`, or `[batch, rows / batch, cols]` when
    /// the kind reads its elements by flat index (`batched`); every other field 0, no params. `None` for another rank
    /// or a dim beyond 32 bits.
    pub fn of_shape(kind: OpKind, shape: &[usize], batched: bool) -> Option<Self> {
        let (batch, rows, cols) = match shape {
            [r, c] => (0, *r, *c),
            [b, r, c] if batched && *b > 0 => (*b, b * r, *c),
            _ => return None,
        };
        Some(OpNode {
            kind,
            input: 0,
            input2: 0,
            weight: 0,
            batch: u32::try_from(batch).ok()?,
            rows: u32::try_from(rows).ok()?,
            cols: u32::try_from(cols).ok()?,
            params: Params::None,
        })
    }

    /// Whether the contract evaluates this kind's region with directed-rounding bounds where a watcher uses
    /// f64 widened by 1e-9 (norms, mean pooling, softmax, SiLU, GELU, RoPE), so the two can disagree at the
    /// edge; the other kinds are decided bit for bit alike on both sides.
    pub fn bounds_differ_on_chain(&self) -> bool {
        matches!(
            self.kind,
            OpKind::RmsNorm
                | OpKind::LayerNorm
                | OpKind::MeanRows
                | OpKind::Softmax
                | OpKind::Silu
                | OpKind::Gelu
                | OpKind::Rope
        )
    }

    /// `Adjudicator.openingCost`, the same formula: an upper estimate of the gas and calldata bytes of
    /// adjudicating one element of this op (the chunks its openings can touch, the region's arithmetic).
    pub fn opening_cost(&self) -> (u64, u64) {
        const CHUNK_BYTES: u64 = 4096 + 32 * 24 + 96;
        let row = |n: u32| u64::from(n) / 1024 + 2;
        let column = |rows: u32, stride: u32| (u64::from(rows) * u64::from(stride) / 1024 + 2).min(u64::from(rows));
        let (chunks, work) = match (self.kind, &self.params) {
            (OpKind::MatMul, Params::MatMul { inner }) => (2 * row(*inner), 500 * u64::from(*inner)),
            (OpKind::BatchMatMul, Params::BatchMatMul { inner, transposed }) => {
                let other = if *transposed { row(*inner) } else { column(*inner, self.cols) };
                (row(*inner) + other, 500 * u64::from(*inner))
            }
            (OpKind::Softmax, _) => (row(self.cols), 10_000 * u64::from(self.cols)),
            (OpKind::RmsNorm | OpKind::LayerNorm, _) => (row(self.cols) + 2, 4_000 * u64::from(self.cols)),
            (OpKind::Rope, Params::Rope { scaled, .. }) => (row(self.cols) + u64::from(*scaled), 200_000),
            (OpKind::MeanRows, Params::MeanRows { rows }) => (column(*rows, self.cols), 4_000 * u64::from(*rows)),
            _ => (4, 200_000),
        };
        let chunks = chunks + 1;
        let size = chunks * CHUNK_BYTES;
        (21_000 + 16 * size + 3_000 * chunks + work, size)
    }

    /// Whether a prover can be asked to open an element of this op (`DisputeGame.requestElement`): its
    /// adjudication fits a block and its openings a transaction. Elements of other ops are escalated to the
    /// committee unopened.
    pub fn openable(&self) -> bool {
        let (gas, size) = self.opening_cost();
        gas <= MAX_OPENING_GAS && size <= MAX_OPENING_BYTES
    }

    /// `abi.encode(node)`: the struct behind its offset word, `params` as the kind's encoded struct.
    pub fn abi_encode(&self) -> Vec<u8> {
        debug_assert!(self.params.kind().is_none_or(|k| k == self.kind), "params of another kind");
        let w = |v: u32| Abi::Word(v);
        abi_struct(&[
            w(self.kind as u32),
            w(self.input),
            w(self.input2),
            w(self.weight),
            w(self.batch),
            w(self.rows),
            w(self.cols),
            Abi::Bytes(self.params.abi_encode()),
        ])
    }

    /// Shape of the output tensor (as its tensor root commits it).
    pub fn output_shape(&self) -> Vec<usize> {
        let (r, c) = (self.rows as usize, self.cols as usize);
        match (self.kind, self.batch as usize) {
            (OpKind::Argmax, _) => vec![r],
            (OpKind::MeanRows, _) => vec![c],
            (_, 0) => vec![r, c],
            (_, b) => vec![b, r / b, c],
        }
    }

    /// Flat index of output element (row, col) (Argmax: `col` is the witness, the element is `row`).
    pub fn output_index(&self, row: usize, col: usize) -> usize {
        match self.kind {
            OpKind::Argmax => row,
            OpKind::MeanRows => col,
            _ => row * self.cols as usize + col,
        }
    }

    /// For a data-movement op: which operand (0: `input`, 1: `input2`) output element (row, col) copies, and
    /// its flat index there.
    pub fn moved_from(&self, row: usize, col: usize) -> Option<(usize, usize)> {
        let out = self.output_shape();
        let ins: Vec<usize> = self.params.in_shape()?.iter().map(|d| *d as usize).collect();
        let g = row * self.cols as usize + col;
        let mut idx = vec![0usize; out.len()];
        let mut rest = g;
        for i in (0..out.len()).rev() {
            idx[i] = rest % out[i];
            rest /= out[i];
        }
        let flat = |idx: &[usize], shape: &[usize]| idx.iter().zip(shape).fold(0, |a, (i, d)| a * d + i);
        match self.params {
            Params::Reshape { .. } => Some((0, g)),
            Params::Transpose { dim0, dim1, .. } => {
                idx.swap(dim0 as usize, dim1 as usize);
                Some((0, flat(&idx, &ins)))
            }
            Params::Narrow { dim, start, .. } => {
                idx[dim as usize] += start as usize;
                Some((0, flat(&idx, &ins)))
            }
            Params::Concat { dim, .. } if idx[dim as usize] < ins[dim as usize] => Some((0, flat(&idx, &ins))),
            Params::Concat { dim, .. } => {
                let dim = dim as usize;
                idx[dim] -= ins[dim];
                let mut s2 = out.clone();
                s2[dim] -= ins[dim];
                Some((1, flat(&idx, &s2)))
            }
            _ => None,
        }
    }

    /// Flat range of the input elements that output element (row, col) depends on, given its claimed value
    /// `y` (an Argmax reads the column it claims; its witness is [`OpNode::input2_range`]).
    pub fn input_range(&self, row: usize, col: usize, y: f32) -> std::ops::Range<usize> {
        let g = row * self.cols as usize + col;
        match (self.kind, &self.params) {
            (_, Params::MatMul { inner } | Params::BatchMatMul { inner, .. }) => {
                let k = *inner as usize;
                row * k..(row + 1) * k
            }
            (OpKind::RmsNorm | OpKind::LayerNorm | OpKind::Softmax | OpKind::Rope, _) => {
                let c = self.cols as usize;
                row * c..(row + 1) * c
            }
            (OpKind::Embedding, _) => row..row + 1,
            (_, Params::MeanRows { rows }) => {
                // the column: every row's element, and the chunks between them
                let c = self.cols as usize;
                col..(*rows as usize - 1) * c + col + 1
            }
            (_, Params::Argmax { length }) => {
                let k = *length as usize;
                let at = index_of(y, k).unwrap_or(0);
                row * k + at..row * k + at + 1
            }
            (OpKind::Reshape | OpKind::Transpose | OpKind::Narrow | OpKind::Concat, _) => {
                // a Concat element copied from x2 opens x's first element (unread)
                let i = match self.moved_from(row, col) {
                    Some((0, i)) => i,
                    _ => 0,
                };
                i..i + 1
            }
            _ => g..g + 1,
        }
    }

    /// Flat range of the second trace operand's elements that output element (row, col) depends on.
    pub fn input2_range(&self, row: usize, col: usize) -> Option<std::ops::Range<usize>> {
        match (self.kind, &self.params) {
            (OpKind::Residual | OpKind::Mul, _) => {
                let g = row * self.cols as usize + col;
                Some(g..g + 1)
            }
            (_, Params::Argmax { length }) => {
                let g = row * *length as usize + col;
                Some(g..g + 1)
            }
            (_, Params::BatchMatMul { inner, transposed }) => {
                let (k, n) = (*inner as usize, self.cols as usize);
                let b = row / (self.rows / self.batch) as usize;
                Some(if *transposed {
                    (b * n + col) * k..(b * n + col + 1) * k
                } else {
                    // the column: k elements n apart, and the chunks between them
                    (b * k) * n + col..(b * k + k - 1) * n + col + 1
                })
            }
            (OpKind::Concat, _) => {
                // an element copied from x opens x2's first element (unread)
                let i = match self.moved_from(row, col) {
                    Some((1, i)) => i,
                    _ => 0,
                };
                Some(i..i + 1)
            }
            _ => None,
        }
    }

    /// Flat range of the weight elements that output element (row, col) depends on, if any, given the input
    /// elements of [`OpNode::input_range`] (an Embedding reads the row its id names; an id that names no row
    /// reads none).
    pub fn weight_range(&self, col: usize, input: &[f32]) -> Option<std::ops::Range<usize>> {
        match (self.kind, &self.params) {
            (_, Params::MatMul { inner }) => {
                let k = *inner as usize;
                Some(col * k..(col + 1) * k)
            }
            (OpKind::Add | OpKind::RmsNorm | OpKind::LayerNorm, _) => Some(col..col + 1),
            (_, Params::Rope { scaled: true, .. }) => {
                let k = col % (self.cols as usize / 2);
                Some(k..k + 1)
            }
            (_, Params::Embedding { vocab }) => {
                let id = index_of(*input.first()?, *vocab as usize)?;
                let g = id * self.cols as usize + col;
                Some(g..g + 1)
            }
            _ => None,
        }
    }
}

/// The non-negative integer `v` encodes, if it is one and below `bound` (`Fp32.toIndex`); -0 is 0.
pub fn index_of(v: f32, bound: usize) -> Option<usize> {
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && (v as f64) < bound as f64).then_some(v as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: OpKind, cols: u32, params: Params) -> OpNode {
        OpNode { input: 1, input2: 2, params, ..OpNode::of_shape(kind, &[1, cols as usize], false).unwrap() }
    }

    fn words(b: &[u8]) -> Vec<u64> {
        b.chunks(32).map(|w| u64::from_be_bytes(w[24..].try_into().unwrap())).collect()
    }

    #[test]
    fn abi_encoding_is_the_struct_behind_its_offset_with_params_as_bytes() {
        let n = OpNode { weight: 7, ..node(OpKind::MatMul, 896, Params::MatMul { inner: 4864 }) };
        // offset; kind, input, input2, weight, batch, rows, cols, params' offset; params' length, inner
        assert_eq!(words(&n.abi_encode()), [32, 1, 1, 2, 7, 0, 1, 896, 256, 32, 4864]);
        let t = Params::Transpose { in_shape: vec![2, 3, 4], dim0: 0, dim1: 2 };
        // offset; in_shape's offset, dim0, dim1; its length and dims
        assert_eq!(words(&t.abi_encode()), [32, 96, 0, 2, 3, 2, 3, 4]);
        let e = node(OpKind::Relu, 3, Params::None).abi_encode();
        assert_eq!((e.len(), words(&e)[8..].to_vec()), (320, vec![256, 0]));
    }

    /// The shared vectors of `Adjudicator.t.sol` (`test_leaf_sharedVectors_succeeds`): the leaf hash of a node
    /// in Rust is the one Solidity computes from `abi.encode(OpNode)` with `abi.encode` of the params struct.
    #[test]
    fn leaf_hashes_match_the_contracts_vectors() {
        let leaf = |n: &OpNode| hex::encode(crate::commit::leaf_hash(&n.abi_encode()));
        let transpose = Params::Transpose { in_shape: vec![2, 3, 4], dim0: 0, dim1: 2 };
        let clamp = Params::Clamp { lo: 0, hi: 6f32.to_bits() };
        let vectors = [
            (
                node(OpKind::MatMul, 896, Params::MatMul { inner: 4864 }),
                "2ebbab48cddefd300b6bcb2aa3f9399b004e3c3675de459141e0ecbb46bece2e",
            ),
            (
                node(OpKind::LayerNorm, 384, Params::LayerNorm { eps: 1e-12f32.to_bits(), shift: 5 }),
                "28fa4d40bf32066d0cdccfc960e8d8f423d078945b8ab0c4163f86feb3fb5ba9",
            ),
            (node(OpKind::Transpose, 4, transpose), "7b7c8fe2f72fa35a2ff5825302543fa9e15dbd9c09ac07fa64dd9822edb5f24b"),
            (node(OpKind::Clamp, 8, clamp), "c3f5e1df6efa679b50d8ead0898c073155139dfe05b65eeab4dfa4a08767e8ce"),
            (
                node(OpKind::Softmax, 128, Params::None),
                "2e50173e3ba8563476569c5404bc7ff905755d36415e20149fb47c99e660e994",
            ),
        ];
        for (n, want) in &vectors {
            assert_eq!(leaf(n), *want, "{:?}", n.kind);
        }
    }

    /// The shared vectors of `LongRowRequest.t.sol` (`test_openingCost_sharedVectors_succeeds`): the same
    /// formula on both sides of the ABI.
    #[test]
    fn opening_cost_matches_the_contracts_vectors() {
        assert_eq!(node(OpKind::MatMul, 896, Params::MatMul { inner: 4864 }).opening_cost(), (3_523_680, 64_480));
        assert_eq!(node(OpKind::Softmax, 8192, Params::None).opening_cost(), (82_846_960, 54_560));
        assert_eq!(
            node(OpKind::MeanRows, 384, Params::MeanRows { rows: 4096 }).opening_cost(),
            (143_157_040, 7_633_440)
        );
        assert!(node(OpKind::MatMul, 896, Params::MatMul { inner: 4864 }).openable());
        assert!(node(OpKind::Softmax, 2048, Params::None).openable());
        assert!(!node(OpKind::Softmax, 8192, Params::None).openable());
        assert!(!node(OpKind::MeanRows, 384, Params::MeanRows { rows: 4096 }).openable());
    }
}
