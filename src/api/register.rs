use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;

use super::upload::Upload;
use super::{ApiError, AppState};
use crate::auth::KeyId;
use crate::service::{FaceSummary, Timings};

#[derive(Serialize)]
pub struct RegisterResponse {
    pub user_id: String,
    pub reference_id: String,
    pub references: usize,
    pub face: FaceSummary,
    pub model: String,
    pub timings_ms: Timings,
}

pub async fn register(
    State(state): State<AppState>,
    key: Option<Extension<KeyId>>,
    upload: Upload,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let outcome = state.service.register(&upload.user_id, upload.image).await;
    crate::middleware::audit(
        "register",
        &upload.user_id,
        key.as_deref(),
        outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    let reg = outcome?;
    reg.timings.record();
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: upload.user_id.to_string(),
            reference_id: reg.reference_id,
            references: reg.references,
            face: reg.face,
            model: state.service.model().profile.name.to_string(),
            timings_ms: reg.timings,
        }),
    ))
}
