//! Enrolment grants: what lets a publishable client key register a photo, for one user, once.
//!
//! A grant is an HS256 JWT whose key is derived from SECRET_KEY,
//! `HMAC-SHA256(key = SECRET_KEY, message = "faceauth enrollment grant v1")`, so that a grant can never
//! pass as a verification token (signed with SECRET_KEY itself) or the other way round. Claims:
//! `iss` = `faceauth`, `aud` = `faceauth:enrollment`, `sub` = the user id, `iat`, `exp` (at most a
//! day ahead), `jti` (unique, 1–128 characters). `POST /api/enrollments` issues them; a backend may
//! also mint them itself with any JWT library (README, "Enrolment grants").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::UserId;
use crate::token::{Hs256, ISSUER, TokenError, now};

pub const AUDIENCE: &str = "faceauth:enrollment";
const KEY_CONTEXT: &[u8] = b"faceauth enrollment grant v1";
/// Grants further out than this are refused: each used one is remembered until it expires.
const MAX_LIFETIME_SECS: u64 = 86_400;
/// Used grants remembered at once; beyond it new redemptions are refused rather than forgotten.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Debug, Serialize, Deserialize)]
struct GrantClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    jti: String,
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
    #[error("too many enrollment tokens are in use; retry later")]
    Full,
}

pub struct EnrollmentGrants {
    jwt: Hs256,
    ttl: Duration,
    /// jti → expiry of grants in use or used. Shared state for several instances is issue #12.
    used: Mutex<HashMap<String, u64>>,
}

/// A grant being used by one register. Dropped unspent (the register failed, was cancelled or
/// timed out) the grant can be used again; [`Redemption::spend`] uses it up.
#[must_use = "a redemption dropped unspent releases the grant"]
pub struct Redemption<'a> {
    grants: &'a EnrollmentGrants,
    jti: String,
    spent: bool,
}

impl Redemption<'_> {
    pub fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for Redemption<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.grants.used.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.jti);
        }
    }
}

impl EnrollmentGrants {
    pub fn new(secret_key: &SecretString, ttl: Duration) -> Self {
        let mut derive =
            Hmac::<Sha256>::new_from_slice(secret_key.expose_secret().as_bytes()).expect("HMAC takes any key");
        derive.update(KEY_CONTEXT);
        Self { jwt: Hs256::new(&derive.finalize().into_bytes()), ttl, used: Mutex::new(HashMap::new()) }
    }

    pub fn issue(&self, user: &UserId) -> Grant {
        let iat = now();
        let claims = GrantClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user.to_string(),
            iat,
            exp: iat + self.ttl.as_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        Grant { token: self.jwt.sign(&claims), expires_at: claims.exp }
    }

    /// Checks the grant for `user` and holds it: a concurrent register with the same grant is refused.
    pub fn redeem(&self, token: &str, user: &UserId) -> Result<Redemption<'_>, GrantError> {
        let claims: GrantClaims = self.jwt.open(token).map_err(|e| match e {
            TokenError::Expired => GrantError::Expired,
            TokenError::Malformed | TokenError::BadSignature => GrantError::Forged,
        })?;
        let now = now();
        if claims.iss != ISSUER
            || claims.aud != AUDIENCE
            || !(1..=128).contains(&claims.jti.len())
            || claims.exp > now + MAX_LIFETIME_SECS
        {
            return Err(GrantError::Forged);
        }
        if claims.exp < now {
            return Err(GrantError::Expired);
        }
        if claims.sub != user.as_str() {
            return Err(GrantError::OtherUser);
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.len() >= MAX_REMEMBERED {
            used.retain(|_, exp| *exp >= now);
        }
        if used.contains_key(&claims.jti) {
            return Err(GrantError::Used);
        }
        if used.len() >= MAX_REMEMBERED {
            return Err(GrantError::Full);
        }
        used.insert(claims.jti.clone(), claims.exp);
        Ok(Redemption { grants: self, jti: claims.jti, spent: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> EnrollmentGrants {
        EnrollmentGrants::new(&SecretString::from("secret-key".to_string()), Duration::from_secs(600))
    }

    #[test]
    fn a_grant_is_for_one_user_and_one_successful_use() {
        let grants = grants();
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let grant = grants.issue(&alice);
        assert_eq!(grants.redeem(&grant.token, &bob).err(), Some(GrantError::OtherUser));
        let first = grants.redeem(&grant.token, &alice).unwrap();
        assert_eq!(grants.redeem(&grant.token, &alice).err(), Some(GrantError::Used), "held while in use");
        drop(first); // that register failed: the grant may be tried again
        grants.redeem(&grant.token, &alice).unwrap().spend();
        assert_eq!(grants.redeem(&grant.token, &alice).err(), Some(GrantError::Used));
    }

    #[test]
    fn verification_tokens_forged_and_expired_grants_are_refused() {
        let grants = grants();
        let alice = UserId::parse("alice").unwrap();
        let signer =
            crate::token::TokenSigner::new(SecretString::from("secret-key".to_string()), Duration::from_secs(60));
        let (verification, _) = signer.sign("alice");
        assert_eq!(grants.redeem(&verification, &alice).err(), Some(GrantError::Forged));
        let other = EnrollmentGrants::new(&SecretString::from("other-key".to_string()), Duration::from_secs(600));
        assert_eq!(grants.redeem(&other.issue(&alice).token, &alice).err(), Some(GrantError::Forged));
        let expired = GrantClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "alice".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
        };
        assert_eq!(grants.redeem(&grants.jwt.sign(&expired), &alice).err(), Some(GrantError::Expired));
    }
}
