//! `FaceAuth`, the service every route calls: what it is built from and what it holds. The use
//! cases are its `impl` blocks in the modules beside this one.

use std::sync::Arc;
use std::time::Duration;

use super::access::Access;
use super::cache::EmbeddingCache;
use super::challenges::Challenges;
use super::error::ServiceError;
use super::faces::Faces;
use super::grants::{EnrollmentGrants, Grant};
use super::inference::Inference;
use super::ladder::Ladder;
use super::liveness::replay::{ReplayMemory, Replays};
use super::liveness::{LivenessFactor, LivenessPolicy};
use super::passkeys::{PasskeyFactor, RelyingParty};
use super::privacy::Retention;
use super::readiness::Readiness;
use super::retention::RetentionSchedule;
use super::revocation::Revocations;
use super::sessions::Sessions;
use crate::audit::AuditTrail;
use crate::domain::UserId;
use crate::face::engine::ModelInfo;
use crate::state::SharedState;
use crate::store::ReferenceStore;
use crate::token::result::ResultSigner;

/// The service every route calls: the components that own each factor's and each concern's state
/// (faces, liveness, passkeys, access, the ladder, replays, retention, readiness), and the use cases
/// that span them (register, verify, delete, export, the user's record, the retention sweep).
pub struct FaceAuth {
    /// The face factor: inference, models, references.
    pub(super) faces: Faces,
    pub(super) refs: ReferenceStore,
    /// Sessions, results and their keys.
    pub(super) access: Access,
    pub(super) revocations: Revocations,
    pub(super) ladder: Ladder,
    /// The replay memory: photos and captures of decided verifies.
    pub(super) replays: Replays,
    pub(super) consent_required: bool,
    pub(super) retention: RetentionSchedule,
    pub(super) max_references: usize,
    pub(super) state: SharedState,
    pub(super) grants: EnrollmentGrants,
    pub(super) replay_guard: bool,
    /// The liveness factor: what sessions may ask, plans, captures judged.
    pub(super) liveness: LivenessFactor,
    pub(super) audit: AuditTrail,
    /// The passkey factor.
    pub(super) passkeys: PasskeyFactor,
    pub(super) readiness: Readiness,
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
        let revocations = Revocations::new(parts.refs.clone());
        let liveness = LivenessFactor::new(
            parts.liveness,
            parts.challenges,
            parts.state.clone(),
            parts.inference.clone(),
            parts.sessions.ttl(),
        );
        let readiness = Readiness::new(
            parts.inference.clone(),
            parts.refs.clone(),
            parts.state.clone(),
            parts.audit.clone(),
            Duration::from_secs(5),
        );
        let faces = Faces::new(
            parts.inference,
            parts.refs.clone(),
            parts.cache,
            parts.model,
            parts.state.clone(),
            parts.audit.clone(),
        );
        let sessions = Arc::new(parts.sessions);
        let passkeys = PasskeyFactor::new(
            parts.passkeys,
            parts.refs.clone(),
            parts.state.clone(),
            sessions.clone(),
            revocations.clone(),
        );
        let retention = RetentionSchedule::new(parts.refs.clone(), parts.state.clone(), parts.retention);
        Self {
            retention,
            access: Access::new(parts.state.clone(), sessions, parts.tokens, revocations.clone()),
            passkeys,
            ladder: Ladder::new(parts.state.clone(), parts.refs.clone(), parts.disable_after),
            revocations,
            faces,
            liveness,
            refs: parts.refs,
            replays: Replays::new(parts.state.clone(), parts.replay_memory),
            consent_required: parts.consent_required,
            max_references: parts.max_references,
            state: parts.state,
            grants: parts.grants,
            replay_guard: parts.replay_guard,
            audit: parts.audit,
            readiness,
        }
    }

    /// The face factor: the models loaded, their threshold, the inference queue, migrations.
    pub fn faces(&self) -> &Faces {
        &self.faces
    }

    /// The liveness factor: challenges for a client, what a session may ask.
    pub fn liveness(&self) -> &LivenessFactor {
        &self.liveness
    }

    /// Whether this instance can serve: inference, storage, shared state, audit (`/ready`).
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The passkey factor: registrations, and what a user's listing shows of the credentials.
    pub fn passkeys(&self) -> &PasskeyFactor {
        &self.passkeys
    }

    /// Sessions and results: what a backend reads back, and the keys that verify results.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The audit trail, for the events the API decides (who asked, with which key).
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
    }

    /// The state shared with other instances (the HTTP layer's rate limits use it too).
    pub fn shared_state(&self) -> SharedState {
        self.state.clone()
    }

    /// A grant that lets a client key register one photo for `user`, until the user is deleted
    /// or replaced.
    pub async fn issue_enrollment(&self, user: &UserId) -> Result<Grant, ServiceError> {
        let (mark, generation) = tokio::join!(self.revocations.mark(user), self.state.generation());
        Ok(self.grants.issue(user, &generation?, mark?))
    }

    /// Removes every object of the user and forgets the cached embeddings, on every instance: the
    /// user's version changes before the delete (so nothing is deleted that other instances would
    /// not notice) and after it (so an instance that loaded the user meanwhile reloads).
    /// Verification enabled again after the failure ladder disabled it (a backend, having
    /// re-established the user's identity another way). Returns the count it cleared.
    pub async fn unlock(&self, user: &UserId) -> Result<u64, ServiceError> {
        self.ladder.reset(user).await
    }

    /// Every outstanding session and grant of the user is revoked first; before that, the intent
    /// is durable in the audit trail (write-ahead).
    pub async fn delete_user(&self, user: &UserId) -> Result<usize, ServiceError> {
        self.audit.intend("delete", user).await.map_err(ServiceError::AuditUnavailable)?;
        self.revocations.revoke(user).await?;
        self.state.bump_user_version(user).await?;
        let removed = self.refs.delete_user(user).await;
        self.faces.cache.invalidate(user);
        self.state.bump_user_version(user).await?;
        match removed? {
            0 => Err(ServiceError::UserNotFound),
            n => Ok(n),
        }
    }
}
