//! Which model files to load, with which runtime, on how many threads.

use std::path::PathBuf;

use super::env::{Parser, Var};
use crate::face::pack::Pack;
use crate::face::runtime::Threads;

#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// MODEL_PACK: the files each stage defaults to, and the pack's measured thresholds.
    pub pack: &'static Pack,
    /// DETECTOR_MODEL, inside MODEL_DIR unless it is a path.
    pub detector: PathBuf,
    /// LANDMARK_MODEL: the FaceMesh file a BlazeFace detector needs, likewise.
    pub landmarks: PathBuf,
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
        let pack = match p.get(Var::ModelPack) {
            None => Pack::by_name("open").expect("the open pack is built in"),
            Some(name) => Pack::by_name(name).unwrap_or_else(|| {
                p.problem(format!("MODEL_PACK={name} is not a pack: use one of {}", Pack::names()));
                &crate::face::pack::PACKS[0]
            }),
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
            pack,
            detector: in_dir(p.string(Var::DetectorModel, pack.detector)),
            landmarks: in_dir(p.string(Var::LandmarkModel, pack.landmarks.unwrap_or("face_landmark.onnx"))),
            recognizer: in_dir(p.string(Var::RecognizerModel, pack.recognizer)),
            profile: p.get(Var::RecognizerProfile).map(str::to_string),
            liveness: match p.get(Var::LivenessModels) {
                Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
                None => pack.liveness.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            }
            .into_iter()
            .map(in_dir)
            .collect(),
            ort_dylib: PathBuf::from(p.string(Var::OrtDylibPath, ".ort/libonnxruntime.so.1.31.1")),
            workers: p.ranged(Var::InferenceWorkers, workers, 1, 256),
            threads: if shared { Threads::Shared(threads) } else { Threads::PerSession(threads) },
            queue: p.ranged(Var::InferenceQueue, 16usize, 1, 100_000),
        }
    }
}
