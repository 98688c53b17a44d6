//! Verification results as JWTs a relying party checks with a public key: signed ES256 or EdDSA
//! (HS256 under a key derived from SECRET_KEY for results alone, kept for compatibility), with a `kid` naming the key in the JWK set.
//!
//! Claims follow OpenID Connect's ID token where they overlap: `iss`, `sub`, `aud` (the session's
//! audience, else TOKEN_AUDIENCE), `iat`, `exp`, `jti`, `nonce` and `sid` when a session carried
//! them, and `amr` (RFC 8176: `face`, plus what liveness was checked).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::hs256::{Hs256, TokenError, now};
use super::keys::{PublicKey, SigningKey};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    /// The passkey (WebAuthn credential id, base64url) that signed this attempt, with `hwk` in `amr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_id: Option<String>,
}

impl ResultClaims {
    /// The shared state's generation the result was issued under: its `jti` is
    /// `<generation>.<random>` (a result of an older format names none).
    pub fn generation(&self) -> Option<&str> {
        self.jti.split_once('.').map(|(generation, _)| generation)
    }
}

/// What a verification adds to a result: whom it is for and what was checked.
#[derive(Debug, Clone, Default)]
pub struct ResultContext {
    /// The session's audience; `None` takes TOKEN_AUDIENCE.
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub session_id: Option<String>,
    pub amr: Vec<&'static str>,
    /// The passkey that signed the attempt, when the session asked for one.
    pub passkey_id: Option<String>,
    /// The shared state's generation, named in the `jti` so that introspection can tell a result
    /// whose consumption may have been forgotten.
    pub generation: String,
}

/// How results are signed.
#[derive(Clone)]
pub enum ResultKey {
    Asymmetric(SigningKey),
    /// TOKEN_ALG=HS256: a key derived from SECRET_KEY for results alone (`faceauth result-key`
    /// prints it for backends); every backend that checks a result could also mint one.
    Hs256(Hs256),
}

/// Signs results and checks them (for introspection); publishes the public keys.
#[derive(Clone)]
pub struct ResultSigner {
    active: ResultKey,
    /// Keys that signed before a rotation: published and accepted until their tokens expire.
    previous: Vec<PublicKey>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl ResultSigner {
    pub fn new(active: ResultKey, previous: Vec<PublicKey>, issuer: String, audience: String, ttl: Duration) -> Self {
        Self { active, previous, issuer, audience, ttl }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A signed result for `subject`.
    pub fn sign(&self, subject: &str, context: ResultContext) -> (String, ResultClaims) {
        let iat = now();
        let claims = ResultClaims {
            iss: self.issuer.clone(),
            sub: subject.into(),
            aud: context.audience.unwrap_or_else(|| self.audience.clone()),
            iat,
            exp: iat + self.ttl.as_secs(),
            jti: format!("{}.{}", context.generation, uuid::Uuid::new_v4().simple()),
            nonce: context.nonce,
            sid: context.session_id,
            amr: context.amr.into_iter().map(str::to_string).collect(),
            passkey_id: context.passkey_id,
        };
        let token = match &self.active {
            ResultKey::Hs256(jwt) => jwt.sign(&claims),
            ResultKey::Asymmetric(key) => {
                let header = json!({ "alg": key.public().algorithm().name(), "typ": "JWT", "kid": key.public().kid() });
                let payload = serde_json::to_vec(&claims).expect("claims serialise");
                let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
                let signature = key.sign(input.as_bytes());
                format!("{input}.{}", B64.encode(signature))
            }
        };
        (token, claims)
    }

    /// The public keys, as `GET /.well-known/jwks.json` serves them (empty with HS256).
    pub fn jwks(&self) -> Value {
        let active = match &self.active {
            ResultKey::Asymmetric(key) => Some(key.public().jwk()),
            ResultKey::Hs256(_) => None,
        };
        json!({ "keys": active.into_iter().chain(self.previous.iter().map(PublicKey::jwk)).collect::<Vec<_>>() })
    }

    fn public_key(&self, kid: &str) -> Option<&PublicKey> {
        let active = match &self.active {
            ResultKey::Asymmetric(key) => Some(key.public()),
            ResultKey::Hs256(_) => None,
        };
        active.into_iter().chain(&self.previous).find(|k| k.kid() == kid)
    }

    /// What a relying backend does: the signature under a published key (the header's `alg` must
    /// be that key's), the issuer, then the expiry.
    pub fn verify(&self, token: &str) -> Result<ResultClaims, TokenError> {
        let (input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, payload) = input.split_once('.').ok_or(TokenError::Malformed)?;
        let header: Header = serde_json::from_slice(&B64.decode(header).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        let claims: ResultClaims = match (&self.active, header.alg.as_str()) {
            (ResultKey::Hs256(jwt), "HS256") => jwt.open(token)?,
            (_, "HS256") => return Err(TokenError::BadSignature),
            (_, alg) => {
                let key = header.kid.as_deref().and_then(|kid| self.public_key(kid)).ok_or(TokenError::BadSignature)?;
                let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
                if key.algorithm().name() != alg || !key.verifies(input.as_bytes(), &signature) {
                    return Err(TokenError::BadSignature);
                }
                serde_json::from_slice(&B64.decode(payload).map_err(|_| TokenError::Malformed)?)
                    .map_err(|_| TokenError::Malformed)?
            }
        };
        if claims.iss != self.issuer {
            return Err(TokenError::BadSignature);
        }
        if claims.exp < now() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::Algorithm;
    use super::*;

    fn signer(active: ResultKey, previous: Vec<PublicKey>) -> ResultSigner {
        ResultSigner::new(active, previous, "https://faceauth.test".into(), "app".into(), Duration::from_secs(60))
    }

    fn context() -> ResultContext {
        ResultContext {
            audience: Some("bank".into()),
            nonce: Some("n-1".into()),
            session_id: Some("s-1".into()),
            amr: vec!["face"],
            passkey_id: None,
            generation: "g1".into(),
        }
    }

    #[test]
    fn a_result_carries_the_session_binding_and_verifies_under_its_kid() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let s = signer(ResultKey::Asymmetric(key.clone()), vec![]);
        let (token, claims) = s.sign("alice", context());
        assert_eq!(
            (claims.aud.as_str(), claims.nonce.as_deref(), claims.sid.as_deref()),
            ("bank", Some("n-1"), Some("s-1"))
        );
        let header: Value = serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["kid"], key.public().kid());
        assert_eq!(s.verify(&token).unwrap(), claims);
        assert_eq!(claims.generation(), Some("g1"));
        assert_eq!(s.sign("alice", ResultContext::default()).1.aud, "app");
    }

    /// An ECDSA signature's twin (r, n − s) verifies under plain ECDSA: the same result under a
    /// second encoding, which defeats any check keyed on the token's bytes. Only low-S is accepted.
    #[test]
    fn the_high_s_twin_of_a_signature_is_refused() {
        use p256::elliptic_curve::ops::Neg;
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let s = signer(ResultKey::Asymmetric(key), vec![]);
        let (token, _) = s.sign("alice", context());
        let (input, signature) = token.rsplit_once('.').unwrap();
        let low = p256::ecdsa::Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
        assert!(low.normalize_s().is_none(), "signed low-S");
        let (r, s_value) = low.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, s_value.neg()).unwrap();
        let twin = format!("{input}.{}", B64.encode(high.to_bytes()));
        assert_eq!(s.verify(&token).map(|c| c.sub), Ok("alice".into()));
        assert_eq!(s.verify(&twin), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_signed_before_a_rotation_verifies_after_it_and_not_once_the_key_is_dropped() {
        let old = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let (token, _) = signer(ResultKey::Asymmetric(old.clone()), vec![]).sign("alice", context());
        let new = SigningKey::generate(Algorithm::Es256).unwrap();
        let rotated = signer(ResultKey::Asymmetric(new.clone()), vec![old.public().clone()]);
        assert_eq!(rotated.verify(&token).unwrap().sub, "alice");
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        let dropped = signer(ResultKey::Asymmetric(new), vec![]);
        assert_eq!(dropped.verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn forged_algorithm_swapped_and_hs256_tokens_are_refused_by_an_asymmetric_signer() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let s = signer(ResultKey::Asymmetric(key.clone()), vec![]);
        let (token, _) = s.sign("alice", context());
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = B64.encode(
            br#"{"iss":"https://faceauth.test","sub":"mallory","aud":"app","iat":0,"exp":99999999999,"jti":"x"}"#,
        );
        assert_eq!(s.verify(&parts.join(".")), Err(TokenError::BadSignature));
        // The public key used as an HMAC secret (the classic algorithm confusion) is refused.
        let hs = Hs256::new(key.public().jwk().to_string().as_bytes());
        let claims = s.sign("mallory", ResultContext::default()).1;
        assert_eq!(s.verify(&hs.sign(&claims)), Err(TokenError::BadSignature));
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(s.verify(&none), Err(TokenError::BadSignature));
    }
}
