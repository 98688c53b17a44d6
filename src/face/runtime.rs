//! ONNX Runtime: loaded once per process from an explicit library path, never downloaded.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
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

/// Loads the ONNX Runtime shared library and creates the process environment.
///
/// ONNX Runtime allows one environment per process, so the first successful call wins and later calls
/// (tests start several services in one process) reuse it.
pub fn init(dylib: &Path) -> Result<(), RuntimeError> {
    if !dylib.is_file() {
        return Err(RuntimeError::Missing(dylib.to_path_buf()));
    }
    let result = ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(dylib).map_err(|e| e.to_string())?;
        builder.with_name("faceauth").build().map_err(|e| e.to_string())
    });
    result
        .as_ref()
        .map(|_| ())
        .map_err(|message| RuntimeError::Load { path: dylib.to_path_buf(), message: message.clone() })
}

fn environment() -> Result<&'static Environment, String> {
    match ENVIRONMENT.get() {
        Some(Ok(env)) => Ok(env),
        Some(Err(e)) => Err(e.clone()),
        None => Err("ONNX Runtime was not initialised (call face::runtime::init first)".into()),
    }
}

/// Opens one inference session. Each worker thread owns its own (`Session::run` needs `&mut`).
pub fn open_session(path: &Path, intra_threads: usize) -> Result<Session, ModelError> {
    let load = |message: String| ModelError::Load { path: path.to_path_buf(), message };
    if !path.is_file() {
        return Err(load("no such file".into()));
    }
    let env = environment().map_err(load)?;
    Session::builder(env)
        .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
        .and_then(|b| Ok(b.with_intra_threads(intra_threads.max(1))?))
        .and_then(|b| Ok(b.with_inter_threads(1)?))
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(|source| ModelError::Session { path: path.to_path_buf(), source })
}
