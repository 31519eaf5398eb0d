//! The partition game's calldata (`DisputeGame.pointSegment`, `postFine`, `openElement`) built from a trace:
//! the coarse tree for boundaries, the segments tree for node ranges, the fine tree of the disputed segment.

use alloy::primitives::{FixedBytes, B256};
use nao_bindings::DisputeGame;

use super::proofs::{abi_node, adjudicable, challenge_with, list_proof, opening, ElementRef};
use crate::graph::OpNode;
use crate::model::{Model, ModelCommitment};
use crate::trace::{segments_tree, Trace};
use crate::{Error, Result};

/// A node of the bisection tree: the generalized index `k^depth + index` of `contracts/src/lib/Position.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Position(pub u64);

impl Position {
    /// The root (the whole boundary list).
    pub const ROOT: Position = Position(1);

    /// The position of an output vote (`DisputeGame.escalateOutput`): no partition game starts there.
    pub const OUTPUT: Position = Position(0);

    /// Depth of the leaves of a tree of arity `k` over `segments` segments.
    pub fn leaf_depth(k: u64, segments: u64) -> u32 {
        let (mut w, mut d) = (1u64, 0u32);
        while w < segments {
            w *= k;
            d += 1;
        }
        d
    }

    /// Leaf `s` (segment s) of a tree of arity `k` over `segments` segments: where direct pointing starts.
    pub fn leaf(k: u64, segments: u64, s: u64) -> Self {
        Position(k.pow(Self::leaf_depth(k, segments)) + s)
    }

    /// Depth of this node in a tree of arity `k`.
    pub fn depth(self, k: u64) -> u32 {
        let (mut v, mut d) = (self.0, 0);
        while v >= k {
            v /= k;
            d += 1;
        }
        d
    }

    /// Width (in segments) of this node's child ranges in a tree of arity `k` over `segments` segments.
    pub fn child_width(self, k: u64, segments: u64) -> u64 {
        k.pow(Self::leaf_depth(k, segments) - self.depth(k) - 1)
    }
}

/// `Phase` of `contracts/src/lib/Types.sol`: where a partition game stands (and so whose turn it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// No such game.
    None,
    /// The prover reveals the interior boundaries of the current range.
    Reveal,
    /// The challenger picks a sub-range.
    Pick,
    /// The prover posts the disputed segment's fine-trace root.
    Fine,
    /// The challenger opens an element against the fine root.
    Element,
    /// Decided.
    Ended,
    /// The prover opens the element the challenger requested.
    Open,
    /// The committee votes on the element the challenger escalated.
    Vote,
}

impl From<u8> for Phase {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Reveal,
            2 => Self::Pick,
            3 => Self::Fine,
            4 => Self::Element,
            5 => Self::Ended,
            6 => Self::Open,
            7 => Self::Vote,
            _ => Self::None,
        }
    }
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
    (1..)
        .map(|j| lo + j * w)
        .take_while(|b| *b < hi)
        .map(|b| {
            Ok(DisputeGame::BoundaryOpening {
                root: FixedBytes(coarse.tensors[b].root()),
                proof: list_proof(&coarse.tree, b)?,
            })
        })
        .collect()
}

/// The id of the partition game `challenger` starts against `claim` at `start` (`partitionGameIdOf`).
pub fn partition_game_id(claim: B256, challenger: alloy::primitives::Address, start: Position) -> B256 {
    use alloy::sol_types::SolValue;
    alloy::primitives::keccak256((claim, challenger, start.0).abi_encode())
}

fn segment_range(model: &Model, s: usize) -> Result<std::ops::Range<usize>> {
    let ranges = model.graph.segment_ranges();
    ranges.get(s).cloned().ok_or(Error::OutOfRange { what: "segment", index: s, len: ranges.len() })
}

fn segment_opening(model: &Model, s: usize) -> Result<DisputeGame::SegmentOpening> {
    let r = segment_range(model, s)?;
    Ok(DisputeGame::SegmentOpening {
        index: s as u32,
        segment: DisputeGame::Segment { start: r.start as u32, end: r.end as u32 },
        proof: list_proof(&segments_tree(&model.graph), s)?,
    })
}

/// Direct pointing at segment `s` of a claim whose (verified) trace is `trace`.
pub fn segment_pointer(model: &Model, trace: &Trace, s: usize) -> Result<DisputeGame::SegmentPointer> {
    let coarse = trace.commit_coarse(&model.graph);
    let boundary = |i: usize| -> Result<DisputeGame::BoundaryOpening> {
        Ok(DisputeGame::BoundaryOpening {
            root: FixedBytes(coarse.tensors[i].root()),
            proof: list_proof(&coarse.tree, i)?,
        })
    };
    Ok(DisputeGame::SegmentPointer { segment: s as u32, lo: boundary(s)?, hi: boundary(s + 1)? })
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
    Ok(DisputeGame::ElementRequest {
        op: at.op as u32,
        node: abi_node(&c.node),
        nodeProof: list_proof(&mc.graph, at.op)?,
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
    Ok(DisputeGame::Unopenable {
        op: at.op as u32,
        row: at.row as u32,
        col: at.col as u32,
        leaf: model.graph.leaf(at.op).into(),
        leafProof: list_proof(&mc.graph, at.op)?,
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
