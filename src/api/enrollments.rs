//! `POST /api/enrollments`: a backend (secret key) asks for an enrolment grant that lets its
//! frontend, holding only a publishable client key, register one photo for one user. A compatible
//! shortcut for an enrol session (`POST /api/sessions` with `purpose: enroll`), which also lets the
//! backend read the outcome.

use super::completion;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{UserRequest, requested_user};
use super::schema::BackendJsonErrors;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

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
    request_body(content = UserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Grant issued", body = EnrollmentResponse),
        BackendJsonErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create_enrollment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<UserRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<EnrollmentResponse>), ApiError> {
    let user = requested_user(body)?;
    let grant = state.service.issue_enrollment(&user).await;
    // Who let a client enrol whom: the grant is the start of an enrolment.
    completion::audit(&state, "enrollment_grant", &user, &caller, &grant, None);
    state.service.audit().commit().await;
    let grant = grant?;
    Ok((StatusCode::CREATED, Json(EnrollmentResponse { enrollment_token: grant.token, expires_at: grant.expires_at })))
}
