//! A software WebAuthn authenticator for the HTTP tests: a P-256 key per credential, "none"
//! attestation, assertions signed as CTAP2 authenticators sign them (over authenticatorData and
//! the SHA-256 of clientDataJSON). It writes the few CBOR items WebAuthn needs by hand. The browser
//! tests use Chromium's own virtual authenticator instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The flags of authenticatorData (WebAuthn §6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct Authenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    pub rp_id: String,
    pub origin: String,
    /// Whether it verifies its user (a PIN or biometric): sets the UV flag.
    pub verifies_user: bool,
}

fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![(major << 5) | len as u8],
        24..=255 => vec![(major << 5) | 24, len as u8],
        _ => {
            let mut head = vec![(major << 5) | 25];
            head.extend_from_slice(&(len as u16).to_be_bytes());
            head
        }
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len());
    out.extend_from_slice(bytes);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len());
    out.extend_from_slice(text.as_bytes());
    out
}

/// The challenge faceauth expects over one photo (docs/passkeys.md, written out as another client would).
pub fn challenge(session_token: &str, frames: &[&[u8]]) -> Vec<u8> {
    derive(session_token, frames, "-", "-")
}

/// The challenge over a capture: its frames, the `capture_ms` field as sent, and `capture_light`.
pub fn capture_challenge(session_token: &str, frames: &[&[u8]], capture_ms: &str, light: &str) -> Vec<u8> {
    derive(session_token, frames, &hex::encode(Sha256::digest(capture_ms.as_bytes())), light)
}

fn derive(session_token: &str, frames: &[&[u8]], times: &str, light: &str) -> Vec<u8> {
    let token = hex::encode(Sha256::digest(session_token.as_bytes()));
    let mut text =
        format!("faceauth passkey v2\n{token}\nimages {}\ncapture_ms {times}\ncapture_light {light}\n", frames.len());
    for frame in frames {
        text.push_str(&hex::encode(Sha256::digest(frame)));
        text.push('\n');
    }
    Sha256::digest(text.as_bytes()).to_vec()
}

impl Authenticator {
    pub fn new(origin: &str) -> Self {
        let (mut id, mut secret) = ([0u8; 16], [0u8; 32]);
        getrandom::getrandom(&mut id).unwrap();
        getrandom::getrandom(&mut secret).unwrap();
        Self {
            key: SigningKey::from_bytes(&secret.into()).expect("a random scalar is a key"),
            credential_id: id.to_vec(),
            counter: 0,
            rp_id: "localhost".into(),
            origin: origin.into(),
            verifies_user: true,
        }
    }

    pub fn id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    fn flags(&self) -> u8 {
        if self.verifies_user { UP | UV } else { UP }
    }

    fn auth_data(&self, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// `navigator.credentials.create` answering `options` (the `public_key` faceauth returned).
    pub fn create(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("a challenge");
        let point = self.key.verifying_key().to_encoded_point(false);
        // COSE_Key: kty EC2 (1: 2), alg ES256 (3: -7), crv P-256 (-1: 1), x (-2), y (-3).
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cose.extend(cbor_bytes(point.x().unwrap()));
        cose.push(0x22);
        cose.extend(cbor_bytes(point.y().unwrap()));
        let mut auth_data = self.auth_data(self.flags() | AT);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend(cose);
        let mut attestation = vec![0xa3];
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.push(0xa0);
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&auth_data));
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(self.client_data("webauthn.create", challenge)),
                "attestationObject": B64.encode(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get` over `challenge` (raw bytes), as JSON text for the upload.
    pub fn get(&mut self, challenge: &[u8]) -> String {
        self.counter += 1;
        let auth_data = self.auth_data(self.flags());
        let client_data = self.client_data("webauthn.get", &B64.encode(challenge));
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}
