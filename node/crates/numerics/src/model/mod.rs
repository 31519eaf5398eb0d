//! Models: a graph plus its weights, loaded from real files.

pub mod bert;
pub mod builtin;
pub mod fetch;
pub mod gguf;
pub mod gguf_tokenizer;
pub mod hf;
pub mod llama;
mod mlp;
pub mod steering;

pub use crate::tensor::HostTensor;
pub use mlp::{MlpConfig, MLP_TINY};

use std::path::Path;
use std::sync::Arc;

use crate::commit::{Hash, MerkleTree, TensorCommitment};
use crate::graph::template::{Lengths, Template};
use crate::graph::Graph;
use crate::{Error, Result};

/// Builds a model family's concrete graph for given lengths.
pub type BuildGraph = Arc<dyn Fn(Lengths) -> Result<Graph> + Send + Sync>;

/// A model ready to run and to register: a concrete graph (at `lengths`) of the family its template registers.
#[derive(Clone)]
pub struct Model {
    /// Human name (e.g. `mlp-tiny`).
    pub name: String,
    /// The computation, at `lengths`.
    pub graph: Graph,
    /// Names of the weight tensors (as in the model file).
    pub weight_names: Vec<String>,
    /// Weight tensors, in the order nodes index them (shared by the graphs of one model).
    pub weights: Arc<Vec<HostTensor>>,
    /// The lengths `graph` is built for ((1, 1) for a graph that does not vary).
    pub lengths: Lengths,
    /// The family's template and what builds the graph of other lengths (none for a graph that does not vary:
    /// its template is its own, [`Model::template`]).
    family: Option<(Arc<Template>, BuildGraph)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("nodes", &self.graph.nodes.len())
            .field("lengths", &self.lengths)
            .field("family", &self.family.is_some())
            .finish()
    }
}

impl Model {
    /// A model; checks that every weight has the shape the graph declares and that the graph is well formed.
    pub fn new(name: &str, graph: Graph, weight_names: Vec<String>, weights: Vec<HostTensor>) -> Result<Self> {
        Self::with_shared_weights(name, graph, weight_names, Arc::new(weights))
    }

    /// A model over weights shared with other graphs of the same model (e.g. one graph per input length).
    pub fn with_shared_weights(
        name: &str,
        graph: Graph,
        weight_names: Vec<String>,
        weights: Arc<Vec<HostTensor>>,
    ) -> Result<Self> {
        if weights.len() != graph.weight_shapes.len() {
            return Err(Error::OutOfRange {
                what: "weight count",
                index: weights.len(),
                len: graph.weight_shapes.len(),
            });
        }
        for ((w, want), name) in weights.iter().zip(&graph.weight_shapes).zip(&weight_names) {
            if &w.shape != want {
                return Err(Error::Shape { name: name.clone(), got: w.shape.clone(), expected: want.clone() });
            }
        }
        graph.validate()?;
        Template::fixed(&graph)?;
        Ok(Self { name: name.to_string(), graph, weight_names, weights, lengths: Lengths::new(1, 1), family: None })
    }

    /// This model as one graph (at `lengths`) of the family `template` registers, whose other graphs `build`
    /// makes; refuses a graph that is not the template's at `lengths`.
    pub fn with_family(mut self, template: Arc<Template>, lengths: Lengths, build: BuildGraph) -> Result<Self> {
        template.check(&self.graph, lengths)?;
        (self.lengths, self.family) = (lengths, Some((template, build)));
        Ok(self)
    }

    /// The template every length's graph follows from: what is registered. A graph that does not vary is its
    /// own template, made from the graph as it is now (so a test that re-cuts its segments registers those).
    pub fn template(&self) -> Arc<Template> {
        match &self.family {
            Some((t, _)) => t.clone(),
            None => Arc::new(Template::fixed(&self.graph).expect("checked when the model was made")),
        }
    }

    /// The same model (weights, template) with its graph at lengths `l`: refused when the template does not serve
    /// `l` (the error names the limit: the context, a model that does not generate).
    pub fn at(&self, l: Lengths) -> Result<Model> {
        if l == self.lengths {
            return Ok(self.clone());
        }
        let (template, build) = self.family.as_ref().ok_or(Error::OutOfRange {
            what: "lengths of a model with one graph (prompt tokens)",
            index: l.prompt as usize,
            len: 1,
        })?;
        template.lengths_ok(l)?;
        let graph = build(l)?;
        Ok(Model { graph, lengths: l, ..self.clone() })
    }

    /// The per-weight commitments.
    pub fn weight_commitments(&self) -> Vec<TensorCommitment> {
        self.weights.iter().map(HostTensor::commit).collect()
    }

    /// Merkle tree over the weight tensor roots.
    pub fn weights_tree(commitments: &[TensorCommitment]) -> MerkleTree {
        let roots: Vec<Hash> = commitments.iter().map(TensorCommitment::root).collect();
        MerkleTree::from_leaves(&roots)
    }

    /// Loads the `mlp-tiny` model from a safetensors file.
    pub fn load_mlp(path: &Path, cfg: &MlpConfig) -> Result<Self> {
        mlp::load(path, cfg)
    }
}

/// The weights root of `model`, whose weights were loaded from the file `source`: read from
/// `<source>.nao-weights-root` when that records the same source SHA-256, leaf size and layout (the weights'
/// names and shapes: how the graph's weights are cut from the file), else computed and written there
/// (atomically). Hashing the source file is ~6x cheaper than committing its fp32 weights.
pub fn cached_weights_root(model: &Model, source: &Path) -> Result<Hash> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.into(), source }
    }
    use sha2::Digest;
    let mut file = std::fs::File::open(source).map_err(io(source))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io(source))?;
    let source_sha256 = hex::encode(hasher.finalize());
    let mut layout = sha2::Sha256::new();
    for (name, w) in model.weight_names.iter().zip(model.weights.iter()) {
        layout.update(format!("{name}{:?};", w.shape));
    }
    let layout = hex::encode(layout.finalize());
    let cache = source.with_extension(format!(
        "{}.nao-weights-root",
        source.extension().and_then(|e| e.to_str()).unwrap_or("weights")
    ));
    let parse = |text: &str| -> Option<Hash> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let fresh = v["source_sha256"] == source_sha256.as_str()
            && v["chunk_bytes"] == crate::commit::CHUNK_BYTES
            && v["layout_sha256"] == layout.as_str();
        fresh.then(|| hex::decode(v["weights_root"].as_str()?).ok()?.try_into().ok()).flatten()
    };
    if let Some(root) = std::fs::read_to_string(&cache).ok().as_deref().and_then(parse) {
        return Ok(root);
    }
    let root = Model::weights_tree(&model.weight_commitments()).root();
    let record = serde_json::json!({
        "source_sha256": source_sha256,
        "chunk_bytes": crate::commit::CHUNK_BYTES,
        "layout_sha256": layout,
        "weights_root": hex::encode(root),
    });
    let tmp = cache.with_extension("tmp");
    std::fs::write(&tmp, record.to_string()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &cache).map_err(io(&cache))?;
    Ok(root)
}

/// The name of column block `j` of `pieces` of weight `name` whose rows have `inner` elements: `name[a:b]`, or
/// `name` itself when it is whole.
pub fn block_name(name: &str, inner: usize, pieces: usize, j: usize) -> String {
    if pieces == 1 {
        return name.to_string();
    }
    let w = inner / pieces;
    format!("{name}[{}:{}]", j * w, (j + 1) * w)
}

/// A `[rows, cols]` weight cut into `pieces` equal column blocks ([`crate::graph::dot_pieces`]: each of the
/// graph's dot products against it no wider than [`crate::graph::MAX_DOT_TERMS`]).
pub fn column_blocks(t: HostTensor, pieces: usize) -> Vec<HostTensor> {
    if pieces == 1 {
        return vec![t];
    }
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let w = cols / pieces;
    (0..pieces)
        .map(|j| {
            let data = (0..rows).flat_map(|r| t.data[r * cols + j * w..r * cols + (j + 1) * w].iter().copied());
            HostTensor::new(vec![rows, w], data.collect())
        })
        .collect()
}

/// Weights as their checkpoint holds them: every run of column blocks ([`block_name`]: `name[0:w]`,
/// `name[w:2w]`, ...) joined back into `name`, the others as they are. For running the same weights elsewhere
/// (candle-transformers).
pub fn join_column_blocks(names: &[String], weights: &[HostTensor]) -> Vec<(String, HostTensor)> {
    let mut out: Vec<(String, HostTensor)> = Vec::with_capacity(names.len());
    for (name, t) in names.iter().zip(weights) {
        let Some((base, _)) = name.split_once('[') else {
            out.push((name.clone(), t.clone()));
            continue;
        };
        match out.last_mut() {
            Some((prev, joined)) if prev == base && !name.contains("[0:") => {
                let (rows, a, b) = (t.shape[0], joined.shape[1], t.shape[1]);
                let data = (0..rows)
                    .flat_map(|r| joined.data[r * a..(r + 1) * a].iter().chain(&t.data[r * b..(r + 1) * b]).copied());
                *joined = HostTensor::new(vec![rows, a + b], data.collect());
            }
            _ => out.push((base.to_string(), t.clone())),
        }
    }
    out
}

/// Reads the named fp32 tensors of a safetensors file, in order; errors name the file and the tensor.
pub fn read_safetensors(path: &Path, names: &[String]) -> Result<Vec<HostTensor>> {
    use safetensors::{Dtype, SafeTensors};
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let bad = |reason: String| Error::Weights { path: path.into(), reason };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    names
        .iter()
        .map(|name| {
            let t = st.tensor(name).map_err(|_| bad(format!("missing tensor `{name}`")))?;
            if t.dtype() != Dtype::F32 {
                return Err(bad(format!("tensor `{name}` is {:?}, expected F32", t.dtype())));
            }
            let data = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Ok(HostTensor { shape: t.shape().to_vec(), data })
        })
        .collect()
}

/// Everything registered on-chain about a model, with the trees needed to open any part of it.
#[derive(Debug, Clone)]
pub struct ModelCommitment {
    /// Tree over the template's node leaves (the graph root).
    pub graph: MerkleTree,
    /// Per-weight commitments.
    pub weights: Vec<TensorCommitment>,
    /// Tree over the weight tensor roots.
    pub weights_tree: MerkleTree,
    /// Hash of the acceptance-region profile.
    pub profile_root: Hash,
}

impl Model {
    /// Commits graph and weights; `profile` is the profile file's bytes.
    pub fn commit(&self, profile: &[u8]) -> ModelCommitment {
        use sha2::Digest;
        let weights = self.weight_commitments();
        ModelCommitment {
            graph: self.template().tree(),
            weights_tree: Self::weights_tree(&weights),
            weights,
            profile_root: sha2::Sha256::digest(profile).into(),
        }
    }
}

/// What a model owner registers: `ModelSpec` of `Types.sol`, field for field (the chain client turns it into
/// the bindings' struct). Its id is `ModelRegistry.modelIdOf`: every field but the uri.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Root over the template's node leaves.
    pub graph_root: Hash,
    /// Nodes of the prefill, the first step and each later step.
    pub piece_nodes: [u32; 3],
    /// Segments of each piece.
    pub piece_segments: [u32; 3],
    /// The most positions a claim uses (prompt + steps - 1).
    pub context: u32,
    /// Root over the template segments' node ranges.
    pub segments_root: Hash,
    /// Root over the weight tensor roots.
    pub weights_root: Hash,
    /// Number of weight tensors.
    pub weight_count: u32,
    /// Hash of the acceptance-region profile.
    pub profile_root: Hash,
    /// The declared output tolerance (0: none).
    pub output_tolerance: f32,
    /// Where the model's files are published.
    pub uri: String,
}

impl Model {
    /// The registry spec of this model under commitment `c`.
    pub fn spec(&self, c: &ModelCommitment, uri: &str, output_tolerance: f32) -> ModelSpec {
        let t = self.template();
        ModelSpec {
            graph_root: c.graph.root(),
            piece_nodes: t.piece_nodes,
            piece_segments: t.piece_segments,
            context: t.context,
            segments_root: t.segments_tree().root(),
            weights_root: c.weights_tree.root(),
            weight_count: self.weights.len() as u32,
            profile_root: c.profile_root,
            output_tolerance,
            uri: uri.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weight cut into column blocks (as wide dot products are computed) and joined again is the weight; the
    /// blocks are named by their column ranges, and a whole weight keeps its name.
    #[test]
    fn column_blocks_join_back_into_the_checkpoint_weight() {
        let t = HostTensor::new(vec![2, 6], (0..12).map(|i| i as f32).collect());
        let blocks = column_blocks(t.clone(), 3);
        assert_eq!(blocks[1], HostTensor::new(vec![2, 2], vec![2.0, 3.0, 8.0, 9.0]));
        let names: Vec<String> = (0..3).map(|j| block_name("w", 6, 3, j)).collect();
        assert_eq!(names, ["w[0:2]", "w[2:4]", "w[4:6]"]);
        assert_eq!(block_name("w", 6, 1, 0), "w");
        // between two whole weights, and a second split weight right after
        let mut all_names = vec!["a".to_string()];
        all_names.extend(names.clone());
        all_names.extend((0..3).map(|j| block_name("v", 6, 3, j)));
        all_names.push("b".into());
        let mut all = vec![HostTensor::new(vec![1], vec![7.0])];
        all.extend(blocks.clone());
        all.extend(blocks);
        all.push(HostTensor::new(vec![1], vec![8.0]));
        let joined = join_column_blocks(&all_names, &all);
        let got: Vec<(&str, &HostTensor)> = joined.iter().map(|(n, t)| (n.as_str(), t)).collect();
        assert_eq!(got, [("a", &all[0]), ("w", &t), ("v", &t), ("b", &all[7])]);
    }

    #[test]
    fn the_weights_root_is_cached_beside_the_file_and_keyed_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        MLP_TINY.write_safetensors(&path).unwrap();
        let model = Model::load_mlp(&path, &MLP_TINY).unwrap();
        let want = Model::weights_tree(&model.weight_commitments()).root();
        assert_eq!(cached_weights_root(&model, &path).unwrap(), want);
        let cache = dir.path().join("m.safetensors.nao-weights-root");
        // the second call reads the cache: a planted root comes back while the source is unchanged
        let text = std::fs::read_to_string(&cache).unwrap().replace(&hex::encode(want), &"ab".repeat(32));
        std::fs::write(&cache, text).unwrap();
        assert_eq!(cached_weights_root(&model, &path).unwrap(), [0xab; 32]);
        // weights cut from the file another way (here: the last two swapped) invalidate it
        let mut other = model.clone();
        let mut w = (*other.weights).clone();
        let n = w.len();
        w.swap(n - 1, n - 2);
        other.weights = Arc::new(w);
        other.weight_names.swap(n - 1, n - 2);
        assert_eq!(
            cached_weights_root(&other, &path).unwrap(),
            Model::weights_tree(&other.weight_commitments()).root()
        );
        assert_eq!(cached_weights_root(&model, &path).unwrap(), want, "recomputed for the original layout");
        // a changed source file invalidates it
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.push(b' ');
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(cached_weights_root(&model, &path).unwrap(), want);
    }
}
