//! Enrolment grants: what lets a publishable client key register a photo, for one user, once.
//!
//! A grant is an HS256 JWT whose key is derived from SECRET_KEY,
//! `HMAC-SHA256(key = SECRET_KEY, message = "faceauth enrollment grant v2")`, so that a grant can never
//! pass as any other token. Claims: `iss` = `faceauth`, `aud` = `faceauth:enrollment`, `sub` = the
//! user id, `iat`, `exp` (at most ENROLLMENT_TTL_SECS after `iat`), `jti`, `sg` (the shared state's
//! generation), `ep` (the user's revocation mark). Only `POST /api/enrollments` issues them:
//! SECRET_KEY never leaves faceauth, and a grant made any other way is refused (version 1 of this
//! format let backends mint their own; the context changed so that those keys stopped working).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::ticket::{self, TicketError, Tickets};
use crate::domain::UserId;

/// What a grant adds to the common claims: the user's revocation mark when it was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GrantExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ep: Option<String>,
}

/// A freshly issued grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Why a grant was refused; clients see one code for all of them, logs see which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the enrollment token is malformed or its signature is wrong")]
    Forged,
    #[error("the enrollment token has expired")]
    Expired,
    #[error("the enrollment token was issued for another user")]
    OtherUser,
    #[error("the enrollment token has been used")]
    Used,
    #[error("the user was deleted or re-enrolled after the enrollment token was issued")]
    Revoked,
    /// Signed with the right key but not as this server issues grants (a longer lifetime, no or
    /// another generation of the shared state).
    #[error("the enrollment token is outside this server's policy, or was issued before the shared state was lost")]
    Void,
}

pub struct EnrollmentGrants {
    tickets: Tickets<GrantExtra>,
}

/// A grant whose signature and claims are good: single use is the shared state's to enforce
/// (`SharedState::claim` on `id`, until `valid_for` has passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidGrant {
    pub id: String,
    pub valid_for: Duration,
    pub epoch: Option<String>,
}

impl EnrollmentGrants {
    pub fn new(secret_key: &SecretString, ttl: Duration) -> Self {
        Self { tickets: Tickets::new(secret_key, ticket::GRANT, ttl) }
    }

    pub fn issue(&self, user: &UserId, generation: &str, epoch: Option<String>) -> Grant {
        let issued = self.tickets.issue(user, generation, GrantExtra { ep: epoch });
        Grant { token: issued.token, expires_at: issued.expires_at }
    }

    /// Checks the grant's signature, policy and claims for `user` (`ticket.rs`).
    pub fn check(&self, token: &str, user: &UserId, generation: &str) -> Result<ValidGrant, GrantError> {
        let valid = self.tickets.check(token, user, generation).map_err(|e| match e {
            TicketError::Forged => GrantError::Forged,
            TicketError::Expired => GrantError::Expired,
            TicketError::Void => GrantError::Void,
            TicketError::OtherUser => GrantError::OtherUser,
        })?;
        Ok(ValidGrant { id: valid.claim_id, valid_for: valid.valid_for, epoch: valid.extra.ep })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Hs256, UserClaims};

    type GrantClaims = UserClaims<GrantExtra>;
    const AUDIENCE: &str = ticket::GRANT.audience;

    fn grants() -> EnrollmentGrants {
        EnrollmentGrants::new(&SecretString::from("secret-key".to_string()), Duration::from_secs(600))
    }

    #[test]
    fn a_grant_is_for_one_user() {
        let grants = grants();
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let grant = grants.issue(&alice, "g1", None);
        assert_eq!(grants.check(&grant.token, &bob, "g1").err(), Some(GrantError::OtherUser));
        assert_eq!(grants.check(&grant.token, &alice, "g2").err(), Some(GrantError::Void), "another generation");
        let valid = grants.check(&grant.token, &alice, "g1").unwrap();
        assert!(valid.valid_for > Duration::from_secs(590) && valid.valid_for <= Duration::from_secs(601));
    }

    #[test]
    fn verification_tokens_forged_and_expired_grants_are_refused() {
        let grants = grants();
        let alice = UserId::parse("alice").unwrap();
        let sessions =
            crate::service::Sessions::new(&SecretString::from("secret-key".to_string()), Duration::from_secs(60));
        let request = crate::service::SessionRequest {
            user: alice.clone(),
            purpose: crate::service::SessionPurpose::Enroll,
            nonce: None,
            audience: None,
            factors: crate::service::Factors::Face,
            liveness: None,
        };
        let session = sessions.issue(&request, "g1", None, None, None);
        assert_eq!(grants.check(&session.token, &alice, "g1").err(), Some(GrantError::Forged));
        let other = EnrollmentGrants::new(&SecretString::from("other-key".to_string()), Duration::from_secs(600));
        assert_eq!(grants.check(&other.issue(&alice, "g1", None).token, &alice, "g1").err(), Some(GrantError::Forged));
        let expired = GrantClaims {
            iat: 1,
            exp: 2,
            ..GrantClaims::new(AUDIENCE, "alice", Duration::ZERO, "g1", GrantExtra { ep: None })
        };
        assert_eq!(grants.check(&grants.tickets.sign(&expired), &alice, "g1").err(), Some(GrantError::Expired));
    }

    /// What docs/api.md told backends to do before version 2: mint a grant with SECRET_KEY. The
    /// old key no longer signs grants, and one signed with the current key but made outside the
    /// policy (a ten-year lifetime, no generation) is refused too.
    #[test]
    fn a_grant_minted_outside_faceauth_is_refused() {
        let grants = grants();
        let alice = UserId::parse("alice").unwrap();
        let v1 = Hs256::derived(&SecretString::from("secret-key".to_string()), b"faceauth enrollment grant v1");
        let minted = GrantClaims {
            sg: None,
            ..GrantClaims::new(AUDIENCE, "alice", Duration::from_secs(600), "g1", GrantExtra { ep: None })
        };
        assert_eq!(grants.check(&v1.sign(&minted), &alice, "g1").err(), Some(GrantError::Forged));
        assert_eq!(grants.check(&grants.tickets.sign(&minted), &alice, "g1").err(), Some(GrantError::Void));
        let long =
            GrantClaims::new(AUDIENCE, "alice", Duration::from_secs(10 * 365 * 86_400), "g1", GrantExtra { ep: None });
        assert_eq!(grants.check(&grants.tickets.sign(&long), &alice, "g1").err(), Some(GrantError::Void));
    }
}
