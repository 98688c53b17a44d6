//! Which model files to load, with which runtime, on how many threads.

use std::path::PathBuf;

use super::env::{Parser, Var};
use crate::face::runtime::Threads;

#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// DETECTOR_MODEL, inside MODEL_DIR unless it is a path.
    pub detector: PathBuf,
    /// RECOGNIZER_MODEL, likewise.
    pub recognizer: PathBuf,
    /// RECOGNIZER_PROFILE: preprocessing for recognizers not pinned by sha256.
    pub profile: Option<String>,
    /// LIVENESS_MODELS: the MiniFASNet files (inside MODEL_DIR unless paths), used with LIVENESS=passive.
    pub liveness: Vec<PathBuf>,
    /// ORT_DYLIB_PATH: libonnxruntime.so.1.31.1.
    pub ort_dylib: PathBuf,
    /// INFERENCE_WORKERS: threads that each own a set of sessions (one request at a time each).
    pub workers: usize,
    /// INFERENCE_THREADS and INFERENCE_THREAD_POOL: ONNX Runtime's intra-op threads, one pool shared
    /// by every worker (default, as many as cores) or a pool per worker.
    pub threads: Threads,
    /// INFERENCE_QUEUE: requests that may wait for a worker before `overloaded`.
    pub queue: usize,
}

impl ModelConfig {
    pub(super) fn parse(p: &mut Parser) -> Self {
        let dir = PathBuf::from(p.string(Var::ModelDir, "models"));
        let in_dir = |name: String| {
            let path = PathBuf::from(&name);
            if path.components().count() > 1 || path.is_absolute() { path } else { dir.join(path) }
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let shared = match p.get(Var::InferenceThreadPool).map(str::to_ascii_lowercase).as_deref() {
            None | Some("auto") => crate::face::runtime::shared_pool_fits(cores),
            Some("shared") => true,
            Some("per-worker") => false,
            Some(other) => {
                p.problem(format!("INFERENCE_THREAD_POOL={other} is not valid: use auto, shared or per-worker"));
                true
            }
        };
        // A shared pool serves every worker, so it may have every core; a pool per worker defaults
        // to one thread each (a worker per core).
        let threads = p.ranged(Var::InferenceThreads, if shared { cores } else { 1 }, 1, 256);
        let workers = if shared { cores } else { (cores / threads).max(1) };
        Self {
            detector: in_dir(p.string(Var::DetectorModel, "det_10g.onnx")),
            recognizer: in_dir(p.string(Var::RecognizerModel, "w600k_r50.onnx")),
            profile: p.get(Var::RecognizerProfile).map(str::to_string),
            liveness: p
                .get(Var::LivenessModels)
                .unwrap_or("2.7_80x80_MiniFASNetV2.onnx,4_0_0_80x80_MiniFASNetV1SE.onnx")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|name| in_dir(name.to_string()))
                .collect(),
            ort_dylib: PathBuf::from(p.string(Var::OrtDylibPath, ".ort/libonnxruntime.so.1.31.1")),
            workers: p.ranged(Var::InferenceWorkers, workers, 1, 256),
            threads: if shared { Threads::Shared(threads) } else { Threads::PerSession(threads) },
            queue: p.ranged(Var::InferenceQueue, 16usize, 1, 100_000),
        }
    }
}
