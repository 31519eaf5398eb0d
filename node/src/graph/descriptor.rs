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
}

impl OpKind {
    /// Whether the op reads a weight tensor.
    pub fn uses_weight(self) -> bool {
        matches!(self, OpKind::MatMul | OpKind::Add | OpKind::Embedding)
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
    /// Reduction length (MatMul), table rows (Embedding), 0 otherwise.
    pub inner: u32,
}

impl OpNode {
    /// `abi.encode(node)`: six 32-byte big-endian words.
    pub fn abi_encode(&self) -> [u8; 192] {
        let mut out = [0u8; 192];
        let words = [self.kind as u32, self.input, self.weight, self.rows, self.cols, self.inner];
        for (i, w) in words.iter().enumerate() {
            out[i * 32 + 28..(i + 1) * 32].copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// Flat range of the input elements that output element (row, col) depends on.
    pub fn input_range(&self, row: usize, col: usize) -> std::ops::Range<usize> {
        match self.kind {
            OpKind::MatMul => {
                let k = self.inner as usize;
                row * k..(row + 1) * k
            }
            OpKind::Add | OpKind::Relu => {
                let g = row * self.cols as usize + col;
                g..g + 1
            }
            OpKind::Embedding => row..row + 1,
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
            OpKind::Add => Some(col..col + 1),
            OpKind::Relu => None,
            OpKind::Embedding => {
                let id = index_of(*input.first()?, self.inner as usize)?;
                let g = id * self.cols as usize + col;
                Some(g..g + 1)
            }
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
        let n = OpNode { kind: OpKind::Add, input: 3, weight: 1, rows: 2, cols: 0x0102_0304, inner: 0 };
        let e = n.abi_encode();
        assert_eq!(e[31], 2);
        assert_eq!(e[63], 3);
        assert_eq!(&e[156..160], &[1, 2, 3, 4]);
        assert!(e[..28].iter().all(|b| *b == 0));
    }
}
