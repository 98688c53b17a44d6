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

/// What one frame of a capture is run through; the service picks it per frame
/// (`service/liveness/sampling.rs`), as most of a frame's cost is in the last two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameWork {
    /// Decoded and located: face box, landmarks, pose and light (what the movement, continuity
    /// and light checks read).
    Locate,
    /// Located, and the recognizer and the replay fingerprint run on it.
    Identify,
    /// Identified, and scored by passive liveness (MiniFASNet) too.
    Score,
}

impl FrameWork {
    pub fn identifies(self) -> bool {
        self != FrameWork::Locate
    }

    /// Passive liveness is scored on it (when the pipeline has the model).
    pub fn scores(self) -> bool {
        self == FrameWork::Score
    }

    /// Its cost in located frames, about: on one thread, a 640×360 frame of the recording is
    /// located in 9.2 ms, the recognizer adds 21 and MiniFASNet 7 (docs/performance.md). The pool
    /// takes a capture's costliest frames first, so its workers finish together.
    pub fn cost(self) -> usize {
        match self {
            FrameWork::Locate => 1,
            FrameWork::Identify => 3,
            FrameWork::Score => 4,
        }
    }
}

/// Who a frame shows: the recognizer's embedding, the replay fingerprint, the passive score (on the
/// frames asked to be scored).
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
