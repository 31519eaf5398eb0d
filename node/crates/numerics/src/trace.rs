//! Traces of a run and their commitment (the claim's trace root).

use crate::commit::{Hash, MerkleTree, TensorCommitment};
use crate::tensor::HostTensor;

/// Every tensor of a run: the input at 0, the output of node i at i + 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The tensors, in trace order.
    pub tensors: Vec<HostTensor>,
}

/// The commitment of a trace: one tensor commitment per trace tensor and the tree over their roots.
#[derive(Debug, Clone)]
pub struct TraceCommitment {
    /// Per-tensor commitments.
    pub tensors: Vec<TensorCommitment>,
    /// Tree over the tensor roots.
    pub tree: MerkleTree,
}

impl Trace {
    /// The claim's output (last tensor).
    pub fn output(&self) -> &HostTensor {
        self.tensors.last().expect("a trace has its input at least")
    }

    /// The coarse trace commitment (input, segment boundaries, output) of this trace of `graph`.
    pub fn commit_coarse(&self, graph: &crate::graph::Graph) -> ListCommitment {
        let indices = graph.coarse_indices();
        let tensors = indices.iter().map(|i| self.tensors[*i].commit()).collect();
        ListCommitment::from_commitments(indices, tensors)
    }

    /// The fine trace commitment of segment `s` (nodes `start..end`): the list over trace tensors
    /// `start..=end`, i.e. the segment's input boundary (coarse leaf `s`), every op output inside it, the last
    /// one being its output boundary (coarse leaf `s + 1`). `DisputeGame.postFine` checks both ends.
    pub fn commit_fine(&self, graph: &crate::graph::Graph, s: usize) -> crate::Result<ListCommitment> {
        let ranges = graph.segment_ranges();
        let r = ranges.get(s).ok_or(crate::Error::OutOfRange { what: "segment", index: s, len: ranges.len() })?;
        ListCommitment::build((r.start..=r.end).collect(), |i| Ok(self.tensors[i].commit()))
    }

    /// Commits every tensor and the list of their roots.
    pub fn commit(&self) -> TraceCommitment {
        let tensors: Vec<TensorCommitment> = self.tensors.iter().map(HostTensor::commit).collect();
        let roots: Vec<Hash> = tensors.iter().map(TensorCommitment::root).collect();
        TraceCommitment { tree: MerkleTree::from_leaves(&roots), tensors }
    }
}

impl TraceCommitment {
    /// The trace root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Root of the input tensor.
    pub fn input_root(&self) -> Hash {
        self.tensors[0].root()
    }

    /// Root of the output tensor.
    pub fn output_root(&self) -> Hash {
        self.tensors.last().expect("non-empty").root()
    }
}

/// A commitment to a list of trace tensors (the coarse trace, or one segment's fine trace): which trace
/// indices, their tensor commitments, and the tree over their roots.
#[derive(Debug, Clone)]
pub struct ListCommitment {
    /// Trace indices committed, in order.
    pub indices: Vec<usize>,
    /// Their tensor commitments.
    pub tensors: Vec<TensorCommitment>,
    /// Tree over the tensor roots.
    pub tree: MerkleTree,
}

impl ListCommitment {
    /// Commits the tensors at `indices`, each produced by `commit`.
    pub fn build(
        indices: Vec<usize>,
        commit: impl Fn(usize) -> crate::Result<TensorCommitment>,
    ) -> crate::Result<Self> {
        let tensors = indices.iter().map(|i| commit(*i)).collect::<crate::Result<Vec<_>>>()?;
        Ok(Self::from_commitments(indices, tensors))
    }

    /// The list commitment over tensor commitments already made.
    pub fn from_commitments(indices: Vec<usize>, tensors: Vec<TensorCommitment>) -> Self {
        let roots: Vec<Hash> = tensors.iter().map(TensorCommitment::root).collect();
        Self { tree: MerkleTree::from_leaves(&roots), tensors, indices }
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }
}

/// `abi.encode(Segment(start, end))`: the leaf of segment `start..end` in a model's segments root.
pub fn segment_leaf(r: &std::ops::Range<usize>) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[28..32].copy_from_slice(&(r.start as u32).to_be_bytes());
    out[60..64].copy_from_slice(&(r.end as u32).to_be_bytes());
    out
}

/// The tree over a graph's segments (`ModelSpec.segmentsRoot`): leaf s is `abi.encode(Segment)` of segment s.
pub fn segments_tree(graph: &crate::graph::Graph) -> MerkleTree {
    let leaves: Vec<[u8; 64]> = graph.segment_ranges().iter().map(segment_leaf).collect();
    MerkleTree::from_leaves(&leaves)
}
/// One output element of one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ElementRef {
    /// Node index.
    pub op: usize,
    /// Output row.
    pub row: usize,
    /// Output column.
    pub col: usize,
}
