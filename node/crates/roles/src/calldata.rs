//! Turning a model's commitments and a run's trace into the calldata structs the contracts verify: a batch's
//! inference openings, data answers, the partition game's moves (`DisputeGame.pointSegment`, `postFine`, `openElement`,
//! built from the coarse tree for boundaries, the segments tree for node ranges and the fine tree of the
//! disputed segment) and element challenges.

use alloy::primitives::{Bytes, FixedBytes, B256};
use nao_bindings::DisputeGame;

use crate::commit::{MerkleProof, MerkleTree, TensorOpening};
use crate::graph::OpNode;
use crate::model::{Model, ModelCommitment};
use crate::trace::{ElementRef, Trace, TraceCommitment};
use crate::{Error, Result};
use nao_bindings::ClaimManager::Inference;
use nao_numerics::graph::template::Lengths;
use nao_numerics::op::Params;

fn b256s(p: &MerkleProof) -> Vec<B256> {
    p.siblings.iter().map(|s| FixedBytes(*s)).collect()
}

/// The proof of leaf `index` of a list tree as calldata.
pub fn list_proof(tree: &MerkleTree, index: usize) -> Result<Vec<B256>> {
    Ok(b256s(&tree.proof(index)?))
}

/// Inference `index` of a claim's batch (its inferences in order) with its proof against the batch root: how
/// every game and coarse data request names the inference it disputes.
pub fn inference_opening(batch: &[(B256, Lengths)], index: usize) -> Result<DisputeGame::InferenceOpening> {
    let (root, l) = batch.get(index).ok_or(Error::OutOfRange { what: "inference", index, len: batch.len() })?;
    Ok(DisputeGame::InferenceOpening {
        index: index as u32,
        traceRoot: *root,
        prompt: l.prompt,
        steps: l.steps,
        proof: list_proof(&batch_tree(batch), index)?,
    })
}

/// A batch as `ClaimManager.postClaim` takes it: packed ([`nao_chain::pack`]).
pub fn inferences(batch: &[(B256, Lengths)]) -> Bytes {
    let batch: Vec<_> =
        batch.iter().map(|(root, l)| Inference { traceRoot: *root, prompt: l.prompt, steps: l.steps }).collect();
    nao_chain::pack(&batch)
}

/// The list tree over a batch's inferences (leaf data: each inference's packed bytes, [`inferences`]), whose
/// root is the claim's batch root (`ClaimManager.batchRootOf`).
pub fn batch_tree(batch: &[(B256, Lengths)]) -> MerkleTree {
    let packed = inferences(batch);
    MerkleTree::from_leaves(&packed.chunks_exact(nao_chain::INFERENCE_BYTES).collect::<Vec<_>>())
}

/// The proof and patches of node `op` of `model`'s graph (at its lengths) in the registered template.
fn node_opening(model: &Model, mc: &ModelCommitment, op: usize) -> Result<(Vec<B256>, Vec<DisputeGame::Patch>)> {
    let template = model.template();
    let (t, _) = template.locate(model.lengths, op)?;
    let patches = template.nodes[t]
        .patches
        .iter()
        .map(|p| DisputeGame::Patch { word: p.word, perToken: p.per_token, perStep: p.per_step })
        .collect();
    Ok((list_proof(&mc.graph, t)?, patches))
}

fn opening(o: TensorOpening, root_proof: Vec<B256>) -> DisputeGame::TensorOpening {
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
fn adjudicable(model: &Model, at: ElementRef) -> Result<OpNode> {
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
fn abi_node(n: &OpNode) -> DisputeGame::OpNode {
    DisputeGame::OpNode {
        kind: n.kind as u8,
        input: n.input,
        input2: n.input2,
        weight: n.weight,
        batch: n.batch,
        rows: n.rows,
        cols: n.cols,
        params: n.params.abi_encode().into(),
    }
}

/// An opening of nothing (an operand the op does not read).
fn no_opening() -> DisputeGame::TensorOpening {
    DisputeGame::TensorOpening { dataRoot: B256::ZERO, rootProof: vec![], chunks: vec![] }
}

/// Builds the challenge of element `at`, opening trace tensor `t`'s elements `range` with `open_trace` (against
/// the coarse or the fine root) and weights against the model's weights root.
fn challenge_with(
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
    let input2 = match (&node.params, node.input2_range(at.row, at.col)) {
        (Params::LayerNorm { shift, .. }, _) => {
            // the shift, a second weight, opened where a second operand goes
            let wi = *shift as usize;
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
    let (node_proof, node_patches) = node_opening(model, mc, at.op)?;
    Ok(DisputeGame::ElementChallenge {
        op: at.op as u32,
        node: abi_node(&node),
        nodeProof: node_proof,
        nodePatches: node_patches,
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

/// The prover's reveal at a bisection node over boundaries [lo, hi] whose children are `w` segments wide: the
/// interior boundaries lo + j w below hi, each opened against the coarse root.
pub fn reveal_openings(
    model: &Model,
    trace: &Trace,
    lo: usize,
    hi: usize,
    w: usize,
) -> Result<Vec<DisputeGame::BoundaryOpening>> {
    let coarse = trace.commit_coarse(&model.graph);
    (1..).map(|j| lo + j * w).take_while(|b| *b < hi).map(|b| boundary(&coarse, b)).collect()
}

fn segment_range(model: &Model, s: usize) -> Result<std::ops::Range<usize>> {
    let ranges = model.graph.segment_ranges();
    ranges.get(s).cloned().ok_or(Error::OutOfRange { what: "segment", index: s, len: ranges.len() })
}

/// Segment `s` of `model`'s graph (at its lengths) with the proof of the template segment it moves from.
fn segment_opening(model: &Model, s: usize) -> Result<DisputeGame::SegmentOpening> {
    let r = segment_range(model, s)?;
    let template = model.template();
    let (t, _) = template.locate_segment(model.lengths, s)?;
    Ok(DisputeGame::SegmentOpening {
        index: s as u32,
        segment: DisputeGame::Segment { start: r.start as u32, end: r.end as u32 },
        proof: list_proof(&template.segments_tree(), t)?,
    })
}

/// Leaf `i` of a trace's coarse commitment `coarse` (a segment boundary; 0 is the input, the last the output),
/// opened.
pub fn boundary(coarse: &crate::trace::ListCommitment, i: usize) -> Result<DisputeGame::BoundaryOpening> {
    let t = coarse.tensors.get(i).ok_or(Error::OutOfRange { what: "boundary", index: i, len: coarse.tensors.len() })?;
    Ok(DisputeGame::BoundaryOpening { root: FixedBytes(t.root()), proof: list_proof(&coarse.tree, i)? })
}

/// Direct pointing at segment `s` of a claim whose (verified) trace is `trace`.
pub fn segment_pointer(model: &Model, trace: &Trace, s: usize) -> Result<DisputeGame::SegmentPointer> {
    let coarse = trace.commit_coarse(&model.graph);
    Ok(DisputeGame::SegmentPointer { segment: s as u32, lo: boundary(&coarse, s)?, hi: boundary(&coarse, s + 1)? })
}

/// The prover's answer to a dispute of segment `s`: the fine root and the proofs of its two ends.
pub fn fine_answer(model: &Model, trace: &Trace, s: usize) -> Result<DisputeGame::FineAnswer> {
    let fine = trace.commit_fine(&model.graph, s)?;
    let last = fine.tensors.len() - 1;
    Ok(DisputeGame::FineAnswer {
        fineRoot: FixedBytes(fine.root()),
        segment: segment_opening(model, s)?,
        firstProof: list_proof(&fine.tree, 0)?,
        lastProof: list_proof(&fine.tree, last)?,
    })
}

/// The segment holding node `op`.
pub fn segment_of(model: &Model, op: usize) -> Result<usize> {
    let ranges = model.graph.segment_ranges();
    ranges.iter().position(|r| r.contains(&op)).ok_or(Error::OutOfRange { what: "op", index: op, len: ranges.len() })
}

/// The challenger's request that the prover open element `at` (descriptor and, for a trace operand read from
/// an earlier boundary, that boundary's segment).
pub fn element_request(model: &Model, mc: &ModelCommitment, at: ElementRef) -> Result<DisputeGame::ElementRequest> {
    let c = fine_challenge_parts(model, at)?;
    let (node_proof, node_patches) = node_opening(model, mc, at.op)?;
    Ok(DisputeGame::ElementRequest {
        op: at.op as u32,
        node: abi_node(&c.node),
        nodeProof: node_proof,
        nodePatches: node_patches,
        row: at.row as u32,
        col: at.col as u32,
        inputSegment: boundary_opening(model, c.input_boundary)?,
        input2Segment: boundary_opening(model, c.input2_boundary)?,
    })
}

/// Element `at` escalated to the committee unopened (`DisputeGame.escalateUnopenable`): its op's leaf in the graph
/// root with its proof, and for an op reading an interior tensor of an earlier segment the segment that computes
/// it (what proves the contracts cannot open it).
pub fn unopenable(model: &Model, mc: &ModelCommitment, at: ElementRef) -> Result<DisputeGame::Unopenable> {
    let r = segment_range(model, segment_of(model, at.op)?)?;
    let ranges = model.graph.segment_ranges();
    let computing = |t: u32| -> Result<DisputeGame::SegmentOpening> {
        let t = t as usize;
        let seg = (t != 0 && t < r.start).then(|| ranges.iter().position(|s| s.contains(&(t - 1)))).flatten();
        boundary_opening(model, seg)
    };
    let (input_segment, input2_segment) = match model.graph.descriptor(at.op) {
        Some(d) => (computing(d.input)?, if d.kind.reads_input2() { computing(d.input2)? } else { computing(0)? }),
        None => (computing(0)?, computing(0)?),
    };
    let (leaf_proof, leaf_patches) = node_opening(model, mc, at.op)?;
    Ok(DisputeGame::Unopenable {
        op: at.op as u32,
        row: at.row as u32,
        col: at.col as u32,
        leaf: model.graph.leaf(at.op).into(),
        leafProof: leaf_proof,
        leafPatches: leaf_patches,
        inputSegment: input_segment,
        input2Segment: input2_segment,
    })
}

struct Parts {
    node: OpNode,
    /// The segment whose output boundary the op reads as its input, when it reads one from an earlier segment.
    input_boundary: Option<usize>,
    /// The same for its second trace operand.
    input2_boundary: Option<usize>,
}

fn boundary_opening(model: &Model, seg: Option<usize>) -> Result<DisputeGame::SegmentOpening> {
    match seg {
        Some(seg) => segment_opening(model, seg),
        None => Ok(DisputeGame::SegmentOpening {
            index: 0,
            segment: DisputeGame::Segment { start: 0, end: 0 },
            proof: vec![],
        }),
    }
}

/// The segment ending at trace tensor `t` when op `op` (of segment range `r`) reads it from an earlier segment
/// (`None` inside the segment or for the claim input); an error for an interior tensor of an earlier segment.
fn boundary_of(model: &Model, r: &std::ops::Range<usize>, op: usize, t: usize) -> Result<Option<usize>> {
    if t >= r.start || t == 0 {
        return Ok(None);
    }
    model.graph.segment_ranges().iter().position(|s| s.end == t).map(Some).ok_or_else(|| {
        Error::Chain(format!("op {op} reads trace tensor {t}, inside an earlier segment: not adjudicable"))
    })
}

fn fine_challenge_parts(model: &Model, at: ElementRef) -> Result<Parts> {
    let r = segment_range(model, segment_of(model, at.op)?)?;
    let node = adjudicable(model, at)?;
    let input_boundary = boundary_of(model, &r, at.op, node.input as usize)?;
    let input2_boundary =
        if node.kind.reads_input2() { boundary_of(model, &r, at.op, node.input2 as usize)? } else { None };
    Ok(Parts { node, input_boundary, input2_boundary })
}

/// The element level: element `at` opened against the fine root of its segment (a trace operand against the
/// coarse root when it is an earlier segment's boundary or the claim input).
pub fn fine_challenge(
    model: &Model,
    mc: &ModelCommitment,
    trace: &Trace,
    at: ElementRef,
) -> Result<DisputeGame::FineChallenge> {
    let s = segment_of(model, at.op)?;
    let r = segment_range(model, s)?;
    let parts = fine_challenge_parts(model, at)?;
    let fine = trace.commit_fine(&model.graph, s)?;
    let mut coarse = None;
    let element = challenge_with(model, mc, trace, at, |t, range| {
        if t >= r.start {
            let i = t - r.start;
            return Ok(opening(fine.tensors[i].open(&trace.tensors[t].data, range)?, list_proof(&fine.tree, i)?));
        }
        // the claim input (coarse leaf 0) or the output boundary of segment c - 1 (coarse leaf c)
        let c = boundary_of(model, &r, at.op, t)?.map_or(0, |seg| seg + 1);
        let coarse = coarse.get_or_insert_with(|| trace.commit_coarse(&model.graph));
        Ok(opening(coarse.tensors[c].open(&trace.tensors[t].data, range)?, list_proof(&coarse.tree, c)?))
    })?;
    Ok(DisputeGame::FineChallenge {
        element,
        inputSegment: boundary_opening(model, parts.input_boundary)?,
        input2Segment: boundary_opening(model, parts.input2_boundary)?,
    })
}
