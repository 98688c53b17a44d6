//! API keys: stored as SHA-256 digests, compared in constant time, identified in logs by a short id.
//! And who may scrape `/metrics`.

use axum::http::{HeaderMap, header};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. Secret keys belong to backends; client keys are publishable (they ship inside
/// a browser or phone app, so anyone may hold one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `API_KEYS`: every route.
    Secret,
    /// `CLIENT_API_KEYS`: verify, and register with an enrolment grant.
    Client,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Client => "client",
        }
    }
}

#[derive(Clone, Default)]
pub struct ApiKeys(Vec<([u8; 32], KeyKind)>);

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.0.len())
    }
}

/// The first 8 hex digits of a key's digest, enough to tell keys apart in audit logs and useless to
/// an attacker, and the key's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId {
    pub id: String,
    pub kind: KeyKind,
}

/// Who is calling, as authentication established it; every authenticated request carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No keys are configured (development only): the API is open and every caller is trusted.
    Open,
    Key(KeyId),
}

impl Caller {
    /// May do everything a backend may: secret keys, and anyone on an open development service.
    pub fn is_trusted(&self) -> bool {
        !matches!(self, Caller::Key(KeyId { kind: KeyKind::Client, .. }))
    }

    pub fn key(&self) -> Option<&KeyId> {
        match self {
            Caller::Open => None,
            Caller::Key(key) => Some(key),
        }
    }

    /// For logs and metric labels: `open`, `secret` or `client`.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Open => "open",
            Caller::Key(key) => key.kind.as_str(),
        }
    }
}

const MIN_KEY_LEN: usize = 16;

fn parse_list(list: &str, kind: KeyKind) -> Result<Vec<([u8; 32], KeyKind)>, String> {
    let mut keys = Vec::new();
    for (i, item) in list.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let digest: [u8; 32] = if let Some(hex_digest) = item.strip_prefix("sha256:") {
            let bytes =
                hex::decode(hex_digest).map_err(|_| format!("entry {} is not sha256:<64 hex digits>", i + 1))?;
            bytes.try_into().map_err(|_| format!("entry {} is not sha256:<64 hex digits>", i + 1))?
        } else if item.len() < MIN_KEY_LEN {
            return Err(format!("entry {} is shorter than {MIN_KEY_LEN} characters", i + 1));
        } else {
            Sha256::digest(item.as_bytes()).into()
        };
        keys.push((digest, kind));
    }
    Ok(keys)
}

/// A problem with one of the two key lists, naming which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyListError {
    #[error("API_KEYS is not valid: {0}")]
    Secret(String),
    #[error("CLIENT_API_KEYS is not valid: {0}")]
    Client(String),
    #[error("a key is listed in both API_KEYS and CLIENT_API_KEYS: a key has one kind; remove it from one list")]
    Both,
}

impl ApiKeys {
    /// Comma-separated keys, each plain (at least 16 characters) or `sha256:<64 hex digits>`.
    pub fn parse(secret: &str, client: &str) -> Result<Self, KeyListError> {
        let mut keys = parse_list(secret, KeyKind::Secret).map_err(KeyListError::Secret)?;
        let client = parse_list(client, KeyKind::Client).map_err(KeyListError::Client)?;
        if client.iter().any(|(c, _)| keys.iter().any(|(s, _)| s == c)) {
            return Err(KeyListError::Both);
        }
        keys.extend(client);
        Ok(Self(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Keys of one kind.
    pub fn count(&self, kind: KeyKind) -> usize {
        self.0.iter().filter(|(_, k)| *k == kind).count()
    }

    /// The id of the matching key. Every stored digest is compared, in constant time, so timing says
    /// nothing about which key or how much of it matched.
    pub fn check(&self, presented: &str) -> Option<KeyId> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (key, kind) in &self.0 {
            if bool::from(key.ct_eq(&digest)) {
                found = Some(KeyId { id: hex::encode(&key[..4]), kind: *kind });
            }
        }
        found
    }
}

/// Who may read `/metrics`.
pub enum MetricsAccess {
    /// Development without METRICS_TOKEN.
    Open,
    /// `Authorization: Bearer <METRICS_TOKEN>`.
    Token(SecretString),
    /// Production without METRICS_TOKEN: not served, so nothing leaks by default.
    Off,
}

/// Whether a scrape may read `/metrics`.
#[derive(Debug, PartialEq, Eq)]
pub enum MetricsDecision {
    Allowed,
    Unauthorized,
    NotServed,
}

impl MetricsAccess {
    pub fn new(token: Option<SecretString>, production: bool) -> Self {
        match token {
            Some(token) => Self::Token(token),
            None if production => Self::Off,
            None => Self::Open,
        }
    }

    pub fn check(&self, headers: &HeaderMap) -> MetricsDecision {
        match self {
            Self::Open => MetricsDecision::Allowed,
            Self::Off => MetricsDecision::NotServed,
            Self::Token(token) => {
                let presented = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or("");
                if bool::from(presented.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
                    MetricsDecision::Allowed
                } else {
                    MetricsDecision::Unauthorized
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_the_token_when_one_is_set_and_are_off_in_production_without() {
        let mut headers = HeaderMap::new();
        let token = MetricsAccess::new(Some(SecretString::from("scrape".to_string())), true);
        assert_eq!(token.check(&headers), MetricsDecision::Unauthorized);
        headers.insert(header::AUTHORIZATION, "Bearer scrape".parse().unwrap());
        assert_eq!(token.check(&headers), MetricsDecision::Allowed);
        assert_eq!(MetricsAccess::new(None, true).check(&headers), MetricsDecision::NotServed);
        assert_eq!(MetricsAccess::new(None, false).check(&HeaderMap::new()), MetricsDecision::Allowed);
    }

    #[test]
    fn plain_and_digest_keys_both_match_with_their_kind() {
        let digest = hex::encode(Sha256::digest(b"second-key-0123456789"));
        let keys = ApiKeys::parse(&format!("first-key-0123456789, sha256:{digest}"), "client-key-0123456789").unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.check("first-key-0123456789").unwrap().kind, KeyKind::Secret);
        assert_eq!(keys.check("second-key-0123456789").unwrap().kind, KeyKind::Secret);
        assert_eq!(keys.check("client-key-0123456789").unwrap().kind, KeyKind::Client);
        assert!(keys.check("first-key-012345678").is_none());
        assert!(keys.check("").is_none());
    }

    #[test]
    fn short_keys_bad_digests_and_keys_of_two_kinds_are_refused() {
        assert_eq!(
            ApiKeys::parse("short", "").unwrap_err(),
            KeyListError::Secret("entry 1 is shorter than 16 characters".into())
        );
        assert!(matches!(ApiKeys::parse("", "sha256:abcd"), Err(KeyListError::Client(_))));
        assert_eq!(ApiKeys::parse("same-key-0123456789", "same-key-0123456789").unwrap_err(), KeyListError::Both);
        assert!(ApiKeys::parse("", "").unwrap().is_empty());
    }

    #[test]
    fn only_client_keys_are_untrusted() {
        let client = Caller::Key(KeyId { id: "a".into(), kind: KeyKind::Client });
        let secret = Caller::Key(KeyId { id: "b".into(), kind: KeyKind::Secret });
        assert!(!client.is_trusted() && secret.is_trusted() && Caller::Open.is_trusted());
        assert_eq!([client.kind(), secret.kind(), Caller::Open.kind()], ["client", "secret", "open"]);
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let keys = ApiKeys::parse("first-key-0123456789", "").unwrap();
        assert_eq!(format!("{keys:?}"), "ApiKeys(1 keys)");
    }
}
