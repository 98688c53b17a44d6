//! `POST /api/challenges`: a plan of head movements and screen colours for one user's next verify
//! (LIVENESS=challenge). Client or secret keys.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{PlanDto, UserRequest, requested_user};
use crate::app::AppState;
use crate::error::{ApiError, ErrorEnvelope};

#[derive(Serialize, ToSchema)]
pub struct ChallengeResponse {
    /// Send it back as the `challenge_id` field of `POST /api/verify`; valid once, for this user.
    pub challenge_id: String,
    /// The movements, in order (as in `capture.prompts`): `turn_left` (the subject turns to their
    /// own left: in the frame as the camera takes it, the nose moves toward the image's right edge),
    /// `turn_right`, `look_up`, `look_down`.
    pub steps: Vec<String>,
    /// What the capture must follow: record `capture.frames` frames at `capture.fps` over
    /// `capture.duration_ms`, prompt each step at its time, and fill the screen with each colour at
    /// its time. While this plan is unanswered, asking again gives it back (no re-draws).
    pub capture: PlanDto,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Issues a liveness challenge for one user (LIVENESS=challenge).
#[utoipa::path(
    post,
    path = "/api/challenges",
    tag = "faces",
    request_body(content = UserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Challenge issued", body = ChallengeResponse),
        (status = 400, description = "invalid_user_id or invalid_request", body = ErrorEnvelope),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 409, description = "challenges_disabled: LIVENESS is not challenge", body = ErrorEnvelope),
        (status = 413, description = "payload_too_large", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not application/json", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
        (status = 503, description = "state_unavailable (SHARED_STATE_URL unreachable) or timeout (Retry-After)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create_challenge(
    State(state): State<AppState>,
    body: Result<Json<UserRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ChallengeResponse>), ApiError> {
    let user = requested_user(body)?;
    let challenge = state.service.liveness().issue_challenge(&user).await?.ok_or(ApiError::ChallengesDisabled)?;
    let plan = PlanDto::from(&challenge.plan);
    Ok((
        StatusCode::CREATED,
        Json(ChallengeResponse {
            challenge_id: challenge.id,
            steps: plan.prompts.iter().map(|p| p.step.clone()).collect(),
            capture: plan,
            expires_at: challenge.expires_at,
        }),
    ))
}
