//! On-chain op descriptors: `OpKind` and `OpNode` of `contracts/src/lib/Types.sol`, for the ops the contracts
//! can adjudicate.

/// Operator kinds the contracts adjudicate; the numbering is the `OpKind` enum of Solidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum OpKind {
    /// `y[r, c] = sum_k x[r, k] * w[c, k]`, weight stored `[out, in]` as nn.Linear.
    MatMul = 1,
    /// `y[r, c] = x[r, c] + b[c]`.
    Add = 2,
    /// `y[r, c] = max(x[r, c], 0)`.
    Relu = 3,
    /// `y[r, c] = w[ids[r], c]`, bit-exact; `ids` a `[rows]` tensor of integral fp32 ids, `w` `[inner, cols]`.
    Embedding = 4,
    /// `y = x + x2` over two trace tensors of the output's shape.
    Residual = 5,
    /// `y = x * x2` over two trace tensors of the output's shape.
    Mul = 6,
    /// `y = x * param` (`param` the factor's bits).
    Scale = 7,
    /// RMSNorm of row `r` with gain `w[c]` (`param`: eps bits).
    RmsNorm = 8,
    /// Softmax over the last dim.
    Softmax = 9,
    /// SiLU.
    Silu = 10,
    /// `-inf` where `c > param + r mod (rows / batch)`, else `x`, bit-exact.
    CausalMask = 11,
    /// `y[r]` an index of a maximum of `x[r, :]` (`input2 = input`; `col` names the challenger's witness).
    Argmax = 12,
    /// LayerNorm of row `r` with gain `w[c]` and shift `input2[c]` (`input2` a weight index; `param`: eps bits).
    LayerNorm = 13,
    /// GELU (erf form).
    Gelu = 14,
    /// The same flat element of an input of shape `in_shape`, bit-exact.
    Reshape = 15,
    /// Dims `param & 0xff` and `param >> 8` swapped, bit-exact.
    Transpose = 16,
    /// `param` entries on along dim `inner` of an input of shape `in_shape`, bit-exact.
    Narrow = 17,
    /// `x` (shape `in_shape`) then `x2` along dim `inner`, bit-exact.
    Concat = 18,
    /// `y[c] = mean_r x[r, c]` over `inner` rows; output `[cols]`, elements `(0, c)`.
    MeanRows = 19,
    /// Rotary embedding of rows of `cols` at position `inner + r mod (rows / batch)`, base `param` (fp32 bits).
    Rope = 20,
    /// `y[b, i, j] = sum_k x[b, i, k] x2[b, j, k]` (`param` 1) or `x2[b, k, j]` (`param` 0).
    BatchMatMul = 21,
}

impl OpKind {
    /// Whether the op reads a weight tensor.
    pub fn uses_weight(self) -> bool {
        matches!(self, OpKind::MatMul | OpKind::Add | OpKind::Embedding | OpKind::RmsNorm | OpKind::LayerNorm)
    }

    /// Whether the op reads a second trace operand (`OpNode::input2`; `readsInput2` in `Types.sol`).
    pub fn reads_input2(self) -> bool {
        matches!(self, OpKind::Residual | OpKind::Mul | OpKind::Argmax | OpKind::Concat | OpKind::BatchMatMul)
    }
}

/// One node as the contracts see it; its ABI encoding is its leaf of the graph root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpNode {
    /// What the op computes.
    pub kind: OpKind,
    /// Trace index of the input tensor.
    pub input: u32,
    /// Index of the weight tensor (0 when unused).
    pub weight: u32,
    /// Output rows.
    pub rows: u32,
    /// Output columns.
    pub cols: u32,
    /// Reduction length (MatMul), table rows (Embedding), row length (Argmax), 0 otherwise.
    pub inner: u32,
    /// Trace index of the second trace operand (Residual, Mul; Argmax: `input` again); LayerNorm: the weight
    /// index of its shift; 0 when unused.
    pub input2: u32,
    /// Leading dim of a 3-D output `[batch, rows / batch, cols]`; 0 for a 2-D output `[rows, cols]`.
    pub batch: u32,
    /// The op's constant: fp32 bits of a factor or epsilon, or an integer offset; 0 when unused.
    pub param: u32,
    /// The input's shape for the data-movement ops (zero-padded, rank <= 3); zeros otherwise.
    pub in_shape: [u32; 3],
}

/// Most calldata the openings of one element may take (`Adjudicator.MAX_OPENING_BYTES`): a 128 KiB
/// transaction less room for the rest of it.
pub const MAX_OPENING_BYTES: u64 = 120_000;
/// Most gas one element's adjudication may be estimated at (`Adjudicator.MAX_OPENING_GAS`): a 30M block less a
/// margin.
pub const MAX_OPENING_GAS: u64 = 25_000_000;

impl OpNode {
    /// A descriptor of `kind` for an output of `shape`: `[rows, cols]`, or `[batch, rows / batch, cols]` when
    /// the kind reads its elements by flat index (`batched`); every other field 0. `None` for another rank
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
            weight: 0,
            rows: u32::try_from(rows).ok()?,
            cols: u32::try_from(cols).ok()?,
            inner: 0,
            input2: 0,
            batch: u32::try_from(batch).ok()?,
            param: 0,
            in_shape: [0; 3],
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
        let (chunks, work) = match self.kind {
            OpKind::MatMul => (2 * row(self.inner), 500 * u64::from(self.inner)),
            OpKind::BatchMatMul => {
                let other = if self.param == 1 { row(self.inner) } else { column(self.inner, self.cols) };
                (row(self.inner) + other, 500 * u64::from(self.inner))
            }
            OpKind::Softmax => (row(self.cols), 10_000 * u64::from(self.cols)),
            OpKind::RmsNorm | OpKind::LayerNorm => (row(self.cols) + 2, 4_000 * u64::from(self.cols)),
            OpKind::Rope => (row(self.cols), 200_000),
            OpKind::MeanRows => (column(self.inner, self.cols), 4_000 * u64::from(self.inner)),
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

    /// `abi.encode(node)`: twelve 32-byte big-endian words (`inShape` inline).
    pub fn abi_encode(&self) -> [u8; 384] {
        let mut out = [0u8; 384];
        let words = [
            self.kind as u32,
            self.input,
            self.weight,
            self.rows,
            self.cols,
            self.inner,
            self.input2,
            self.batch,
            self.param,
            self.in_shape[0],
            self.in_shape[1],
            self.in_shape[2],
        ];
        for (i, w) in words.iter().enumerate() {
            out[i * 32 + 28..(i + 1) * 32].copy_from_slice(&w.to_be_bytes());
        }
        out
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
        let ins: Vec<usize> = self.in_shape.iter().take_while(|d| **d != 0).map(|d| *d as usize).collect();
        let g = row * self.cols as usize + col;
        let mut idx = vec![0usize; out.len()];
        let mut rest = g;
        for i in (0..out.len()).rev() {
            idx[i] = rest % out[i];
            rest /= out[i];
        }
        let flat = |idx: &[usize], shape: &[usize]| idx.iter().zip(shape).fold(0, |a, (i, d)| a * d + i);
        let dim = self.inner as usize;
        match self.kind {
            OpKind::Reshape => Some((0, g)),
            OpKind::Transpose => {
                let (a, b) = ((self.param & 0xff) as usize, (self.param >> 8) as usize);
                idx.swap(a, b);
                Some((0, flat(&idx, &ins)))
            }
            OpKind::Narrow => {
                idx[dim] += self.param as usize;
                Some((0, flat(&idx, &ins)))
            }
            OpKind::Concat if idx[dim] < ins[dim] => Some((0, flat(&idx, &ins))),
            OpKind::Concat => {
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
        match self.kind {
            OpKind::MatMul | OpKind::BatchMatMul => {
                let k = self.inner as usize;
                row * k..(row + 1) * k
            }
            OpKind::RmsNorm | OpKind::LayerNorm | OpKind::Softmax | OpKind::Rope => {
                let c = self.cols as usize;
                row * c..(row + 1) * c
            }
            OpKind::Embedding => row..row + 1,
            OpKind::MeanRows => {
                // the column: every row's element, and the chunks between them
                let c = self.cols as usize;
                col..(self.inner as usize - 1) * c + col + 1
            }
            OpKind::Argmax => {
                let k = self.inner as usize;
                let at = index_of(y, k).unwrap_or(0);
                row * k + at..row * k + at + 1
            }
            OpKind::Reshape | OpKind::Transpose | OpKind::Narrow | OpKind::Concat => {
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
        match self.kind {
            OpKind::Residual | OpKind::Mul => {
                let g = row * self.cols as usize + col;
                Some(g..g + 1)
            }
            OpKind::Argmax => {
                let g = row * self.inner as usize + col;
                Some(g..g + 1)
            }
            OpKind::BatchMatMul => {
                let (k, n) = (self.inner as usize, self.cols as usize);
                let b = row / (self.rows / self.batch) as usize;
                Some(if self.param == 1 {
                    (b * n + col) * k..(b * n + col + 1) * k
                } else {
                    // the column: k elements n apart, and the chunks between them
                    (b * k) * n + col..(b * k + k - 1) * n + col + 1
                })
            }
            OpKind::Concat => {
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
        match self.kind {
            OpKind::MatMul => {
                let k = self.inner as usize;
                Some(col * k..(col + 1) * k)
            }
            OpKind::Add | OpKind::RmsNorm | OpKind::LayerNorm => Some(col..col + 1),
            OpKind::Embedding => {
                let id = index_of(*input.first()?, self.inner as usize)?;
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

    #[test]
    fn abi_encoding_puts_each_field_in_its_own_word() {
        let n = OpNode {
            kind: OpKind::Add,
            input: 3,
            weight: 1,
            rows: 2,
            cols: 0x0102_0304,
            inner: 0,
            input2: 0,
            batch: 0,
            param: 7,
            in_shape: [0; 3],
        };
        let e = n.abi_encode();
        assert_eq!(e[31], 2);
        assert_eq!(e[63], 3);
        assert_eq!(&e[156..160], &[1, 2, 3, 4]);
        assert!(e[..28].iter().all(|b| *b == 0));
        assert_eq!(e.len(), 384);
        assert_eq!(e[287], 7);
    }

    /// The shared vectors of `LongRowRequest.t.sol` (`test_openingCost_sharedVectors_succeeds`): the same
    /// formula on both sides of the ABI.
    #[test]
    fn opening_cost_matches_the_contracts_vectors() {
        let node = |kind, cols, inner, param| OpNode {
            kind,
            input: 1,
            weight: 0,
            rows: 1,
            cols,
            inner,
            input2: 2,
            batch: 0,
            param,
            in_shape: [0; 3],
        };
        assert_eq!(node(OpKind::MatMul, 896, 4864, 0).opening_cost(), (3_523_680, 64_480));
        assert_eq!(node(OpKind::Softmax, 8192, 0, 0).opening_cost(), (82_846_960, 54_560));
        assert_eq!(node(OpKind::MeanRows, 384, 4096, 0).opening_cost(), (143_157_040, 7_633_440));
        assert!(node(OpKind::MatMul, 896, 4864, 0).openable());
        assert!(node(OpKind::Softmax, 2048, 0, 0).openable());
        assert!(!node(OpKind::Softmax, 8192, 0, 0).openable());
        assert!(!node(OpKind::MeanRows, 384, 4096, 0).openable());
    }
}
