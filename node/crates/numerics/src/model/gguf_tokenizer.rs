//! A Hugging Face `tokenizers::Tokenizer` rebuilt from the tokenizer stored in GGUF metadata
//! (`tokenizer.ggml.*`): byte-level BPE (`tokenizer.ggml.model == "gpt2"`: SmolLM2, Qwen2, Llama 3) or llama
//! SentencePiece (`"llama"`: Llama 2, TinyLlama, Mistral).
//!
//! The result matches the `tokenizer.json` llama.cpp's converter started from: the BPE vocabulary
//! and merges (for SentencePiece, merges ranked by piece score, as `transformers` derives them), control tokens
//! (`tokenizer.ggml.token_type` 3, e.g. `<|im_start|>`) as special added tokens, user-defined ones (type 4) as
//! added tokens, the pre-tokenizer named by `tokenizer.ggml.pre` (SmolLM2: digits split one by one, then GPT-2's
//! byte-level split without a prefix space; Qwen2 and Llama 3: their regex split) and the matching decoder.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::SplitDelimiterBehavior;
use tokenizers::{AddedToken, Tokenizer};

use crate::{Error, Result};

/// `tokenizer.ggml.token_type` of a normal token.
const TOKEN_TYPE_NORMAL: i64 = 1;
/// `tokenizer.ggml.token_type` of the unknown token (`<unk>`).
const TOKEN_TYPE_UNKNOWN: i64 = 2;
/// `tokenizer.ggml.token_type` of a control token (special: `<|im_start|>`, `<|endoftext|>`).
const TOKEN_TYPE_CONTROL: i64 = 3;
/// `tokenizer.ggml.token_type` of a user-defined token (matched before BPE, not special).
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// Qwen2's pre-tokenizer split (its `tokenizer.json`): contractions, letters with one leading non-letter, each
/// digit alone, punctuation runs, newlines, spaces.
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Llama 3's: as Qwen2's, with digits in runs of up to three.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// SmolLM2's default system prompt, from its chat template.
pub const SMOLLM2_SYSTEM_PROMPT: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Builds the tokenizer described by the metadata of `content` (read from `path`, which errors
/// name).
///
/// Supported: `tokenizer.ggml.model == "gpt2"` (byte-level BPE) with pre-tokenizer
/// (`tokenizer.ggml.pre`) `gpt2`/`default`/absent (GPT-2 split), one of the
/// StarCoder-family ones that first split digits one by one (`smollm`, `starcoder`, `refact`,
/// `codeshell`, `command-r`, `exaone`, `minerva`), `qwen2` or `llama-bpe`; or `"llama"` (SentencePiece, with
/// `tokenizer.ggml.scores`). If `tokenizer.ggml.add_bos_token` is true (by default for SentencePiece),
/// encoding with special tokens prepends the BOS token.
pub fn tokenizer_from_gguf(content: &gguf_file::Content, path: &Path) -> Result<Tokenizer> {
    let bad = |reason: String| Error::Weights { path: path.to_path_buf(), reason };
    let md = &content.metadata;
    let string = |key: &str| match md.get(key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let sentencepiece = match string("tokenizer.ggml.model") {
        Some("gpt2") => false,
        Some("llama") => true,
        other => {
            return Err(bad(format!(
                "tokenizer model {} is not supported (byte-level BPE `gpt2`, SentencePiece `llama`)",
                other.map_or_else(|| "not given".to_string(), |m| format!("`{m}`"))
            )))
        }
    };
    let tokens = string_array(md.get("tokenizer.ggml.tokens"))
        .ok_or_else(|| bad("metadata `tokenizer.ggml.tokens` is missing or not strings".into()))?;
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
    let mut tokenizer = if sentencepiece {
        sentencepiece_bpe(content, &tokens, &token_types, &bad)?
    } else {
        byte_level_bpe(content, &tokens, &bad)?
    };
    // the tokens of one type, added whole (special: kept out of decoded text unless asked for)
    let of_type = |kind: i64, special: bool| -> Vec<AddedToken> {
        let typed = tokens.iter().zip(&token_types).filter(|(_, &t)| t == kind);
        typed.map(|(tok, _)| AddedToken::from(*tok, special).normalized(false)).collect()
    };
    let (special, user) = (of_type(TOKEN_TYPE_CONTROL, true), of_type(TOKEN_TYPE_USER_DEFINED, false));
    tokenizer.add_special_tokens(special).map_err(|e| bad(format!("adding special tokens: {e}")))?;
    tokenizer.add_tokens(user).map_err(|e| bad(format!("adding user-defined tokens: {e}")))?;

    // SentencePiece models add BOS unless told otherwise; byte-level BPE ones only when told to.
    let add_bos = match md.get("tokenizer.ggml.add_bos_token") {
        Some(Value::Bool(b)) => *b,
        _ => sentencepiece,
    };
    if add_bos {
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

/// The vocabulary as token -> id; refuses duplicates.
fn vocabulary(tokens: &[&str], bad: &dyn Fn(String) -> Error) -> Result<Vocab> {
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
    Ok(vocab)
}

/// A llama SentencePiece tokenizer (`tokenizer.ggml.model == "llama"`) as Hugging Face's `LlamaTokenizerFast`
/// writes it: a BPE over the pieces whose merges follow from the pieces' scores (`tokenizer.ggml.scores`; as
/// `transformers`' `SentencePieceExtractor`: every split of a piece into two pieces, ranked by the merged
/// piece's score), byte fallback (`<0x..>` tokens) for what no piece covers, spaces written `▁` with one
/// prepended (unless `tokenizer.ggml.add_space_prefix` is false), and the decoder undoing each.
fn sentencepiece_bpe(
    content: &gguf_file::Content,
    tokens: &[&str],
    types: &[i64],
    bad: &dyn Fn(String) -> Error,
) -> Result<Tokenizer> {
    use tokenizers::decoders::{
        byte_fallback::ByteFallback, fuse::Fuse, sequence::Sequence as Decoders, strip::Strip, DecoderWrapper,
    };
    use tokenizers::normalizers::{prepend::Prepend, replace::Replace, utils::Sequence as Normalizers};
    let md = &content.metadata;
    let scores: Vec<f32> = match md.get("tokenizer.ggml.scores") {
        Some(Value::Array(v)) => v
            .iter()
            .map(|x| match x {
                Value::F32(f) => Some(*f),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|s| s.len() == tokens.len())
            .ok_or_else(|| bad(format!("metadata `tokenizer.ggml.scores` is not {} floats", tokens.len())))?,
        _ => return Err(bad("metadata `tokenizer.ggml.scores` is missing (a SentencePiece vocabulary)".into())),
    };
    let vocab = vocabulary(tokens, bad)?;
    // Only normal pieces merge (control, unknown and byte tokens never come out of a merge).
    let mut merges: Vec<(f32, u32, u32, String, String)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] != TOKEN_TYPE_NORMAL {
            continue;
        }
        for (at, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(at);
            if let (Some(&a), Some(&b)) = (vocab.get(l), vocab.get(r)) {
                merges.push((scores[id], a, b, l.to_string(), r.to_string()));
            }
        }
    }
    // by score, highest first; ties as the extractor leaves them (by the left, then the right piece's id)
    merges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let unk = types.iter().position(|t| *t == TOKEN_TYPE_UNKNOWN).map(|i| tokens[i].to_string());
    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges.into_iter().map(|m| (m.3, m.4)).collect())
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(|e| bad(format!("building the BPE model: {e}")))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let replace = |from: &str, to: &str| Replace::new(from, to).map_err(|e| bad(format!("replace: {e}")));
    let prefix = !matches!(md.get("tokenizer.ggml.add_space_prefix"), Some(Value::Bool(false)));
    let mut normalizers = Vec::new();
    if prefix {
        normalizers.push(Prepend::new("▁".into()).into());
    }
    normalizers.push(replace(" ", "▁")?.into());
    tokenizer.with_normalizer(Some(Normalizers::new(normalizers))).map_err(|e| bad(format!("normalizer: {e}")))?;
    let mut decoders: Vec<DecoderWrapper> =
        vec![replace("▁", " ")?.into(), ByteFallback::new().into(), Fuse::new().into()];
    if prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tokenizer.with_decoder(Some(Decoders::new(decoders)));
    Ok(tokenizer)
}

/// A byte-level BPE tokenizer (`tokenizer.ggml.model == "gpt2"`): the vocabulary and merges of the GGUF, the
/// pre-tokenizer `tokenizer.ggml.pre` names, a byte-level decoder.
fn byte_level_bpe(content: &gguf_file::Content, tokens: &[&str], bad: &dyn Fn(String) -> Error) -> Result<Tokenizer> {
    let md = &content.metadata;
    let string = |key: &str| match md.get(key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let merges = string_array(md.get("tokenizer.ggml.merges"))
        .ok_or_else(|| bad("metadata `tokenizer.ggml.merges` is missing or not strings".into()))?;
    let vocab = vocabulary(tokens, bad)?;
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
    // The regex split of Qwen2's and Llama 3's `tokenizer.json`, then byte-level without GPT-2's regex.
    let split_then_bytes = |regex: &str| -> Result<PreTokenizerWrapper> {
        let split = Split::new(SplitPattern::Regex(regex.into()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| bad(format!("pre-tokenizer regex: {e}")))?;
        let bytes = ByteLevel::default().add_prefix_space(false).trim_offsets(false).use_regex(false);
        Ok(Sequence::new(vec![split.into(), bytes.into()]).into())
    };
    let pre = string("tokenizer.ggml.pre");
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        None | Some("gpt2" | "default") => byte_level.into(),
        Some("smollm" | "starcoder" | "refact" | "codeshell" | "command-r" | "exaone" | "minerva") => {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
        }
        Some("qwen2") => split_then_bytes(QWEN2_SPLIT)?,
        Some("llama-bpe" | "llama3") => split_then_bytes(LLAMA3_SPLIT)?,
        Some(other) => return Err(bad(format!("BPE pre-tokenizer `{other}` is not supported"))),
    };

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer)).with_decoder(Some(ByteLevelDecoder::default()));
    if matches!(pre, Some("qwen2")) {
        tokenizer.with_normalizer(Some(NFC)).map_err(|e| bad(format!("NFC normalizer: {e}")))?;
    }
    Ok(tokenizer)
}

/// How a chat model wants one user turn framed, read from its GGUF: ChatML (`<|im_start|>role\n…<|im_end|>\n`,
/// SmolLM2, Qwen2) with the default system prompt of its `tokenizer.chat_template`, or Llama 3's header turns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    /// ChatML, with the template's default system prompt if it has one.
    ChatMl {
        /// The system turn's text when the conversation brings none.
        system: Option<String>,
    },
    /// Llama 3 (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`), after the BOS token.
    Llama3,
}

impl ChatTemplate {
    /// The chat format of the model whose GGUF metadata is `content`, if its vocabulary has ChatML's or Llama 3's
    /// turn tokens (`None`: a base model, prompted with raw text).
    pub fn from_gguf(content: &gguf_file::Content) -> Option<Self> {
        let tokens = string_array(content.metadata.get("tokenizer.ggml.tokens"))?;
        let template = match content.metadata.get("tokenizer.chat_template") {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        Self::detect(|t| tokens.contains(&t), template)
    }

    /// The chat format of a model whose vocabulary has the tokens `has` says it has and whose chat template
    /// (Jinja, possibly empty) is `template`.
    pub fn detect(has: impl Fn(&str) -> bool, template: &str) -> Option<Self> {
        if has("<|im_start|>") && has("<|im_end|>") {
            Some(Self::ChatMl { system: default_system_prompt(template) })
        } else if has("<|start_header_id|>") && has("<|eot_id|>") {
            Some(Self::Llama3)
        } else {
            None
        }
    }

    /// One user turn, ending with the generation prompt for the assistant.
    pub fn prompt(&self, user: &str) -> String {
        match self {
            Self::ChatMl { system } => {
                let system =
                    system.as_deref().map(|s| format!("<|im_start|>system\n{s}<|im_end|>\n")).unwrap_or_default();
                format!("{system}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
            }
            Self::Llama3 => format!(
                "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>\
                 <|start_header_id|>assistant<|end_header_id|>\n\n"
            ),
        }
    }
}

/// The default system prompt a chat template writes when the conversation has none: its first string literal
/// that begins "You are" (SmolLM2's `'<|im_start|>system\nYou are a helpful AI assistant named SmolLM…'`, Qwen's
/// `'You are Qwen, created by Alibaba Cloud…'`), up to its closing quote or `<|im_end|>`.
fn default_system_prompt(template: &str) -> Option<String> {
    let at = template.find("You are")?;
    let quote = template[..at].chars().rev().find(|c| *c == '\'' || *c == '"')?;
    let rest = &template[at..];
    let end = rest.find(quote)?;
    let text = &rest[..end];
    Some(text.split("<|im_end|>").next().unwrap_or(text).to_string())
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

    /// The chat format read from the GGUF is the one written by hand from SmolLM2's template.
    #[test]
    fn chat_template_is_read_from_the_gguf() {
        let (content, _) = smollm2();
        let chat = ChatTemplate::from_gguf(&content).unwrap();
        assert_eq!(chat, ChatTemplate::ChatMl { system: Some(SMOLLM2_SYSTEM_PROMPT.into()) });
        assert_eq!(chat.prompt("Hi"), smollm2_chat_prompt("Hi"));
        assert_eq!(
            default_system_prompt("{{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}"),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.".into())
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

    /// Qwen2's byte-level BPE (pre-tokenizer `qwen2`: NFC, its regex split, digits one by one), checked against
    /// token ids Hugging Face's Qwen2.5 tokenizer gives (as published with vLLM's and others' examples).
    #[test]
    fn qwen2_tokenizer_encodes_like_the_original() {
        let path = fetch::qwen25_coder_gguf(&fetch::default_cache_dir()).unwrap();
        let mut reader = gguf::open(&path).unwrap();
        let content = gguf::read_content(&mut reader, &path).unwrap();
        let tok = tokenizer_from_gguf(&content, &path).unwrap();
        assert_eq!(tok.get_vocab_size(true), 151936);
        let chat = ChatTemplate::from_gguf(&content).unwrap();
        let prompt = chat.prompt("What is the capital of France?");
        assert_eq!(
            tok.encode(prompt.as_str(), true).unwrap().get_ids(),
            [
                151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264, 10950,
                17847, 13, 151645, 198, 151644, 872, 198, 3838, 374, 279, 6722, 315, 9625, 30, 151645, 198, 151644,
                77091, 198
            ]
        );
        let text = "Write a function to reverse each string in a list.\nYour code should pass this test:\n\
                    assert rev([\"ab\"]) == [\"ba\"]<|im_end|>\n";
        assert_eq!(
            tok.encode(text, true).unwrap().get_ids(),
            [
                7985, 264, 729, 311, 9931, 1817, 914, 304, 264, 1140, 624, 7771, 2038, 1265, 1494, 419, 1273, 510,
                2207, 5772, 19065, 370, 14013, 621, 4383, 4645, 1341, 151645, 198
            ]
        );
        assert_eq!(tok.encode("2024", false).unwrap().get_ids(), [17, 15, 17, 19], "digits one by one");
        for text in ["  def f(x):\n\treturn x ** 2\n\n", "Ünïcödé — 日本語 🙂 3.14159"] {
            let ids = tok.encode(text, false).unwrap().get_ids().to_vec();
            assert_eq!(tok.decode(&ids, false).unwrap(), text);
        }
    }

    /// A llama SentencePiece vocabulary (pieces, scores, byte tokens) becomes Hugging Face's BPE equivalent:
    /// merges ranked by the merged piece's score, `▁` for spaces with one prepended, BOS added, bytes for what no
    /// piece covers; the ids are the ones SentencePiece's own BPE gives for this vocabulary.
    #[test]
    fn sentencepiece_vocabularies_encode_by_piece_score() {
        let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
        let mut types = vec![TOKEN_TYPE_UNKNOWN, TOKEN_TYPE_CONTROL, TOKEN_TYPE_CONTROL];
        tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
        types.extend([6; 256]);
        let mut scores = vec![0f32; tokens.len()];
        // single characters (merged from nothing), then the pieces in the order their scores merge them
        let pieces = [
            "▁", "H", "e", "l", "o", "w", "r", "d", "ll", "▁H", "llo", "▁He", "▁Hello", "▁w", "or", "▁wor", "ld",
            "▁world",
        ];
        for (i, p) in pieces.iter().enumerate() {
            tokens.push((*p).into());
            types.push(TOKEN_TYPE_NORMAL);
            scores.push(if i < 8 { -100.0 - i as f32 } else { -(i as f32 - 7.0) });
        }
        let id = |p: &str| tokens.iter().position(|t| t == p).unwrap() as u32;
        let (hello, world, h) = (id("▁Hello"), id("▁world"), id("▁H"));
        let array = |v: Vec<Value>| Value::Array(v);
        let metadata = [
            ("tokenizer.ggml.model", Value::String("llama".into())),
            ("tokenizer.ggml.tokens", array(tokens.iter().map(|t| Value::String(t.clone())).collect())),
            ("tokenizer.ggml.scores", array(scores.iter().map(|s| Value::F32(*s)).collect())),
            ("tokenizer.ggml.token_type", array(types.iter().map(|t| Value::I32(*t as i32)).collect())),
            ("tokenizer.ggml.bos_token_id", Value::U32(1)),
            ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ];
        let content = gguf_file::Content {
            magic: gguf_file::VersionedMagic::GgufV3,
            metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            tensor_infos: Default::default(),
            tensor_data_offset: 0,
        };
        let tok = tokenizer_from_gguf(&content, Path::new("spm.gguf")).unwrap();
        assert_eq!(tok.encode("Hello world", true).unwrap().get_ids(), [1, hello, world]);
        // é is no piece: its UTF-8 bytes 0xC3 0xA9 (ids 3 + byte)
        assert_eq!(tok.encode("Hello Hé", true).unwrap().get_ids(), [1, hello, h, 3 + 0xC3, 3 + 0xA9]);
        assert_eq!(tok.encode("<s>Hello", false).unwrap().get_ids(), [1, hello]);
        for text in ["Hello world", "Hello Hé"] {
            let ids = tok.encode(text, true).unwrap().get_ids().to_vec();
            assert_eq!(tok.decode(&ids, true).unwrap(), text);
        }
        let mut content = content;
        content.metadata.remove("tokenizer.ggml.scores");
        let msg = tokenizer_from_gguf(&content, Path::new("spm.gguf")).unwrap_err().to_string();
        assert!(msg.contains("tokenizer.ggml.scores") && msg.contains("spm.gguf"), "{msg}");
    }

    #[test]
    fn other_tokenizer_models_are_refused() {
        let (mut content, path) = smollm2();
        content.metadata.insert("tokenizer.ggml.model".into(), Value::String("bert".into()));
        let msg = tokenizer_from_gguf(&content, &path).unwrap_err().to_string();
        assert!(msg.contains("`bert`") && msg.contains("SentencePiece"), "{msg}");
        assert!(msg.contains("SmolLM2-135M-Instruct.Q4_1.gguf"), "{msg}");
    }
}
