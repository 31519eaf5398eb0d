//! The graph IR: operators in topological order over a trace of tensors.
//!
//! Trace tensor 0 is the claim's input; the output of node `i` is trace tensor `i + 1`; the last trace
//! tensor is the claim's output. Weights are a separate list; a node reads its operands from either list
//! ([`Src`]). Every tensor, token ids included, is fp32 (ids are exact integers below 2^24).
//!
//! Each node is an exact description (op, parameters, operands, output shape) that [`crate::runtime`]
//! executes with candle and that [`crate::runtime::replay`] re-executes from given operand tensors alone
//! (what watchers and validators do for one disputed op).

pub mod template;

pub use crate::op::{Op, OpKind, OpNode, Src, MAX_OPENING_BYTES, MAX_OPENING_GAS};

use crate::commit::{Hash, MerkleTree};
use crate::op;

/// The fewest multiply-adds a segment of repeated blocks should do per byte of the boundary that closes it
/// ([`block_groups`]). Posting hashes every boundary (SHA-256, one core), so this ratio bounds what hashing
/// adds to an inference: measured on this project's 2-core machine, one byte hashed costs about as long as
/// 27 multiply-adds of the model's own kernels, so 4096 per byte keeps hashing under ~0.7 % of the run.
pub const SEGMENT_MACS_PER_BYTE: usize = 4096;

/// The widest dot product a graph computes as one op. Opening a matmul element in the game costs about 640k gas
/// plus 660 a term (its rows' chunks in calldata, the exact bound's arithmetic): a wider one is computed as
/// [`dot_pieces`] matmuls over equal column blocks of its input and weight, summed by a tree of adds
/// ([`GraphBuilder::matmul_blocks`]: one valid fp32 evaluation order of the same dot product). Measured
/// (`openElement`): Qwen2.5-0.5B's 4864-term row 3.85M gas whole, its 1216-term blocks 1.44M; SmolLM2's
/// 1536-term row 1.52M whole (over the 1.5M goal; MiniLM's FFN output is as wide), its 768-term blocks 1.04M.
pub const MAX_DOT_TERMS: usize = 1280;

/// Into how many column blocks a dot product of `inner` terms is computed: the fewest of equal width (dividing
/// `inner`) no wider than [`MAX_DOT_TERMS`].
pub fn dot_pieces(inner: usize) -> usize {
    (1..=inner).find(|k| inner.is_multiple_of(*k) && inner / k <= MAX_DOT_TERMS).unwrap_or(1)
}

/// How a model of `blocks` identical blocks, each doing `macs` weight multiply-adds per position and closing
/// on a residual stream of `hidden` fp32 values per position, groups its blocks into segments: `per` = the
/// fewest blocks that do [`SEGMENT_MACS_PER_BYTE`] per byte of the closing boundary, then as many consecutive
/// ranges as `per` blocks per range needs, as even as possible (so each has `per` or a block fewer; one
/// range of all blocks if even all of them do less). Attention's own products are left out, so the grouping
/// does not depend on the prompt length.
///
/// Fewer, longer segments cost a dispute little: the game's first level points at a longer segment, whose
/// fine trace the prover recomputes and commits op by op (one more level of fine tree per doubling).
pub fn block_groups(blocks: usize, macs: usize, hidden: usize) -> Vec<std::ops::Range<usize>> {
    let per = (SEGMENT_MACS_PER_BYTE * hidden * 4).div_ceil(macs.max(1)).max(1);
    let groups = blocks.div_ceil(per).max(1);
    let mut start = 0;
    (0..groups)
        .map(|g| {
            let len = blocks / groups + usize::from(g < blocks % groups);
            start += len;
            start - len..start
        })
        .collect()
}

/// One node: op, operands, output shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Its operands, in the op's order.
    pub inputs: Vec<Src>,
    /// Shape of its output.
    pub shape: Vec<usize>,
}

/// A model's computation: nodes in topological order, and the shapes of input and weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Graph {
    /// Shape of the input (trace tensor 0).
    pub input_shape: Vec<usize>,
    /// Shapes of the weight tensors.
    pub weight_shapes: Vec<Vec<usize>>,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Segments: consecutive node ranges covering every node (a transformer block at one decode step);
    /// empty means one segment of all nodes. Segment boundaries form the coarse trace.
    #[serde(default)]
    pub segments: Vec<std::ops::Range<usize>>,
}

impl Graph {
    /// The segments (one segment of every node when none were declared).
    pub fn segment_ranges(&self) -> Vec<std::ops::Range<usize>> {
        if self.segments.is_empty() {
            std::iter::once(0..self.nodes.len()).collect()
        } else {
            self.segments.clone()
        }
    }

    /// Trace indices of the coarse trace: the input, then the output of each segment's last node (the last
    /// one is the claim's output).
    pub fn coarse_indices(&self) -> Vec<usize> {
        std::iter::once(0).chain(self.segment_ranges().iter().map(|r| r.end)).collect()
    }

    /// Shape of any operand.
    pub fn shape_of(&self, src: Src) -> &[usize] {
        match src {
            Src::Trace(0) => &self.input_shape,
            Src::Trace(i) => &self.nodes[i as usize - 1].shape,
            Src::Weight(w) => &self.weight_shapes[w as usize],
        }
    }

    /// The on-chain descriptor of node `i`, if the contracts can adjudicate it: its op has a kind and its
    /// operands have the shapes the contracts open them with ([`crate::op::Operator::descriptor`]).
    pub fn descriptor(&self, i: usize) -> Option<OpNode> {
        let n = &self.nodes[i];
        let shapes: Vec<&[usize]> = n.inputs.iter().map(|s| self.shape_of(*s)).collect();
        n.op.operator().descriptor(&n.inputs, &shapes, &n.shape)
    }

    /// The descriptor of node `i` if the partition game can adjudicate it: it has one, and each trace operand
    /// is committed where the game can open it (inside its segment, the claim input, or an earlier segment's
    /// output boundary; not an interior tensor of an earlier segment, such as a KV cache carried across decode
    /// steps).
    pub fn adjudicable(&self, i: usize) -> Option<OpNode> {
        let d = self.descriptor(i)?;
        let ranges = self.segment_ranges();
        let seg = ranges.iter().find(|r| r.contains(&i))?;
        let committed = |t: u32| {
            let t = t as usize;
            t == 0 || t >= seg.start || ranges.iter().any(|r| r.end == t)
        };
        (committed(d.input) && (!d.kind.reads_input2() || committed(d.input2))).then_some(d)
    }

    /// The leaf data of node `i` in the graph root: `abi.encode(OpNode)` for nodes the contracts know, else
    /// the node as JSON (never confused with an ABI leaf, which starts with zero bytes).
    pub fn leaf(&self, i: usize) -> Vec<u8> {
        match self.descriptor(i) {
            Some(d) => d.abi_encode().to_vec(),
            None => serde_json::to_vec(&self.nodes[i]).expect("a node serializes"),
        }
    }

    /// Merkle tree over the node leaves.
    pub fn tree(&self) -> MerkleTree {
        let leaves: Vec<Vec<u8>> = (0..self.nodes.len()).map(|i| self.leaf(i)).collect();
        MerkleTree::from_leaves(&leaves)
    }

    /// The graph root.
    pub fn root(&self) -> Hash {
        self.tree().root()
    }

    /// Number of trace tensors (input + one per node).
    pub fn trace_len(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Checks operand references (earlier trace tensors, existing weights) and that segments tile the nodes.
    pub fn validate(&self) -> crate::Result<()> {
        let mut next = 0;
        for r in self.segment_ranges() {
            if r.start != next || r.end <= r.start {
                return Err(crate::Error::OutOfRange { what: "segment start", index: r.start, len: next });
            }
            next = r.end;
        }
        if next != self.nodes.len() {
            return Err(crate::Error::OutOfRange { what: "segments end", index: next, len: self.nodes.len() });
        }
        for (i, n) in self.nodes.iter().enumerate() {
            for s in &n.inputs {
                let ok = match s {
                    Src::Trace(t) => (*t as usize) <= i,
                    Src::Weight(w) => (*w as usize) < self.weight_shapes.len(),
                };
                if !ok {
                    return Err(crate::Error::OutOfRange { what: "node operand", index: i, len: self.nodes.len() });
                }
            }
        }
        Ok(())
    }
}

/// Builds a graph node by node; each push returns the trace operand of the new node's output.
#[derive(Debug)]
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    /// An empty graph over an input of `input_shape` and weights of `weight_shapes`.
    pub fn new(input_shape: Vec<usize>, weight_shapes: Vec<Vec<usize>>) -> Self {
        Self { graph: Graph { input_shape, weight_shapes, nodes: Vec::new(), segments: Vec::new() } }
    }

    /// Continues `graph` (its segments kept), with weights of `more_weights` after its own.
    pub fn extend(mut graph: Graph, more_weights: Vec<Vec<usize>>) -> Self {
        graph.weight_shapes.extend(more_weights);
        Self { graph }
    }

    /// Appends a node; returns its output as an operand.
    pub fn push<const N: usize, const R: usize>(&mut self, op: Op, inputs: [Src; N], shape: [usize; R]) -> Src {
        self.push_node(Node { op, inputs: inputs.to_vec(), shape: shape.to_vec() })
    }

    /// Appends `node`; returns its output as an operand.
    pub fn push_node(&mut self, node: Node) -> Src {
        self.graph.nodes.push(node);
        Src::Trace(self.graph.nodes.len() as u32)
    }

    /// `x @ w^T` (`x: [t, inner]`, output `shape = [t, h]`) with `w` given as its column blocks `blocks` (of
    /// [`dot_pieces`]): one MatMul per block against the matching columns of `x` (a Narrow), summed pairwise by
    /// Adds; one block is a plain MatMul.
    pub fn matmul_blocks(&mut self, x: Src, blocks: &[Src], inner: usize, shape: [usize; 2]) -> Src {
        let (pieces, [t, _]) = (blocks.len(), shape);
        let w = inner / pieces;
        let mut parts: Vec<Src> = blocks
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let x = if pieces == 1 {
                    x
                } else {
                    let narrow = op::Narrow { dim: 1, start: (j * w) as u32, len: w as u32 };
                    self.push(Op::Narrow(narrow), [x], [t, w])
                };
                self.push(Op::MatMul, [x, *b], shape)
            })
            .collect();
        while parts.len() > 1 {
            parts = parts
                .chunks(2)
                .map(|p| if let [a, b] = p { self.push(Op::Add, [*a, *b], shape) } else { p[0] })
                .collect();
        }
        parts[0]
    }

    /// `x @ w^T + b` as a MatMul node and an Add node.
    pub fn linear<const R: usize>(&mut self, x: Src, w: Src, b: Src, shape: [usize; R]) -> Src {
        let y = self.push(Op::MatMul, [x, w], shape);
        self.push(Op::Add, [y, b], shape)
    }

    /// Closes the current segment at the last node pushed (no-op if it would be empty).
    pub fn end_segment(&mut self) {
        let start = self.graph.segments.last().map_or(0, |r| r.end);
        if self.graph.nodes.len() > start {
            self.graph.segments.push(start..self.graph.nodes.len());
        }
    }

    /// The graph (the open segment, if any, is closed).
    pub fn finish(mut self) -> Graph {
        if !self.graph.segments.is_empty() {
            self.end_segment();
        }
        self.graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{self, Params};

    #[test]
    fn block_groups_are_even_cover_every_block_and_reach_the_work_per_byte() {
        // SmolLM2: 30 blocks of 3.54M multiply-adds per position over 576 values -> 10 groups of 3
        let smol = block_groups(30, 3_538_944, 576);
        assert_eq!(smol, (0..10).map(|g| 3 * g..3 * g + 3).collect::<Vec<_>>());
        // MiniLM: 6 blocks of 1.77M over 384 -> 4 needed, so 2 groups of 3
        assert_eq!(block_groups(6, 1_769_472, 384), vec![0..3, 3..6]);
        // Uneven: 7 blocks, 3 per group -> 3 groups of 3, 2, 2
        assert_eq!(block_groups(7, 4096 * 4 * 100 / 3 + 1, 100), vec![0..3, 3..5, 5..7]);
        // Enough work in one block: a segment each; too little in all of them: one segment
        assert_eq!(block_groups(3, 1 << 30, 8), vec![0..1, 1..2, 2..3]);
        assert_eq!(block_groups(3, 1, 8), vec![0..3]);
        for (blocks, macs, hidden) in [(1, 5, 3), (12, 700_000, 128), (31, 9_000_000, 1024)] {
            let g = block_groups(blocks, macs, hidden);
            assert_eq!(g.first().unwrap().start, 0);
            assert_eq!(g.last().unwrap().end, blocks);
            assert!(g.windows(2).all(|w| w[0].end == w[1].start));
            let (min, max) = (g.iter().map(|r| r.len()).min().unwrap(), g.iter().map(|r| r.len()).max().unwrap());
            assert!(max - min <= 1, "{g:?}");
            let per = (SEGMENT_MACS_PER_BYTE * hidden * 4).div_ceil(macs);
            assert_eq!(g.len(), blocks.div_ceil(per), "{g:?}");
            assert!(max <= per && (g.len() == 1 || (max - 1) * macs < SEGMENT_MACS_PER_BYTE * hidden * 4), "{g:?}");
        }
    }

    fn graph(nodes: Vec<Node>, segments: Vec<std::ops::Range<usize>>) -> Graph {
        Graph { input_shape: vec![2, 3, 4], weight_shapes: vec![vec![4], vec![4]], nodes, segments }
    }

    fn node(op: Op, inputs: Vec<Src>, shape: Vec<usize>) -> Node {
        Node { op, inputs, shape }
    }

    /// Data-movement descriptors carry the input's shape and are refused when the shapes do not fit the op.
    #[test]
    fn data_movement_descriptors_check_their_shapes() {
        let t = Src::Trace(0);
        let g = graph(
            vec![
                node(Op::Reshape, vec![t], vec![6, 4]),
                node(Op::Reshape, vec![t], vec![5, 4]),
                node(Op::Transpose(op::Transpose { a: 0, b: 1 }), vec![t], vec![3, 2, 4]),
                node(Op::Transpose(op::Transpose { a: 0, b: 1 }), vec![t], vec![2, 3, 4]),
                node(Op::Narrow(op::Narrow { dim: 1, start: 1, len: 2 }), vec![t], vec![2, 2, 4]),
                node(Op::Narrow(op::Narrow { dim: 1, start: 2, len: 2 }), vec![t], vec![2, 2, 4]),
                node(Op::Concat(op::Concat { dim: 1 }), vec![t, Src::Trace(5)], vec![2, 5, 4]),
            ],
            Vec::new(),
        );
        let d = |i| g.descriptor(i);
        assert_eq!(d(0).map(|n| n.params), Some(Params::Reshape { in_shape: vec![2, 3, 4] }));
        assert!(d(1).is_none(), "24 elements cannot become 20");
        let transpose = Params::Transpose { in_shape: vec![2, 3, 4], dim0: 0, dim1: 1 };
        assert_eq!(d(2).map(|n| (n.params, n.batch, n.rows)), Some((transpose, 3, 6)));
        assert!(d(3).is_none(), "a transpose of dims 0 and 1 changes [2, 3, 4]");
        assert_eq!(d(4).map(|n| n.params), Some(Params::Narrow { in_shape: vec![2, 3, 4], dim: 1, start: 1 }));
        assert!(d(5).is_none(), "a window of 2 from 2 overruns 3 entries");
        // [2, 3, 4] then node 4's [2, 2, 4] along dim 1
        assert_eq!(d(6).map(|n| (n.params, n.input2)), Some((Params::Concat { in_shape: vec![2, 3, 4], dim: 1 }, 5)));
        // the Concat's element (row 4 = batch 0, position 4; col 0) comes from x2's position 1
        assert_eq!(d(6).unwrap().moved_from(4, 0), Some((1, 4)));
        assert_eq!(d(6).unwrap().moved_from(2, 3), Some((0, 11)));
    }

    /// An op that reads an interior tensor of an earlier segment has a descriptor but is not adjudicable in
    /// the partition game; reading a boundary, the claim input or its own segment's tensors is.
    #[test]
    fn adjudicable_requires_committed_operands() {
        let t = |i| Src::Trace(i);
        let relu = |i| node(Op::Relu, vec![t(i)], vec![6, 4]);
        let mut nodes = vec![node(Op::Reshape, vec![t(0)], vec![6, 4]), relu(1), relu(2)];
        nodes.push(node(Op::Add, vec![t(1), t(3)], vec![6, 4])); // node 3 reads trace 1: segment 0's interior
        nodes.push(node(Op::Add, vec![t(2), t(4)], vec![6, 4])); // node 4 reads trace 2: segment 0's boundary
        let g = graph(nodes, vec![0..2, 2..5]);
        assert!(g.descriptor(3).is_some());
        assert!(g.adjudicable(3).is_none(), "trace 1 is inside segment 0");
        assert_eq!(g.adjudicable(4).map(|n| n.kind), Some(OpKind::Residual));
        assert!(g.adjudicable(1).is_some() && g.adjudicable(0).is_some());
    }
}
