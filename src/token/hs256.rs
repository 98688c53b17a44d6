//! HS256 JWS: signing and checking compact tokens with a key derived from SECRET_KEY.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("expired")]
    Expired,
}

pub const ISSUER: &str = "faceauth";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Signs and opens HS256 JWTs with one key. Holds the keyed MAC, never prints it.
#[derive(Clone)]
pub struct Hs256 {
    mac: Hmac<Sha256>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

impl Hs256 {
    pub fn new(key: &[u8]) -> Self {
        Self { mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length") }
    }

    /// Keyed with `HMAC-SHA256(key = secret, message = context)`: a key of its own for each kind of
    /// token, so that no token of one kind ever verifies as another.
    pub fn derived(secret: &SecretString, context: &[u8]) -> Self {
        let mut derive = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes any key");
        derive.update(context);
        Self::new(&derive.finalize().into_bytes())
    }

    pub fn sign(&self, claims: &impl Serialize) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise");
        let signing_input = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
        let mut mac = self.mac.clone();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// The claims of a token signed with this key. Any JWT library's HS256 header is accepted; any
    /// other algorithm (`none` included) is not.
    pub fn open<T: DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
        let header: Header = serde_json::from_slice(&B64.decode(header).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Malformed);
        }
        let mut mac = self.mac.clone();
        mac.update(signing_input.as_bytes());
        let expected = mac.finalize().into_bytes();
        let given = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return Err(TokenError::BadSignature);
        }
        serde_json::from_slice(&B64.decode(payload).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)
    }
}

/// The claims every single-use token for one user carries (enrolment grants, challenges), plus
/// what each kind adds (`extra`, flattened beside them).
#[derive(Debug, Serialize, Deserialize)]
pub struct UserClaims<T> {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    /// The shared state's generation when the token was issued: single use is only remembered
    /// within one, so a token of another is refused (`state/generation.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sg: Option<String>,
    #[serde(flatten)]
    pub extra: T,
}

impl<T> UserClaims<T> {
    /// Fresh claims for `user`, valid `ttl` from now, with a random id, issued in `generation`.
    pub fn new(audience: &str, user: &str, ttl: Duration, generation: &str, extra: T) -> Self {
        let iat = now();
        Self {
            iss: ISSUER.into(),
            aud: audience.into(),
            sub: user.into(),
            iat,
            exp: iat + ttl.as_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sg: Some(generation.into()),
            extra,
        }
    }

    /// Issued by faceauth for this audience (the key already proved who signed it).
    pub fn is_for(&self, audience: &str) -> bool {
        self.iss == ISSUER && self.aud == audience
    }

    /// Within what this server issues: a lifetime of at most `ttl` (the configured one), in the
    /// generation in force. A token made any other way (an old format, a key that leaked, a
    /// longer lifetime) is refused even though its signature is good.
    pub fn within_policy(&self, ttl: Duration, generation: &str) -> bool {
        self.exp.saturating_sub(self.iat) <= ttl.as_secs() && self.sg.as_deref() == Some(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn a_signed_token_opens_with_the_same_key_only() {
        let token = Hs256::new(b"k1").sign(&Claims { sub: "alice".into() });
        assert_eq!(Hs256::new(b"k1").open::<Claims>(&token).unwrap().sub, "alice");
        assert_eq!(Hs256::new(b"k2").open::<Claims>(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_malformed_and_unsigned_tokens_are_refused() {
        let s = Hs256::new(b"k1");
        let token = s.sign(&Claims { sub: "alice".into() });
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged_payload = B64.encode(br#"{"sub":"mallory"}"#);
        assert_eq!(s.open::<Claims>(&format!("{head}.{forged_payload}.{sig}")), Err(TokenError::BadSignature));
        assert_eq!(s.open::<Claims>("nonsense"), Err(TokenError::Malformed));
        let none = B64.encode(br#"{"alg":"none"}"#);
        assert_eq!(s.open::<Claims>(&format!("{none}.{forged_payload}.")), Err(TokenError::Malformed));
    }
}
