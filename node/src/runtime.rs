//! The traced runtime: executes a [`Graph`] with candle on the CPU and records every op output in order.

use candle_core::{Device, Tensor};

use crate::graph::{Graph, OpKind};
use crate::model::{HostTensor, Model};
use crate::trace::Trace;
use crate::{Error, Result};

/// A hook that may rewrite an op's output before later ops read it (how dishonest provers are simulated;
/// honest runs pass [`no_tamper`]).
pub type Tamper<'a> = &'a mut dyn FnMut(usize, &mut HostTensor);

/// The hook that changes nothing.
pub fn no_tamper(_: usize, _: &mut HostTensor) {}

/// Runs `model` on `input` and returns the trace: the input, then every node's output.
pub fn run(model: &Model, input: &HostTensor, tamper: Tamper<'_>) -> Result<Trace> {
    let graph: &Graph = &model.graph;
    let want = graph.input_shape();
    if input.shape != want {
        return Err(Error::Shape {
            name: "input".into(),
            got: input.shape.clone(),
            expected: want,
        });
    }
    let dev = Device::Cpu;
    let weights = model
        .weights
        .iter()
        .map(|w| Tensor::from_slice(&w.data, w.shape.as_slice(), &dev))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let mut tensors = vec![input.clone()];
    for (i, node) in graph.nodes.iter().enumerate() {
        let x = &tensors[node.input as usize];
        let x = Tensor::from_slice(&x.data, x.shape.as_slice(), &dev)?;
        let y = match node.kind {
            OpKind::MatMul => x.matmul(&weights[node.weight as usize].t()?)?,
            OpKind::Add => x.broadcast_add(&weights[node.weight as usize])?,
            OpKind::Relu => x.relu()?,
        };
        let mut out = HostTensor::new(node.output_shape(), y.flatten_all()?.to_vec1::<f32>()?);
        tamper(i, &mut out);
        tensors.push(out);
    }
    Ok(Trace { tensors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MLP_TINY;

    fn model() -> Model {
        Model {
            name: "t".into(),
            graph: MLP_TINY.graph(),
            weights: MLP_TINY.generate_weights(),
        }
    }

    #[test]
    fn records_every_op_output_and_matches_a_naive_forward() {
        let m = model();
        let x = MLP_TINY.input(7);
        let t = run(&m, &x, &mut no_tamper).unwrap();
        assert_eq!(t.tensors.len(), m.graph.trace_len());
        // naive f64 reference of the first matmul element
        let w = &m.weights[0];
        let s: f64 = (0..64).map(|k| x.data[k] as f64 * w.data[k] as f64).sum();
        assert!((t.tensors[1].data[0] as f64 - s).abs() < 1e-5);
        assert!(t.tensors[3].data.iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn a_wrong_input_shape_is_refused() {
        let e = run(
            &model(),
            &HostTensor::new(vec![4, 63], vec![0.0; 252]),
            &mut no_tamper,
        )
        .unwrap_err();
        assert!(e.to_string().contains("input"), "{e}");
    }
}
