//! The boundary error: one envelope, `{"error": {"code", "message", "request_id"}}`, with stable
//! codes. Middleware and handlers both use it; it imports neither.
//!
//! A server-side failure keeps its cause: the response carries it in an extension, and the
//! request-context middleware logs it once, with its whole chain. Clients see the public message.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::face::DecodeError;
use crate::face::policy::Rejection;
use crate::face::quality::QualityIssue;
use crate::service::liveness::capture::CaptureRefusal;
use crate::service::liveness::light::LightRefusal;
use crate::service::{ChallengeError, PasskeyError, ServiceError};
use crate::store::StoreError;
use crate::telemetry::request::current_request_id;

/// The cause of a server-side failure, kept for the log.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidUserId(String),
    #[error("the multipart field '{0}' is required")]
    MissingField(&'static str),
    #[error("the multipart field '{0}' was sent more than once")]
    DuplicateField(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidImage(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the upload is larger than the {0} bytes allowed")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    ImageTooLarge(String),
    /// What to do, never the measured values (angles, brightness, sizes): those stay in the
    /// server's log and `faceauth inspect`, where they help and cannot guide an attack.
    #[error("{}", advice(.0))]
    Face(Rejection),
    #[error("{0}")]
    TooManyReferences(String),
    #[error("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")]
    Unauthorized,
    #[error("this key may not do that: a client key may only verify, and register with an enrollment token")]
    Forbidden,
    #[error(
        "registering with a client key needs an enrollment_token for this user, issued by your backend \
         (POST /api/enrollments with a secret key)"
    )]
    EnrollmentRequired,
    #[error(
        "the enrollment token is invalid, expired, already used or for another user: ask your backend for a new one"
    )]
    InvalidEnrollmentToken,
    #[error(
        "a session is required: your backend creates one (POST /api/sessions) and your app sends its session_token"
    )]
    SessionRequired,
    #[error(
        "the session is invalid, expired, already used, revoked, or for another user or purpose: ask your backend for a \
         new one"
    )]
    InvalidSession,
    #[error("no such session")]
    SessionNotFound,
    #[error("{}", passkey::sentence(.0))]
    Passkey(PasskeyError),
    #[error(
        "registering biometric data needs the user's consent: send the field 'consent' naming the notice the user \
         accepted (e.g. biometric-notice-v3)"
    )]
    ConsentRequired,
    #[error(
        "the photo does not match this user's registered face; nothing was stored (a backend may re-enrol \
         the user with replace=true)"
    )]
    FaceMismatch,
    #[error(
        "this photo was used before (a reference photo, or one already sent, perhaps re-encoded, cropped or \
         mirrored): take a new photo and try again"
    )]
    ReplayedImage,
    #[error(
        "the photo does not look like a live person (a printed photo or a screen?): take a photo of your face \
         in good light and try again"
    )]
    LivenessFailed,
    #[error(
        "liveness is on: start a session (or POST /api/challenges) and send the capture it asks for (the web SDK \
         records it)"
    )]
    ChallengeRequired,
    #[error("no such challenge: get a new one")]
    ChallengeNotFound,
    #[error("the challenge has expired: get a new one")]
    ChallengeExpired,
    #[error("the challenge has been used (each answers one verify) or belongs to another user: get a new one")]
    ChallengeUsed,
    #[error(
        "the movements did not follow the prompts: start facing the camera, then turn or tilt your head when asked, \
         hold a moment and come back"
    )]
    PoseMismatch,
    #[error("the whole capture must show one person, the same from start to end: try again on your own")]
    IdentityChanged,
    #[error("the capture is not one continuous recording: keep the camera on and your face in view, and try again")]
    CaptureDiscontinuous,
    #[error("the capture is too short or has too few frames: keep the page open and your face in view until the end")]
    CaptureIncomplete,
    #[error(
        "the capture has more frames, or larger frames, than its plan asks for (its `fps`, `duration_ms` and \
         `max_side`): record it as the plan says"
    )]
    CaptureTooLarge,
    #[error(
        "the screen's colours were not seen on your face: turn the screen's brightness up, hold the phone closer \
         and avoid strong light behind you"
    )]
    LightNotFollowed,
    #[error("the colours changed across the whole picture, not on your face: try again with the live camera")]
    LightNotReflected,
    #[error(
        "this sign-in needs the colour check: it cannot be skipped (if flashing colours are a problem, ask for \
         another way to sign in)"
    )]
    LightRequired,
    #[error(
        "the camera saw a flat picture, not a face: look at the camera yourself (not a photo or a screen) and turn \
         your head as asked"
    )]
    CaptureFlat,
    /// The backend asked a session for a liveness the server's configuration does not offer.
    #[error("{0}: ask for one of those the server offers (docs/liveness.md)")]
    LivenessNotOffered(String),
    #[error("challenges are issued only with LIVENESS=challenge")]
    ChallengesDisabled,
    #[error(
        "verification is disabled for this user after too many consecutive failures: the account's owner must \
         confirm their identity another way, then the service's backend unlocks it"
    )]
    VerificationDisabled,
    #[error("no references are registered for this user")]
    UserNotFound,
    #[error(
        "this user's reference photos were enrolled with another face model and could not be converted: register \
         a new photo, or have the operator run `faceauth reembed`"
    )]
    ReferencesOutdated,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("too many requests")]
    TooManyRequests { retry_after: u64, code: &'static str },
    #[error("reference storage is temporarily unavailable")]
    StorageUnavailable(#[source] Cause),
    #[error("the service is at capacity; retry shortly")]
    Overloaded,
    #[error("the service's shared state is temporarily unavailable; retry shortly")]
    StateUnavailable(#[source] Cause),
    /// Biometric operations wait while their audit records cannot be written (the buffer is full).
    #[error("the audit trail is temporarily unavailable; retry later")]
    AuditUnavailable(#[source] Cause),
    #[error("the request took too long")]
    Timeout,
    #[error("internal error")]
    Internal(#[source] Option<Cause>),
    /// A refusal that counted as a failed attempt, with the failures still allowed before the
    /// lockout: the person is told how many tries are left.
    #[error("{0}")]
    Counted(Box<ApiError>, u32),
}

/// The sentence a client is shown for a pipeline refusal.
fn advice(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::NoFace => "no face was found: face the camera in good light, with your whole face in the picture",
        Rejection::MultipleFaces { .. } => "more than one face was found: make sure only you are in the picture",
        Rejection::FaceTooSmall { .. } => "the face is too small: come closer to the camera",
        Rejection::Quality(QualityIssue::TooDark { .. }) => "the face is too dark: add light in front of you",
        Rejection::Quality(QualityIssue::Overexposed { .. }) => {
            "the face is over-exposed: use less light, no flash, and avoid direct sun"
        }
        Rejection::Quality(QualityIssue::Blurry { .. }) => "the photo is blurred: hold still and let the camera focus",
        Rejection::Quality(QualityIssue::NotFrontal { .. }) => "the face is turned away: look straight at the camera",
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Counted(inner, _) => inner.status(),
            Passkey(e) => passkey::status(e),
            InvalidUserId(_) | MissingField(_) | DuplicateField(_) | InvalidRequest(_) | InvalidImage(_) => {
                StatusCode::BAD_REQUEST
            }
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge(_) | ImageTooLarge(_) | CaptureTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Face(_) | TooManyReferences(_) | ReplayedImage | LivenessFailed | PoseMismatch | IdentityChanged
            | CaptureDiscontinuous | CaptureIncomplete | CaptureFlat | LightNotFollowed | LightNotReflected
            | LightRequired => StatusCode::UNPROCESSABLE_ENTITY,
            ChallengeRequired | ConsentRequired => StatusCode::BAD_REQUEST,
            // A well-formed ask this server's configuration cannot honour, not a malformed one.
            LivenessNotOffered(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ChallengeNotFound => StatusCode::NOT_FOUND,
            ChallengeExpired => StatusCode::GONE,
            ChallengeUsed | ChallengesDisabled => StatusCode::CONFLICT,
            Unauthorized | InvalidEnrollmentToken | InvalidSession => StatusCode::UNAUTHORIZED,
            Forbidden | EnrollmentRequired | SessionRequired => StatusCode::FORBIDDEN,
            SessionNotFound => StatusCode::NOT_FOUND,
            VerificationDisabled => StatusCode::LOCKED,
            FaceMismatch => StatusCode::CONFLICT,
            UserNotFound | RouteNotFound => StatusCode::NOT_FOUND,
            ReferencesOutdated => StatusCode::CONFLICT,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            StorageUnavailable(_) | StateUnavailable(_) | AuditUnavailable(_) | Overloaded | Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            Counted(inner, _) => inner.code(),
            Passkey(e) => passkey::code(e),
            InvalidUserId(_) => "invalid_user_id",
            MissingField(_) => "missing_field",
            DuplicateField(_) => "duplicate_field",
            InvalidRequest(_) => "invalid_request",
            InvalidImage(_) => "invalid_image",
            UnsupportedMediaType(_) => "unsupported_media_type",
            PayloadTooLarge(_) => "payload_too_large",
            ImageTooLarge(_) => "image_too_large",
            Face(Rejection::NoFace) => "no_face",
            Face(Rejection::MultipleFaces { .. }) => "multiple_faces",
            Face(Rejection::FaceTooSmall { .. }) => "face_too_small",
            Face(Rejection::Quality(QualityIssue::TooDark { .. })) => "face_too_dark",
            Face(Rejection::Quality(QualityIssue::Overexposed { .. })) => "face_overexposed",
            Face(Rejection::Quality(QualityIssue::Blurry { .. })) => "face_blurry",
            Face(Rejection::Quality(QualityIssue::NotFrontal { .. })) => "face_not_frontal",
            TooManyReferences(_) => "too_many_references",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            EnrollmentRequired => "enrollment_required",
            InvalidEnrollmentToken => "invalid_enrollment_token",
            SessionRequired => "session_required",
            InvalidSession => "invalid_session",
            SessionNotFound => "session_not_found",
            ConsentRequired => "consent_required",
            VerificationDisabled => "verification_disabled",
            FaceMismatch => "face_mismatch",
            ReplayedImage => "replayed_image",
            LivenessFailed => "liveness_failed",
            ChallengeRequired => "challenge_required",
            ChallengeNotFound => "challenge_not_found",
            ChallengeExpired => "challenge_expired",
            ChallengeUsed => "challenge_used",
            PoseMismatch => "pose_mismatch",
            IdentityChanged => "identity_changed",
            CaptureDiscontinuous => "capture_discontinuous",
            CaptureIncomplete => "capture_incomplete",
            CaptureTooLarge => "capture_too_large",
            LightNotFollowed => "light_not_followed",
            LightNotReflected => "light_not_reflected",
            LightRequired => "light_required",
            CaptureFlat => "capture_flat",
            LivenessNotOffered(_) => "liveness_not_offered",
            ChallengesDisabled => "challenges_disabled",
            UserNotFound => "user_not_found",
            ReferencesOutdated => "references_outdated",
            RouteNotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            TooManyRequests { code, .. } => code,
            StorageUnavailable(_) => "storage_unavailable",
            Overloaded => "overloaded",
            StateUnavailable(_) => "state_unavailable",
            AuditUnavailable(_) => "audit_unavailable",
            Timeout => "timeout",
            Internal(_) => "internal_error",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Counted(inner, _) => inner.retry_after(),
            ApiError::StorageUnavailable(_) => Some(5),
            ApiError::StateUnavailable(_) => Some(2),
            ApiError::AuditUnavailable(_) => Some(30),
            ApiError::Overloaded | ApiError::Timeout => Some(1),
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The shared state (lockouts, rates, single-use tokens) could not be consulted: fail closed.
    pub fn state_unavailable(cause: crate::state::StateError) -> Self {
        ApiError::StateUnavailable(Arc::new(cause))
    }

    /// A failure of ours rather than the client's, with the cause the log needs.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Some(Arc::new(cause)))
    }

    fn cause(&self) -> Option<&Cause> {
        match self {
            ApiError::Counted(inner, _) => inner.cause(),
            ApiError::StorageUnavailable(cause)
            | ApiError::StateUnavailable(cause)
            | ApiError::AuditUnavailable(cause)
            | ApiError::Internal(Some(cause)) => Some(cause),
            _ => None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Counted { error, attempts_left } => {
                ApiError::Counted(Box::new(ApiError::from(*error)), attempts_left)
            }
            ServiceError::Image(DecodeError::Unsupported) => {
                ApiError::UnsupportedMediaType("the image must be a JPEG, PNG or WebP file".into())
            }
            ServiceError::Image(e @ DecodeError::TooLarge { .. }) => ApiError::ImageTooLarge(e.to_string()),
            ServiceError::Image(DecodeError::Corrupt(_)) => {
                ApiError::InvalidImage("the image is corrupt or truncated".into())
            }
            ServiceError::Face(r) => ApiError::Face(r),
            ServiceError::Overloaded => ApiError::Overloaded,
            ServiceError::UserNotFound => ApiError::UserNotFound,
            ServiceError::ReferencesOutdated => ApiError::ReferencesOutdated,
            ServiceError::FaceMismatch => ApiError::FaceMismatch,
            ServiceError::ReplayedImage => ApiError::ReplayedImage,
            ServiceError::LivenessFailed(_) => ApiError::LivenessFailed,
            ServiceError::ChallengeRequired => ApiError::ChallengeRequired,
            ServiceError::Challenge(ChallengeError::NotFound) => ApiError::ChallengeNotFound,
            ServiceError::Challenge(ChallengeError::Expired) => ApiError::ChallengeExpired,
            ServiceError::Challenge(ChallengeError::Used) => ApiError::ChallengeUsed,
            // Which frame, which step, which angle: for the log and the audit line, not for the
            // client, who is told what to do (an attacker learns nothing to tune against).
            ServiceError::Capture(CaptureRefusal::Discontinuous(_)) => ApiError::CaptureDiscontinuous,
            ServiceError::Capture(CaptureRefusal::Incomplete(_)) => ApiError::CaptureIncomplete,
            ServiceError::Capture(CaptureRefusal::TooLarge(_)) => ApiError::CaptureTooLarge,
            ServiceError::Pose(_) => ApiError::PoseMismatch,
            e @ ServiceError::CaptureWithoutChallenge => ApiError::InvalidRequest(e.to_string()),
            ServiceError::IdentityChanged { .. } => ApiError::IdentityChanged,
            ServiceError::Light(LightRefusal::NotFollowed | LightRefusal::Unmeasured) => ApiError::LightNotFollowed,
            ServiceError::Light(LightRefusal::NotReflected | LightRefusal::NotShaped(_)) => ApiError::LightNotReflected,
            ServiceError::Light(LightRefusal::Declined) => ApiError::LightRequired,
            ServiceError::Planarity(_) => ApiError::CaptureFlat,
            ServiceError::LivenessNotOffered(e) => ApiError::LivenessNotOffered(e.to_string()),
            // Which check failed is for the log (the audit line), not for whoever holds the token.
            ServiceError::InvalidEnrollmentToken(_) => ApiError::InvalidEnrollmentToken,
            ServiceError::Session(_) => ApiError::InvalidSession,
            ServiceError::Passkey(e) => ApiError::Passkey(e),
            ServiceError::ConsentRequired => ApiError::ConsentRequired,
            ServiceError::VerificationDisabled(_) => ApiError::VerificationDisabled,
            ServiceError::TooManyAttempts(wait) => {
                ApiError::TooManyRequests { retry_after: wait.as_secs().max(1), code: "too_many_attempts" }
            }
            e @ ServiceError::TooManyReferences(_) => {
                ApiError::TooManyReferences(format!("{e}; delete the user to start over"))
            }
            // Stored data we cannot read is our fault, not a passing outage.
            e @ ServiceError::Storage(StoreError::Corrupt(_)) => ApiError::internal(e),
            e @ ServiceError::Storage(_) => ApiError::StorageUnavailable(Arc::new(e)),
            e @ (ServiceError::Inference(_) | ServiceError::Stopped) => ApiError::internal(e),
            e @ ServiceError::StateUnavailable(_) => ApiError::StateUnavailable(Arc::new(e)),
            ServiceError::AuditUnavailable(e) => ApiError::AuditUnavailable(Arc::new(e)),
        }
    }
}

/// The error envelope, as documented in the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `no_face`.
    pub code: &'static str,
    /// Human-readable explanation; never internals.
    pub message: String,
    /// Also in the `X-Request-Id` response header and the service's logs.
    pub request_id: String,
    /// On a refusal that counted as a failed verification: the failures still allowed before
    /// this client is locked out of the user (0: the next attempt waits for the lockout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
}

/// Left on error responses so the access log can say which error without parsing the body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Left on responses to server-side failures: the cause, for the one log line that reports it.
#[derive(Clone)]
pub struct ErrorCause {
    pub code: &'static str,
    pub cause: Cause,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
                request_id: current_request_id(),
                attempts_left: match &self {
                    ApiError::Counted(_, left) => Some(*left),
                    _ => None,
                },
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        if let Some(cause) = self.cause() {
            response.extensions_mut().insert(ErrorCause { code: self.code(), cause: cause.clone() });
        }
        response
    }
}

pub mod codes;
mod passkey;
#[cfg(test)]
mod tests;
