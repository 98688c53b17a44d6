//! API keys: stored as SHA-256 digests, compared in constant time, identified in logs by a short id.
//! And who may scrape `/metrics`.

use axum::http::{HeaderMap, header};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, Default)]
pub struct ApiKeys(Vec<[u8; 32]>);

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.0.len())
    }
}

/// The first 8 hex digits of a key's digest: enough to tell keys apart in audit logs, useless to an attacker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(pub String);

const MIN_KEY_LEN: usize = 16;

impl ApiKeys {
    /// Comma-separated keys, each plain (at least 16 characters) or `sha256:<64 hex digits>`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, item) in list.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            if let Some(hex_digest) = item.strip_prefix("sha256:") {
                let bytes =
                    hex::decode(hex_digest).map_err(|_| format!("entry {} is not sha256:<64 hex digits>", i + 1))?;
                keys.push(bytes.try_into().map_err(|_| format!("entry {} is not sha256:<64 hex digits>", i + 1))?);
            } else if item.len() < MIN_KEY_LEN {
                return Err(format!("entry {} is shorter than {MIN_KEY_LEN} characters", i + 1));
            } else {
                keys.push(Sha256::digest(item.as_bytes()).into());
            }
        }
        Ok(Self(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The id of the matching key. Every stored digest is compared, in constant time, so timing says
    /// nothing about which key or how much of it matched.
    pub fn check(&self, presented: &str) -> Option<KeyId> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.0 {
            if bool::from(key.ct_eq(&digest)) {
                found = Some(KeyId(hex::encode(&key[..4])));
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
    fn plain_and_digest_keys_both_match() {
        let digest = hex::encode(Sha256::digest(b"second-key-0123456789"));
        let keys = ApiKeys::parse(&format!("first-key-0123456789, sha256:{digest}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.check("first-key-0123456789").is_some());
        assert!(keys.check("second-key-0123456789").is_some());
        assert!(keys.check("first-key-012345678").is_none());
        assert!(keys.check("").is_none());
    }

    #[test]
    fn short_keys_and_bad_digests_are_refused() {
        assert!(ApiKeys::parse("short").is_err());
        assert!(ApiKeys::parse("sha256:abcd").is_err());
        assert!(ApiKeys::parse("").unwrap().is_empty());
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let keys = ApiKeys::parse("first-key-0123456789").unwrap();
        assert_eq!(format!("{keys:?}"), "ApiKeys(1 keys)");
    }
}
