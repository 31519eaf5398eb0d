//! Turning commitments into the calldata structs the contracts verify.

use alloy::primitives::{Bytes, FixedBytes, B256};
use nao_bindings::DisputeGame;

use crate::commit::{MerkleProof, MerkleTree, TensorOpening};
use crate::graph::{OpKind, OpNode};
use crate::model::{Model, ModelCommitment};
use crate::trace::{Trace, TraceCommitment};
use crate::{Error, Result};

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

fn b256s(p: &MerkleProof) -> Vec<B256> {
    p.siblings.iter().map(|s| FixedBytes(*s)).collect()
}

/// The proof of leaf `index` of a list tree as calldata.
pub fn list_proof(tree: &MerkleTree, index: usize) -> Result<Vec<B256>> {
    Ok(b256s(&tree.proof(index)?))
}

/// The claim of a run whose coarse trace (input, segment boundaries, output) is committed as `coarse`, for the
/// registered model `model_id`, its trace served at `data_uri`.
pub fn claim_input(
    model_id: B256,
    coarse: &crate::trace::ListCommitment,
    data_uri: String,
) -> Result<nao_bindings::ClaimManager::ClaimInput> {
    let last = coarse.tensors.len() - 1;
    Ok(nao_bindings::ClaimManager::ClaimInput {
        modelId: model_id,
        inputRoot: FixedBytes(coarse.tensors[0].root()),
        outputRoot: FixedBytes(coarse.tensors[last].root()),
        traceRoot: FixedBytes(coarse.root()),
        inputProof: list_proof(&coarse.tree, 0)?,
        outputProof: list_proof(&coarse.tree, last)?,
        dataUri: data_uri,
    })
}

pub(crate) fn opening(o: TensorOpening, root_proof: Vec<B256>) -> DisputeGame::TensorOpening {
    DisputeGame::TensorOpening {
        dataRoot: FixedBytes(o.data_root),
        rootProof: root_proof,
        chunks: o
            .chunks
            .into_iter()
            .map(|c| DisputeGame::ChunkOpening {
                index: c.index as u32,
                proof: b256s(&c.proof),
                data: Bytes::from(c.data),
            })
            .collect(),
    }
}

/// The answer to a data request for chunks `[first, first + count)` of leaf `leaf` of the list committed as
/// `list`, whose tensor there is `tensor`: its shape and the opening of those chunks (none when `first` is past
/// the tensor's end), as `ClaimManager.publishData` takes them.
pub fn data_answer(
    list: &crate::trace::ListCommitment,
    tensor: &crate::model::HostTensor,
    leaf: usize,
    first: usize,
    count: usize,
) -> Result<(Vec<u32>, nao_bindings::ClaimManager::TensorOpening)> {
    use crate::commit::CHUNK_ELEMS;
    let tc =
        list.tensors.get(leaf).ok_or(Error::OutOfRange { what: "list leaf", index: leaf, len: list.tensors.len() })?;
    let n = tensor.data.len();
    let range = (first * CHUNK_ELEMS).min(n)..((first + count) * CHUNK_ELEMS).min(n);
    let chunks = if range.is_empty() { vec![] } else { tc.open(&tensor.data, range)?.chunks };
    let opening = nao_bindings::ClaimManager::TensorOpening {
        dataRoot: FixedBytes(tc.data_root()),
        rootProof: list_proof(&list.tree, leaf)?,
        chunks: chunks
            .into_iter()
            .map(|c| nao_bindings::ClaimManager::ChunkOpening {
                index: c.index as u32,
                proof: b256s(&c.proof),
                data: Bytes::from(c.data),
            })
            .collect(),
    };
    Ok((tensor.shape.iter().map(|d| *d as u32).collect(), opening))
}

/// The on-chain descriptor of element `at`'s op, checked: the op exists and is adjudicable, the element is
/// inside its output.
pub(crate) fn adjudicable(model: &Model, at: ElementRef) -> Result<OpNode> {
    let count = model.graph.nodes.len();
    if at.op >= count {
        return Err(Error::OutOfRange { what: "op", index: at.op, len: count });
    }
    let node = model.graph.descriptor(at.op).ok_or_else(|| {
        Error::Chain(format!("op {} ({}) has no on-chain adjudication yet", at.op, model.graph.nodes[at.op].op.name()))
    })?;
    let (rows, cols) = (node.rows as usize, node.cols as usize);
    if at.row >= rows || at.col >= cols {
        return Err(Error::OutOfRange { what: "element", index: at.row * cols + at.col, len: rows * cols });
    }
    Ok(node)
}

/// The descriptor as calldata.
pub(crate) fn abi_node(n: &OpNode) -> DisputeGame::OpNode {
    DisputeGame::OpNode {
        kind: n.kind as u8,
        input: n.input,
        weight: n.weight,
        rows: n.rows,
        cols: n.cols,
        inner: n.inner,
        input2: n.input2,
        batch: n.batch,
        param: n.param,
        inShape: n.in_shape,
    }
}

/// An opening of nothing (an operand the op does not read).
pub(crate) fn no_opening() -> DisputeGame::TensorOpening {
    DisputeGame::TensorOpening { dataRoot: B256::ZERO, rootProof: vec![], chunks: vec![] }
}

/// Builds the challenge of element `at`, opening trace tensor `t`'s elements `range` with `open_trace` (against
/// the coarse or the fine root) and weights against the model's weights root.
pub(crate) fn challenge_with(
    model: &Model,
    mc: &ModelCommitment,
    trace: &Trace,
    at: ElementRef,
    mut open_trace: impl FnMut(usize, std::ops::Range<usize>) -> Result<DisputeGame::TensorOpening>,
) -> Result<DisputeGame::ElementChallenge> {
    let node = adjudicable(model, at)?;
    let g = node.output_index(at.row, at.col);
    let out_i = at.op + 1;
    let y = *trace.tensors[out_i].data.get(g).ok_or(Error::OutOfRange {
        what: "output element",
        index: g,
        len: trace.tensors[out_i].data.len(),
    })?;
    let output = open_trace(out_i, g..g + 1)?;
    let inp_i = node.input as usize;
    let range = node.input_range(at.row, at.col, y);
    let input = open_trace(inp_i, range.clone())?;
    let input2 = match (node.kind, node.input2_range(at.row, at.col)) {
        (OpKind::LayerNorm, _) => {
            // the shift, a weight
            let wi = node.input2 as usize;
            let col = at.col..at.col + 1;
            opening(mc.weights[wi].open(&model.weights[wi].data, col)?, list_proof(&mc.weights_tree, wi)?)
        }
        (_, Some(r)) => open_trace(node.input2 as usize, r)?,
        (_, None) => no_opening(),
    };
    let weight = match node.weight_range(at.col, &trace.tensors[inp_i].data[range]) {
        Some(range) => {
            let wi = node.weight as usize;
            opening(mc.weights[wi].open(&model.weights[wi].data, range)?, list_proof(&mc.weights_tree, wi)?)
        }
        None => no_opening(),
    };
    Ok(DisputeGame::ElementChallenge {
        op: at.op as u32,
        node: abi_node(&node),
        nodeProof: list_proof(&mc.graph, at.op)?,
        row: at.row as u32,
        col: at.col as u32,
        output,
        input,
        weight,
        input2,
    })
}

/// Builds the challenge of element `at` of a claim whose trace is `trace` (committed as `tc`, one leaf per
/// trace tensor: the one-level game's models).
pub fn element_challenge(
    model: &Model,
    mc: &ModelCommitment,
    trace: &Trace,
    tc: &TraceCommitment,
    at: ElementRef,
) -> Result<DisputeGame::ElementChallenge> {
    challenge_with(model, mc, trace, at, |t, range| {
        Ok(opening(tc.tensors[t].open(&trace.tensors[t].data, range)?, list_proof(&tc.tree, t)?))
    })
}
