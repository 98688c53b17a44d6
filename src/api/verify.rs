use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{FaceSummary, QualityDto, ThresholdFmrDto, Timings, round_score};
use super::schema::{UploadErrors, UploadForm};
use super::upload::{Upload, UploadRoute};
use crate::app::AppState;
use crate::auth::Caller;
use crate::config::ClientAccess;
use crate::error::{ApiError, ErrorEnvelope};
use crate::middleware::ClientAddr;
use crate::service::{Disclosure, Liveness, Step, VerifyRequest};
use crate::telemetry::request::Field;

/// A backend (secret key) gets every field; a publishable client key learns pass or fail: only
/// `user_id`, `verified`, `session_id`, the token fields and `liveness.passed`.
#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    pub user_id: String,
    pub verified: bool,
    /// The session this attempt used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Signed result for the caller's backend (ES256/EdDSA, keys at `/.well-known/jwks.json`; or
    /// HS256 with TOKEN_ALG=HS256); only when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    pub liveness: LivenessDto,
    /// Secret keys only, as every field below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// The false-match rate expected at `threshold` (MATCH_FMR picks it, 1e-4 by default), with its
    /// 95 % interval and source: measured on held-out LFW (3.0 M impostor comparisons) for the
    /// shipped MobileFaceNet and SFace profiles; absent when not measured (buffalo_l, or a
    /// MATCH_THRESHOLD of your own): measure it on your data with `faceauth calibrate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_fmr: Option<ThresholdFmrDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references_compared: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<Timings>,
}

/// What liveness was checked on this photo (LIVENESS) and how it came out.
#[derive(Serialize, ToSchema)]
pub struct LivenessDto {
    /// `off`, `passive` (MiniFASNet anti-spoofing) or `challenge`; secret keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// P(real), 0–1, with `passive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Whether liveness passed (with `passive` or `challenge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// With `challenge`: each step and the angle measured on its frame (degrees): the yaw for a
    /// turn (positive: turned to the subject's own left), the pitch for a nod (positive: up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepDto>>,
}

#[derive(Serialize, ToSchema)]
pub struct StepDto {
    /// `turn_left`, `turn_right`, `look_up` or `look_down`.
    #[schema(value_type = String)]
    pub step: Step,
    pub yaw: f32,
}

impl From<Liveness> for LivenessDto {
    fn from(liveness: Liveness) -> Self {
        match liveness {
            Liveness::Off => Self { method: Some("off"), score: None, passed: None, steps: None },
            Liveness::Passive { p_real, passed } => Self {
                method: Some("passive"),
                score: Some((p_real * 10_000.0).round() / 10_000.0),
                passed: Some(passed),
                steps: None,
            },
            Liveness::Challenge { steps, p_real } => Self {
                method: Some("challenge"),
                score: p_real.map(|p| (p * 10_000.0).round() / 10_000.0),
                passed: Some(true),
                steps: Some(
                    steps.into_iter().map(|(step, yaw)| StepDto { step, yaw: (yaw * 10.0).round() / 10.0 }).collect(),
                ),
            },
        }
    }
}

/// Whether the photo shows the user: best cosine similarity over the user's references vs the
/// threshold. With a client key and CLIENT_ACCESS=session, only with a `session_token` for this user.
#[utoipa::path(
    post,
    path = "/api/verify",
    tag = "faces",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Compared; `verified` says whether it matched. A client key gets the same answer for a user who is not enrolled", body = VerifyResponse),
        UploadErrors,
        (status = 400, description = "challenge_required (LIVENESS=challenge without challenge_id or a session)", body = ErrorEnvelope),
        (status = 404, description = "user_not_found (secret keys only), challenge_not_found", body = ErrorEnvelope),
        (status = 410, description = "challenge_expired", body = ErrorEnvelope),
        (status = 409, description = "references_outdated (every reference was enrolled with another model and none could be converted), challenge_used", body = ErrorEnvelope),
        (status = 423, description = "verification_disabled: LOCKOUT_DISABLE_AFTER consecutive failures; a backend unlocks the user (POST /api/users/{user_id}/unlock) or replaces the references", body = ErrorEnvelope),
        (status = 422, description = "frames_not_distinct (two photos of a challenge answer are one capture: a copy, re-encoded, rescaled, cropped or mirrored), no_face, multiple_faces, face_too_small, replayed_image (a photo or frame already sent in a decided verify within REPLAY_WINDOW_SECS, or the bytes of a reference photo), liveness_failed (a photo looks like a print or a screen), pose_mismatch or identity_changed (a challenge's frames)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Extension(caller): Extension<Caller>,
    upload: Upload,
) -> Result<Json<VerifyResponse>, ApiError> {
    upload.check_fields(UploadRoute::Verify)?;
    let trusted = caller.is_trusted();
    if !trusted && upload.session_token.is_none() && state.security.client_access == ClientAccess::Session {
        return Err(ApiError::SessionRequired);
    }
    let request = VerifyRequest {
        user: upload.user_id.clone(),
        client: crate::limits::bucket(client),
        image: upload.image,
        challenge_id: upload.challenge_id,
        frames: upload.frames,
        session_token: upload.session_token,
        disclosure: if trusted { Disclosure::Full } else { Disclosure::PassFail },
    };
    let outcome = state.service.verify(request).await.map_err(ApiError::from);
    let detail = match &outcome {
        Ok(v) if v.verified => "match",
        Ok(_) => "no_match",
        Err(e) => e.code(),
    };
    super::audit(&state, "verify", &upload.user_id, &caller, &outcome, Some(detail));
    let v = outcome.inspect_err(|e| crate::metrics::verify_outcome("rejected", e.code()))?;
    crate::metrics::verify_outcome(if v.verified { "verified" } else { "not_verified" }, "");
    let timings = Timings::from(&v.timings);
    timings.record();
    Field::Verified.record(v.verified);
    let (token, token_expires_at) = v.token.map(|t| (Some(t.token), Some(t.expires_at))).unwrap_or_default();
    let mut liveness = LivenessDto::from(v.liveness);
    let full = |value| if trusted { Some(value) } else { None };
    if !trusted {
        liveness = LivenessDto { method: None, score: None, passed: liveness.passed, steps: None };
    }
    Ok(Json(VerifyResponse {
        user_id: upload.user_id.to_string(),
        verified: v.verified,
        session_id: v.session_id,
        token,
        token_expires_at,
        liveness,
        similarity: full(round_score(v.similarity)),
        threshold: full(v.threshold),
        threshold_fmr: v.threshold_fmr.as_ref().filter(|_| trusted).map(ThresholdFmrDto::from),
        reference_id: v.reference_id.filter(|_| trusted),
        references_compared: trusted.then_some(v.references_compared),
        face: trusted.then(|| FaceSummary::from(&v.face)),
        quality: trusted.then(|| QualityDto::from(&v.quality)),
        model: trusted.then(|| state.service.model_name().to_string()),
        timings_ms: trusted.then_some(timings),
    }))
}
