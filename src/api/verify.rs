use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorEnvelope;
use super::openapi::{UploadErrors, UploadForm};
use super::upload::Upload;
use super::{ApiError, AppState};
use crate::service::{FaceSummary, Timings};

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    pub user_id: String,
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    pub reference_id: String,
    pub references_compared: usize,
    pub face: FaceSummary,
    pub model: String,
    /// HS256 JWT (`sub` = user_id) for the caller's backend; only when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    pub timings_ms: Timings,
}

/// Whether the photo shows the user: best cosine similarity over the user's references vs the threshold.
#[utoipa::path(
    post,
    path = "/api/verify",
    tag = "faces",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Compared; `verified` says whether it matched", body = VerifyResponse),
        UploadErrors,
        (status = 404, description = "user_not_found", body = ErrorEnvelope),
        (status = 422, description = "no_face, multiple_faces or face_too_small", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn verify(State(state): State<AppState>, upload: Upload) -> Result<Json<VerifyResponse>, ApiError> {
    let v = state
        .service
        .verify(&upload.user_id, upload.image)
        .await
        .map_err(ApiError::from)
        .inspect_err(|e| crate::metrics::verify_outcome("rejected", e.code()))?;
    crate::metrics::verify_outcome(if v.verified { "verified" } else { "not_verified" }, "");
    v.timings.record();
    tracing::Span::current().record("verified", v.verified);
    let (token, token_expires_at) = v.token.map(|(t, exp)| (Some(t), Some(exp))).unwrap_or_default();
    Ok(Json(VerifyResponse {
        user_id: upload.user_id.to_string(),
        verified: v.verified,
        similarity: v.similarity,
        threshold: v.threshold,
        reference_id: v.reference_id,
        references_compared: v.references_compared,
        face: v.face,
        model: state.service.model().profile.name.to_string(),
        token,
        token_expires_at,
        timings_ms: v.timings,
    }))
}
