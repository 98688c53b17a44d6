//! Verification sessions: the relying party's backend starts every attempt, its frontend runs it,
//! and the backend reads the outcome server to server (as AWS Rekognition Face Liveness and Azure
//! Face liveness-with-verify sessions do).
//!
//! A session token is an HS256 JWT under a key derived from SECRET_KEY
//! (`HMAC-SHA256(SECRET_KEY, "faceauth session v1")`): bound to one user and one purpose, with the
//! relying party's nonce and audience, the user's revocation mark at issue (`ep`), and in challenge
//! mode the plan. Its id is used once, by the first *decided* attempt, through the shared state;
//! the session's record there (`session:<id>`) holds its status and, once completed, the outcome.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::liveness::offer::Requirement;
use super::liveness::plan::Plan;
use super::ticket::{self, TicketError, Tickets};
use crate::domain::UserId;
use crate::token::now;
/// How long a session's outcome stays readable after the session's own expiry.
pub const OUTCOME_KEPT: Duration = Duration::from_secs(600);
/// The longest nonce and audience a session takes.
pub const MAX_BINDING_LEN: usize = 128;

/// What a session lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPurpose {
    Verify,
    Enroll,
}

/// What a verify session needs the person to show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Factors {
    /// The face (and liveness, as LIVENESS says).
    #[default]
    Face,
    /// The face and an assertion from one of the user's passkeys over this session and capture.
    FaceAndPasskey,
}

/// What a session adds to the common claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionExtra {
    purpose: SessionPurpose,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rp_aud: Option<String>,
    /// The user's revocation mark when the session was issued (none if never revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ep: Option<String>,
    /// For a verify session: the liveness the backend required (absent on sessions issued before
    /// the backend chose; then the server's default, which the plan must agree with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lv: Option<Requirement>,
    /// In challenge mode, for a verify session: what the capture must follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<Plan>,
    /// A verify session that needs a passkey assertion as well as the face.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pk: bool,
}

/// What the backend asks for.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    pub user: UserId,
    pub purpose: SessionPurpose,
    pub nonce: Option<String>,
    pub audience: Option<String>,
    pub factors: Factors,
    /// The liveness the backend asks of a verify session; the server's strongest when `None`.
    pub liveness: Option<Requirement>,
}

/// A freshly issued session.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub id: String,
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// The liveness the verify session requires (none: LIVENESS=off, or an enrol session).
    pub liveness: Option<Requirement>,
    /// In challenge mode, for a verify session: the movements and colours the capture must follow.
    pub plan: Option<Plan>,
    /// Face + passkey: the WebAuthn request options (`publicKey`, without the challenge, which the
    /// client derives from the session token and the capture).
    pub passkey: Option<serde_json::Value>,
}

/// Why a presented session is refused; clients see one code, logs see which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session token is malformed or its signature is wrong")]
    Forged,
    #[error("the session has expired")]
    Expired,
    #[error("the session was issued for another user")]
    OtherUser,
    #[error("the session was issued for another purpose")]
    OtherPurpose,
    #[error("the session has been used")]
    Used,
    #[error("the user was deleted or re-enrolled after the session was issued")]
    Revoked,
    /// Signed with the right key but not as this server issues sessions: a lifetime longer than
    /// SESSION_TTL_SECS, or another generation of the shared state (issued before it was lost).
    #[error("the session is outside this server's policy, or was issued before the shared state was lost")]
    Void,
}

/// A session whose signature and claims are good for this user and purpose.
#[derive(Debug, Clone)]
pub struct ValidSession {
    pub id: String,
    pub claim_id: String,
    pub valid_for: Duration,
    pub nonce: Option<String>,
    pub audience: Option<String>,
    pub liveness: Option<Requirement>,
    pub plan: Option<Plan>,
    pub epoch: Option<String>,
    /// The attempt needs a passkey assertion as well.
    pub passkey: bool,
}

/// A session's status as the backend reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: String,
    pub purpose: SessionPurpose,
    pub expires_at: u64,
    /// A verify session: the liveness the backend required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SessionOutcome>,
}

/// How a session's decided attempt came out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SessionOutcome {
    pub verified: bool,
    /// The refusal's code when the attempt was refused (`liveness_failed`, `replayed_image`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// `off`, `passive` or `challenge`, and P(real) when scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    /// Verified: what was proven (the result's `amr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Verified on a face + passkey session: the credential that signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_id: Option<String>,
    pub completed_at: u64,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Pending,
    Completed,
    Expired,
}

impl SessionRecord {
    pub fn status(&self) -> SessionStatus {
        match (&self.outcome, self.expires_at < now()) {
            (Some(_), _) => SessionStatus::Completed,
            (None, true) => SessionStatus::Expired,
            (None, false) => SessionStatus::Pending,
        }
    }
}

/// Whether a token issued with revocation mark `token_mark` survives the user's current mark.
/// faceauth names the current mark in everything it issues, so a token without one was issued
/// before the user's first revocation (or minted outside faceauth): refused once there is one.
pub fn survives_revocation(token_mark: Option<&str>, current: Option<&str>) -> bool {
    match (current, token_mark) {
        (None, None) => true,
        // The mark is gone while tokens still name it: the state was lost; refuse rather than guess.
        (None, Some(_)) => false,
        (Some(current), Some(mark)) => current == mark,
        (Some(_), None) => false,
    }
}

pub struct Sessions {
    tickets: Tickets<SessionExtra>,
}

impl Sessions {
    pub fn new(secret_key: &SecretString, ttl: Duration) -> Self {
        Self { tickets: Tickets::new(secret_key, ticket::SESSION, ttl) }
    }

    pub fn ttl(&self) -> Duration {
        self.tickets.ttl()
    }

    pub fn issue(
        &self,
        request: &SessionRequest,
        generation: &str,
        epoch: Option<String>,
        liveness: Option<Requirement>,
        plan: Option<Plan>,
    ) -> IssuedSession {
        let extra = SessionExtra {
            purpose: request.purpose,
            nonce: request.nonce.clone(),
            rp_aud: request.audience.clone(),
            ep: epoch,
            lv: liveness,
            plan,
            pk: request.factors == Factors::FaceAndPasskey,
        };
        let issued = self.tickets.issue(&request.user, generation, extra);
        IssuedSession {
            id: issued.id,
            token: issued.token,
            expires_at: issued.expires_at,
            liveness: issued.extra.lv,
            plan: issued.extra.plan,
            passkey: None,
        }
    }

    /// Checks the ticket (`ticket.rs`: signature, policy, expiry, user), then the purpose;
    /// revocation and single use are the caller's.
    pub fn check(
        &self,
        token: &str,
        user: &UserId,
        purpose: SessionPurpose,
        generation: &str,
    ) -> Result<ValidSession, SessionError> {
        let valid = self.tickets.check(token, user, generation).map_err(|e| match e {
            TicketError::Forged => SessionError::Forged,
            TicketError::Expired => SessionError::Expired,
            TicketError::Void => SessionError::Void,
            TicketError::OtherUser => SessionError::OtherUser,
        })?;
        let extra = valid.extra;
        if extra.purpose != purpose {
            return Err(SessionError::OtherPurpose);
        }
        Ok(ValidSession {
            id: valid.id,
            claim_id: valid.claim_id,
            valid_for: valid.valid_for,
            nonce: extra.nonce,
            audience: extra.rp_aud,
            liveness: extra.lv,
            plan: extra.plan,
            epoch: extra.ep,
            passkey: extra.pk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::UserClaims;

    type SessionClaims = UserClaims<SessionExtra>;
    const AUDIENCE: &str = ticket::SESSION.audience;

    fn sessions() -> Sessions {
        Sessions::new(&SecretString::from("k".to_string()), Duration::from_secs(180))
    }

    fn request(user: &str, purpose: SessionPurpose) -> SessionRequest {
        SessionRequest {
            user: UserId::parse(user).unwrap(),
            purpose,
            nonce: Some("n".into()),
            audience: None,
            factors: Factors::Face,
            liveness: None,
        }
    }

    #[test]
    fn a_session_is_for_one_user_and_one_purpose() {
        let s = sessions();
        let issued = s.issue(&request("alice", SessionPurpose::Verify), "g1", None, None, None);
        let alice = UserId::parse("alice").unwrap();
        let valid = s.check(&issued.token, &alice, SessionPurpose::Verify, "g1").unwrap();
        assert_eq!((valid.id.as_str(), valid.nonce.as_deref()), (issued.id.as_str(), Some("n")));
        assert_eq!(
            s.check(&issued.token, &UserId::parse("bob").unwrap(), SessionPurpose::Verify, "g1").err(),
            Some(SessionError::OtherUser)
        );
        assert_eq!(
            s.check(&issued.token, &alice, SessionPurpose::Enroll, "g1").err(),
            Some(SessionError::OtherPurpose)
        );
        let other = Sessions::new(&SecretString::from("k2".to_string()), Duration::from_secs(180));
        assert_eq!(other.check(&issued.token, &alice, SessionPurpose::Verify, "g1").err(), Some(SessionError::Forged));
        // Issued before the shared state was lost: void in the new generation.
        assert_eq!(s.check(&issued.token, &alice, SessionPurpose::Verify, "g2").err(), Some(SessionError::Void));
    }

    fn plain() -> SessionExtra {
        SessionExtra {
            purpose: SessionPurpose::Verify,
            nonce: None,
            rp_aud: None,
            ep: None,
            lv: None,
            plan: None,
            pk: false,
        }
    }

    #[test]
    fn a_session_signed_right_but_longer_than_the_policy_is_void() {
        let s = sessions();
        let alice = UserId::parse("alice").unwrap();
        let extra = plain();
        let long = SessionClaims::new(AUDIENCE, "alice", Duration::from_secs(10 * 365 * 86_400), "g1", extra);
        assert_eq!(
            s.check(&s.tickets.sign(&long), &alice, SessionPurpose::Verify, "g1").err(),
            Some(SessionError::Void)
        );
        let extra = plain();
        let unnamed = SessionClaims { sg: None, ..SessionClaims::new(AUDIENCE, "alice", s.ttl(), "g1", extra) };
        assert_eq!(
            s.check(&s.tickets.sign(&unnamed), &alice, SessionPurpose::Verify, "g1").err(),
            Some(SessionError::Void),
            "an old-format token, without a generation"
        );
    }

    #[test]
    fn a_revocation_refuses_every_token_issued_before_it() {
        assert!(survives_revocation(None, None));
        assert!(!survives_revocation(None, Some("100500")), "issued before the first revocation");
        assert!(survives_revocation(Some("100500"), Some("100500")), "issued after it, with its mark");
        assert!(!survives_revocation(Some("100500"), Some("200000")), "a later revocation");
        assert!(!survives_revocation(Some("100500"), None), "state lost: refused");
    }
}
