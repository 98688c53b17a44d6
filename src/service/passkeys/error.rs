//! Why a passkey was refused, and which refusals decide an attempt.

/// Why a passkey was refused. Those a client can cause have their own codes (`error.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not configured on this server (PASSKEY_RP_ID, PASSKEY_ORIGINS)")]
    NotConfigured,
    #[error("this session needs a passkey assertion as well as the face")]
    Required,
    #[error("a passkey assertion was sent and the session does not ask for one")]
    NotAsked,
    #[error("the user has no passkey registered")]
    NoneRegistered,
    #[error("the passkey field is not a WebAuthn credential: {0}")]
    Malformed(String),
    #[error("the credential is not one of this user's passkeys")]
    NotRecognised,
    #[error("the assertion signs another session or another capture")]
    WrongChallenge,
    #[error("the assertion was made for another origin or relying party")]
    WrongOrigin,
    #[error("the authenticator's signature counter did not increase (a cloned authenticator?)")]
    CounterRegressed,
    #[error("the authenticator did not verify the user")]
    UserNotVerified,
    #[error("the assertion does not verify: {0}")]
    Invalid(String),
    #[error("the passkey registration expired or was already used")]
    RegistrationUnknown,
    #[error("the passkey registration was refused: {0}")]
    RegistrationRefused(String),
}

impl PasskeyError {
    /// The code of a refusal that decides an attempt (counted, the session spent): the assertion
    /// was checked and is not good. What the client did not send, or sent malformed, is not.
    pub fn decided_code(&self) -> Option<&'static str> {
        Some(match self {
            PasskeyError::NotRecognised => "passkey_not_recognised",
            PasskeyError::WrongChallenge => "passkey_challenge_mismatch",
            PasskeyError::WrongOrigin => "passkey_origin_mismatch",
            PasskeyError::CounterRegressed => "passkey_counter_regressed",
            PasskeyError::UserNotVerified => "passkey_user_not_verified",
            PasskeyError::Invalid(_) => "passkey_invalid",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_checked_assertions_decide_an_attempt() {
        assert_eq!(PasskeyError::WrongChallenge.decided_code(), Some("passkey_challenge_mismatch"));
        assert_eq!(PasskeyError::Required.decided_code(), None);
        assert_eq!(PasskeyError::Malformed("x".into()).decided_code(), None);
    }
}
