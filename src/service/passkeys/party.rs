//! The relying party as configured: the options browsers need, the checks of what they send back,
//! and a credential as stored.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid,
    WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::error::PasskeyError;

/// How long a started registration may take (WebAuthn's own suggested ceiling is 5 minutes).
pub const REGISTRATION_TTL: Duration = Duration::from_secs(300);

/// The relying party as configured (PASSKEY_RP_ID, PASSKEY_ORIGINS, PASSKEY_RP_NAME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySettings {
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<Url>,
    /// Development on localhost: any port of the origins' hosts.
    pub any_port: bool,
}

fn assertion_error(error: WebauthnError) -> PasskeyError {
    match error {
        WebauthnError::MismatchedChallenge => PasskeyError::WrongChallenge,
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => PasskeyError::WrongOrigin,
        WebauthnError::CredentialNotFound => PasskeyError::NotRecognised,
        WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegressed,
        WebauthnError::UserNotVerified => PasskeyError::UserNotVerified,
        other => PasskeyError::Invalid(other.to_string()),
    }
}

/// The relying party: builds the options browsers need and checks what they send back.
pub struct RelyingParty {
    webauthn: Webauthn,
    settings: PasskeySettings,
}

impl RelyingParty {
    /// Refuses settings `webauthn-rs` would not accept (an RP id that is not the origins' host or
    /// a suffix of it, an origin that is not a URL), before the port is bound.
    pub fn new(settings: PasskeySettings) -> Result<Self, String> {
        let first = settings.origins.first().ok_or("PASSKEY_ORIGINS names no origin")?;
        let mut builder = WebauthnBuilder::new(&settings.rp_id, first)
            .map_err(|e| format!("PASSKEY_RP_ID={} does not fit PASSKEY_ORIGINS ({first}): {e}", settings.rp_id))?
            .rp_name(&settings.rp_name)
            .allow_any_port(settings.any_port);
        for origin in &settings.origins[1..] {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.build().map_err(|e| format!("the passkey relying party is not valid: {e}"))?;
        Ok(Self { webauthn, settings })
    }

    pub fn settings(&self) -> &PasskeySettings {
        &self.settings
    }

    /// `publicKey` of the creation options, and the state to keep until the browser answers.
    pub(super) fn start_registration(
        &self,
        user: &str,
        existing: &[Passkey],
    ) -> Result<(serde_json::Value, String), PasskeyError> {
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user_handle(user), user, user, Some(exclude))
            .map_err(|e| PasskeyError::RegistrationRefused(e.to_string()))?;
        let options = public_key(serde_json::to_value(options))?;
        let state = serde_json::to_string(&state).map_err(|e| PasskeyError::RegistrationRefused(e.to_string()))?;
        Ok((options, state))
    }

    pub(super) fn finish_registration(
        &self,
        state: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<Passkey, PasskeyError> {
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(|_| PasskeyError::RegistrationUnknown)?;
        self.webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| PasskeyError::RegistrationRefused(e.to_string()))
    }

    /// `publicKey` of the request options for these credentials, without a challenge: the client
    /// derives it (`binding`).
    pub(super) fn request_options(&self, keys: &[Passkey]) -> Result<serde_json::Value, PasskeyError> {
        let (options, _) = self.webauthn.start_passkey_authentication(keys).map_err(assertion_error)?;
        let mut options = public_key(serde_json::to_value(options))?;
        if let Some(map) = options.as_object_mut() {
            map.remove("challenge");
        }
        Ok(options)
    }

    /// Checks `credential` against `keys` with `challenge` as the expected challenge. The library
    /// draws a random challenge into its state; the state is serialisable (a feature of the crate)
    /// and the derived challenge is written in its place. A mistake here fails closed: the
    /// assertion would then be checked against the random challenge and refused.
    pub(super) fn finish(
        &self,
        credential: &PublicKeyCredential,
        keys: &[Passkey],
        challenge: [u8; 32],
    ) -> Result<webauthn_rs::prelude::AuthenticationResult, PasskeyError> {
        let (_, state) = self.webauthn.start_passkey_authentication(keys).map_err(assertion_error)?;
        let state = with_challenge(&state, &challenge)?;
        self.webauthn.finish_passkey_authentication(credential, &state).map_err(assertion_error)
    }
}

fn public_key(value: Result<serde_json::Value, serde_json::Error>) -> Result<serde_json::Value, PasskeyError> {
    let mut value = value.map_err(|e| PasskeyError::Invalid(e.to_string()))?;
    Ok(value.get_mut("publicKey").map(serde_json::Value::take).unwrap_or_default())
}

fn with_challenge(state: &PasskeyAuthentication, challenge: &[u8; 32]) -> Result<PasskeyAuthentication, PasskeyError> {
    let broken = |e: serde_json::Error| PasskeyError::Invalid(format!("authentication state: {e}"));
    let mut value = serde_json::to_value(state).map_err(broken)?;
    let slot = value
        .get_mut("ast")
        .and_then(|ast| ast.get_mut("challenge"))
        .ok_or_else(|| PasskeyError::Invalid("authentication state has no challenge".into()))?;
    *slot = serde_json::Value::String(URL_SAFE_NO_PAD.encode(challenge));
    serde_json::from_value(value).map_err(broken)
}

/// The WebAuthn user handle: stable per user id, and not the id itself (authenticators may show
/// or sync it).
fn user_handle(user: &str) -> Uuid {
    let digest = Sha256::digest(format!("faceauth passkey user\n{user}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// One credential as stored (sealed under the template key when one is set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredPasskey {
    pub(super) version: u32,
    pub(super) user_id: String,
    /// base64url, as browsers give it.
    pub(super) credential_id: String,
    pub(super) passkey: Passkey,
    /// RFC 3339.
    pub(super) registered_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_used_at: Option<String>,
}

impl StoredPasskey {
    /// The object's name in the store: the credential id's SHA-256, so the name is fixed-length
    /// hex whatever the authenticator chose.
    pub(super) fn name(&self) -> String {
        credential_name(&self.credential_id)
    }
}

fn credential_name(credential_id: &str) -> String {
    hex::encode(Sha256::digest(credential_id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party() -> RelyingParty {
        RelyingParty::new(PasskeySettings {
            rp_id: "localhost".into(),
            rp_name: "faceauth".into(),
            origins: vec![Url::parse("http://localhost:5000").unwrap()],
            any_port: true,
        })
        .unwrap()
    }

    #[test]
    fn the_derived_challenge_replaces_the_random_one() {
        // The state as the library serialises it (danger-allow-state-serialisation).
        let value = serde_json::json!({"ast": {"credentials": [], "policy": "required",
            "challenge": URL_SAFE_NO_PAD.encode([7u8; 32]), "appid": null, "allow_backup_eligible_upgrade": true}});
        let state: PasskeyAuthentication = serde_json::from_value(value).unwrap();
        let swapped = with_challenge(&state, &[9u8; 32]).unwrap();
        let value = serde_json::to_value(&swapped).unwrap();
        assert_eq!(value["ast"]["challenge"], URL_SAFE_NO_PAD.encode([9u8; 32]));
    }

    #[test]
    fn a_relying_party_that_does_not_fit_its_origin_is_refused_at_startup() {
        let wrong = PasskeySettings {
            rp_id: "example.com".into(),
            rp_name: "faceauth".into(),
            origins: vec![Url::parse("https://login.example.org").unwrap()],
            any_port: false,
        };
        assert!(RelyingParty::new(wrong).is_err());
        let none = PasskeySettings { origins: vec![], ..party().settings.clone() };
        assert!(RelyingParty::new(none).is_err());
    }

    #[test]
    fn a_user_handle_is_stable_and_is_not_the_id() {
        assert_eq!(user_handle("alice"), user_handle("alice"));
        assert_ne!(user_handle("alice"), user_handle("bob"));
        assert!(!user_handle("alice").to_string().contains("alice"));
    }
}
