//! Hugging Face checkpoint directories: `config.json`, one or more `*.safetensors` files and `tokenizer.json`
//! (with `tokenizer_config.json`'s chat template when present), as `transformers` saves them.
//!
//! The family is read from `config.json` ([`Family::of`]: `model_type`, else `architectures`); decoders
//! (llama, mistral, qwen2) become a [`LlamaConfig`] ([`LlamaConfig::from_hf`]), BERT encoders a
//! [`super::bert::BertConfig`]. Tensors may be F32, F16 or BF16 and are widened to fp32.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::llama::{Llama3Scaling, LlamaConfig, RopeScaling};
use super::HostTensor;
use crate::{Error, Result};

/// A model family a checkpoint can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A llama-family decoder (llama, mistral, qwen2): [`super::llama::Llama`].
    Llama,
    /// A BERT encoder: [`super::bert::Bert`].
    Bert,
}

/// The `model_type` values each family reads.
const MODEL_TYPES: [(&str, Family); 4] =
    [("llama", Family::Llama), ("mistral", Family::Llama), ("qwen2", Family::Llama), ("bert", Family::Bert)];

impl Family {
    /// The family of the checkpoint whose `config.json` is `config` (read from `path`): its `model_type`, or
    /// else its first `architectures` entry (`LlamaForCausalLM`, `Qwen2ForCausalLM`, `BertModel`, …). An
    /// unsupported one is named with the supported ones.
    pub fn of(config: &Value, path: &Path) -> Result<Self> {
        let model_type = config.get("model_type").and_then(Value::as_str);
        let architecture = config.get("architectures").and_then(|a| a.get(0)).and_then(Value::as_str);
        let found = model_type.map(str::to_lowercase).or_else(|| {
            let a = architecture?.to_lowercase();
            MODEL_TYPES.iter().find(|(t, _)| a.starts_with(t)).map(|(t, _)| (*t).to_string())
        });
        match found.as_deref().and_then(|t| MODEL_TYPES.iter().find(|(m, _)| *m == t)) {
            Some((_, family)) => Ok(*family),
            None => Err(Error::Weights {
                path: path.to_path_buf(),
                reason: format!(
                    "model_type {} (architectures {}) is not supported; supported: {}",
                    model_type.map_or_else(|| "not given".to_string(), |t| format!("`{t}`")),
                    architecture.map_or_else(|| "not given".to_string(), |a| format!("`{a}`")),
                    MODEL_TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

/// `dir/config.json`, parsed; its path for errors.
pub fn read_config(dir: &Path) -> Result<(Value, PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Weights { path: dir.to_path_buf(), reason: "not a directory".into() });
    }
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(Error::Weights {
            path: dir.to_path_buf(),
            reason: "no config.json: a Hugging Face checkpoint directory holds config.json, *.safetensors and \
                     tokenizer.json"
                .into(),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
    let value = serde_json::from_str(&text)
        .map_err(|e| Error::Weights { path: path.clone(), reason: format!("not JSON: {e}") })?;
    Ok((value, path))
}

impl LlamaConfig {
    /// A llama-family decoder's configuration from its `config.json` (`config`, read from `path`): Hugging Face's
    /// field names; qwen2 always has attention biases, llama has them if `attention_bias` says so; a mistral
    /// sliding window bounds the context (the graphs attend over every earlier position). Llama 3's rope scaling
    /// is read; any other is refused by name.
    pub fn from_hf(config: &Value, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Weights { path: path.to_path_buf(), reason };
        let count = |key: &str| -> Result<Option<usize>> {
            match config.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| bad(format!("`{key}` = {v} is not a count"))),
            }
        };
        let need = |key: &str| count(key)?.ok_or_else(|| bad(format!("`{key}` is missing")));
        let float = |key: &str, default: f64| -> Result<f32> {
            match config.get(key) {
                None | Some(Value::Null) => Ok(default as f32),
                Some(v) => v.as_f64().map(|x| x as f32).ok_or_else(|| bad(format!("`{key}` = {v} is not a number"))),
            }
        };
        let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or("llama");
        let rope_scaling = match config.get("rope_scaling").filter(|v| !v.is_null()) {
            None => None,
            Some(scaling) => llama3_scaling(scaling).map_err(bad)?.map(RopeScaling::Llama3),
        };
        if let Some(act) = config.get("hidden_act").and_then(Value::as_str) {
            if act != "silu" {
                return Err(bad(format!("hidden_act `{act}` is not supported (llama-family MLPs use silu)")));
            }
        }
        let hidden_size = need("hidden_size")?;
        let num_heads = need("num_attention_heads")?;
        let mut max_position_embeddings = need("max_position_embeddings")?;
        let window = count("sliding_window")?;
        let uses_window = config.get("use_sliding_window").and_then(Value::as_bool).unwrap_or(model_type == "mistral");
        if let (Some(w), true) = (window, uses_window) {
            max_position_embeddings = max_position_embeddings.min(w);
        }
        let token_ids = |key: &str| -> Vec<u32> {
            match config.get(key) {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).into_iter().collect(),
                Some(Value::Array(a)) => {
                    a.iter().filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok())).collect()
                }
                _ => Vec::new(),
            }
        };
        let c = Self {
            vocab_size: need("vocab_size")?,
            hidden_size,
            intermediate_size: need("intermediate_size")?,
            num_layers: need("num_hidden_layers")?,
            num_heads,
            num_kv_heads: count("num_key_value_heads")?.unwrap_or(num_heads),
            head_dim: count("head_dim")?.unwrap_or(hidden_size / num_heads.max(1)),
            rms_norm_eps: float("rms_norm_eps", 1e-6)?,
            rope_theta: float("rope_theta", 10_000.0)?,
            rope_scaling,
            max_position_embeddings,
            attention_bias: model_type == "qwen2"
                || config.get("attention_bias").and_then(Value::as_bool).unwrap_or(false),
            tie_word_embeddings: config.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false),
            bos_token_id: token_ids("bos_token_id").first().copied(),
            eos_token_ids: token_ids("eos_token_id"),
        };
        c.check().map_err(bad)?;
        Ok(c)
    }
}

/// Llama 3's rope scaling from a `rope_scaling` object (`rope_type`, or the older `type`): `None` for
/// `default`; any other type, a missing or non-numeric parameter, a factor below 1 or a band whose ends are
/// not `0 < low_freq_factor < high_freq_factor` is named.
fn llama3_scaling(scaling: &Value) -> std::result::Result<Option<Llama3Scaling>, String> {
    let kind = scaling.get("rope_type").or_else(|| scaling.get("type")).and_then(Value::as_str).unwrap_or("");
    match kind {
        "default" => return Ok(None),
        "llama3" => {}
        _ => return Err(format!("rope scaling {scaling} is not supported (only Llama 3's, `rope_type: llama3`)")),
    }
    let number = |key: &str| {
        scaling.get(key).and_then(Value::as_f64).ok_or_else(|| format!("rope_scaling.{key} is missing or not a number"))
    };
    let s = Llama3Scaling {
        factor: number("factor")? as f32,
        low_freq_factor: number("low_freq_factor")? as f32,
        high_freq_factor: number("high_freq_factor")? as f32,
        original_max_position_embeddings: number("original_max_position_embeddings")? as usize,
    };
    if !(s.factor >= 1.0 && s.factor.is_finite()) {
        return Err(format!("rope_scaling.factor = {} is not a finite factor of at least 1", s.factor));
    }
    if !(0.0 < s.low_freq_factor && s.low_freq_factor < s.high_freq_factor && s.high_freq_factor.is_finite()) {
        return Err(format!(
            "rope_scaling's band (low_freq_factor {}, high_freq_factor {}) is not 0 < low < high",
            s.low_freq_factor, s.high_freq_factor
        ));
    }
    if s.original_max_position_embeddings == 0 {
        return Err("rope_scaling.original_max_position_embeddings is 0".into());
    }
    Ok(Some(s))
}

/// Reads the tensors `names` (with the shapes `shapes`) from the `*.safetensors` files of `dir` (one file or a
/// sharded set), widened to fp32. A missing tensor, a tensor of another shape or dtype, or a tensor the model
/// does not use (other than rope's cached `rotary_emb.inv_freq` and, for `ignore`, names it lists) is an error
/// naming it: an ignored tensor would change the numerics.
pub fn read_tensors(dir: &Path, names: &[String], shapes: &[Vec<usize>], ignore: &[&str]) -> Result<Vec<HostTensor>> {
    use safetensors::SafeTensors;
    let bad = |path: &Path, reason: String| Error::Weights { path: path.to_path_buf(), reason };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad(dir, "no *.safetensors file".into()));
    }
    let wanted: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut out: Vec<Option<HostTensor>> = vec![None; names.len()];
    for file in &files {
        let bytes = std::fs::read(file).map_err(|source| Error::Io { path: file.clone(), source })?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(file, format!("not a safetensors file: {e}")))?;
        for (name, view) in st.tensors() {
            let Some(&i) = wanted.get(name.as_str()) else {
                if name.ends_with("rotary_emb.inv_freq") || ignore.contains(&name.as_str()) {
                    continue;
                }
                return Err(bad(file, format!("tensor `{name}` is not one this model uses")));
            };
            if view.shape() != shapes[i].as_slice() {
                return Err(Error::Shape {
                    name: format!("{name} in {}", file.display()),
                    got: view.shape().to_vec(),
                    expected: shapes[i].clone(),
                });
            }
            out[i] = Some(HostTensor::new(
                view.shape().to_vec(),
                widen(&view).map_err(|r| bad(file, format!("`{name}`: {r}")))?,
            ));
        }
    }
    names
        .iter()
        .zip(out)
        .map(|(n, t)| t.ok_or_else(|| bad(dir, format!("tensor `{n}` is missing from its *.safetensors files"))))
        .collect()
}

/// A safetensors tensor's values as fp32 (F32 as is; F16 and BF16 widened exactly).
fn widen(view: &safetensors::tensor::TensorView<'_>) -> std::result::Result<Vec<f32>, String> {
    use safetensors::Dtype;
    let bytes = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::BF16 => {
            bytes.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
        }
        Dtype::F16 => candle_core::Tensor::from_raw_buffer(
            bytes,
            candle_core::DType::F16,
            view.shape(),
            &candle_core::Device::Cpu,
        )
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| e.to_string())?,
        other => return Err(format!("dtype {other:?} is not supported (F32, F16, BF16)")),
    })
}

/// The chat template of `dir/tokenizer_config.json`, if it has one.
pub fn chat_template(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("chat_template").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: Value) -> Value {
        let mut c = serde_json::json!({
            "model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "eos_token_id": [7, 9], "hidden_act": "silu",
        });
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    }

    /// Each family's fields as `transformers` names them: qwen2 always has attention biases, mistral's sliding
    /// window bounds the context, several end-of-sequence ids are kept; what the graph cannot build is named.
    #[test]
    fn decoder_configs_read_like_transformers() {
        let p = Path::new("config.json");
        let llama = LlamaConfig::from_hf(&config(serde_json::json!({})), p).unwrap();
        assert_eq!((llama.head_dim, llama.attention_bias, llama.tie_word_embeddings), (16, false, false));
        assert_eq!((llama.eos_token_ids.as_slice(), llama.rope_theta), (&[7, 9][..], 10_000.0));
        let qwen =
            config(serde_json::json!({"model_type": "qwen2", "sliding_window": 4096, "use_sliding_window": false}));
        let qwen = LlamaConfig::from_hf(&qwen, p).unwrap();
        assert!(qwen.attention_bias);
        assert_eq!(qwen.max_position_embeddings, 8192, "its window is off");
        let mistral =
            LlamaConfig::from_hf(&config(serde_json::json!({"model_type": "mistral", "sliding_window": 4096})), p);
        assert_eq!(mistral.unwrap().max_position_embeddings, 4096);
        let llama31 = serde_json::json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        let scaled = LlamaConfig::from_hf(&config(serde_json::json!({"rope_scaling": llama31})), p).unwrap();
        let want = Llama3Scaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        };
        assert_eq!(scaled.rope_scaling, Some(RopeScaling::Llama3(want)));
        let default = config(serde_json::json!({"rope_scaling": {"rope_type": "default"}}));
        assert_eq!(LlamaConfig::from_hf(&default, p).unwrap().rope_scaling, None);
        let with = |key: &str, v: serde_json::Value| {
            let mut s = llama31.clone();
            s[key] = v;
            serde_json::json!({ "rope_scaling": s })
        };
        for (bad, named) in [
            (
                serde_json::json!({"rope_scaling": {"type": "linear", "factor": 2.0}}),
                "rope scaling {\"factor\":2.0,\"type\":\"linear\"} is not supported",
            ),
            (
                serde_json::json!({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}),
                "rope_scaling.low_freq_factor is missing",
            ),
            (with("factor", serde_json::json!(0.5)), "rope_scaling.factor = 0.5"),
            (
                with("high_freq_factor", serde_json::json!(1.0)),
                "(low_freq_factor 1, high_freq_factor 1) is not 0 < low < high",
            ),
            (with("original_max_position_embeddings", serde_json::json!(0)), "original_max_position_embeddings is 0"),
            (serde_json::json!({"hidden_act": "gelu"}), "hidden_act `gelu`"),
            (serde_json::json!({"num_key_value_heads": 3}), "4 attention heads cannot be grouped over 3"),
            (serde_json::json!({"hidden_size": null}), "`hidden_size` is missing"),
        ] {
            let msg = LlamaConfig::from_hf(&config(bad), p).unwrap_err().to_string();
            assert!(msg.contains(named) && msg.contains("config.json"), "{msg}");
        }
        let bert = serde_json::json!({"architectures": ["BertModel"]});
        assert_eq!(Family::of(&bert, p).unwrap(), Family::Bert, "by its architecture when model_type is absent");
    }

    /// F16 and BF16 tensors widen to the fp32 values they hold, exactly.
    #[test]
    fn half_precision_tensors_widen_exactly() {
        use safetensors::{tensor::TensorView, Dtype};
        let f16: Vec<u8> = [0x3e00u16, 0xc000, 0x0001].iter().flat_map(|b| b.to_le_bytes()).collect(); // 1.5, -2, 2^-24
        let bf16: Vec<u8> = [0x3fc0u16, 0xc000].iter().flat_map(|b| b.to_le_bytes()).collect(); // 1.5, -2
        assert_eq!(widen(&TensorView::new(Dtype::F16, vec![3], &f16).unwrap()).unwrap(), [1.5, -2.0, 2f32.powi(-24)]);
        assert_eq!(widen(&TensorView::new(Dtype::BF16, vec![2], &bf16).unwrap()).unwrap(), [1.5, -2.0]);
        let i8s = [1u8, 2];
        let msg = widen(&TensorView::new(Dtype::I8, vec![2], &i8s).unwrap()).unwrap_err();
        assert!(msg.contains("I8"), "{msg}");
    }
}
