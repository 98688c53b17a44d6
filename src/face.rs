//! The face pipeline: image bytes in, one L2-normalised embedding (or a precise reason why not) out.
//!
//! Nothing in here knows about HTTP or storage. The stages are separate modules so each can be tested
//! and benchmarked on its own; [`engine::FaceEngine`] chains them and [`pool::InferencePool`] runs
//! engines on dedicated threads.

pub mod align;
pub mod catalogue;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod fingerprint;
pub mod frame;
pub mod letterbox;
pub mod light;
pub mod liveness;
pub mod models;
pub mod pack;
pub mod policy;
pub mod pool;
pub mod profile;
pub mod quality;
pub mod resolution;
pub mod rewrite;
pub mod runtime;
pub mod scans;

pub use decode::DecodeError;
pub use detect::Detection;
pub use embed::Embedding;
pub use engine::{Analysis, FaceEngine, FaceError, ModelInfo};
pub use frame::StageTimings;
pub use policy::{FacePolicy, Purpose};
pub use pool::{InferencePool, PoolError};
pub use profile::ModelProfile;
pub use resolution::PipelineMode;
pub use runtime::{InferenceError, ModelError};
