//! The face factor's state: the inference pool, the models loaded and their threshold, the
//! references (stored, cached, re-embedded). Its use cases are in `matching.rs` (the best match,
//! the template guard, the references loaded) and `reembed.rs` (references moved to the loaded
//! recognizer).

use std::sync::Arc;

use super::cache::EmbeddingCache;
use super::inference::Inference;
use super::privacy::Consent;
use crate::audit::AuditTrail;
use crate::face::Analysis;
use crate::face::engine::ModelInfo;
use crate::state::SharedState;
use crate::store::{NewReference, ReferenceStore};

/// The false-match rate expected at the threshold in use: the profile's measured figure with its
/// 95 % interval and where it was measured. Absent when MATCH_THRESHOLD overrides the profile, or
/// the profile was not measured here.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdFmr {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub source: &'static str,
}

impl ThresholdFmr {
    fn of(model: &ModelInfo) -> Option<Self> {
        let point = model.operating_point?;
        let value = point.fmr()?;
        let interval =
            crate::calibration::interval::clopper_pearson(point.false_matches as usize, point.impostors as usize);
        Some(Self { value, lower: interval.lower, upper: interval.upper, source: point.source })
    }
}

/// The face factor's state.
pub struct Faces {
    pub(super) inference: Arc<dyn Inference>,
    pub(super) refs: ReferenceStore,
    pub(super) cache: EmbeddingCache,
    pub(super) model: Arc<ModelInfo>,
    pub(super) threshold_fmr: Option<ThresholdFmr>,
    pub(super) state: SharedState,
    pub(super) audit: AuditTrail,
}

impl Faces {
    pub fn new(
        inference: Arc<dyn Inference>,
        refs: ReferenceStore,
        cache: EmbeddingCache,
        model: Arc<ModelInfo>,
        state: SharedState,
        audit: AuditTrail,
    ) -> Self {
        let threshold_fmr = ThresholdFmr::of(&model);
        Self { inference, refs, cache, model, threshold_fmr, state, audit }
    }

    /// The FMR expected at the threshold in use, when it was measured.
    pub fn threshold_fmr(&self) -> Option<&ThresholdFmr> {
        self.threshold_fmr.as_ref()
    }

    /// The threshold in use.
    pub fn threshold(&self) -> f32 {
        self.model.threshold
    }

    /// What was loaded: MODEL_PACK, each model file and its licence.
    pub fn model_info(&self) -> &ModelInfo {
        &self.model
    }

    /// The recognizer profile's name, as reported to clients.
    pub fn model_name(&self) -> &'static str {
        self.model.profile.name
    }

    /// Requests waiting for an inference worker.
    pub fn queue_depth(&self) -> usize {
        self.inference.queue_depth()
    }

    /// Stops the inference workers once they finish what they hold (blocking).
    pub fn shutdown(&self) {
        self.inference.shutdown();
    }

    /// What the store keeps of an analysed photo, stamped with the models that made it.
    pub(super) fn new_reference(&self, analysis: &Analysis, consent: Option<&Consent>) -> NewReference {
        NewReference {
            consent: consent.map(Consent::record),
            embedding: analysis.embedding.as_slice().to_vec(),
            model: (&self.model.recognizer).into(),
            detector: (&self.model.detector).into(),
            face: (&analysis.face).into(),
        }
    }
}
