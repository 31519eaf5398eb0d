//! The host tensor every layer passes around: a shape and its fp32 elements.

use crate::commit::TensorCommitment;

/// A dense fp32 tensor on the host.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostTensor {
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor; `data.len()` must equal the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape {shape:?} vs {} elements", data.len());
        Self { shape, data }
    }

    /// Commits the tensor.
    pub fn commit(&self) -> TensorCommitment {
        TensorCommitment::new(&self.data, &self.shape)
    }
}
