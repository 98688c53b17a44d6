//! What the handlers' annotations name besides their own response types: the multipart forms and
//! the error sets routes share. The OpenAPI document (`openapi.rs`) is assembled from these and the
//! handlers; nothing here imports a handler or the document.

use utoipa::{IntoResponses, ToSchema};

use crate::error::ErrorEnvelope;

/// The multipart body of verify: one photo as `image`, or (LIVENESS=challenge) one continuous
/// capture as `capture` parts with its `capture_ms` and `capture_light`, which belong to it (the
/// document says so with `dependentRequired`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// 1–128 of `A-Z a-z 0-9 . _ @ -`; must not start with `.` or contain `..`.
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    user_id: String,
    /// One photo (LIVENESS off or passive): JPEG, PNG or WebP (judged by content; the part's
    /// `encoding`), at most MAX_UPLOAD_SIZE bytes (`maxLength`) and MAX_IMAGE_PIXELS pixels. Send
    /// either `image` or a capture, not both.
    #[schema(format = Binary, min_length = 1, nullable = false)]
    image: Option<String>,
    /// LIVENESS=challenge: one continuous capture answering the session's (or challenge's) plan,
    /// as parts named `capture`, one JPEG frame each, in the order taken; at most 360.
    #[schema(nullable = false, max_items = 360)]
    capture: Option<Vec<CaptureFrame>>,
    /// With `capture`: a JSON array with one number per frame, the frame's time in milliseconds
    /// since the capture started, from the client's monotonic clock (e.g. `[0, 66.6, 133.4]`).
    #[schema(nullable = false, max_length = 4320)]
    capture_ms: Option<String>,
    /// With `capture`: `declined` when the client showed no screen colours. The plan says whether
    /// colours are asked (the backend chose when it created the session): `declined` against a
    /// plan with colours is refused as `light_required`, and counts as a failed attempt. Default `shown`.
    #[schema(nullable = false, pattern = "^(shown|declined)$")]
    capture_light: Option<String>,
    /// LIVENESS=challenge without a session: the id from `POST /api/challenges`.
    #[schema(nullable = false)]
    challenge_id: Option<String>,
    /// The session your backend created for this attempt (`POST /api/sessions`, purpose `verify`);
    /// required for client keys with CLIENT_ACCESS=session.
    #[schema(nullable = false, min_length = 1, max_length = 4096)]
    session_token: Option<String>,
    /// A face + passkey session (`factors: ["face", "passkey"]`): what `navigator.credentials.get`
    /// returned, as JSON, over the challenge derived from `session_token` and this upload's frames
    /// in order (docs/passkeys.md). Refused on a session that does not ask for it.
    #[schema(nullable = false, min_length = 1, max_length = 16384)]
    passkey: Option<String>,
}

/// One frame of a capture: a JPEG (or PNG, WebP), at most MAX_UPLOAD_SIZE bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct CaptureFrame(String);

/// The multipart body of register.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterForm {
    /// 1–128 of `A-Z a-z 0-9 . _ @ -`; must not start with `.` or contain `..`.
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    user_id: String,
    /// JPEG, PNG or WebP (judged by content; the part's `encoding`), at most MAX_UPLOAD_SIZE bytes (`maxLength`) and MAX_IMAGE_PIXELS pixels.
    #[schema(format = Binary, min_length = 1)]
    image: String,
    /// With a client key: a grant from `POST /api/enrollments` for this user (single use), unless a
    /// `session_token` is sent.
    #[schema(nullable = false)]
    enrollment_token: Option<String>,
    /// With a client key: the enrol session your backend created (`POST /api/sessions`, purpose `enroll`).
    #[schema(nullable = false, min_length = 1, max_length = 4096)]
    session_token: Option<String>,
    /// The notice the user accepted (e.g. `biometric-notice-v3`), stored with the reference as the
    /// consent record; required with CONSENT_REQUIRED (on in production).
    #[schema(nullable = false, pattern = "^[A-Za-z0-9._:-]{1,128}$", min_length = 1, max_length = 128)]
    consent: Option<String>,
    /// `true` replaces every existing reference of the user with this one (secret keys only).
    #[schema(nullable = false, default = false)]
    replace: Option<bool>,
}

/// Errors that register and verify share; each route adds its own.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum UploadErrors {
    #[response(
        status = 400,
        description = "invalid_user_id, missing_field, duplicate_field, invalid_request, invalid_image, or consent_required (register with CONSENT_REQUIRED and no consent)"
    )]
    BadRequest(ErrorEnvelope),
    #[response(
        status = 401,
        description = "unauthorized, invalid_session (expired, used, forged, revoked, or another user's or purpose's), or invalid_enrollment_token (register)"
    )]
    Unauthorized(ErrorEnvelope),
    #[response(
        status = 403,
        description = "session_required (CLIENT_ACCESS=session: a client key without session_token), forbidden, enrollment_required (register)"
    )]
    Forbidden(ErrorEnvelope),
    #[response(
        status = 413,
        description = "payload_too_large, image_too_large, or capture_too_large (more frames, larger frames or more pixels than the plan asks for: counted)"
    )]
    TooLarge(ErrorEnvelope),
    #[response(status = 415, description = "unsupported_media_type")]
    UnsupportedMediaType(ErrorEnvelope),
    #[response(status = 429, description = "rate_limited (per IP or key)")]
    RateLimited(ErrorEnvelope),
    #[response(
        status = 503,
        description = "storage_unavailable (the bucket, or KMS with TEMPLATE_KMS_KEY_ID), state_unavailable (SHARED_STATE_URL unreachable), audit_unavailable (audit records cannot be written and the buffer is full), overloaded (also before the body is read, when MAX_CONCURRENT_UPLOADS are in progress) or timeout (Retry-After)"
    )]
    Unavailable(ErrorEnvelope),
}

/// Errors of the user routes.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum UserErrors {
    #[response(status = 400, description = "invalid_user_id")]
    BadRequest(ErrorEnvelope),
    #[response(status = 401, description = "unauthorized")]
    Unauthorized(ErrorEnvelope),
    #[response(status = 403, description = "forbidden: client keys may not read or delete users")]
    Forbidden(ErrorEnvelope),
    #[response(status = 404, description = "user_not_found")]
    NotFound(ErrorEnvelope),
    #[response(status = 429, description = "rate_limited (per IP or key)")]
    RateLimited(ErrorEnvelope),
    #[response(status = 503, description = "storage_unavailable, state_unavailable or audit_unavailable (Retry-After)")]
    Unavailable(ErrorEnvelope),
}

/// Errors of the JSON routes a backend calls with its secret key (sessions, grants, introspection).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BackendJsonErrors {
    #[response(status = 400, description = "invalid_user_id or invalid_request")]
    BadRequest(ErrorEnvelope),
    #[response(status = 401, description = "unauthorized")]
    Unauthorized(ErrorEnvelope),
    #[response(status = 403, description = "forbidden: client keys may not call this route")]
    Forbidden(ErrorEnvelope),
    #[response(status = 413, description = "payload_too_large")]
    TooLarge(ErrorEnvelope),
    #[response(status = 415, description = "unsupported_media_type: the body is not application/json")]
    UnsupportedMediaType(ErrorEnvelope),
    #[response(status = 429, description = "rate_limited")]
    RateLimited(ErrorEnvelope),
    #[response(
        status = 503,
        description = "state_unavailable (SHARED_STATE_URL unreachable), audit_unavailable (POST /api/sessions while audit records cannot be written) or timeout (Retry-After)"
    )]
    Unavailable(ErrorEnvelope),
}
