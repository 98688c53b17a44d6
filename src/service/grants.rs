//! Enrolment grants: what lets a publishable client key register a photo, for one user, once.
//!
//! A grant is an HS256 JWT whose key is derived from SECRET_KEY,
//! `HMAC-SHA256(key = SECRET_KEY, message = "faceauth enrollment grant v1")`, so that a grant can never
//! pass as a verification token (signed with SECRET_KEY itself) or the other way round. Claims:
//! `iss` = `faceauth`, `aud` = `faceauth:enrollment`, `sub` = the user id, `iat`, `exp` (at most a
//! day ahead), `jti` (unique, 1–128 characters). `POST /api/enrollments` issues them; a backend may
//! also mint them itself with any JWT library (docs/api.md, "Keys and enrolment grants").

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::UserId;
use crate::token::{Hs256, TokenError, UserClaims, now};

pub const AUDIENCE: &str = "faceauth:enrollment";
const KEY_CONTEXT: &[u8] = b"faceauth enrollment grant v1";
/// Grants further out than this are refused: each used one is remembered until it expires.
const MAX_LIFETIME_SECS: u64 = 86_400;

/// What a grant adds to the common claims: the user's revocation mark when it was issued (a
/// backend's own grants carry none and are judged by `iat`).
#[derive(Debug, Serialize, Deserialize)]
struct GrantExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ep: Option<String>,
}

type GrantClaims = UserClaims<GrantExtra>;

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
}

pub struct EnrollmentGrants {
    jwt: Hs256,
    ttl: Duration,
}

/// A grant whose signature and claims are good: single use is the shared state's to enforce
/// (`SharedState::claim` on `id`, until `valid_for` has passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidGrant {
    pub id: String,
    pub valid_for: Duration,
    pub iat: u64,
    pub epoch: Option<String>,
}

impl EnrollmentGrants {
    pub fn new(secret_key: &SecretString, ttl: Duration) -> Self {
        Self { jwt: Hs256::derived(secret_key, KEY_CONTEXT), ttl }
    }

    pub fn issue(&self, user: &UserId, epoch: Option<String>) -> Grant {
        let claims = GrantClaims::new(AUDIENCE, user.as_str(), self.ttl, GrantExtra { ep: epoch });
        Grant { token: self.jwt.sign(&claims), expires_at: claims.exp }
    }

    /// Checks the grant's signature and claims for `user`.
    pub fn check(&self, token: &str, user: &UserId) -> Result<ValidGrant, GrantError> {
        let claims: GrantClaims = self.jwt.open(token).map_err(|e| match e {
            TokenError::Expired => GrantError::Expired,
            TokenError::Malformed | TokenError::BadSignature => GrantError::Forged,
        })?;
        let now = now();
        if !claims.is_for(AUDIENCE) || !(1..=128).contains(&claims.jti.len()) || claims.exp > now + MAX_LIFETIME_SECS {
            return Err(GrantError::Forged);
        }
        if claims.exp < now {
            return Err(GrantError::Expired);
        }
        if claims.sub != user.as_str() {
            return Err(GrantError::OtherUser);
        }
        // Remembered one second past its expiry, so it is refused as expired before it is forgotten.
        Ok(ValidGrant {
            id: format!("grant:{}", claims.jti),
            valid_for: Duration::from_secs(claims.exp - now + 1),
            iat: claims.iat,
            epoch: claims.extra.ep,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> EnrollmentGrants {
        EnrollmentGrants::new(&SecretString::from("secret-key".to_string()), Duration::from_secs(600))
    }

    #[test]
    fn a_grant_is_for_one_user() {
        let grants = grants();
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let grant = grants.issue(&alice, None);
        assert_eq!(grants.check(&grant.token, &bob).err(), Some(GrantError::OtherUser));
        let valid = grants.check(&grant.token, &alice).unwrap();
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
        };
        let session = sessions.issue(&request, None, None);
        assert_eq!(grants.check(&session.token, &alice).err(), Some(GrantError::Forged));
        let other = EnrollmentGrants::new(&SecretString::from("other-key".to_string()), Duration::from_secs(600));
        assert_eq!(grants.check(&other.issue(&alice, None).token, &alice).err(), Some(GrantError::Forged));
        let expired = GrantClaims {
            iat: 1,
            exp: 2,
            ..GrantClaims::new(AUDIENCE, "alice", Duration::ZERO, GrantExtra { ep: None })
        };
        assert_eq!(grants.check(&grants.jwt.sign(&expired), &alice).err(), Some(GrantError::Expired));
    }
}
