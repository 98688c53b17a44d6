//! No free re-draws: while a user has a challenge that was drawn and not yet answered, asking
//! again (a new session, a new challenge) gives back the same plan — the same movements in the
//! same order and the same colours — until it expires. An attacker holding photos or a recording
//! of some movements cannot ask until the steps fit; the only way to a new plan is a decided
//! attempt, which counts on the failure ladder, or waiting out CHALLENGE_TTL_SECS.
//!
//! The plan is kept in the shared state under `plan:<user>` (atomically: of two racing asks, both
//! get the one stored). Losing the shared state loses the pending plan, which allows one re-draw;
//! it never lets an answer to one plan pass for another, since the plan travels in the signed token.

use super::super::error::ServiceError;
use super::factor::LivenessFactor;
use super::plan::Plan;
use crate::domain::UserId;

fn pending_key(user: &UserId) -> String {
    format!("plan:{user}")
}

impl LivenessFactor {
    /// The user's unanswered plan, or a new one kept as such for as long as a token carrying it
    /// can be presented (the longer of CHALLENGE_TTL_SECS and SESSION_TTL_SECS): two live tokens
    /// of one user never carry different plans.
    pub(in crate::service) async fn pending_plan(&self, user: &UserId) -> Result<Plan, ServiceError> {
        let ttl = self.plan_ttl;
        let drawn = serde_json::to_string(&self.challenges.draw()).expect("a plan serialises");
        let kept = self.state.keep_record(&pending_key(user), &drawn, ttl).await?;
        match serde_json::from_str::<Plan>(&kept) {
            Ok(plan) if plan.is_well_formed(self.challenges.min_steps()) => Ok(plan),
            // Kept by a build with other settings (CHALLENGE_STEPS raised since): draw again.
            _ => {
                self.state.put_record(&pending_key(user), &drawn, ttl).await?;
                Ok(serde_json::from_str(&drawn).expect("just serialised"))
            }
        }
    }

    /// A decided attempt answered the user's plan: the next ask draws a new one.
    pub(in crate::service) async fn plan_answered(&self, user: &UserId) {
        if let Err(e) = self.state.drop_record(&pending_key(user)).await {
            // The plan then stays pending until it expires: the user is asked the same again.
            tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: answered plan not cleared");
        }
    }
}
