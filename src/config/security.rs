//! Keys and secrets: the token signing key, API keys, the metrics token.

use std::time::Duration;

use secrecy::SecretString;

use super::env::{Parser, Var};
use crate::auth::{ApiKeys, KeyKind};

/// Placeholder values that must never sign tokens in production.
const DEFAULT_SECRET_KEYS: &[&str] = &["change-me", "changeme", "secret", "dev-secret-key-change-me-please-000"];

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// SECRET_KEY: signs verification tokens (HS256).
    pub secret_key: SecretString,
    /// True when no SECRET_KEY was given and a random one was made (development only).
    pub secret_key_generated: bool,
    /// API_KEYS (secret, for backends: every route) and CLIENT_API_KEYS (publishable: verify, and
    /// register with an enrolment grant). None configured leaves the API open (development only).
    pub api_keys: ApiKeys,
    /// ENROLLMENT_TTL_SECS: lifetime of an enrolment grant.
    pub enrollment_ttl: Duration,
    /// REPLAY_GUARD: refuse a verify photo whose bytes equal a stored reference photo's. On by
    /// default in production; off in development, so the first smoke test (register and verify
    /// the same sample.jpg) works.
    pub replay_guard: bool,
    /// TOKEN_TTL_SECS: lifetime of a verification token.
    pub token_ttl: Duration,
    /// METRICS_TOKEN: bearer token for /metrics; none leaves it open (development) or off (production).
    pub metrics_token: Option<SecretString>,
}

impl SecurityConfig {
    pub(super) fn parse(p: &mut Parser, production: bool) -> Self {
        let (secret_key, secret_key_generated) = match p.get(Var::SecretKey) {
            Some(key) => {
                if production && (key.len() < 32 || DEFAULT_SECRET_KEYS.contains(&key)) {
                    p.problem(
                        "SECRET_KEY is a placeholder or shorter than 32 bytes: generate one with `openssl rand -hex 32` \
                         and put it in the environment file or the Secrets Manager secret",
                    );
                }
                (SecretString::from(key.to_string()), false)
            }
            None if production => {
                p.problem(
                    "SECRET_KEY is not set: production signs verification tokens with it; generate one with `openssl \
                     rand -hex 32`",
                );
                (SecretString::from(String::new()), false)
            }
            None => (SecretString::from(hex::encode(uuid::Uuid::new_v4().as_bytes().repeat(2))), true),
        };
        let api_keys = ApiKeys::parse(p.get(Var::ApiKeys).unwrap_or(""), p.get(Var::ClientApiKeys).unwrap_or(""))
            .unwrap_or_else(|e| {
                p.problem(e.to_string());
                ApiKeys::default()
            });
        if !api_keys.is_empty() && api_keys.count(KeyKind::Secret) == 0 {
            p.problem(
                "CLIENT_API_KEYS is set but API_KEYS is not: with client keys alone nobody could manage users or \
                 issue enrolment grants; add a secret key to API_KEYS",
            );
        }
        if production && api_keys.is_empty() {
            p.problem(
                "API_KEYS is not set: production refuses to serve without authentication; set API_KEYS \
                 (comma-separated, plain or sha256:<hex>) in the environment file or the Secrets Manager secret",
            );
        }
        Self {
            secret_key,
            secret_key_generated,
            api_keys,
            token_ttl: p.secs(Var::TokenTtlSecs, 120, 86_400),
            enrollment_ttl: p.secs(Var::EnrollmentTtlSecs, 600, 86_400),
            replay_guard: p.switch(Var::ReplayGuard, production),
            metrics_token: p.get(Var::MetricsToken).map(|t| SecretString::from(t.to_string())),
        }
    }
}
