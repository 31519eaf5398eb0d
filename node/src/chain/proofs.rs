//! Turning commitments into the calldata structs the contracts verify.

use alloy::primitives::{Bytes, FixedBytes, B256};
use nao_bindings::DisputeGame;

use crate::commit::{MerkleProof, MerkleTree, TensorOpening};
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

/// Builds the challenge of element `at` of a claim whose trace is `trace` (committed as `tc`).
pub fn element_challenge(
    model: &Model,
    mc: &ModelCommitment,
    trace: &Trace,
    tc: &TraceCommitment,
    at: ElementRef,
) -> Result<DisputeGame::ElementChallenge> {
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
    let g = at.row * cols + at.col;
    let out_i = at.op + 1;
    let output = opening(tc.tensors[out_i].open(&trace.tensors[out_i].data, g..g + 1)?, list_proof(&tc.tree, out_i)?);
    let inp_i = node.input as usize;
    let range = node.input_range(at.row, at.col);
    let input =
        opening(tc.tensors[inp_i].open(&trace.tensors[inp_i].data, range.clone())?, list_proof(&tc.tree, inp_i)?);
    let weight = match node.weight_range(at.col, &trace.tensors[inp_i].data[range]) {
        Some(range) => {
            let wi = node.weight as usize;
            opening(mc.weights[wi].open(&model.weights[wi].data, range)?, list_proof(&mc.weights_tree, wi)?)
        }
        None => DisputeGame::TensorOpening { dataRoot: B256::ZERO, rootProof: vec![], chunks: vec![] },
    };
    Ok(DisputeGame::ElementChallenge {
        op: at.op as u32,
        node: DisputeGame::OpNode {
            kind: node.kind as u8,
            input: node.input,
            weight: node.weight,
            rows: node.rows,
            cols: node.cols,
            inner: node.inner,
        },
        nodeProof: list_proof(&mc.graph, at.op)?,
        row: at.row as u32,
        col: at.col as u32,
        output,
        input,
        weight,
    })
}
