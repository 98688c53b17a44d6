//! Asymmetric signing keys for verification results: ES256 (P-256, RFC 7518 §3.4) and EdDSA
//! (Ed25519, RFC 8037). A backend checks a result with the public half alone, published as a JWK
//! set; no backend holds anything that could mint a token.
//!
//! Keys are read from PEM (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, SPKI `PUBLIC KEY`) or from a
//! JWK. Each key's `kid` is its RFC 7638 thumbprint, so the same key has the same id on every
//! instance without configuring one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use p256::ecdsa::signature::{Signer, Verifier};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The JWS algorithms a result may be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    EdDsa,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is never echoed: it may be a private key.
    #[error("not a P-256 or Ed25519 key in PEM (PKCS#8, SEC1 or SPKI) or JWK form")]
    Unreadable,
    #[error("a public key cannot sign: give the private key")]
    PublicOnly,
    #[error("the system's random source failed")]
    Random,
}

#[derive(Clone)]
enum Secret {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

#[derive(Clone)]
enum Public {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

/// A key that checks signatures: the active key's public half, or a previous key kept until the
/// tokens it signed have expired.
#[derive(Clone)]
pub struct PublicKey {
    public: Public,
    kid: String,
}

/// The key results are signed with. Never printed. Shared, not copied, between its holders.
#[derive(Clone)]
pub struct SigningKey(std::sync::Arc<KeyPair>);

struct KeyPair {
    secret: Secret,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} kid={})", self.0.public.algorithm().name(), self.0.public.kid)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} kid={})", self.algorithm().name(), self.kid)
    }
}

fn random32() -> Result<[u8; 32], KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| KeyError::Random)?;
    Ok(bytes)
}

impl PublicKey {
    fn new(public: Public) -> Self {
        let kid = B64.encode(Sha256::digest(canonical_jwk(&public).to_string().as_bytes()));
        Self { public, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.public {
            Public::Es256(_) => Algorithm::Es256,
            Public::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// The JWK a JWKS publishes (RFC 7517), with `kid`, `use` and `alg`.
    pub fn jwk(&self) -> Value {
        let mut jwk = canonical_jwk(&self.public);
        jwk["kid"] = self.kid.clone().into();
        jwk["use"] = "sig".into();
        jwk["alg"] = self.algorithm().name().into();
        jwk
    }

    /// Whether `signature` (raw JWS bytes: r‖s for ES256) signs `message`. ECDSA signatures come
    /// in pairs, (r, s) and (r, n − s), both valid; only the low-S one is accepted (what this
    /// service signs, as BIP 62 and libsecp256k1 do), so a token has one encoding and its high-S
    /// twin is no second token.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            Public::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .map(|sig| sig.normalize_s().is_none() && key.verify(message, &sig).is_ok())
                .unwrap_or(false),
            Public::EdDsa(key) => ed25519_dalek::Signature::from_slice(signature)
                .map(|sig| key.verify_strict(message, &sig).is_ok())
                .unwrap_or(false),
        }
    }

    /// A public key in PEM (SPKI) or JWK form; a private key's public half is taken as well.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if let Ok(key) = SigningKey::parse(text) {
            return Ok(key.0.public.clone());
        }
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value = serde_json::from_str(text).map_err(|_| KeyError::Unreadable)?;
            return public_from_jwk(&jwk).map(Self::new);
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(text) {
            return Ok(Self::new(Public::Es256(key)));
        }
        ed25519_dalek::VerifyingKey::from_public_key_pem(text)
            .map(|key| Self::new(Public::EdDsa(key)))
            .map_err(|_| KeyError::Unreadable)
    }
}

/// The members RFC 7638 hashes, in its lexicographic order (serde_json's map keeps keys sorted).
fn canonical_jwk(public: &Public) -> Value {
    match public {
        Public::Es256(key) => {
            let point = key.to_encoded_point(false);
            let (x, y) = (point.x().expect("uncompressed"), point.y().expect("uncompressed"));
            json!({ "crv": "P-256", "kty": "EC", "x": B64.encode(x), "y": B64.encode(y) })
        }
        Public::EdDsa(key) => json!({ "crv": "Ed25519", "kty": "OKP", "x": B64.encode(key.as_bytes()) }),
    }
}

fn member(jwk: &Value, name: &str) -> Result<Vec<u8>, KeyError> {
    let text = jwk.get(name).and_then(Value::as_str).ok_or(KeyError::Unreadable)?;
    B64.decode(text).map_err(|_| KeyError::Unreadable)
}

fn public_from_jwk(jwk: &Value) -> Result<Public, KeyError> {
    match (jwk.get("kty").and_then(Value::as_str), jwk.get("crv").and_then(Value::as_str)) {
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(KeyError::Unreadable);
            }
            let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
            p256::ecdsa::VerifyingKey::from_encoded_point(&point).map(Public::Es256).map_err(|_| KeyError::Unreadable)
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x: [u8; 32] = member(jwk, "x")?.try_into().map_err(|_| KeyError::Unreadable)?;
            ed25519_dalek::VerifyingKey::from_bytes(&x).map(Public::EdDsa).map_err(|_| KeyError::Unreadable)
        }
        _ => Err(KeyError::Unreadable),
    }
}

impl SigningKey {
    fn from_secret(secret: Secret) -> Self {
        let public = match &secret {
            Secret::Es256(key) => Public::Es256(*key.verifying_key()),
            Secret::EdDsa(key) => Public::EdDsa(key.verifying_key()),
        };
        Self(std::sync::Arc::new(KeyPair { secret, public: PublicKey::new(public) }))
    }

    /// A fresh key from the operating system's random source (development: tokens die with the process).
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let secret = match algorithm {
            Algorithm::EdDsa => Secret::EdDsa(ed25519_dalek::SigningKey::from_bytes(&random32()?)),
            // A random 32-byte string is a valid P-256 scalar except with probability ~2^-32.
            Algorithm::Es256 => loop {
                if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random32()?) {
                    break Secret::Es256(key);
                }
            },
        };
        Ok(Self::from_secret(secret))
    }

    /// A private key in PEM (PKCS#8 or SEC1) or JWK (with `d`) form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value = serde_json::from_str(text).map_err(|_| KeyError::Unreadable)?;
            let public = public_from_jwk(&jwk)?;
            if jwk.get("d").is_none() {
                return Err(KeyError::PublicOnly);
            }
            let d = member(&jwk, "d")?;
            let secret = match public {
                Public::Es256(_) => {
                    Secret::Es256(p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| KeyError::Unreadable)?)
                }
                Public::EdDsa(_) => Secret::EdDsa(ed25519_dalek::SigningKey::from_bytes(
                    &d.try_into().map_err(|_| KeyError::Unreadable)?,
                )),
            };
            let key = Self::from_secret(secret);
            // The private part must belong to the public part it came with.
            if canonical_jwk(&key.0.public.public) != canonical_jwk(&public) {
                return Err(KeyError::Unreadable);
            }
            return Ok(key);
        }
        if text.contains("PUBLIC KEY") {
            return Err(KeyError::PublicOnly);
        }
        if let Ok(key) = p256::SecretKey::from_pkcs8_pem(text) {
            return Ok(Self::from_secret(Secret::Es256(key.into())));
        }
        if let Ok(key) = p256::SecretKey::from_sec1_pem(text) {
            return Ok(Self::from_secret(Secret::Es256(key.into())));
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(text)
            .map(|key| Self::from_secret(Secret::EdDsa(key)))
            .map_err(|_| KeyError::Unreadable)
    }

    pub fn public(&self) -> &PublicKey {
        &self.0.public
    }

    /// The raw JWS signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.0.secret {
            Secret::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                // Low-S always: the only form `verifies` accepts.
                signature.normalize_s().unwrap_or(signature).to_bytes().to_vec()
            }
            Secret::EdDsa(key) => key.sign(message).to_bytes().to_vec(),
        }
    }
}

/// Every key in a text: concatenated PEM blocks, one JWK, or a JWK set (`{"keys": [...]}`).
pub fn parse_public_keys(text: &str) -> Result<Vec<PublicKey>, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|_| KeyError::Unreadable)?;
        return match value.get("keys").and_then(Value::as_array) {
            Some(keys) => keys.iter().map(|k| PublicKey::parse(&k.to_string())).collect(),
            None => Ok(vec![PublicKey::parse(text)?]),
        };
    }
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let end_marker = after.find("-----END ").ok_or(KeyError::Unreadable)?;
        let end = after[end_marker..].find("\n").map(|i| end_marker + i).unwrap_or(after.len());
        keys.push(PublicKey::parse(&after[..end])?);
        rest = &after[end..];
    }
    if keys.is_empty() {
        return Err(KeyError::Unreadable);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_signs_what_its_public_key_verifies() {
        for algorithm in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(algorithm).unwrap();
            let signature = key.sign(b"header.payload");
            assert_eq!(signature.len(), 64);
            assert!(key.public().verifies(b"header.payload", &signature));
            assert!(!key.public().verifies(b"header.payloaD", &signature));
            let other = SigningKey::generate(algorithm).unwrap();
            assert!(!other.public().verifies(b"header.payload", &signature));
            assert_ne!(key.public().kid(), other.public().kid());
        }
    }

    #[test]
    fn a_published_jwk_reads_back_as_the_same_key_with_the_same_kid() {
        for algorithm in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(algorithm).unwrap();
            let jwk = key.public().jwk();
            assert_eq!(jwk["alg"], algorithm.name());
            let back = PublicKey::parse(&jwk.to_string()).unwrap();
            assert_eq!(back.kid(), key.public().kid());
            assert!(back.verifies(b"m", &key.sign(b"m")));
        }
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the Ed25519 key of A.2 has this thumbprint.
        let jwk = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(PublicKey::parse(jwk).unwrap().kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn pem_keys_parse_and_public_keys_cannot_sign() {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let key = SigningKey::parse(&pem).unwrap();
        assert_eq!(key.public().algorithm(), Algorithm::Es256);
        let public_pem = secret.public_key().to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(SigningKey::parse(&public_pem).err(), Some(KeyError::PublicOnly));
        assert_eq!(PublicKey::parse(&public_pem).unwrap().kid(), key.public().kid());
        let two = format!("{public_pem}\n{}", &*pem);
        assert_eq!(parse_public_keys(&two).unwrap().len(), 2);
        assert_eq!(SigningKey::parse("not a key").err(), Some(KeyError::Unreadable));
    }
}
