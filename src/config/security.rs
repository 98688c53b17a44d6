//! Keys and secrets: the token signing keys, API keys, the metrics token; who may start an attempt.

use std::time::Duration;

use secrecy::SecretString;

use super::env::{Parser, Var};
use crate::auth::{ApiKeys, KeyKind};
use crate::token::keys::{Algorithm, PublicKey, SigningKey, parse_public_keys};

/// CLIENT_ACCESS: what a publishable client key needs to verify or register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAccess {
    /// A client key verifies any user, and registers with an enrolment grant (development default).
    Open,
    /// Every attempt needs a session the backend created for that user (production default).
    Session,
}

/// How verification results are signed (TOKEN_ALG and the keys).
#[derive(Debug, Clone)]
pub enum TokenKeys {
    /// ES256 or EdDSA; `generated` when no key was configured (development only).
    Asymmetric { active: SigningKey, generated: bool, previous: Vec<PublicKey> },
    /// HS256 with SECRET_KEY, for backends that already check tokens that way.
    Hs256,
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub keys: TokenKeys,
    /// TOKEN_ISSUER: the `iss` of every result.
    pub issuer: String,
    /// TOKEN_AUDIENCE: the `aud` of a result whose session named none.
    pub audience: String,
}

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
    pub tokens: TokenConfig,
    /// SESSION_TTL_SECS: how long a verification or enrol session may wait for its attempt.
    pub session_ttl: Duration,
    pub client_access: ClientAccess,
    /// REPLAY_WINDOW_SECS: how long the photos of a decided verify are refused if sent again; 0 off.
    pub replay_window: Option<Duration>,
    /// CONSENT_REQUIRED: a register must name the notice the user accepted (on in production).
    pub consent_required: bool,
    /// RETENTION_PERIOD: users unused this long are deleted; `None` keeps data until deleted.
    pub retention_period: Option<Duration>,
    /// RETENTION_SWEEP_INTERVAL: how often the service itself runs the retention sweep.
    pub retention_sweep_interval: Option<Duration>,
}

fn token_config(p: &mut Parser, production: bool) -> TokenConfig {
    let issuer = p.string(Var::TokenIssuer, "faceauth");
    let audience = p.string(Var::TokenAudience, "faceauth");
    let algorithm = match p.get(Var::TokenAlg).map(str::to_ascii_uppercase).as_deref() {
        None | Some("ES256") => Some(Algorithm::Es256),
        Some("EDDSA") => Some(Algorithm::EdDsa),
        Some("HS256") => None,
        Some(other) => {
            p.problem(format!("TOKEN_ALG={other} is not valid: use ES256, EdDSA or HS256"));
            Some(Algorithm::Es256)
        }
    };
    let previous = match p.get(Var::TokenPreviousKeys).map(parse_public_keys) {
        None => Vec::new(),
        Some(Ok(keys)) => keys,
        Some(Err(e)) => {
            p.problem(format!("TOKEN_PREVIOUS_KEYS is not valid: {e}"));
            Vec::new()
        }
    };
    let Some(algorithm) = algorithm else { return TokenConfig { keys: TokenKeys::Hs256, issuer, audience } };
    let text = match (p.get(Var::TokenSigningKey), p.get(Var::TokenSigningKeyFile)) {
        (Some(_), Some(_)) => {
            p.problem("TOKEN_SIGNING_KEY and TOKEN_SIGNING_KEY_FILE are both set: keep one");
            None
        }
        (Some(text), None) => Some(text.to_string()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                p.problem(format!("TOKEN_SIGNING_KEY_FILE={path} cannot be read: {e}"));
                None
            }
        },
        (None, None) => None,
    };
    let (active, generated) = match text.map(|t| SigningKey::parse(&t)) {
        Some(Ok(key)) if key.public().algorithm() == algorithm => (Some(key), false),
        Some(Ok(key)) => {
            p.problem(format!(
                "TOKEN_SIGNING_KEY is a {} key but TOKEN_ALG is {}: set TOKEN_ALG={} or give a key of that kind",
                key.public().algorithm().name(),
                algorithm.name(),
                key.public().algorithm().name()
            ));
            (None, false)
        }
        Some(Err(e)) => {
            p.problem(format!("TOKEN_SIGNING_KEY is not valid: {e}"));
            (None, false)
        }
        None if production => {
            p.problem(
                "TOKEN_SIGNING_KEY is not set: production signs verification results with a key that outlives the \
                 process; make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` and put \
                 the PEM in TOKEN_SIGNING_KEY (or the Secrets Manager secret) or its path in TOKEN_SIGNING_KEY_FILE",
            );
            (None, false)
        }
        None => (SigningKey::generate(algorithm).ok(), true),
    };
    let keys = match active {
        Some(active) => TokenKeys::Asymmetric { active, generated, previous },
        // A problem was reported; this value is never used.
        None => TokenKeys::Hs256,
    };
    TokenConfig { keys, issuer, audience }
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
            tokens: token_config(p, production),
            session_ttl: p.secs(Var::SessionTtlSecs, 180, 3600),
            client_access: match p.get(Var::ClientAccess).map(str::to_ascii_lowercase).as_deref() {
                None if production => ClientAccess::Session,
                None => ClientAccess::Open,
                Some("open") => ClientAccess::Open,
                Some("session") => ClientAccess::Session,
                Some(other) => {
                    p.problem(format!("CLIENT_ACCESS={other} is not valid: use open or session"));
                    ClientAccess::Session
                }
            },
            replay_window: match p.ranged(Var::ReplayWindowSecs, 86_400u64, 0, 30 * 86_400) {
                0 => None,
                secs => Some(Duration::from_secs(secs)),
            },
            consent_required: p.switch(Var::ConsentRequired, production),
            retention_period: p.duration(Var::RetentionPeriod),
            retention_sweep_interval: p.duration(Var::RetentionSweepInterval),
        }
    }
}
