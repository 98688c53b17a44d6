//! ONNX Runtime: loaded once per process from an explicit library path, never downloaded.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::{Environment, GlobalThreadPoolOptions};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found at {0}: set ORT_DYLIB_PATH to libonnxruntime.so.1.31.1 (`make setup` \
         unpacks it from the onnxruntime==1.31.1 wheel into .ort/)"
    )]
    Missing(PathBuf),
    #[error(
        "ONNX Runtime library at {path} could not be loaded ({message}): ORT_DYLIB_PATH must point to libonnxruntime.so.1.31.1"
    )]
    Load { path: PathBuf, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path} could not be loaded: {message}")]
    Load { path: PathBuf, message: String },
    #[error("model file {path} could not be opened by ONNX Runtime")]
    Session { path: PathBuf, source: ort::Error },
    #[error("model file {path} does not have the expected interface: {message}")]
    Interface { path: PathBuf, message: String },
    #[error("the models failed their warm-up run")]
    WarmUp(#[source] InferenceError),
    #[error("could not start an inference worker thread")]
    Thread(#[source] std::io::Error),
}

/// A model that loaded fine failed on an input: a server fault, never the client's.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("the {model} model failed to run")]
    Run { model: &'static str, source: ort::Error },
    #[error("the {model} model's output is malformed: {detail}")]
    Output { model: &'static str, detail: String },
    #[error("the pipeline panicked on this input")]
    Panicked,
}

impl InferenceError {
    pub fn run(model: &'static str) -> impl FnOnce(ort::Error) -> Self {
        move |source| Self::Run { model, source }
    }
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Below this many cores the default (INFERENCE_THREAD_POOL=auto) is one shared pool; from it on,
/// a worker per core with one thread each.
pub const PER_WORKER_FROM_CORES: usize = 8;

/// The thread layout that fits a machine, measured with `make bench-scale` (docs/performance.md):
///
/// - On 2 cores the shared pool wins: a lone request gets both cores (its latency is what a user
///   feels), and under load the two cores are shared rather than oversubscribed.
/// - On 16 cores one pool shared by every worker stops scaling (its threads synchronise on every
///   operator): at 16 and 32 clients it gave 484 and 532 verifies/s where a worker per core with
///   one thread each gave 686 and 853, while at 1 and 4 clients the two are within 2 % (46.4 vs
///   46.6/s; p50 21.3 vs 20.3 ms). So from [`PER_WORKER_FROM_CORES`] cores the default is per
///   worker: within 10 % of the better layout at every load measured, and 38 % ahead at the top.
///
/// The boundary between 2 and 16 cores is a judgement, not a measurement: a single request's
/// latency gains from intra-op threads mostly up to about 4, and per-worker layouts start winning
/// once there are more cores than one request can use. Set INFERENCE_THREAD_POOL to decide.
pub fn shared_pool_fits(cores: usize) -> bool {
    cores < PER_WORKER_FROM_CORES
}

/// Where the intra-op threads of every session come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Each session has its own pool of this many threads (the caller's included).
    PerSession(usize),
    /// One pool of this many threads for the whole process, which every session's run draws on: a
    /// lone request gets every core, and concurrent requests share them instead of oversubscribing.
    Shared(usize),
}

/// Loads the ONNX Runtime shared library and creates the process environment.
///
/// ONNX Runtime allows one environment per process, so the first successful call wins and later calls
/// (tests start several services in one process) reuse it, with its threads.
pub fn init(dylib: &Path, threads: Threads) -> Result<(), RuntimeError> {
    if !dylib.is_file() {
        return Err(RuntimeError::Missing(dylib.to_path_buf()));
    }
    let result = ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(dylib).map_err(|e| e.to_string())?.with_name("faceauth");
        let builder = match threads {
            Threads::PerSession(_) => builder,
            Threads::Shared(n) => {
                let pool = GlobalThreadPoolOptions::default()
                    .with_intra_threads(n.max(1))
                    .and_then(|o| o.with_inter_threads(1))
                    // Spinning idle threads take the cores the other workers need: with it, four
                    // clients got 56 verifies/s; without, 85 (`benches/peer.rs`, 2 cores).
                    .and_then(|o| o.with_spin_control(false))
                    .map_err(|e| e.to_string())?;
                builder.with_global_thread_pool(pool)
            }
        };
        let _ = SHARED_POOL.set(matches!(threads, Threads::Shared(_)));
        builder.build().map_err(|e| e.to_string())
    });
    result
        .as_ref()
        .map(|_| ())
        .map_err(|message| RuntimeError::Load { path: dylib.to_path_buf(), message: message.clone() })
}

/// Whether the environment was built with a shared pool (sessions then have none of their own).
static SHARED_POOL: OnceLock<bool> = OnceLock::new();

/// Whether sessions opened with the configured threads draw on one pool shared by every worker.
pub fn shared_pool() -> bool {
    SHARED_POOL.get().copied().unwrap_or(false)
}

fn environment() -> Result<&'static Environment, String> {
    match ENVIRONMENT.get() {
        Some(Ok(env)) => Ok(env),
        Some(Err(e)) => Err(e.clone()),
        None => Err("ONNX Runtime was not initialised (call face::runtime::init first)".into()),
    }
}

/// Opens one inference session. Each worker thread owns its own (`Session::run` needs `&mut`).
/// `intra_threads` applies without a shared pool. Optimisation level `All` is what Python's
/// onnxruntime uses by default (ort's `Level3` is only the layout level, `ORT_ENABLE_LAYOUT`).
/// The graph opened is the file's exact rewrite when one was verified for it (`face/rewrite.rs`).
pub fn open_session(path: &Path, intra_threads: usize) -> Result<Session, ModelError> {
    open(path, Some(intra_threads))
}

/// Opens a session for a model whose runs take a millisecond or two (BlazeFace, FaceMesh,
/// MiniFASNet): on the calling worker's thread alone, outside the shared pool. Spread over a pool,
/// such a run spends more on synchronising its threads at every operator than a second core
/// gains, and a capture's frames already keep every worker busy (`benches/capture.rs`).
pub fn open_single_threaded(path: &Path) -> Result<Session, ModelError> {
    open(path, None)
}

/// `intra_threads`: the configured threads (the shared pool when there is one); `None`: one
/// thread of the session's own.
fn open(path: &Path, intra_threads: Option<usize>) -> Result<Session, ModelError> {
    let load = |message: String| ModelError::Load { path: path.to_path_buf(), message };
    if !path.is_file() {
        return Err(load("no such file".into()));
    }
    let graph = super::rewrite::served_graph(path);
    let env = environment().map_err(load)?;
    let shared = intra_threads.is_some() && shared_pool();
    let intra_threads = intra_threads.unwrap_or(1);
    Session::builder(env)
        .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::All)?))
        // SCRFD exports carry their 640² output shapes as hints; every other canvas would log a
        // shape-mismatch warning per output per run. Errors still surface as `Result`s.
        .and_then(|b| Ok(b.with_log_level(ort::logging::LogLevel::Error)?))
        // SFace ships block-quantised (QDQ): fusing its QDQ pairs into int8 kernels makes each run
        // ~45 ms on these cores; left unfused, ONNX Runtime runs it in float at ~27 ms with the same
        // embeddings (largest difference 3e-7 on the dev photos). No other model here is quantised.
        .and_then(|b| Ok(b.with_config_entry("session.disable_quant_qdq", "1")?))
        .and_then(|b| if shared { Ok(b) } else { Ok(b.with_independent_thread_pool()?) })
        .and_then(|b| if shared { Ok(b) } else { Ok(b.with_intra_threads(intra_threads.max(1))?) })
        .and_then(|b| if shared { Ok(b) } else { Ok(b.with_inter_threads(1)?) })
        .and_then(|mut b| b.commit_from_file(&graph))
        .map_err(|source| ModelError::Session { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_machines_share_one_pool_and_large_ones_run_a_worker_per_core() {
        assert!(shared_pool_fits(2) && shared_pool_fits(4));
        assert!(!shared_pool_fits(8) && !shared_pool_fits(16) && !shared_pool_fits(64));
    }
}
