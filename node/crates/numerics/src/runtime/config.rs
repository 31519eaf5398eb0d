//! Execution configurations: the ways honest hardware evaluates the same graph differently.
//!
//! Real deployments differ in thread count, kernel blocking, reduction order, FMA use and accelerator. nao
//! reproduces that spread on one machine so calibration can measure it: candle's CPU kernels at several
//! thread counts, and an independent reference kernel for (batch) matmuls whose every dot product follows one
//! [`Order`] (sequential, FMA, pairwise, blocked, split-K, reversed, f64 then rounded), and candle's CUDA
//! kernels when built with the `cuda` feature on a machine with a GPU.

use std::fmt;
use std::str::FromStr;

use crate::region::orders::Order;

/// One way of executing a graph honestly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    /// candle's CPU kernels (the `gemm` crate for matmuls) with this many threads; 0 = candle's default.
    Candle {
        /// Worker threads of the matmul kernel (`RAYON_NUM_THREADS`, read by candle per call).
        threads: usize,
    },
    /// nao's reference kernel for MatMul and BatchMatMul, every dot product evaluated in this order; every
    /// other op by candle's CPU kernel.
    Dot(Order),
    /// candle's CUDA kernels on GPU 0 (feature `cuda`).
    Cuda,
}

impl Config {
    /// Every configuration this build knows, in a fixed order (CUDA last, only with the `cuda` feature).
    pub fn all() -> Vec<Config> {
        let mut v = vec![
            Config::Candle { threads: 0 },
            Config::Candle { threads: 1 },
            Config::Dot(Order::Sequential),
            Config::Dot(Order::Reversed),
            Config::Dot(Order::Fma),
            Config::Dot(Order::Pairwise),
            Config::Dot(Order::Blocked(64)),
            Config::Dot(Order::SplitK(8)),
            Config::Dot(Order::WideThenRound),
        ];
        if cfg!(feature = "cuda") {
            v.push(Config::Cuda);
        }
        v
    }

    /// Whether this machine can run the configuration (CUDA needs the feature and a GPU).
    pub fn available(self) -> Result<(), String> {
        match self {
            Config::Cuda if !cfg!(feature = "cuda") => Err("built without the `cuda` feature".into()),
            Config::Cuda => candle_core::Device::new_cuda(0).map(|_| ()).map_err(|e| format!("no usable GPU: {e}")),
            _ => Ok(()),
        }
    }
}

impl Default for Config {
    /// candle's CPU kernels with their default thread count: what provers run.
    fn default() -> Self {
        Config::Candle { threads: 0 }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Config::Candle { threads: 0 } => write!(f, "candle-cpu"),
            Config::Candle { threads } => write!(f, "candle-cpu-{threads}t"),
            Config::Dot(o) => match o {
                Order::Sequential => write!(f, "dot-sequential"),
                Order::Reversed => write!(f, "dot-reversed"),
                Order::Fma => write!(f, "dot-fma"),
                Order::Pairwise => write!(f, "dot-pairwise"),
                Order::Blocked(b) => write!(f, "dot-blocked{b}"),
                Order::SplitK(k) => write!(f, "dot-splitk{k}"),
                Order::Permuted(s) => write!(f, "dot-permuted{s}"),
                Order::WideThenRound => write!(f, "dot-f64"),
            },
            Config::Cuda => write!(f, "candle-cuda"),
        }
    }
}

impl FromStr for Config {
    type Err = String;

    /// Parses the names [`fmt::Display`] writes (`candle-cpu`, `candle-cpu-2t`, `dot-blocked32`, ...).
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |p: &str, suffix: &str| s.strip_prefix(p).and_then(|r| r.strip_suffix(suffix)?.parse().ok());
        let c = match s {
            "candle-cpu" => Config::Candle { threads: 0 },
            "candle-cuda" => Config::Cuda,
            "dot-sequential" => Config::Dot(Order::Sequential),
            "dot-reversed" => Config::Dot(Order::Reversed),
            "dot-fma" => Config::Dot(Order::Fma),
            "dot-pairwise" => Config::Dot(Order::Pairwise),
            "dot-f64" => Config::Dot(Order::WideThenRound),
            _ => {
                if let Some(t) = num("candle-cpu-", "t") {
                    Config::Candle { threads: t }
                } else if let Some(b) = num("dot-blocked", "") {
                    Config::Dot(Order::Blocked(b))
                } else if let Some(k) = num("dot-splitk", "") {
                    Config::Dot(Order::SplitK(k))
                } else if let Some(p) = num("dot-permuted", "") {
                    Config::Dot(Order::Permuted(p as u64))
                } else {
                    let known: Vec<String> = Config::all().iter().map(|c| c.to_string()).collect();
                    return Err(format!("unknown execution configuration `{s}` (known: {})", known.join(", ")));
                }
            }
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for c in Config::all().into_iter().chain([Config::Candle { threads: 3 }, Config::Dot(Order::Permuted(9))]) {
            assert_eq!(c.to_string().parse::<Config>().unwrap(), c);
        }
        let e = "dot-magic".parse::<Config>().unwrap_err();
        assert!(e.contains("dot-magic") && e.contains("dot-sequential"), "{e}");
    }

    #[test]
    fn cuda_is_skipped_cleanly_without_the_feature_or_a_gpu() {
        if !cfg!(feature = "cuda") {
            assert!(Config::Cuda.available().unwrap_err().contains("cuda"));
            assert!(!Config::all().contains(&Config::Cuda));
        }
    }
}
