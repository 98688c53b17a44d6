//! The one error envelope: `{"error": {"code", "message", "request_id"}}`, with stable codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::face::DecodeError;
use crate::face::policy::Rejection;
use crate::service::ServiceError;
use crate::store::StoreError;

tokio::task_local! {
    /// The current request's id, so any error built anywhere in the request can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

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
    #[error("{0}")]
    Face(Rejection),
    #[error("{0}")]
    TooManyReferences(String),
    #[error("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")]
    Unauthorized,
    #[error("no references are registered for this user")]
    UserNotFound,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("too many requests")]
    TooManyRequests { retry_after: u64, code: &'static str },
    #[error("reference storage is temporarily unavailable")]
    StorageUnavailable,
    #[error("the service is at capacity; retry shortly")]
    Overloaded,
    #[error("the request took too long")]
    Timeout,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidUserId(_) | MissingField(_) | DuplicateField(_) | InvalidRequest(_) | InvalidImage(_) => {
                StatusCode::BAD_REQUEST
            }
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge(_) | ImageTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Face(_) | TooManyReferences(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthorized => StatusCode::UNAUTHORIZED,
            UserNotFound | RouteNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            StorageUnavailable | Overloaded | Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
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
            TooManyReferences(_) => "too_many_references",
            Unauthorized => "unauthorized",
            UserNotFound => "user_not_found",
            RouteNotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            TooManyRequests { code, .. } => code,
            StorageUnavailable => "storage_unavailable",
            Overloaded => "overloaded",
            Timeout => "timeout",
            Internal => "internal_error",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::StorageUnavailable => Some(5),
            ApiError::Overloaded | ApiError::Timeout => Some(1),
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
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
            ServiceError::TooManyAttempts(wait) => {
                ApiError::TooManyRequests { retry_after: wait.as_secs().max(1), code: "too_many_attempts" }
            }
            e @ ServiceError::TooManyReferences(_) => {
                ApiError::TooManyReferences(format!("{e}; delete the user to start over"))
            }
            ServiceError::Storage(e) => {
                // The cause (bucket, SDK message) is for the operator's log, not the client.
                tracing::error!(error = %e, "storage failure");
                crate::metrics::storage_error();
                match e {
                    StoreError::Corrupt(_) => ApiError::Internal,
                    _ => ApiError::StorageUnavailable,
                }
            }
            ServiceError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                ApiError::Internal
            }
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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody { code: self.code(), message: self.to_string(), request_id: current_request_id() },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

/// Left on error responses so the access log can say which error without parsing the body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_envelope_carries_code_message_and_request_id() {
        let response = REQUEST_ID.scope("req-1".into(), async { ApiError::UserNotFound.into_response() }).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "user_not_found");
        assert_eq!(v["error"]["request_id"], "req-1");
    }

    #[test]
    fn storage_failures_never_echo_their_cause() {
        let err = ApiError::from(ServiceError::Storage(StoreError::Denied("secret bucket name".into())));
        assert_eq!(err.code(), "storage_unavailable");
        assert!(!err.to_string().contains("secret"));
        assert_eq!(err.retry_after(), Some(5));
    }
}
