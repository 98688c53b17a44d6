use super::completion;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::UserErrors;
use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::ApiError;

/// The `{user_id}` of the user routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserPath {
    /// The user id: 1–128 of `A-Z a-z 0-9 . _ @ -`, not starting with `.`, no `..`
    #[param(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    user_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub user_id: String,
    pub references: usize,
    pub reference_ids: Vec<String>,
    /// The consent under which each reference was enrolled (references enrolled without one are
    /// not listed).
    pub consents: Vec<ConsentDto>,
    pub retention: RetentionDto,
    /// The user's passkeys, for face + passkey sessions.
    pub passkeys: Vec<super::passkeys::PasskeyView>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentDto {
    pub reference_id: String,
    /// The notice the user accepted, as the register named it.
    pub notice: String,
    /// RFC 3339.
    pub recorded_at: String,
    /// The key that sent it (first 8 hex digits of its digest) and its kind.
    pub key_id: String,
    pub key_kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionDto {
    /// Unix seconds of the last successful verification or enrolment recorded.
    pub last_used: u64,
    /// Unix seconds after which the data is deleted if unused (RETENTION_PERIOD); absent: kept
    /// until deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_after: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteResponse {
    pub user_id: String,
    pub deleted: bool,
    pub objects_removed: usize,
}

fn user_id(path: Result<Path<String>, PathRejection>) -> Result<UserId, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::InvalidUserId("user_id in the path is not valid".into()))?;
    UserId::parse(&raw).map_err(|e| ApiError::InvalidUserId(e.to_string()))
}

/// The user's reference count and ids (oldest first), consent records and retention status.
#[utoipa::path(
    get,
    path = "/api/users/{user_id}",
    tag = "faces",
    params(UserPath),
    responses(
        (status = 200, description = "The user's references", body = UserResponse),
        UserErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = user_id(path)?;
    let record = state.service.user_record(&user).await?;
    Ok(Json(UserResponse {
        user_id: user.to_string(),
        references: record.reference_ids.len(),
        reference_ids: record.reference_ids,
        consents: record
            .consents
            .into_iter()
            .map(|c| ConsentDto {
                reference_id: c.reference_id,
                notice: c.consent.notice,
                recorded_at: c.consent.recorded_at,
                key_id: c.consent.key_id,
                key_kind: c.consent.key_kind,
            })
            .collect(),
        retention: RetentionDto { last_used: record.retention.last_used, delete_after: record.retention.delete_after },
        passkeys: record.passkeys.into_iter().map(super::passkeys::PasskeyView::from).collect(),
    }))
}

/// Removes every object of the user (photos and sidecars) and the cached embeddings.
#[utoipa::path(
    delete,
    path = "/api/users/{user_id}",
    tag = "faces",
    params(UserPath),
    responses(
        (status = 200, description = "Deleted", body = DeleteResponse),
        UserErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DeleteResponse>, ApiError> {
    let user = user_id(path)?;
    let removed =
        completion::audited(&state, "delete", &user, caller, |s, u| async move { s.service.delete_user(&u).await })
            .await??;
    Ok(Json(DeleteResponse { user_id: user.to_string(), deleted: true, objects_removed: removed }))
}

#[derive(Serialize, ToSchema)]
pub struct UnlockResponse {
    pub user_id: String,
    pub unlocked: bool,
    /// The consecutive failures that were cleared.
    pub failures_cleared: u64,
}

/// Enables verification again after the failure ladder disabled it (secret keys only): call it
/// once the user has proved who they are another way (NIST SP 800-63B-4 §3.2.3).
#[utoipa::path(
    post,
    path = "/api/users/{user_id}/unlock",
    tag = "faces",
    params(UserPath),
    responses(
        (status = 200, description = "Unlocked", body = UnlockResponse),
        UserErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn unlock_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<UnlockResponse>, ApiError> {
    let user = user_id(path)?;
    let cleared =
        completion::audited(&state, "unlock", &user, caller, |s, u| async move { s.service.unlock(&u).await })
            .await??;
    Ok(Json(UnlockResponse { user_id: user.to_string(), unlocked: true, failures_cleared: cleared }))
}

/// The user's own data as a ZIP (GDPR Art. 15): every photo as uploaded, every sidecar (embeddings
/// included), the consent records, the retention status and `manifest.json` (secret keys only).
#[utoipa::path(
    get,
    path = "/api/users/{user_id}/export",
    tag = "faces",
    params(UserPath),
    responses(
        (status = 200, description = "A ZIP archive", content_type = "application/zip", body = Vec<u8>),
        UserErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn export_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let user = user_id(path)?;
    let outcome = state.service.export(&user).await;
    completion::audit(&state, "export", &user, &caller, &outcome, None);
    state.service.audit().commit().await;
    let archive = outcome?.map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %crate::telemetry::chain(&e), "the export stopped part-way; the archive is incomplete");
            std::io::Error::other(e)
        })
    });
    let disposition = format!("attachment; filename=\"faceauth-{user}.zip\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/zip".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(archive),
    )
        .into_response())
}
