use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{FaceSummary, Timings};
use super::openapi::{UploadErrors, UploadForm};
use super::upload::Upload;
use crate::app::AppState;
use crate::auth::KeyId;
use crate::error::{ApiError, ErrorEnvelope};
use crate::telemetry::audit;

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user_id: String,
    pub reference_id: String,
    pub references: usize,
    pub face: FaceSummary,
    pub model: String,
    pub timings_ms: Timings,
}

/// Stores a reference photo for the user (the photo and a sidecar with its embedding).
#[utoipa::path(
    post,
    path = "/api/register",
    tag = "faces",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Reference stored", body = RegisterResponse),
        UploadErrors,
        (status = 422, description = "no_face, multiple_faces (strict at enrolment), face_too_small or too_many_references", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn register(
    State(state): State<AppState>,
    key: Option<Extension<KeyId>>,
    upload: Upload,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let outcome = state.service.register(&upload.user_id, upload.image).await;
    audit::record("register", &upload.user_id, key.as_deref(), outcome.as_ref().map(|_| ()).map_err(|e| e as _));
    let reg = outcome?;
    let timings = Timings::from(&reg.timings);
    timings.record();
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: upload.user_id.to_string(),
            reference_id: reg.reference_id,
            references: reg.references,
            face: FaceSummary::from(&reg.face),
            model: state.service.model_name().to_string(),
            timings_ms: timings,
        }),
    ))
}
