//! A Hugging Face `tokenizers::Tokenizer` rebuilt from the tokenizer stored in GGUF metadata
//! (`tokenizer.ggml.*`), for byte-level BPE models (`tokenizer.ggml.model == "gpt2"`).
//!
//! The result matches the `tokenizer.json` llama.cpp's converter started from: the BPE vocabulary
//! and merges, control tokens (`tokenizer.ggml.token_type` 3, e.g. `<|im_start|>`) as special
//! added tokens, user-defined ones (type 4) as added tokens, the pre-tokenizer named by
//! `tokenizer.ggml.pre` (for SmolLM2: digits split one by one, then GPT-2's byte-level split
//! without a prefix space) and a byte-level decoder.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::{Error, Result};

/// `tokenizer.ggml.token_type` of a control token (special: `<|im_start|>`, `<|endoftext|>`).
const TOKEN_TYPE_CONTROL: i64 = 3;
/// `tokenizer.ggml.token_type` of a user-defined token (matched before BPE, not special).
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// SmolLM2's default system prompt, from its chat template.
pub const SMOLLM2_SYSTEM_PROMPT: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Builds the tokenizer described by the metadata of `content` (read from `path`, which errors
/// name).
///
/// Supported: `tokenizer.ggml.model == "gpt2"` (byte-level BPE) with pre-tokenizer
/// (`tokenizer.ggml.pre`) `gpt2`/`default`/absent (GPT-2 split), or one of the
/// StarCoder-family ones that first split digits one by one (`smollm`, `starcoder`, `refact`,
/// `codeshell`, `command-r`, `exaone`, `minerva`). If `tokenizer.ggml.add_bos_token` is true,
/// encoding with special tokens prepends the BOS token.
pub fn tokenizer_from_gguf(content: &gguf_file::Content, path: &Path) -> Result<Tokenizer> {
    let bad = |reason: String| Error::Weights { path: path.to_path_buf(), reason };
    let md = &content.metadata;
    let string = |key: &str| match md.get(key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    match string("tokenizer.ggml.model") {
        Some("gpt2") => {}
        other => {
            return Err(bad(format!(
                "tokenizer model {} is not supported (only byte-level BPE, `gpt2`)",
                other.map_or_else(|| "not given".to_string(), |m| format!("`{m}`"))
            )))
        }
    }
    let tokens = string_array(md.get("tokenizer.ggml.tokens"))
        .ok_or_else(|| bad("metadata `tokenizer.ggml.tokens` is missing or not strings".into()))?;
    let merges = string_array(md.get("tokenizer.ggml.merges"))
        .ok_or_else(|| bad("metadata `tokenizer.ggml.merges` is missing or not strings".into()))?;
    let token_types: Vec<i64> = match md.get("tokenizer.ggml.token_type") {
        None => vec![1; tokens.len()],
        Some(Value::Array(v)) => v
            .iter()
            .map(integer)
            .collect::<Option<Vec<_>>>()
            .filter(|t| t.len() == tokens.len())
            .ok_or_else(|| bad(format!("metadata `tokenizer.ggml.token_type` is not {} integers", tokens.len())))?,
        Some(v) => return Err(bad(format!("metadata `tokenizer.ggml.token_type` = {v:?} is not an array"))),
    };

    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| {
            u32::try_from(id)
                .map(|id| ((*t).to_string(), id))
                .map_err(|_| bad(format!("{} tokens do not fit u32 ids", tokens.len())))
        })
        .collect::<Result<_>>()?;
    if vocab.len() != tokens.len() {
        return Err(bad("metadata `tokenizer.ggml.tokens` has duplicates".into()));
    }
    let merges = merges
        .iter()
        .map(|m| {
            // As llama.cpp: split at the first space after the first character.
            m.char_indices()
                .skip(1)
                .find(|&(_, ch)| ch == ' ')
                .map(|(i, _)| (m[..i].to_string(), m[i + 1..].to_string()))
                .ok_or_else(|| bad(format!("merge `{m}` is not two tokens")))
        })
        .collect::<Result<Vec<_>>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| bad(format!("building the BPE model: {e}")))?;

    let byte_level = ByteLevel::default().add_prefix_space(false).trim_offsets(true).use_regex(true);
    let pre_tokenizer: PreTokenizerWrapper = match string("tokenizer.ggml.pre") {
        None | Some("gpt2" | "default") => byte_level.into(),
        Some("smollm" | "starcoder" | "refact" | "codeshell" | "command-r" | "exaone" | "minerva") => {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
        }
        Some(other) => return Err(bad(format!("BPE pre-tokenizer `{other}` is not supported"))),
    };

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer)).with_decoder(Some(ByteLevelDecoder::default()));
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&token_types)
        .filter(|(_, &t)| t == TOKEN_TYPE_CONTROL)
        .map(|(tok, _)| AddedToken::from(*tok, true).normalized(false))
        .collect();
    let user: Vec<AddedToken> = tokens
        .iter()
        .zip(&token_types)
        .filter(|(_, &t)| t == TOKEN_TYPE_USER_DEFINED)
        .map(|(tok, _)| AddedToken::from(*tok, false).normalized(false))
        .collect();
    tokenizer.add_special_tokens(special).map_err(|e| bad(format!("adding special tokens: {e}")))?;
    tokenizer.add_tokens(user).map_err(|e| bad(format!("adding user-defined tokens: {e}")))?;

    if matches!(md.get("tokenizer.ggml.add_bos_token"), Some(Value::Bool(true))) {
        let bos = md
            .get("tokenizer.ggml.bos_token_id")
            .and_then(integer)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| tokens.get(i).map(|t| (i, *t)))
            .ok_or_else(|| bad("add_bos_token is set but the BOS token is not".into()))?;
        let (id, bos) = (u32::try_from(bos.0).unwrap_or(u32::MAX), bos.1);
        let template = TemplateProcessing::builder()
            .try_single(vec![bos, "$A"])
            .and_then(|b| b.try_pair(vec![bos, "$A", bos, "$B:1"]))
            .map_err(|e| bad(format!("BOS template: {e}")))?
            .special_tokens(vec![(bos, id)])
            .build()
            .map_err(|e| bad(format!("BOS template: {e}")))?;
        tokenizer.with_post_processor(Some(template));
    }
    Ok(tokenizer)
}

/// SmolLM2's chat template (`tokenizer.chat_template` of its GGUF) applied to one user turn
/// with the default system prompt, ending with the generation prompt for the assistant.
pub fn smollm2_chat_prompt(user: &str) -> String {
    format!(
        "<|im_start|>system\n{SMOLLM2_SYSTEM_PROMPT}<|im_end|>\n\
         <|im_start|>user\n{user}<|im_end|>\n\
         <|im_start|>assistant\n"
    )
}

fn string_array(v: Option<&Value>) -> Option<Vec<&str>> {
    match v? {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn integer(v: &Value) -> Option<i64> {
    match *v {
        Value::U8(x) => Some(x.into()),
        Value::I8(x) => Some(x.into()),
        Value::U16(x) => Some(x.into()),
        Value::I16(x) => Some(x.into()),
        Value::U32(x) => Some(x.into()),
        Value::I32(x) => Some(x.into()),
        Value::U64(x) => i64::try_from(x).ok(),
        Value::I64(x) => Some(x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{fetch, gguf};

    fn smollm2() -> (gguf_file::Content, std::path::PathBuf) {
        let path = fetch::smollm2_gguf(&fetch::default_cache_dir()).unwrap();
        let mut reader = gguf::open(&path).unwrap();
        (gguf::read_content(&mut reader, &path).unwrap(), path)
    }

    #[test]
    fn chat_prompt_follows_the_gguf_template() {
        let (content, _) = smollm2();
        let Some(Value::String(template)) = content.metadata.get("tokenizer.chat_template") else {
            panic!("no chat template");
        };
        // The pieces our prompt is made of, as the template writes them (its string literals hold
        // real newlines).
        assert!(template.contains(&format!("'<|im_start|>system\n{SMOLLM2_SYSTEM_PROMPT}<|im_end|>\n'")));
        assert!(template.contains("'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'"));
        assert!(template.contains("'<|im_start|>assistant\n'"));
        assert_eq!(
            smollm2_chat_prompt("Hi"),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
             Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn smollm2_tokenizer_encodes_like_the_original() {
        let (content, path) = smollm2();
        let tok = tokenizer_from_gguf(&content, &path).unwrap();
        assert_eq!(tok.get_vocab_size(true), 49152);
        for (t, id) in [("<|endoftext|>", 0), ("<|im_start|>", 1), ("<|im_end|>", 2)] {
            assert_eq!(tok.token_to_id(t), Some(id));
        }

        // Special tokens are single ids and survive; plain text is byte-level BPE without a
        // prefix space; digits are split one by one.
        let enc = tok.encode("<|im_start|>user\nHello world 2024<|im_end|>", false).unwrap();
        assert_eq!(
            enc.get_tokens(),
            ["<|im_start|>", "user", "Ċ", "Hello", "Ġworld", "Ġ", "2", "0", "2", "4", "<|im_end|>"]
        );
        assert_eq!(enc.get_ids()[0], 1);
        assert_eq!(*enc.get_ids().last().unwrap(), 2);
        // The chat prompt's system turn, as Hugging Face's SmolLM2 tokenizer encodes it.
        let system = format!("<|im_start|>system\n{SMOLLM2_SYSTEM_PROMPT}<|im_end|>\n");
        assert_eq!(
            tok.encode(system.as_str(), false).unwrap().get_ids(),
            [
                1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712,
                8182, 2, 198
            ]
        );
        // No BOS is added (add_bos_token is false for SmolLM2).
        assert_eq!(tok.encode("Hello", true).unwrap().get_tokens(), ["Hello"]);

        for text in [
            "What is the capital of France?",
            "  leading spaces, tabs\tand\nnewlines\n\n",
            "Ünïcödé — 日本語 🙂 and numbers 3.14159",
            "<|im_start|>assistant\nThe capital is Paris.<|im_end|>\n",
        ] {
            let ids = tok.encode(text, false).unwrap().get_ids().to_vec();
            assert_eq!(tok.decode(&ids, false).unwrap(), text);
        }
        let ids = tok.encode("<|im_start|>Paris<|im_end|>", false).unwrap();
        assert_eq!(tok.decode(ids.get_ids(), true).unwrap(), "Paris");
    }

    #[test]
    fn other_tokenizer_models_are_refused() {
        let (mut content, path) = smollm2();
        content.metadata.insert("tokenizer.ggml.model".into(), Value::String("llama".into()));
        let msg = tokenizer_from_gguf(&content, &path).unwrap_err().to_string();
        assert!(msg.contains("`llama`"), "{msg}");
        assert!(msg.contains("SmolLM2-135M-Instruct.Q4_1.gguf"), "{msg}");
    }
}
