//! One signed single-use ticket, three kinds: a verify or enrol session, an enrolment grant, a
//! liveness challenge. Each is an HS256 JWT under its own key derived from SECRET_KEY
//! (`HMAC-SHA256(SECRET_KEY, context)`: a ticket of one kind never passes as another), with the
//! common claims (`iss`, `aud`, `sub`, `iat`, `exp`, `jti`, `sg`: `token::UserClaims`) and what
//! its kind adds. Every kind is checked the same way, in one order: the signature, the expiry,
//! the audience and id, the policy (a lifetime no longer than configured, the shared state's
//! generation in force), the user. Single use is the caller's, through the
//! shared state, on [`Valid::claim_id`].

use std::marker::PhantomData;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::UserId;
use crate::token::{Hs256, TokenError, UserClaims, now};

/// What tells one kind of ticket from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The `aud` claim.
    pub audience: &'static str,
    /// What SECRET_KEY is derived with for this kind's signing key.
    pub key_context: &'static [u8],
    /// The prefix of its single-use record in the shared state (`prefix:jti`).
    pub claim_prefix: &'static str,
}

pub const SESSION: Kind =
    Kind { audience: "faceauth:session", key_context: b"faceauth session v1", claim_prefix: "session" };
/// Version 1 of this context let backends mint their own grants; it changed so those keys stopped working.
pub const GRANT: Kind =
    Kind { audience: "faceauth:enrollment", key_context: b"faceauth enrollment grant v2", claim_prefix: "grant" };
pub const CHALLENGE: Kind =
    Kind { audience: "faceauth:challenge", key_context: b"faceauth liveness challenge v1", claim_prefix: "challenge" };
/// Every key context derived from SECRET_KEY, in one place: the three kinds, and the results'
/// signing key when TOKEN_SIGNING_KEY is not set (`startup.rs`). None may repeat (a test holds it).
#[cfg_attr(not(test), allow(dead_code))]
pub const KEY_CONTEXTS: [&[u8]; 4] =
    [SESSION.key_context, GRANT.key_context, CHALLENGE.key_context, RESULT_KEY_CONTEXT];
/// The context the result signing key is derived with when none is configured.
pub const RESULT_KEY_CONTEXT: &[u8] = b"faceauth result v1";

/// Why a ticket is refused, the same for every kind (each maps it to what its clients see).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// Malformed, a wrong signature, another kind, or an id no server issues.
    Forged,
    Expired,
    /// Signed right but not as this server issues them: a longer lifetime, or another generation
    /// of the shared state (issued before it was lost).
    Void,
    OtherUser,
}

/// A freshly issued ticket.
#[derive(Debug, Clone)]
pub struct Issued<E> {
    /// The `jti`.
    pub id: String,
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub extra: E,
}

/// A ticket whose signature and claims are good for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid<E> {
    /// The `jti`.
    pub id: String,
    /// Its single-use record in the shared state.
    pub claim_id: String,
    /// Until one second past its expiry, so it is refused as expired before it is forgotten.
    pub valid_for: Duration,
    pub extra: E,
}

/// Issues and checks one kind of ticket carrying `E`.
pub struct Tickets<E> {
    kind: Kind,
    jwt: Hs256,
    ttl: Duration,
    extra: PhantomData<fn() -> E>,
}

impl<E: Serialize + DeserializeOwned> Tickets<E> {
    pub fn new(secret_key: &SecretString, kind: Kind, ttl: Duration) -> Self {
        Self { kind, jwt: Hs256::derived(secret_key, kind.key_context), ttl, extra: PhantomData }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: &UserId, generation: &str, extra: E) -> Issued<E> {
        let claims = UserClaims::new(self.kind.audience, user.as_str(), self.ttl, generation, extra);
        Issued { token: self.jwt.sign(&claims), id: claims.jti, expires_at: claims.exp, extra: claims.extra }
    }

    pub fn check(&self, token: &str, user: &UserId, generation: &str) -> Result<Valid<E>, TicketError> {
        let claims: UserClaims<E> = self.jwt.open(token).map_err(|e| match e {
            TokenError::Expired => TicketError::Expired,
            TokenError::Malformed | TokenError::BadSignature => TicketError::Forged,
        })?;
        // Expired first, once the signature is good: "get a new one" is the right answer to any
        // stale ticket this server signed.
        let now = now();
        if claims.exp < now {
            return Err(TicketError::Expired);
        }
        if !claims.is_for(self.kind.audience) || !(1..=128).contains(&claims.jti.len()) {
            return Err(TicketError::Forged);
        }
        if !claims.within_policy(self.ttl, generation) {
            return Err(TicketError::Void);
        }
        if claims.sub != user.as_str() {
            return Err(TicketError::OtherUser);
        }
        Ok(Valid {
            claim_id: format!("{}:{}", self.kind.claim_prefix, claims.jti),
            id: claims.jti,
            valid_for: Duration::from_secs(claims.exp - now + 1),
            extra: claims.extra,
        })
    }

    /// Signs claims as given (tests: tokens this server would not issue).
    #[cfg(test)]
    pub fn sign(&self, claims: &impl Serialize) -> String {
        self.jwt.sign(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
    struct Extra {
        n: u32,
    }

    fn tickets(kind: Kind) -> Tickets<Extra> {
        Tickets::new(&SecretString::from("k".to_string()), kind, Duration::from_secs(60))
    }

    #[test]
    fn a_ticket_is_for_its_kind_its_user_its_generation_and_its_policy() {
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let sessions = tickets(SESSION);
        let issued = sessions.issue(&alice, "g1", Extra { n: 7 });
        let valid = sessions.check(&issued.token, &alice, "g1").unwrap();
        assert_eq!((valid.extra.n, valid.claim_id), (7, format!("session:{}", issued.id)));
        assert_eq!(sessions.check(&issued.token, &bob, "g1").err(), Some(TicketError::OtherUser));
        assert_eq!(sessions.check(&issued.token, &alice, "g2").err(), Some(TicketError::Void));
        // Another kind's key, and another kind's audience under the same key: forged.
        assert_eq!(tickets(GRANT).check(&issued.token, &alice, "g1").err(), Some(TicketError::Forged));
        let mut claims = UserClaims::new(GRANT.audience, "alice", Duration::from_secs(60), "g1", Extra { n: 1 });
        assert_eq!(sessions.check(&sessions.sign(&claims), &alice, "g1").err(), Some(TicketError::Forged));
        // Longer-lived than configured: void.
        claims = UserClaims::new(SESSION.audience, "alice", Duration::from_secs(3600), "g1", Extra { n: 1 });
        assert_eq!(sessions.check(&sessions.sign(&claims), &alice, "g1").err(), Some(TicketError::Void));
    }

    #[test]
    fn no_two_kinds_share_a_key_context() {
        let distinct: std::collections::BTreeSet<&[u8]> = KEY_CONTEXTS.into_iter().collect();
        assert_eq!(distinct.len(), KEY_CONTEXTS.len());
    }
}
