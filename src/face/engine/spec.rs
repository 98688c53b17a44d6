//! What a worker builds its engine from: the model files, the profile, the detector settings, the
//! face policy and the pipeline mode.

use std::path::PathBuf;

use crate::face::detect::DetectorSettings;
use crate::face::policy::FacePolicy;
use crate::face::profile::ModelProfile;
use crate::face::resolution::PipelineMode;

/// Everything a worker needs to build its own engine.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    pub detector_path: PathBuf,
    /// The FaceMesh file, used when the detector is BlazeFace.
    pub landmark_path: PathBuf,
    pub recognizer_path: PathBuf,
    pub profile: ModelProfile,
    pub detector: DetectorSettings,
    pub policy: FacePolicy,
    pub max_pixels: u64,
    pub intra_threads: usize,
    /// MiniFASNet files for passive liveness; empty: not scored.
    pub liveness: Vec<PathBuf>,
    pub mode: PipelineMode,
}

impl EngineSpec {
    /// The service's defaults around three files and a profile: default detector settings and face
    /// policy, MAX_IMAGE_PIXELS' 40 MP, one intra-op thread, no passive liveness, the adaptive
    /// pipeline. For tools and tests that need an engine without a configuration.
    pub fn with_defaults(detector: PathBuf, landmarks: PathBuf, recognizer: PathBuf, profile: ModelProfile) -> Self {
        Self {
            detector_path: detector,
            landmark_path: landmarks,
            recognizer_path: recognizer,
            profile,
            detector: DetectorSettings::default(),
            policy: FacePolicy::default(),
            max_pixels: 40_000_000,
            intra_threads: 1,
            liveness: Vec::new(),
            mode: PipelineMode::Adaptive,
        }
    }
}
