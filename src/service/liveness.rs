//! Liveness: what the verify must show beyond the right face. Passive: the photo's P(real).
//! Challenge: one continuous capture that follows the plan the server drew — its timing and
//! continuity (`capture`), its movements (`pose`) made by a head and not a flat picture
//! (`planarity`), the screen's colours on the face (`light`) as on its own relief (`shading`),
//! one person throughout, and the identified frames (`sampling`) scored by the passive model.
//! `trial` runs one recorded capture through them for `faceauth liveness-eval` (`evaluation`).

pub mod budget;
pub mod capture;
pub mod evaluation;
pub mod light;
pub mod offer;
mod pending;
pub mod plan;
pub mod planarity;
mod policy;
pub mod pose;
pub mod replay;
pub mod sampling;
pub mod shading;

mod judge;
mod verdict;

pub use judge::{CAPTURE_IDENTITY, NEIGHBOUR_SIMILARITY, Trial, analyze, judge, refused_by, trial};
use offer::Offer;
use plan::Plan;
pub use policy::{LivenessMode, LivenessPolicy};
pub use verdict::{CaptureAnswer, CaptureVerdict, LightCheck, Liveness};

use bytes::Bytes;

use super::challenges::Challenge;
use super::error::ServiceError;
use super::facade::FaceAuth;
use crate::domain::UserId;
use crate::face::Embedding;
use crate::face::frame::CaptureFrame;

impl FaceAuth {
    /// A challenge for `user`, when LIVENESS=challenge: the user's pending plan while there is one.
    pub async fn issue_challenge(&self, user: &UserId) -> Result<Option<Challenge>, ServiceError> {
        if self.liveness.mode != LivenessMode::Challenge {
            return Ok(None);
        }
        let plan = self.pending_plan(user).await?;
        let generation = self.state.generation().await?;
        Ok(Some(self.challenges.issue(user, &generation, plan)))
    }

    /// What this server's configuration lets a backend ask of a verify session.
    pub(super) fn liveness_offer(&self) -> Offer {
        match self.liveness.mode {
            LivenessMode::Off => Offer::Nothing,
            LivenessMode::Passive => Offer::Passive,
            LivenessMode::Challenge => Offer::Capture(self.liveness.light),
        }
    }

    /// A capture's frames analysed as [`analyze`] says, on this server's workers.
    pub(super) async fn analyze_capture(
        &self,
        frames: Vec<Bytes>,
        times: &[f32],
        plan: Option<&Plan>,
    ) -> Result<Vec<CaptureFrame>, ServiceError> {
        analyze(self.inference.as_ref(), frames, times, plan).await
    }

    /// The passive verdict on a single photo (LIVENESS=off or passive).
    pub(super) fn photo_liveness(&self, image: &CaptureFrame) -> Result<Liveness, ServiceError> {
        match self.liveness.mode {
            LivenessMode::Off => Ok(Liveness::Off),
            LivenessMode::Passive => {
                // Configured but not scored would be a wiring fault: count it as 0, refuse rather than pass.
                let p_real = image.identity.as_ref().and_then(|id| id.liveness).map_or(0.0, |s| s.p_real);
                if p_real < self.liveness.threshold {
                    return Err(ServiceError::LivenessFailed(p_real));
                }
                Ok(Liveness::Passive { p_real, passed: true })
            }
            LivenessMode::Challenge => Err(ServiceError::ChallengeRequired),
        }
    }

    /// Judges a capture against its plan. `best_reference` is the user's reference closest to the
    /// capture's level frames (none for an unknown user): it picks the probe frame, never the verdict.
    pub(super) fn judge_capture(
        &self,
        answer: &CaptureAnswer<'_>,
        references: &[Embedding],
    ) -> Result<CaptureVerdict, ServiceError> {
        let verdict = judge(&self.liveness, answer, references);
        if let Err(e) = &verdict {
            // The precise reason is for the operator (which frame, which step); the client is told
            // what to do, not what to tune.
            tracing::info!(reason = %e, frames = answer.frames.len(), "capture refused");
        }
        verdict
    }

    /// The plan a verify must answer, chosen in one place from LIVENESS and what was sent: with
    /// LIVENESS=challenge a capture answers its session's plan, or a standalone challenge's (used up
    /// by this verify whatever its outcome), and one photo is refused; otherwise a capture is
    /// refused and a photo answers none.
    pub(super) async fn plan_to_answer(
        &self,
        user: &UserId,
        captured: bool,
        session_plan: Option<Plan>,
        challenge_id: Option<&str>,
        generation: &str,
    ) -> Result<Option<Plan>, ServiceError> {
        match (self.liveness.mode, captured, session_plan, challenge_id) {
            (LivenessMode::Challenge, true, Some(plan), _) => Ok(Some(plan)),
            (LivenessMode::Challenge, true, None, Some(id)) => {
                let valid = self.challenges.check(id, user, generation)?;
                let claim = self.state.claim_under(&valid.claim_id, valid.valid_for, generation).await?;
                claim.ok_or(super::challenges::ChallengeError::Used)?.spend();
                Ok(Some(valid.plan))
            }
            (LivenessMode::Challenge, ..) => Err(ServiceError::ChallengeRequired),
            (_, true, ..) => Err(ServiceError::CaptureWithoutChallenge),
            (_, false, ..) => Ok(None),
        }
    }
}
