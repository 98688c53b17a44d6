//! Who may start an attempt, and what a backend reads back: sessions issued, held by one attempt
//! (a drop guard releases one whose attempt was not decided), their outcomes recorded; a user's
//! outstanding sessions and grants revoked by a delete or a replace; results introspected.

use std::sync::Arc;
use std::time::Duration;

use super::error::ServiceError;
use super::facade::FaceAuth;
use super::liveness::offer::Requirement;
use super::liveness::plan::Plan;
use super::passkeys::PasskeyError;
use super::revocation::Revocations;
use super::sessions::{
    Factors, IssuedSession, OUTCOME_KEPT, SessionError, SessionOutcome, SessionPurpose, SessionRecord, SessionRequest,
    Sessions, ValidSession,
};
use crate::domain::UserId;
use crate::state::{Claim, SharedState};
use crate::token::now;
use crate::token::result::{ResultClaims, ResultContext, ResultSigner};

fn session_key(id: &str) -> String {
    format!("session:{id}")
}

/// A session held by the attempt that presented it: spent by a decision, released otherwise.
pub struct HeldSession {
    pub session: ValidSession,
    claim: Claim,
}

impl HeldSession {
    pub fn spend(self) -> ValidSession {
        self.claim.spend();
        self.session
    }
}

/// A verification token for the caller's backend.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Sessions and results: issued, held, recorded, introspected; and the keys that verify results.
pub struct Access {
    pub(super) state: SharedState,
    pub(super) sessions: Arc<Sessions>,
    pub(super) tokens: ResultSigner,
    revocations: Revocations,
}

impl Access {
    pub fn new(state: SharedState, sessions: Arc<Sessions>, tokens: ResultSigner, revocations: Revocations) -> Self {
        Self { state, sessions, tokens, revocations }
    }

    pub(super) async fn put_session(&self, id: &str, record: &SessionRecord) -> Result<(), ServiceError> {
        let ttl = Duration::from_secs(record.expires_at.saturating_sub(now())) + OUTCOME_KEPT;
        let json = serde_json::to_string(record).expect("a session record serialises");
        self.state.put_record(&session_key(id), &json, ttl).await?;
        Ok(())
    }

    /// The session's record, `None` when there is no such session (or it was forgotten).
    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, ServiceError> {
        let Some(json) = self.state.get_record(&session_key(id)).await? else { return Ok(None) };
        Ok(serde_json::from_str(&json).ok())
    }

    /// Checks a presented session and holds it for this attempt. `within_offer` says whether a
    /// verify session's liveness is one the server offers now (the liveness factor decides).
    pub(super) async fn hold(
        &self,
        token: &str,
        user: &UserId,
        purpose: SessionPurpose,
        generation: &str,
        within_offer: impl Fn(&ValidSession) -> bool,
    ) -> Result<HeldSession, ServiceError> {
        let session = self.sessions.check(token, user, purpose, generation)?;
        if purpose == SessionPurpose::Verify && !within_offer(&session) {
            return Err(SessionError::Void.into());
        }
        if !self.revocations.survives(user, session.epoch.as_deref()).await? {
            return Err(SessionError::Revoked.into());
        }
        let claim = self
            .state
            .claim_under(&session.claim_id, session.valid_for, generation)
            .await?
            .ok_or(SessionError::Used)?;
        Ok(HeldSession { session, claim })
    }

    /// Records how the session's attempt came out, for `GET /api/sessions/{id}`. The decision
    /// stands if this fails (the client still has its answer); the backend then sees `pending`
    /// until the session expires, never a false `completed`.
    pub(super) async fn complete(
        &self,
        session: &ValidSession,
        user: &UserId,
        purpose: SessionPurpose,
        outcome: SessionOutcome,
    ) {
        let record = SessionRecord {
            user_id: user.to_string(),
            purpose,
            expires_at: now() + session.valid_for.as_secs(),
            liveness: session.liveness,
            outcome: Some(outcome),
        };
        if let Err(e) = self.put_session(&session.id, &record).await {
            tracing::warn!(error = %crate::telemetry::chain(&e), session_id = %session.id, "session outcome not recorded");
        }
    }

    /// The result a relying party verifies with the published key: bound to the session's
    /// audience and nonce, naming what the factors proved (`amr`) and the state's generation.
    pub(super) fn sign_result(
        &self,
        user: &UserId,
        session: Option<&ValidSession>,
        amr: Vec<&'static str>,
        passkey_id: Option<String>,
        generation: &str,
    ) -> IssuedToken {
        let context = ResultContext {
            audience: session.and_then(|s| s.audience.clone()),
            nonce: session.and_then(|s| s.nonce.clone()),
            session_id: session.map(|s| s.id.clone()),
            amr,
            passkey_id,
            generation: generation.to_string(),
        };
        let (token, claims) = self.tokens.sign(user.as_str(), context);
        IssuedToken { token, expires_at: claims.exp }
    }

    /// RFC 7662 for verification results: the claims of a token that is valid now, or `None`.
    /// With `consume`, the token's `jti` is marked used in the shared state and a second
    /// consuming call answers `None`: single use without the backend keeping a list.
    ///
    /// A result issued under another generation of the shared state (its `jti` names it) is not
    /// active: its consumption may have been forgotten with the state.
    pub async fn introspect(&self, token: &str, consume: bool) -> Result<Option<ResultClaims>, ServiceError> {
        let Ok(claims) = self.tokens.verify(token) else { return Ok(None) };
        let generation = self.state.generation().await?;
        if claims.generation() != Some(generation.as_str()) {
            return Ok(None);
        }
        let used = format!("result-used:{}", claims.jti);
        let ttl = Duration::from_secs(claims.exp.saturating_sub(now()) + 1);
        if !consume {
            return Ok(self.state.get_record(&used).await?.is_none().then_some(claims));
        }
        // Claimed atomically (of two consumers racing, one wins), then marked for plain lookups.
        match self.state.claim_under(&format!("result:{}", claims.jti), ttl, &generation).await? {
            Some(claim) => claim.spend(),
            None => return Ok(None),
        }
        self.state.put_record(&used, "1", ttl).await?;
        Ok(Some(claims))
    }

    /// The public keys that verify results (`GET /.well-known/jwks.json`).
    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.jwks()
    }
}

impl FaceAuth {
    /// A session for the backend to hand to its frontend. A verify session carries the liveness
    /// the backend required (within what the server offers) and, for a capture, the plan it must
    /// follow: the user's pending plan while there is one, without its colours for `movement`.
    pub async fn create_session(&self, request: SessionRequest) -> Result<IssuedSession, ServiceError> {
        let liveness = match request.purpose {
            SessionPurpose::Verify => self.liveness.offer().settle(request.liveness)?,
            SessionPurpose::Enroll => None,
        };
        let (mark, generation) = tokio::join!(self.revocations.mark(&request.user), self.state.generation());
        let (mark, generation) = (mark?, generation?);
        let plan = match liveness {
            Some(Requirement::MovementAndLight) => Some(self.liveness.pending_plan(&request.user).await?),
            // The same moves as any other live token of the user (no free re-draw), no colours.
            Some(Requirement::Movement) => {
                Some(Plan { light: Vec::new(), ..self.liveness.pending_plan(&request.user).await? })
            }
            Some(Requirement::Passive) | None => None,
        };
        let passkey = match request.factors {
            Factors::FaceAndPasskey if request.purpose == SessionPurpose::Verify => {
                Some(self.passkeys.passkey_request(&request.user).await?)
            }
            // An enrol session checks no assertion: a passkey asked of one would be a promise unkept.
            Factors::FaceAndPasskey => return Err(PasskeyError::NotAsked.into()),
            Factors::Face => None,
        };
        let issued =
            IssuedSession { passkey, ..self.access.sessions.issue(&request, &generation, mark, liveness, plan) };
        let record = SessionRecord {
            user_id: request.user.to_string(),
            purpose: request.purpose,
            expires_at: issued.expires_at,
            liveness,
            outcome: None,
        };
        self.access.put_session(&issued.id, &record).await?;
        Ok(issued)
    }
}
