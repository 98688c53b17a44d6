use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{FaceSummary, QualityDto, Timings, round_score};
use super::openapi::{UploadErrors, UploadForm};
use super::upload::{Upload, UploadRoute};
use crate::app::AppState;
use crate::error::{ApiError, ErrorEnvelope};
use crate::middleware::ClientAddr;
use crate::service::{ChallengeAnswer, Liveness, Step};
use crate::telemetry::request::Field;

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    pub user_id: String,
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    /// The false-match rate expected at `threshold`: measured on the project's dev photos for the
    /// shipped profiles (MobileFaceNet 1.6e-3, SFace 1.8e-3); absent when not measured (buffalo_l,
    /// or a MATCH_THRESHOLD of your own): measure it on your data with `faceauth calibrate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_fmr: Option<f64>,
    pub reference_id: String,
    pub references_compared: usize,
    pub face: FaceSummary,
    pub quality: QualityDto,
    pub model: String,
    /// HS256 JWT (`sub` = user_id) for the caller's backend; only when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    pub liveness: LivenessDto,
    pub timings_ms: Timings,
}

/// What liveness was checked on this photo (LIVENESS) and how it came out.
#[derive(Serialize, ToSchema)]
pub struct LivenessDto {
    /// `off` or `passive` (MiniFASNet anti-spoofing).
    pub method: &'static str,
    /// P(real), 0–1, with `passive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Whether the score reached LIVENESS_THRESHOLD, with `passive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// With `challenge`: each step and the yaw measured on its frame (degrees; positive: the
    /// subject turned to their own left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepDto>>,
}

#[derive(Serialize, ToSchema)]
pub struct StepDto {
    /// `turn_left` or `turn_right`.
    #[schema(value_type = String)]
    pub step: Step,
    pub yaw: f32,
}

impl From<Liveness> for LivenessDto {
    fn from(liveness: Liveness) -> Self {
        match liveness {
            Liveness::Off => Self { method: "off", score: None, passed: None, steps: None },
            Liveness::Passive { p_real, passed } => Self {
                method: "passive",
                score: Some((p_real * 10_000.0).round() / 10_000.0),
                passed: Some(passed),
                steps: None,
            },
            Liveness::Challenge { steps, p_real } => Self {
                method: "challenge",
                score: p_real.map(|p| (p * 10_000.0).round() / 10_000.0),
                passed: Some(true),
                steps: Some(
                    steps.into_iter().map(|(step, yaw)| StepDto { step, yaw: (yaw * 10.0).round() / 10.0 }).collect(),
                ),
            },
        }
    }
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
        (status = 400, description = "challenge_required (LIVENESS=challenge without challenge_id)", body = ErrorEnvelope),
        (status = 404, description = "user_not_found, challenge_not_found", body = ErrorEnvelope),
        (status = 410, description = "challenge_expired", body = ErrorEnvelope),
        (status = 409, description = "references_outdated (every reference was enrolled with another model and none could be converted), challenge_used", body = ErrorEnvelope),
        (status = 422, description = "no_face, multiple_faces, face_too_small, replayed_image (REPLAY_GUARD: the bytes of a reference photo) liveness_failed (a photo looks like a print or a screen), pose_mismatch or identity_changed (a challenge's frames)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    upload: Upload,
) -> Result<Json<VerifyResponse>, ApiError> {
    upload.check_fields(UploadRoute::Verify)?;
    let v = state
        .service
        .verify(
            &upload.user_id,
            client,
            upload.image,
            upload.challenge_id.map(|challenge_id| ChallengeAnswer { challenge_id, frames: upload.frames }),
        )
        .await
        .map_err(ApiError::from)
        .inspect_err(|e| crate::metrics::verify_outcome("rejected", e.code()))?;
    crate::metrics::verify_outcome(if v.verified { "verified" } else { "not_verified" }, "");
    let timings = Timings::from(&v.timings);
    timings.record();
    Field::Verified.record(v.verified);
    let (token, token_expires_at) = v.token.map(|t| (Some(t.token), Some(t.expires_at))).unwrap_or_default();
    Ok(Json(VerifyResponse {
        user_id: upload.user_id.to_string(),
        verified: v.verified,
        similarity: round_score(v.similarity),
        threshold: v.threshold,
        threshold_fmr: v.threshold_fmr,
        reference_id: v.reference_id,
        references_compared: v.references_compared,
        face: FaceSummary::from(&v.face),
        quality: QualityDto::from(&v.quality),
        model: state.service.model_name().to_string(),
        token,
        token_expires_at,
        liveness: LivenessDto::from(v.liveness),
        timings_ms: timings,
    }))
}
