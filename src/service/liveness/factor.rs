//! The liveness factor: what this server's configuration offers a session, the plan a verify must
//! answer (the user's pending plan, a challenge's), and a capture analysed on the workers and judged.
//! Its verdict is a [`Liveness`]; the checks themselves are the modules beside this one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::super::challenges::{Challenge, ChallengeError, Challenges};
use super::super::error::ServiceError;
use super::super::inference::Inference;
use super::super::sessions::ValidSession;
use super::judge::{analyze, judge};
use super::offer::{Offer, Requirement};
use super::plan::Plan;
use super::policy::{LivenessMode, LivenessPolicy};
use super::verdict::{CaptureAnswer, CaptureVerdict, Liveness};
use crate::domain::UserId;
use crate::face::Embedding;
use crate::face::frame::CaptureFrame;
use crate::state::SharedState;

pub struct LivenessFactor {
    pub(in crate::service) policy: LivenessPolicy,
    pub(in crate::service) challenges: Challenges,
    pub(super) state: SharedState,
    inference: Arc<dyn Inference>,
    /// How long a drawn plan stays pending: as long as a token carrying it can be presented.
    pub(super) plan_ttl: Duration,
}

impl LivenessFactor {
    pub fn new(
        policy: LivenessPolicy,
        challenges: Challenges,
        state: SharedState,
        inference: Arc<dyn Inference>,
        session_ttl: Duration,
    ) -> Self {
        let plan_ttl = challenges.ttl().max(session_ttl);
        Self { policy, challenges, state, inference, plan_ttl }
    }

    /// A challenge for `user`, when LIVENESS=challenge: the user's pending plan while there is one.
    pub async fn issue_challenge(&self, user: &UserId) -> Result<Option<Challenge>, ServiceError> {
        if self.policy.mode != LivenessMode::Challenge {
            return Ok(None);
        }
        let plan = self.pending_plan(user).await?;
        let generation = self.state.generation().await?;
        Ok(Some(self.challenges.issue(user, &generation, plan)))
    }

    /// What this server's configuration lets a backend ask of a verify session.
    pub(in crate::service) fn offer(&self) -> Offer {
        match self.policy.mode {
            LivenessMode::Off => Offer::Nothing,
            LivenessMode::Passive => Offer::Passive,
            LivenessMode::Challenge => Offer::Capture(self.policy.light),
        }
    }

    /// A capture's frames analysed as [`analyze`] says, on this server's workers.
    pub(in crate::service) async fn analyze_capture(
        &self,
        frames: Vec<Bytes>,
        times: &[f32],
        plan: Option<&Plan>,
    ) -> Result<Vec<CaptureFrame>, ServiceError> {
        analyze(self.inference.as_ref(), frames, times, plan).await
    }

    /// The passive verdict on a single photo (LIVENESS=off or passive).
    pub(in crate::service) fn photo_liveness(&self, image: &CaptureFrame) -> Result<Liveness, ServiceError> {
        match self.policy.mode {
            LivenessMode::Off => Ok(Liveness::Off),
            LivenessMode::Passive => {
                // Configured but not scored would be a wiring fault: count it as 0, refuse rather than pass.
                let p_real = image.identity.as_ref().and_then(|id| id.liveness).map_or(0.0, |s| s.p_real);
                if p_real < self.policy.threshold {
                    return Err(ServiceError::LivenessFailed(p_real));
                }
                Ok(Liveness::Passive { p_real, passed: true })
            }
            LivenessMode::Challenge => Err(ServiceError::ChallengeRequired),
        }
    }

    /// Judges a capture against its plan. `best_reference` is the user's reference closest to the
    /// capture's level frames (none for an unknown user): it picks the probe frame, never the verdict.
    pub(in crate::service) fn judge_capture(
        &self,
        answer: &CaptureAnswer<'_>,
        references: &[Embedding],
    ) -> Result<CaptureVerdict, ServiceError> {
        let verdict = judge(&self.policy, answer, references);
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
    pub(in crate::service) async fn plan_to_answer(
        &self,
        user: &UserId,
        captured: bool,
        session_plan: Option<Plan>,
        challenge_id: Option<&str>,
        generation: &str,
    ) -> Result<Option<Plan>, ServiceError> {
        match (self.policy.mode, captured, session_plan, challenge_id) {
            (LivenessMode::Challenge, true, Some(plan), _) => Ok(Some(plan)),
            (LivenessMode::Challenge, true, None, Some(id)) => {
                let valid = self.challenges.check(id, user, generation)?;
                let claim = self.state.claim_under(&valid.claim_id, valid.valid_for, generation).await?;
                claim.ok_or(ChallengeError::Used)?.spend();
                Ok(Some(valid.plan))
            }
            (LivenessMode::Challenge, ..) => Err(ServiceError::ChallengeRequired),
            (_, true, ..) => Err(ServiceError::CaptureWithoutChallenge),
            (_, false, ..) => Ok(None),
        }
    }

    /// Whether a verify session's liveness is one this server offers now and its plan answers it:
    /// a session issued before the operator forbade `movement`, an old token without a plan
    /// this server would draw, or a plan whose colours disagree with the requirement cannot
    /// skip a check.
    pub(in crate::service) fn admits(&self, session: &ValidSession) -> bool {
        let well_formed = |p: &Plan| p.is_well_formed(self.challenges.min_steps());
        match (self.offer().settle(session.liveness), session.plan.as_ref()) {
            (Ok(Some(Requirement::MovementAndLight)), Some(plan)) => !plan.light.is_empty() && well_formed(plan),
            (Ok(Some(Requirement::Movement)), Some(plan)) => plan.light.is_empty() && well_formed(plan),
            (Ok(Some(Requirement::Passive) | None), None) => true,
            _ => false,
        }
    }
}
