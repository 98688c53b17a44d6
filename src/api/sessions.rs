//! `POST /api/sessions` and `GET /api/sessions/{session_id}`: the backend (secret key) starts an
//! attempt for one user and reads its outcome server to server.

use super::completion;
use axum::Extension;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{json_body, non_null};
use super::schema::BackendJsonErrors;
use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::{ApiError, ErrorEnvelope};
use crate::service::{Factors, Requirement, SessionPurpose, SessionRecord, SessionRequest, SessionStatus};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// 1–128 of `A-Z a-z 0-9 . _ @ -`; must not start with `.` or contain `..`.
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    pub user_id: String,
    /// `verify` or `enroll`.
    #[schema(value_type = String, pattern = "^(verify|enroll)$")]
    pub purpose: String,
    /// Your login attempt's nonce: the verification token carries it back as `nonce`.
    #[schema(min_length = 1, max_length = 128, nullable = false, pattern = "^[^\\u0000-\\u001f\\u007f]+$")]
    #[serde(default, deserialize_with = "non_null")]
    pub nonce: Option<String>,
    /// Who the verification token is for (`aud`); TOKEN_AUDIENCE when absent.
    #[schema(min_length = 1, max_length = 128, nullable = false, pattern = "^[^\\u0000-\\u001f\\u007f]+$")]
    #[serde(default, deserialize_with = "non_null")]
    pub audience: Option<String>,
    /// What a verify session needs besides the face, which is always checked: `["face"]` (the
    /// default) or `["face", "passkey"]` (also an assertion from one of the user's passkeys over
    /// this session and capture; the user must have registered one). Enrol sessions ignore it.
    #[schema(value_type = std::collections::BTreeSet<Factor>, nullable = false, min_items = 1, max_items = 2)]
    #[serde(default, deserialize_with = "non_null")]
    pub factors: Option<Vec<Factor>>,
    /// What a verify session requires to prove the person is present, chosen by your backend
    /// (the client cannot lower it): `movement_and_light` (the prompted moves under the screen's
    /// colours; the default with LIVENESS=challenge), `movement` (the moves only, for a person who
    /// cannot take flashing light: the web SDK's `prefersReducedMotion()` tells your app; refused
    /// when the operator set LIGHT_CHALLENGE=required), or `passive` (one photo; LIVENESS=passive).
    /// Absent: the strongest the server offers. One the server does not offer is refused
    /// (`422 liveness_not_offered`). Enrol sessions ignore it.
    #[schema(value_type = String, pattern = "^(movement_and_light|movement|passive)$", nullable = false)]
    #[serde(default, deserialize_with = "non_null")]
    pub liveness: Option<String>,
}

/// One factor a verify session asks for.
#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Face,
    Passkey,
}

#[derive(Serialize, ToSchema)]
pub struct SessionCreated {
    pub session_id: String,
    /// Give it to your frontend: it sends it as the `session_token` field of verify or register.
    pub session_token: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Verify sessions: the liveness the attempt must show (`movement_and_light`, `movement`,
    /// `passive`); absent with LIVENESS=off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<&'static str>,
    /// LIVENESS=challenge, verify sessions: the movements, in order (as in `capture.prompts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
    /// LIVENESS=challenge, verify sessions: what the one continuous capture must follow (hand it to
    /// the frontend with the token; the web SDK runs it). While the user has an unanswered plan,
    /// every new session carries the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<super::dto::PlanDto>,
    /// Face + passkey: `publicKey` for `navigator.credentials.get`, without `challenge`: the client
    /// derives it from the session token and the capture (docs/passkeys.md); the web SDK does.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub user_id: String,
    /// `verify` or `enroll`.
    pub purpose: &'static str,
    /// `pending`, `completed` or `expired`.
    pub status: &'static str,
    /// Unix seconds.
    pub expires_at: u64,
    /// Verify sessions: the liveness the backend required (`movement_and_light`, `movement`,
    /// `passive`); what ran is in `amr` once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<&'static str>,
    /// Once completed: whether the face was verified (or, for an enrol session, stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Once completed with a refusal: its code (`liveness_failed`, `replayed_image`, `face_mismatch`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// The signed verification result, as the client received it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    /// Verified: what was proven, as in the token (`face`, `hwk` and `user` with a passkey, the
    /// liveness checks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Verified on a face + passkey session: the credential that signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passkey_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
}

fn binding(value: Option<String>, name: &str) -> Result<Option<String>, ApiError> {
    match value {
        Some(v)
            if v.is_empty()
                || v.chars().count() > crate::service::MAX_BINDING_LEN
                || v.chars().any(|c| c < ' ' || c == '\x7f') =>
        {
            Err(ApiError::InvalidRequest(format!("{name} must be 1-128 characters without control characters")))
        }
        other => Ok(other),
    }
}

/// Starts a single-use verify or enrol session for one user (secret keys only).
#[utoipa::path(
    post,
    path = "/api/sessions",
    tag = "sessions",
    request_body(content = CreateSession, content_type = "application/json"),
    responses(
        (status = 201, description = "Session created", body = SessionCreated),
        (status = 409, description = "no_passkey: a face + passkey session for a user with no passkey", body = ErrorEnvelope),
        (status = 422, description = "liveness_not_offered: the liveness asked is not one the server's configuration offers (LIVENESS, LIGHT_CHALLENGE)", body = ErrorEnvelope),
        BackendJsonErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateSession>, JsonRejection>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let request: CreateSession = json_body(body, r#"{"user_id": "...", "purpose": "verify"}"#)?;
    let user = UserId::parse(&request.user_id).map_err(|e| ApiError::InvalidUserId(e.to_string()))?;
    let purpose = match request.purpose.as_str() {
        "verify" => SessionPurpose::Verify,
        "enroll" => SessionPurpose::Enroll,
        _ => return Err(ApiError::InvalidRequest("purpose must be verify or enroll".into())),
    };
    let event = match purpose {
        SessionPurpose::Verify => "session_verify",
        SessionPurpose::Enroll => "session_enroll",
    };
    let factors = match request.factors.as_deref() {
        None => Factors::Face,
        Some(list) if list.is_empty() || (1..list.len()).any(|i| list[..i].contains(&list[i])) => {
            return Err(ApiError::InvalidRequest("factors must be a list of distinct face and passkey".into()));
        }
        // The face is always checked; factors say what is asked besides it, for a verify.
        Some(list) if list.contains(&Factor::Passkey) && purpose == SessionPurpose::Verify => Factors::FaceAndPasskey,
        Some(_) => Factors::Face,
    };
    let liveness = match request.liveness.as_deref() {
        None => None,
        Some(name) => Some(Requirement::parse(name).ok_or_else(|| {
            ApiError::InvalidRequest("liveness must be movement_and_light, movement or passive".into())
        })?),
    };
    let request = SessionRequest {
        user: user.clone(),
        purpose,
        nonce: binding(request.nonce, "nonce")?,
        audience: binding(request.audience, "audience")?,
        factors,
        liveness,
    };
    let issued =
        completion::audited(
            &state,
            event,
            &user,
            caller,
            |s, _| async move { s.service.create_session(request).await },
        )
        .await??;
    let steps = issued.plan.as_ref().map(|p| p.prompts.iter().map(|s| s.step.as_str().to_string()).collect());
    let capture = issued.plan.as_ref().map(super::dto::PlanDto::from);
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            session_id: issued.id,
            session_token: issued.token,
            expires_at: issued.expires_at,
            liveness: issued.liveness.map(Requirement::as_str),
            steps,
            capture,
            passkey: issued.passkey,
        }),
    ))
}

/// A session's status and, once its attempt was decided, the outcome (secret keys only).
#[utoipa::path(
    get,
    path = "/api/sessions/{session_id}",
    tag = "sessions",
    params(("session_id" = String, Path, description = "From `POST /api/sessions`", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: client keys may not read sessions", body = ErrorEnvelope),
        (status = 404, description = "session_not_found (unknown, or forgotten ten minutes after it expired)", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
        (status = 503, description = "state_unavailable or timeout (Retry-After)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get_session(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let Path(id) = path.map_err(|_| ApiError::SessionNotFound)?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::SessionNotFound);
    }
    let record = state.service.access().session(&id).await?.ok_or(ApiError::SessionNotFound)?;
    Ok(Json(view(id, record)))
}

fn view(session_id: String, record: SessionRecord) -> SessionView {
    let status = match record.status() {
        SessionStatus::Pending => "pending",
        SessionStatus::Completed => "completed",
        SessionStatus::Expired => "expired",
    };
    let purpose = match record.purpose {
        SessionPurpose::Verify => "verify",
        SessionPurpose::Enroll => "enroll",
    };
    let outcome = record.outcome.unwrap_or_default();
    let completed = status == "completed";
    SessionView {
        session_id,
        user_id: record.user_id,
        purpose,
        status,
        expires_at: record.expires_at,
        liveness: record.liveness.map(Requirement::as_str),
        verified: completed.then_some(outcome.verified),
        code: outcome.code,
        similarity: outcome.similarity.map(super::dto::round_score),
        liveness_method: outcome.liveness_method,
        liveness_score: outcome.liveness_score.map(|p| (p * 10_000.0).round() / 10_000.0),
        reference_id: outcome.reference_id,
        token: outcome.token,
        token_expires_at: outcome.token_expires_at,
        amr: outcome.amr,
        passkey_id: outcome.passkey_id,
        completed_at: completed.then_some(outcome.completed_at),
    }
}
