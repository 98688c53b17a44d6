//! HS256 JWTs (RFC 7519): the short-lived verification tokens signed with SECRET_KEY, and the
//! signing primitive that enrolment grants use with a key of their own.
//!
//! The caller's backend checks a verification token's signature with the same key and trusts `sub`
//! until `exp`. HS256 is a few lines over `hmac` + `sha2` (both already needed); a JWT crate would
//! add a second crypto stack for no extra safety.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

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
    #[serde(flatten)]
    pub extra: T,
}

impl<T> UserClaims<T> {
    /// Fresh claims for `user`, valid `ttl` from now, with a random id.
    pub fn new(audience: &str, user: &str, ttl: Duration, extra: T) -> Self {
        let iat = now();
        Self {
            iss: ISSUER.into(),
            aud: audience.into(),
            sub: user.into(),
            iat,
            exp: iat + ttl.as_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            extra,
        }
    }

    /// Issued by faceauth for this audience (the key already proved who signed it).
    pub fn is_for(&self, audience: &str) -> bool {
        self.iss == ISSUER && self.aud == audience
    }
}

#[derive(Clone)]
pub struct TokenSigner {
    jwt: Hs256,
    ttl: Duration,
}

impl TokenSigner {
    pub fn new(key: SecretString, ttl: Duration) -> Self {
        Self { jwt: Hs256::new(key.expose_secret().as_bytes()), ttl }
    }

    pub fn sign(&self, subject: &str) -> (String, Claims) {
        let iat = now();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: subject.into(),
            iat,
            exp: iat + self.ttl.as_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        (self.jwt.sign(&claims), claims)
    }

    /// What a relying backend does: check the signature, then the expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims: Claims = self.jwt.open(token)?;
        if claims.exp < now() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &str, ttl: u64) -> TokenSigner {
        TokenSigner::new(SecretString::from(key.to_string()), Duration::from_secs(ttl))
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_key_only() {
        let (token, claims) = signer("k1", 60).sign("alice");
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(signer("k1", 60).verify(&token).unwrap().sub, "alice");
        assert_eq!(signer("k2", 60).verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_malformed_and_unsigned_tokens_are_refused() {
        let s = signer("k1", 60);
        let (token, _) = s.sign("alice");
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged_payload = B64.encode(br#"{"iss":"faceauth","sub":"mallory","iat":0,"exp":99999999999,"jti":"x"}"#);
        assert_eq!(s.verify(&format!("{head}.{forged_payload}.{sig}")), Err(TokenError::BadSignature));
        assert_eq!(s.verify("nonsense"), Err(TokenError::Malformed));
        let none = B64.encode(br#"{"alg":"none"}"#);
        assert_eq!(s.verify(&format!("{none}.{forged_payload}.")), Err(TokenError::Malformed));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let s = signer("k1", 0);
        let claims = Claims { iss: ISSUER.into(), sub: "a".into(), iat: 1, exp: 2, jti: "j".into() };
        let token = Hs256::new(b"k1").sign(&claims);
        assert_eq!(s.verify(&token), Err(TokenError::Expired));
    }
}
