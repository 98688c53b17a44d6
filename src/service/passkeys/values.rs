//! What the passkey factor takes and answers: who adds a passkey, a started registration, what a
//! listing shows of a credential, and the verdict of an assertion with its part of `amr`.

use super::error::PasskeyError;

/// Who adds the passkey: a backend (secret key), or a client holding an enrol session for the user.
#[derive(Debug, Clone)]
pub enum PasskeyAuthority {
    Trusted,
    Session(String),
}

/// A started registration: hand `options` to `navigator.credentials.create({ publicKey })` and
/// send the answer back with `registration_id`.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    pub registration_id: String,
    pub options: serde_json::Value,
}

/// What a listing or an export shows of one credential (never its public key's use: that is for
/// verifying, and it is no secret either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub credential_id: String,
    pub registered_at: String,
    pub last_used_at: Option<String>,
    pub counter: u64,
    pub transports: Vec<String>,
    pub user_verified: bool,
    pub backup_eligible: bool,
}

/// What a checked assertion proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyProof {
    pub credential_id: String,
    pub user_verified: bool,
}

/// The assertion a verify must carry: one when its session asks for a passkey, none otherwise.
/// Said before anything is spent or counted: a client that forgot the assertion learns nothing
/// about the face, and one that sends an assertion nobody asked for is a mistake.
pub fn asked(session_asks: bool, sent: Option<String>) -> Result<Option<String>, PasskeyError> {
    match (session_asks, sent) {
        (true, None) => Err(PasskeyError::Required),
        (false, Some(_)) => Err(PasskeyError::NotAsked),
        (_, sent) => Ok(sent),
    }
}

impl PasskeyProof {
    /// What the passkey factor proved, as RFC 8176 names it: `hwk` (a hardware-bound key signed
    /// the attempt) and `user` (the authenticator verified its user: a PIN or biometric on the device).
    pub fn amr(&self) -> Vec<&'static str> {
        match self.user_verified {
            true => vec!["hwk", "user"],
            false => vec!["hwk"],
        }
    }
}
