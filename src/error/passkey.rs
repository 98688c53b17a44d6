//! How passkey refusals reach the client: a stable code, a status, and a sentence the person can
//! act on. Which check of the assertion failed stays in the code; the cause in the log.

use axum::http::StatusCode;

use crate::service::PasskeyError;

pub(super) fn status(error: &PasskeyError) -> StatusCode {
    use PasskeyError::*;
    match error {
        NotConfigured | Required | NotAsked | Malformed(_) => StatusCode::BAD_REQUEST,
        NoneRegistered => StatusCode::CONFLICT,
        RegistrationUnknown => StatusCode::NOT_FOUND,
        NotRecognised
        | WrongChallenge
        | WrongOrigin
        | CounterRegressed
        | UserNotVerified
        | Invalid(_)
        | RegistrationRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub(super) fn code(error: &PasskeyError) -> &'static str {
    use PasskeyError::*;
    match error {
        NotConfigured => "passkeys_not_configured",
        Required => "passkey_required",
        NotAsked => "passkey_not_asked",
        Malformed(_) => "invalid_passkey",
        NoneRegistered => "no_passkey",
        RegistrationUnknown => "passkey_registration_not_found",
        RegistrationRefused(_) => "passkey_registration_refused",
        checked => checked.decided_code().unwrap_or("passkey_invalid"),
    }
}

pub(super) fn sentence(error: &PasskeyError) -> &'static str {
    use PasskeyError::*;
    match error {
        NotConfigured => "passkeys are not set up on this service (PASSKEY_RP_ID)",
        Required => "this sign-in needs your passkey as well as your face: confirm it on your device when asked",
        NotAsked => "a passkey was sent, and this session does not ask for one: start again",
        Malformed(_) => {
            "the passkey field is not a WebAuthn credential (send what navigator.credentials returns, as JSON)"
        }
        NoneRegistered => "this user has no passkey yet: register one first, or sign in with the face alone",
        RegistrationUnknown => "the passkey registration expired or was already used: start it again",
        RegistrationRefused(_) => {
            "the passkey could not be registered: use a device that can verify you (a PIN, a fingerprint or a face \
             unlock) and try again"
        }
        NotRecognised => "this passkey is not registered for this user: use the device you registered",
        WrongChallenge => "the passkey signed another attempt: start again",
        WrongOrigin => "the passkey was used on another site: sign in from this site's own page",
        CounterRegressed => {
            "this passkey's device reported an old state (it may have been copied): contact support before using it again"
        }
        UserNotVerified => "your device did not confirm it is you: unlock it with your PIN, fingerprint or face",
        Invalid(_) => "the passkey's signature did not verify: try again",
    }
}
