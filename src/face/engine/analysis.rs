//! One photo analysed: the embedding and everything measured on the way; a single photo is a
//! capture of one identified frame.

use crate::face::detect::Detection;
use crate::face::embed::Embedding;
use crate::face::fingerprint::Fingerprint;
use crate::face::frame::{CaptureFrame, Identity, StageTimings};
use crate::face::light::LightSample;
use crate::face::liveness::LivenessScore;
use crate::face::quality::Quality;

#[derive(Debug, Clone)]
pub struct Analysis {
    pub embedding: Embedding,
    pub face: Detection,
    pub width: u32,
    pub height: u32,
    pub timings: StageTimings,
    /// Passive liveness of the subject, when the engine has the models and the photo is a probe.
    pub liveness: Option<LivenessScore>,
    /// The subject's capture quality (refused below the policy at enrolment).
    pub quality: Quality,
    /// The aligned face's perceptual hash and the embedding's sketch: the replay memory's key.
    pub fingerprint: Fingerprint,
    /// The light on the face and around it (the light challenge); `None` when the face fills the frame.
    pub light: Option<LightSample>,
}

impl From<Analysis> for CaptureFrame {
    /// A single photo is a capture of one identified frame.
    fn from(a: Analysis) -> Self {
        let identity = Identity { embedding: a.embedding, fingerprint: a.fingerprint, liveness: a.liveness };
        Self { face: a.face, quality: a.quality, light: a.light, identity: Some(identity), timings: a.timings }
    }
}
