use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::upload::Upload;
use super::{ApiError, AppState};
use crate::service::{FaceSummary, Timings};

#[derive(Serialize)]
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

pub async fn verify(State(state): State<AppState>, upload: Upload) -> Result<Json<VerifyResponse>, ApiError> {
    let v = state.service.verify(&upload.user_id, upload.image).await?;
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
