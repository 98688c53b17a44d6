//! `POST /api/enrollments`: a backend (secret key) asks for an enrolment grant that lets its
//! frontend, holding only a publishable client key, register one photo for one user.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::UserId;
use crate::error::{ApiError, ErrorEnvelope};

#[derive(Deserialize, ToSchema)]
pub struct EnrollmentRequest {
    /// The user the grant is for.
    pub user_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct EnrollmentResponse {
    /// Pass it to `POST /api/register` as the `enrollment_token` field; valid once, for this user.
    pub enrollment_token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Issues a single-use enrolment grant for one user (secret keys only).
#[utoipa::path(
    post,
    path = "/api/enrollments",
    tag = "faces",
    request_body(content = EnrollmentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Grant issued", body = EnrollmentResponse),
        (status = 400, description = "invalid_user_id or invalid_request", body = ErrorEnvelope),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: client keys may not issue grants", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create_enrollment(
    State(state): State<AppState>,
    body: Result<Json<EnrollmentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<EnrollmentResponse>), ApiError> {
    let Json(request) =
        body.map_err(|e| ApiError::InvalidRequest(format!("send JSON {{\"user_id\": \"...\"}}: {}", e.body_text())))?;
    let user = UserId::parse(&request.user_id).map_err(|e| ApiError::InvalidUserId(e.to_string()))?;
    let grant = state.service.issue_enrollment(&user);
    Ok((StatusCode::CREATED, Json(EnrollmentResponse { enrollment_token: grant.token, expires_at: grant.expires_at })))
}
