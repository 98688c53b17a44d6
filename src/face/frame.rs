//! One frame of a continuous capture as the pipeline hands it to the liveness checks: where the
//! face is on every frame, who it is only on the frames the service asked to identify
//! (`service/liveness/sampling.rs`). A single photo is a capture of one identified frame.

use super::detect::Detection;
use super::embed::Embedding;
use super::fingerprint::Fingerprint;
use super::light::LightSample;
use super::liveness::LivenessScore;
use super::quality::Quality;
use serde::Serialize;

/// Who a frame shows: the recognizer's embedding, the replay fingerprint, the passive score.
#[derive(Debug, Clone)]
pub struct Identity {
    pub embedding: Embedding,
    pub fingerprint: Fingerprint,
    pub liveness: Option<LivenessScore>,
}

/// One frame of a capture: the face, its pose and light on every frame; who it is on the frames the
/// service asked to identify.
#[derive(Debug, Clone)]
pub struct CaptureFrame {
    pub face: Detection,
    pub quality: Quality,
    pub light: Option<LightSample>,
    pub identity: Option<Identity>,
    pub timings: StageTimings,
}

/// Where a photo's or frame's time went.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StageTimings {
    pub decode_ms: f64,
    pub detect_ms: f64,
    pub align_ms: f64,
    pub embed_ms: f64,
}
