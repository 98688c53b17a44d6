//! `FaceAuth`, the service every route calls: what it is built from and what it holds. The use
//! cases are its `impl` blocks in the modules beside this one.

use std::sync::Arc;
use std::time::Duration;

use super::cache::EmbeddingCache;
use super::challenges::Challenges;
use super::error::ServiceError;
use super::grants::{EnrollmentGrants, Grant};
use super::inference::Inference;
use super::liveness::LivenessPolicy;
use super::passkeys::RelyingParty;
use super::privacy::Retention;
use super::readiness;
use super::sessions::Sessions;
use crate::audit::AuditTrail;
use crate::domain::UserId;
use crate::face::engine::ModelInfo;
use crate::state::SharedState;
use crate::store::ReferenceStore;
use crate::token::result::ResultSigner;

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

/// A verification token for the caller's backend.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// The replay memory's bounds (REPLAY_WINDOW_SECS, and how many photos per user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayMemory {
    pub window: Duration,
    pub per_user: usize,
}

/// The recognizer and detector in use, and the threshold verify applies.
pub struct FaceAuth {
    pub(super) inference: Arc<dyn Inference>,
    pub(super) refs: ReferenceStore,
    pub(super) cache: EmbeddingCache,
    pub(super) model: Arc<ModelInfo>,
    pub(super) tokens: ResultSigner,
    pub(super) threshold_fmr: Option<ThresholdFmr>,
    pub(super) sessions: Sessions,
    pub(super) replay_memory: Option<ReplayMemory>,
    pub(super) disable_after: Option<u64>,
    pub(super) consent_required: bool,
    pub(super) retention: Option<Retention>,
    pub(super) max_references: usize,
    pub(super) state: SharedState,
    pub(super) grants: EnrollmentGrants,
    pub(super) replay_guard: bool,
    pub(super) liveness: LivenessPolicy,
    pub(super) challenges: Challenges,
    pub(super) audit: AuditTrail,
    pub(super) passkeys: Option<RelyingParty>,
    pub(super) readiness: readiness::ReadinessCache,
}

/// What a [`FaceAuth`] is built from.
pub struct Parts {
    pub inference: Arc<dyn Inference>,
    pub refs: ReferenceStore,
    pub cache: EmbeddingCache,
    pub model: Arc<ModelInfo>,
    /// Signs verification results (ES256/EdDSA, or HS256 for compatibility).
    pub tokens: ResultSigner,
    pub sessions: Sessions,
    /// Photos of decided verifies refused when sent again; `None` turns it off.
    pub replay_memory: Option<ReplayMemory>,
    /// Consecutive failures after which a user's verification is disabled; `None`: never.
    pub disable_after: Option<u64>,
    /// Registers need a consent record (CONSENT_REQUIRED).
    pub consent_required: bool,
    /// RETENTION_PERIOD; `None` keeps data until deleted.
    pub retention: Option<Retention>,
    pub max_references: usize,
    /// Lockouts, single-use grants and users' versions, in process or shared between instances.
    pub state: SharedState,
    pub grants: EnrollmentGrants,
    /// Refuse verify photos whose bytes equal a stored reference photo's.
    pub replay_guard: bool,
    pub liveness: LivenessPolicy,
    pub challenges: Challenges,
    /// Where the records of biometric events go (the log, and the bucket with AUDIT_S3_PREFIX).
    pub audit: AuditTrail,
    /// The WebAuthn relying party (PASSKEY_RP_ID); `None`: passkeys are off.
    pub passkeys: Option<RelyingParty>,
}

impl FaceAuth {
    pub fn new(parts: Parts) -> Self {
        let threshold_fmr = ThresholdFmr::of(&parts.model);
        Self {
            inference: parts.inference,
            refs: parts.refs,
            cache: parts.cache,
            model: parts.model,
            threshold_fmr,
            tokens: parts.tokens,
            sessions: parts.sessions,
            replay_memory: parts.replay_memory,
            disable_after: parts.disable_after,
            consent_required: parts.consent_required,
            retention: parts.retention,
            max_references: parts.max_references,
            state: parts.state,
            grants: parts.grants,
            replay_guard: parts.replay_guard,
            liveness: parts.liveness,
            challenges: parts.challenges,
            audit: parts.audit,
            passkeys: parts.passkeys,
            readiness: readiness::ReadinessCache::new(Duration::from_secs(5)),
        }
    }

    /// The audit trail, for the events the API decides (who asked, with which key).
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
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

    /// The state shared with other instances (the HTTP layer's rate limits use it too).
    pub fn shared_state(&self) -> SharedState {
        self.state.clone()
    }

    /// Requests waiting for an inference worker.
    pub fn queue_depth(&self) -> usize {
        self.inference.queue_depth()
    }

    /// Stops the inference workers once they finish what they hold (blocking).
    pub fn shutdown(&self) {
        self.inference.shutdown();
    }

    /// A grant that lets a client key register one photo for `user`, until the user is deleted
    /// or replaced.
    pub async fn issue_enrollment(&self, user: &UserId) -> Result<Grant, ServiceError> {
        let (mark, generation) = tokio::join!(self.revocation_mark(user), self.state.generation());
        Ok(self.grants.issue(user, &generation?, mark?))
    }

    /// Removes every object of the user and forgets the cached embeddings, on every instance: the
    /// user's version changes before the delete (so nothing is deleted that other instances would
    /// not notice) and after it (so an instance that loaded the user meanwhile reloads).
    /// Verification enabled again after the failure ladder disabled it (a backend, having
    /// re-established the user's identity another way). Returns the count it cleared.
    pub async fn unlock(&self, user: &UserId) -> Result<u64, ServiceError> {
        self.reset_ladder(user).await
    }

    /// Every outstanding session and grant of the user is revoked first; before that, the intent
    /// is durable in the audit trail (write-ahead).
    pub async fn delete_user(&self, user: &UserId) -> Result<usize, ServiceError> {
        self.audit.intend("delete", user).await.map_err(ServiceError::AuditUnavailable)?;
        self.revoke_tokens(user).await?;
        self.state.bump_user_version(user).await?;
        let removed = self.refs.delete_user(user).await;
        self.cache.invalidate(user);
        self.state.bump_user_version(user).await?;
        match removed? {
            0 => Err(ServiceError::UserNotFound),
            n => Ok(n),
        }
    }
}
