//! Register, verify and the user routes' use cases: the domain logic, independent of HTTP.
//!
//! The service speaks in domain types (user ids, detections, unrounded stage timings); how they
//! are shown to clients is the API's business, how they are stored the store's.

mod access;
mod cache;
mod challenges;
mod export;
mod grants;
mod inference;
mod ladder;
pub mod liveness;
pub mod passkeys;
mod privacy;
mod readiness;
mod reembed;
mod register;
mod sessions;
mod ticket;
mod verify;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cache::{CachedReference, EmbeddingCache, References};
pub use challenges::{Axis, Challenge, ChallengeError, Challenges, Step};
pub use export::ExportStream;
pub use grants::{EnrollmentGrants, Grant, GrantError, ValidGrant};
pub use inference::Inference;
pub use liveness::offer::{LightOffer, NotOffered, Requirement};
pub use liveness::plan::{Colour, Flash, Plan, Prompt};
pub use liveness::{LightCheck, Liveness};
pub use passkeys::{
    PasskeyAuthority, PasskeyError, PasskeyInfo, PasskeyProof, PasskeySettings, RegistrationOptions, RelyingParty,
};
pub use privacy::{Consent, ReferenceConsent, Retention, RetentionReport, RetentionStatus, UserRecord};
pub use readiness::{Check, ReadyChecks};
pub use reembed::MigrationReport;
pub use register::{Enrolment, Registration};
pub use sessions::{
    Factors, IssuedSession, MAX_BINDING_LEN, SessionError, SessionOutcome, SessionPurpose, SessionRecord,
    SessionRequest, SessionStatus, Sessions,
};
pub use ticket::RESULT_KEY_CONTEXT;
pub use verify::{Disclosure, Probe, Verification, VerifyRequest};

use crate::audit::AuditTrail;
use crate::domain::UserId;
use crate::face::engine::ModelInfo;
use crate::face::policy::Rejection;
use crate::face::{DecodeError, FaceError, InferenceError, PoolError, StageTimings};
use crate::state::{SharedState, StateError};
use crate::store::{ReferenceStore, StoreError};
use crate::token::result::ResultSigner;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Image(#[from] DecodeError),
    #[error(transparent)]
    Face(#[from] Rejection),
    #[error("the inference queue is full")]
    Overloaded,
    #[error("no references are registered for this user")]
    UserNotFound,
    /// Every reference was embedded by another recognizer and none could be re-embedded.
    #[error("every reference of this user was enrolled with another model and could not be converted")]
    ReferencesOutdated,
    #[error("too many failed verifications for this user")]
    TooManyAttempts(Duration),
    /// The failure ladder's top: verification stays off until a backend unlocks the user.
    #[error("verification is disabled for this user after {0} consecutive failures")]
    VerificationDisabled(u64),
    /// The new photo does not match the user's references: adding it could enrol someone else.
    #[error("the photo does not match this user's registered face")]
    FaceMismatch,
    /// Passive anti-spoofing judged the verify photo not live (a print, a screen).
    #[error("the photo does not look like a live person (P(real) {0:.3})")]
    LivenessFailed(f64),
    /// A backend asked a session for a liveness the configuration does not offer.
    #[error(transparent)]
    LivenessNotOffered(#[from] NotOffered),
    /// LIVENESS=challenge and the verify presented no challenge.
    #[error("a liveness challenge is required")]
    ChallengeRequired,
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The burst is not one continuous capture, or does not cover the plan.
    #[error(transparent)]
    Capture(liveness::capture::CaptureRefusal),
    /// The capture's movements do not answer the prompts.
    #[error(transparent)]
    Pose(liveness::pose::PoseRefusal),
    /// The face does not reflect the screen's colours (or the client declined with LIGHT_CHALLENGE=required).
    #[error(transparent)]
    Light(liveness::light::LightRefusal),
    /// The face moved as a flat picture, not as a head.
    #[error(transparent)]
    Planarity(liveness::planarity::PlanarityRefusal),
    /// A capture sent while LIVENESS is not challenge.
    #[error("a capture answers a challenge, and LIVENESS is not challenge: send one photo as image")]
    CaptureWithoutChallenge,
    #[error("frame {frame} of the capture does not show the same person")]
    IdentityChanged { frame: usize },
    /// A photo or frame already presented (its bytes, or its content re-encoded, rescaled,
    /// cropped, mirrored or brightened), or the bytes of a stored reference photo.
    #[error("this photo was presented before")]
    ReplayedImage,
    #[error("the enrollment token was refused")]
    InvalidEnrollmentToken(#[source] GrantError),
    #[error("the session was refused")]
    Session(#[from] SessionError),
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    /// CONSENT_REQUIRED and the register named no notice the user accepted.
    #[error("a consent record is required to enrol biometric data")]
    ConsentRequired,
    /// Lockouts, single use and cache versions cannot be checked: refuse rather than guess.
    #[error("the shared state is unavailable")]
    StateUnavailable(#[from] StateError),
    #[error("this user already has {0} references, the most allowed")]
    TooManyReferences(usize),
    #[error("reference storage failed")]
    Storage(#[from] StoreError),
    #[error(transparent)]
    AuditUnavailable(crate::audit::AuditUnavailable),
    #[error("inference failed")]
    Inference(#[source] InferenceError),
    #[error("the inference workers have stopped")]
    Stopped,
    /// A decided refusal and the failures still allowed after it (the lockout's and the failure
    /// ladder's, whichever is nearer).
    #[error("{error}")]
    Counted { error: Box<ServiceError>, attempts_left: u32 },
}

impl ServiceError {
    /// The code of a refusal that decides an attempt (it counts as a failure and spends the
    /// session or grant that carried it); `None` for what may pass if tried again.
    /// The refusal itself, without the count of attempts left around it.
    pub fn refusal(&self) -> &ServiceError {
        match self {
            ServiceError::Counted { error, .. } => error,
            other => other,
        }
    }

    pub fn decided_code(&self) -> Option<&'static str> {
        Some(match self {
            ServiceError::Counted { error, .. } => return error.decided_code(),
            ServiceError::ReplayedImage => "replayed_image",
            ServiceError::LivenessFailed(_) => "liveness_failed",
            ServiceError::Capture(r) => r.code(),
            ServiceError::Pose(_) => "pose_mismatch",
            ServiceError::Light(r) => r.code(),
            ServiceError::Planarity(_) => "capture_flat",
            ServiceError::IdentityChanged { .. } => "identity_changed",
            ServiceError::FaceMismatch => "face_mismatch",
            ServiceError::Passkey(e) => return e.decided_code(),
            _ => return None,
        })
    }
}

impl From<PoolError> for ServiceError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Overloaded => Self::Overloaded,
            PoolError::Stopped => Self::Stopped,
            PoolError::Face(FaceError::Decode(e)) => Self::Image(e),
            PoolError::Face(FaceError::Rejected(r)) => Self::Face(r),
            PoolError::Face(FaceError::Inference(e)) => Self::Inference(e),
        }
    }
}

/// Milliseconds per stage of one request, unrounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub pipeline: StageTimings,
    pub storage_ms: f64,
    pub match_ms: f64,
    pub total_ms: f64,
}

/// What a verify must show beyond the right face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessMode {
    Off,
    /// The photo's P(real) (MiniFASNet, scored by the engine) at or above the threshold.
    Passive,
    /// One continuous capture following a plan (movements, and colours unless LIGHT_CHALLENGE=off),
    /// one person throughout, the identified frames scored by the passive model.
    Challenge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LivenessPolicy {
    pub mode: LivenessMode,
    /// P(real) every checked photo needs.
    pub threshold: f64,
    /// The capture's level start: |yaw| at most this (|pitch| 1.5 times it), degrees.
    pub frontal_yaw: f32,
    /// A turn: yaw of the asked sign by at least this, degrees.
    pub min_turn_yaw: f32,
    /// A nod: pitch of the asked sign, relative to the capture's level start, by at least this, degrees.
    pub min_nod_pitch: f32,
    /// The least parallax some prompted move must show (`liveness::planarity`); 0 turns it off.
    pub min_parallax: f32,
    /// The least correlation of the light's balance over the face with its pose
    /// (`liveness::shading`); 0 turns it off.
    pub min_shading: f32,
    /// LIGHT_CHALLENGE: whether plans carry colours, and whether a backend may ask for `movement`.
    pub light: liveness::offer::LightOffer,
}

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
    inference: Arc<dyn Inference>,
    refs: ReferenceStore,
    cache: EmbeddingCache,
    model: Arc<ModelInfo>,
    tokens: ResultSigner,
    threshold_fmr: Option<ThresholdFmr>,
    sessions: Sessions,
    replay_memory: Option<ReplayMemory>,
    disable_after: Option<u64>,
    consent_required: bool,
    retention: Option<Retention>,
    max_references: usize,
    state: SharedState,
    grants: EnrollmentGrants,
    replay_guard: bool,
    liveness: LivenessPolicy,
    challenges: Challenges,
    audit: AuditTrail,
    passkeys: Option<RelyingParty>,
    readiness: readiness::ReadinessCache,
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

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
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

    /// A challenge for `user`, when LIVENESS=challenge: the user's pending plan while there is one.
    pub async fn issue_challenge(&self, user: &UserId) -> Result<Option<Challenge>, ServiceError> {
        if self.liveness.mode != LivenessMode::Challenge {
            return Ok(None);
        }
        let plan = self.pending_plan(user).await?;
        let generation = self.state.generation().await?;
        Ok(Some(self.challenges.issue(user, &generation, plan)))
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

#[cfg(test)]
mod tests;
