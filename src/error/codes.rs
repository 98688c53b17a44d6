//! Every error code the API answers, with its status and who can receive it: the one table the
//! API error (`error/tests.rs` checks every variant against it), the OpenAPI document (its
//! description is written from it) and the web SDK's sentences (a test reads `faceauth.js`) are
//! held to. A code added to `ApiError` and not here fails a test, and so does a code a client key
//! can receive for which the SDK has no sentence.

/// Who can receive a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A publishable client key, i.e. a person in front of the SDK: the SDK shows a sentence.
    Client,
    /// Only a backend with a secret key (its routes, or configuration it asked for).
    Backend,
}

/// One code of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub status: u16,
    pub audience: Audience,
}

const fn client(code: &'static str, status: u16) -> Code {
    Code { code, status, audience: Audience::Client }
}

const fn backend(code: &'static str, status: u16) -> Code {
    Code { code, status, audience: Audience::Backend }
}

/// Every code, grouped by status as the OpenAPI description lists them.
pub const CODES: &[Code] = &[
    client("invalid_user_id", 400),
    client("missing_field", 400),
    client("duplicate_field", 400),
    client("invalid_request", 400),
    client("invalid_image", 400),
    client("consent_required", 400),
    client("challenge_required", 400),
    client("passkey_required", 400),
    client("passkey_not_asked", 400),
    client("invalid_passkey", 400),
    client("passkeys_not_configured", 400),
    client("unauthorized", 401),
    client("invalid_enrollment_token", 401),
    client("invalid_session", 401),
    client("forbidden", 403),
    client("enrollment_required", 403),
    client("session_required", 403),
    client("not_found", 404),
    client("challenge_not_found", 404),
    client("passkey_registration_not_found", 404),
    backend("session_not_found", 404),
    backend("user_not_found", 404),
    client("method_not_allowed", 405),
    client("face_mismatch", 409),
    client("references_outdated", 409),
    client("challenge_used", 409),
    client("challenges_disabled", 409),
    backend("no_passkey", 409),
    client("challenge_expired", 410),
    client("payload_too_large", 413),
    client("image_too_large", 413),
    client("capture_too_large", 413),
    client("unsupported_media_type", 415),
    client("no_face", 422),
    client("multiple_faces", 422),
    client("face_too_small", 422),
    client("face_too_dark", 422),
    client("face_overexposed", 422),
    client("face_blurry", 422),
    client("face_not_frontal", 422),
    client("too_many_references", 422),
    client("replayed_image", 422),
    client("liveness_failed", 422),
    client("pose_mismatch", 422),
    client("identity_changed", 422),
    client("capture_discontinuous", 422),
    client("capture_incomplete", 422),
    client("capture_flat", 422),
    client("light_not_followed", 422),
    client("light_not_reflected", 422),
    client("light_required", 422),
    client("passkey_not_recognised", 422),
    client("passkey_challenge_mismatch", 422),
    client("passkey_origin_mismatch", 422),
    client("passkey_counter_regressed", 422),
    client("passkey_user_not_verified", 422),
    client("passkey_invalid", 422),
    client("passkey_registration_refused", 422),
    backend("liveness_not_offered", 422),
    client("verification_disabled", 423),
    client("rate_limited", 429),
    client("too_many_attempts", 429),
    client("internal_error", 500),
    client("storage_unavailable", 503),
    client("state_unavailable", 503),
    client("audit_unavailable", 503),
    client("overloaded", 503),
    client("timeout", 503),
];

/// The code's entry, if it is in the table.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// The codes by status, as the OpenAPI description prints them: `a, b (400); c (401); …`.
pub fn listing() -> String {
    let mut groups: Vec<(u16, Vec<&str>)> = Vec::new();
    for c in CODES {
        match groups.last_mut() {
            Some((status, codes)) if *status == c.status => codes.push(c.code),
            _ => groups.push((c.status, vec![c.code])),
        }
    }
    let retry = |status: u16| if matches!(status, 429 | 503) { ", Retry-After" } else { "" };
    groups
        .iter()
        .map(|(status, codes)| format!("{} ({status}{})", codes.join(", "), retry(*status)))
        .collect::<Vec<_>>()
        .join("; ")
}
