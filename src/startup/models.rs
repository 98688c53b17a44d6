//! Which model files to load and what they are: each file identified by its digest, its licence
//! and training-data caveat said at startup, the recognizer's profile and the threshold for
//! MATCH_FMR resolved before anything is served.

use std::path::Path;

use crate::config::{Config, ConfigError, LightChallenge, LivenessMode, Var};
use crate::face::catalogue::{LoadedModel, Stage, card_of};
use crate::face::detect::needs_landmarks;
use crate::face::engine::{EngineSpec, ModelId, ModelInfo};
use crate::face::models::{resolve_profile, sha256_file};
use crate::face::profile::select_point;
use crate::face::runtime;

use super::error::StartupError;

/// Which model file: the stage it implements, named as the variable that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelRole(pub Stage);

impl ModelRole {
    pub(super) fn variable(self) -> &'static str {
        match self.0 {
            Stage::Detector => Var::DetectorModel.name(),
            Stage::Landmarks => Var::LandmarkModel.name(),
            Stage::Recognizer => Var::RecognizerModel.name(),
            Stage::Liveness => Var::LivenessModels.name(),
        }
    }
}

impl std::fmt::Display for ModelRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Stage::Detector => "detector",
            Stage::Landmarks => "landmark",
            Stage::Recognizer => "recognizer",
            Stage::Liveness => "liveness",
        })
    }
}

/// The file at `path`, identified by its digest, with what is known about its licence.
fn file_id(path: &Path, stage: Stage, loaded: &mut Vec<LoadedModel>) -> Result<ModelId, StartupError> {
    let role = ModelRole(stage);
    let sha256 =
        sha256_file(path).map_err(|source| StartupError::ModelFile { role, path: path.to_path_buf(), source })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let file = file_name(path);
    loaded.push(LoadedModel { stage, card: card_of(&file), file, sha256: sha256.clone() });
    Ok(ModelId { name, sha256 })
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Initialises ONNX Runtime and identifies the model files.
pub fn model_spec(config: &Config) -> Result<(EngineSpec, ModelInfo), StartupError> {
    let models = &config.models;
    runtime::init(&models.ort_dylib, models.threads)?;
    let mut loaded = Vec::new();
    let detector = file_id(&models.detector, Stage::Detector, &mut loaded)?;
    let meshed = needs_landmarks(&models.detector).map_err(StartupError::Models)?;
    if meshed {
        file_id(&models.landmarks, Stage::Landmarks, &mut loaded)?;
    }
    // The planarity and shading checks read FaceMesh's points: with a detector that has none they
    // would refuse every capture, so the configuration is refused instead, before anything is served.
    let needs_mesh = config.face.challenge_min_parallax > 0.0
        || (config.face.challenge_min_shading > 0.0 && config.face.light != LightChallenge::Off);
    if !meshed && config.face.liveness == LivenessMode::Challenge && needs_mesh {
        return Err(StartupError::ChecksNeedMesh);
    }
    let recognizer = file_id(&models.recognizer, Stage::Recognizer, &mut loaded)?;
    match (config.is_production(), config.face.liveness) {
        (_, LivenessMode::Challenge) => tracing::info!(
            light = ?config.face.light,
            steps = config.face.challenge_steps,
            fps = config.face.capture_fps,
            "liveness: challenge (one continuous capture, movements{}, a sample of frames identified and scored)",
            if config.face.light == LightChallenge::Off { "" } else { " and screen colours" }
        ),
        (true, mode) => tracing::warn!(
            liveness = ?mode,
            "LIVENESS is set to {mode:?} in production: {}; unset it to run the challenge",
            if mode == LivenessMode::Off { "one photo of the user verifies" } else { "a replayed video may verify" }
        ),
        (false, mode) => tracing::warn!(
            liveness = ?mode,
            "development: LIVENESS={mode:?}, a photo of the user verifies (production runs the challenge by default)"
        ),
    }
    if config.face.liveness != LivenessMode::Off {
        for path in &models.liveness {
            file_id(path, Stage::Liveness, &mut loaded)?;
        }
    } else if let Some(missing) = models.liveness.iter().find(|p| !p.is_file()) {
        // MiniFASNet comes from GitHub, not a package registry: a machine with only the registries
        // runs without it until liveness is asked for.
        tracing::warn!(
            file = %missing.display(),
            "passive liveness models are not installed (MiniFASNet, from GitHub: `make models-liveness`); \
             LIVENESS=passive or challenge will not start without them"
        );
    }
    let profile = resolve_profile(&recognizer.sha256, models.profile.as_deref())?;
    // The pack's own points when its detector and recognizer are the ones loaded; else the
    // recognizer profile's (measured with SCRFD det_500m).
    let points =
        models.pack.points_for(&file_name(&models.detector), &file_name(&models.recognizer)).unwrap_or(profile.points);
    let (threshold, operating_point) = match config.face.match_threshold {
        Some(threshold) => (threshold, None),
        None => {
            let point = select_point(points, profile.name, config.face.match_fmr)
                .map_err(|e| ConfigError(vec![e.to_string()]))?;
            (point.threshold, Some(point))
        }
    };
    let spec = EngineSpec {
        detector_path: models.detector.clone(),
        landmark_path: models.landmarks.clone(),
        recognizer_path: models.recognizer.clone(),
        profile: profile.clone(),
        detector: config.face.detector,
        policy: config.face.policy,
        max_pixels: config.face.max_image_pixels,
        intra_threads: match models.threads {
            runtime::Threads::PerSession(n) => n,
            runtime::Threads::Shared(_) => 1,
        },
        mode: config.face.pipeline,
        liveness: match config.face.liveness {
            LivenessMode::Passive | LivenessMode::Challenge => models.liveness.clone(),
            LivenessMode::Off => Vec::new(),
        },
    };
    let pack = models.pack.name;
    Ok((spec, ModelInfo { detector, recognizer, profile, threshold, operating_point, pack, models: loaded }))
}

/// Each model file's licence and training data, said at startup; a pack that may not be used
/// commercially is a warning.
pub(super) fn log_models(info: &ModelInfo, config: &Config) {
    for m in &info.models {
        tracing::info!(
            stage = ?m.stage, file = %m.file, sha256 = %&m.sha256[..12.min(m.sha256.len())],
            model = m.card.model, licence = m.card.licence, commercial_use = m.card.commercial_use,
            training_data = m.card.training_data,
            "model"
        );
    }
    let restricted: Vec<&str> =
        info.models.iter().filter(|m| !m.card.commercial_use).map(|m| m.file.as_str()).collect();
    if !restricted.is_empty() {
        tracing::warn!(
            pack = info.pack,
            files = ?restricted,
            "NOT FOR COMMERCIAL USE: {} may not be used commercially under its licence; MODEL_PACK=open is",
            restricted.join(", ")
        );
    }
    log_operating_point(info, config);
}

/// What the threshold means, said once at startup: the operator reads the FMR it was chosen for and
/// where that figure comes from, or that it is not known.
fn log_operating_point(info: &ModelInfo, config: &Config) {
    match (info.operating_point, info.operating_point.and_then(|p| p.fmr())) {
        (Some(point), Some(fmr)) => {
            let interval =
                crate::calibration::interval::clopper_pearson(point.false_matches as usize, point.impostors as usize);
            tracing::info!(
                threshold = point.threshold,
                match_fmr = config.face.match_fmr,
                fmr,
                fmr_lower = interval.lower,
                fmr_upper = interval.upper,
                fnmr = point.fnmr,
                source = point.source,
                "operating point: the threshold for MATCH_FMR, as measured"
            );
        }
        (Some(point), None) => tracing::warn!(
            threshold = point.threshold,
            match_fmr = config.face.match_fmr,
            source = point.source,
            "operating point NOT MEASURED for this recognizer: its FMR at this threshold is unknown; run faceauth \
             calibrate on your own photos and set MATCH_THRESHOLD"
        ),
        (None, _) => tracing::warn!(
            threshold = info.threshold,
            "MATCH_THRESHOLD overrides MATCH_FMR: the FMR at this threshold is whatever your own calibration measured"
        ),
    }
}
