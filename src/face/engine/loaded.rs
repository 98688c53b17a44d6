//! What was loaded: each model file's name and digest, the profile, the threshold in use and the
//! pack, shared by every worker and reported by the API.

use serde::Serialize;

use crate::face::catalogue::LoadedModel;
use crate::face::profile::{ModelProfile, OperatingPoint};

/// A model file as loaded: the name users configure and the digest that pins its behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelId {
    pub name: String,
    pub sha256: String,
}

/// What was loaded, shared by every worker and reported by the API.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub detector: ModelId,
    pub recognizer: ModelId,
    pub profile: ModelProfile,
    pub threshold: f32,
    /// The profile's operating point the threshold came from (MATCH_FMR); `None` when
    /// MATCH_THRESHOLD set it.
    pub operating_point: Option<&'static OperatingPoint>,
    /// MODEL_PACK.
    pub pack: &'static str,
    /// Every model file loaded, with its licence.
    pub models: Vec<LoadedModel>,
}

impl ModelInfo {
    /// Whether every loaded model's licence permits commercial use (an unknown one does not).
    pub fn commercial_use(&self) -> bool {
        self.models.iter().all(|m| m.card.commercial_use)
    }

    /// The pack's published per-group report, when its own detector and recognizer are loaded
    /// (another file changes every rate).
    pub fn fairness(&self) -> Option<crate::face::pack::FairnessReport> {
        let file = |stage| self.models.iter().find(|m| m.stage == stage).map(|m| m.file.as_str()).unwrap_or_default();
        let pack = crate::face::pack::Pack::by_name(self.pack)?;
        let own = file(crate::face::catalogue::Stage::Detector) == pack.detector
            && file(crate::face::catalogue::Stage::Recognizer) == pack.recognizer;
        own.then_some(pack.fairness).flatten()
    }
}
