use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::UserErrors;
use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::telemetry::audit;

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub user_id: String,
    pub references: usize,
    pub reference_ids: Vec<String>,
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

/// The user's reference count and ids, oldest first.
#[utoipa::path(
    get,
    path = "/api/users/{user_id}",
    tag = "faces",
    params(("user_id" = String, Path, description = "The user id: 1–128 of `A-Z a-z 0-9 . _ @ -`, not starting with `.`, no `..`", pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)),
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
    let ids = state.service.user(&user).await?;
    Ok(Json(UserResponse { user_id: user.to_string(), references: ids.len(), reference_ids: ids }))
}

/// Removes every object of the user (photos and sidecars) and the cached embeddings.
#[utoipa::path(
    delete,
    path = "/api/users/{user_id}",
    tag = "faces",
    params(("user_id" = String, Path, description = "The user id: 1–128 of `A-Z a-z 0-9 . _ @ -`, not starting with `.`, no `..`", pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)),
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
    let outcome = state.service.delete_user(&user).await;
    audit::record("delete", &user, &caller, outcome.as_ref().map(|_| ()).map_err(|e| e as _));
    let removed = outcome?;
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
    params(("user_id" = String, Path, description = "The user id: 1–128 of `A-Z a-z 0-9 . _ @ -`, not starting with `.`, no `..`", pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)),
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
    let outcome = state.service.unlock(&user).await;
    audit::record("unlock", &user, &caller, outcome.as_ref().map(|_| ()).map_err(|e| e as _));
    let cleared = outcome?;
    Ok(Json(UnlockResponse { user_id: user.to_string(), unlocked: true, failures_cleared: cleared }))
}
