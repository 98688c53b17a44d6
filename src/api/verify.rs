use super::completion;
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
use crate::service::{Disclosure, LightCheck, Liveness, Probe, Step, VerifyRequest};
use crate::telemetry::request::Field;

/// A backend (secret key) gets every field; a publishable client key learns pass or fail: only
/// `user_id`, `verified`, `session_id`, the token fields, `attempts_left` and `liveness.passed`.
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
    /// Not verified: the failed verifications still allowed before this client is locked out of
    /// the user for LOCKOUT_WINDOW_SECS (absent when the lockout is off), so the app can say so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
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
#[derive(Serialize, ToSchema, Default)]
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
    /// With `challenge`: each step and the largest angle reached on its axis (degrees): the yaw for
    /// a turn (positive: turned to the subject's own left), for a nod the pitch from the capture's
    /// level start (positive: up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepDto>>,
    /// With `challenge`: the checks that ran: `movement`, `light` (the face reflected the screen's
    /// colours; absent when the session asked for `movement` only, or LIGHT_CHALLENGE=off) and
    /// `passive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<&'static str>>,
    /// With `challenge`: `passed`, `not_asked` (the session asked for `movement` only) or `off`
    /// (LIGHT_CHALLENGE=off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub light: Option<&'static str>,
    /// With `challenge`: how many frames the capture had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct StepDto {
    /// `turn_left`, `turn_right`, `look_up` or `look_down`.
    #[schema(value_type = String)]
    pub step: Step,
    /// The largest angle reached on the step's axis (the name is kept from when only turns were asked).
    pub yaw: f32,
}

impl From<Liveness> for LivenessDto {
    fn from(liveness: Liveness) -> Self {
        match liveness {
            Liveness::Off => Self { method: Some("off"), ..Self::default() },
            Liveness::Passive { p_real, passed } => Self {
                method: Some("passive"),
                score: Some((p_real * 10_000.0).round() / 10_000.0),
                passed: Some(passed),
                ..Self::default()
            },
            Liveness::Challenge { steps, p_real, light, frames } => Self {
                method: Some("challenge"),
                score: p_real.map(|p| (p * 10_000.0).round() / 10_000.0),
                passed: Some(true),
                steps: Some(
                    steps.into_iter().map(|(step, yaw)| StepDto { step, yaw: (yaw * 10.0).round() / 10.0 }).collect(),
                ),
                checks: Some(match light {
                    LightCheck::Passed => vec!["movement", "light", "passive"],
                    _ => vec!["movement", "passive"],
                }),
                light: Some(light.as_str()),
                frames: Some(frames),
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
        (status = 400, description = "challenge_required (LIVENESS=challenge without a capture, or without a session or challenge_id); invalid_request (capture_ms not one number per frame, a capture while LIVENESS is not challenge)", body = ErrorEnvelope),
        (status = 404, description = "user_not_found (secret keys only), challenge_not_found", body = ErrorEnvelope),
        (status = 410, description = "challenge_expired", body = ErrorEnvelope),
        (status = 409, description = "references_outdated (every reference was enrolled with another model and none could be converted), challenge_used", body = ErrorEnvelope),
        (status = 423, description = "verification_disabled: LOCKOUT_DISABLE_AFTER consecutive failures; a backend unlocks the user (POST /api/users/{user_id}/unlock) or replaces the references", body = ErrorEnvelope),
        (status = 422, description = "no_face, multiple_faces, face_too_small (the photo or any frame of the capture), replayed_image (a photo or frame already presented within REPLAY_WINDOW_SECS, also re-encoded, rescaled, cropped, mirrored or brightened, or the bytes of a reference photo), liveness_failed (a photo, or the capture's frames on average, looks like a print or a screen); a capture: capture_discontinuous (not one continuous recording: times out of order, a pause, a repeated frame, a jump), capture_incomplete (too short, too few frames), pose_mismatch (the movements do not follow the prompts), capture_flat (the face moved as a flat picture, not as a head), identity_changed, light_not_followed (the face does not reflect the screen's colours), light_not_reflected (the whole picture changes colour, not the face, or the colours on the face do not follow its relief: painted on), light_required (the session asked for the screen colours and capture_light=declined)", body = ErrorEnvelope),
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
    let probe = match (upload.image, upload.capture) {
        (_, Some(c)) => Probe::Capture {
            frames: c.frames,
            times: c.times,
            times_sha256: c.times_sha256,
            light_declined: c.light_declined,
        },
        (Some(image), None) => Probe::Photo(image),
        (None, None) => return Err(ApiError::MissingField("image")),
    };
    let request = VerifyRequest {
        user: upload.user_id.clone(),
        client: crate::limits::bucket(client),
        probe,
        challenge_id: upload.challenge_id,
        session_token: upload.session_token,
        passkey: upload.passkey,
        disclosure: if trusted { Disclosure::Full } else { Disclosure::PassFail },
    };
    let outcome = completion::to_completion({
        let (state, user) = (state.clone(), upload.user_id.clone());
        async move {
            let outcome = state.service.verify(request).await.map_err(ApiError::from);
            let detail = match &outcome {
                Ok(v) if v.verified => "match",
                Ok(_) => "no_match",
                Err(e) => e.code(),
            };
            completion::audit(&state, "verify", &user, &caller, &outcome, Some(detail));
            state.service.audit().commit().await;
            outcome
        }
    })
    .await?;
    let v = outcome.inspect_err(|e| crate::metrics::verify_outcome("rejected", e.code()))?;
    crate::metrics::verify_outcome(if v.verified { "verified" } else { "not_verified" }, "");
    let timings = Timings::from(&v.timings);
    timings.record();
    Field::Verified.record(v.verified);
    let (token, token_expires_at) = v.token.map(|t| (Some(t.token), Some(t.expires_at))).unwrap_or_default();
    let mut liveness = LivenessDto::from(v.liveness);
    let full = |value| if trusted { Some(value) } else { None };
    if !trusted {
        liveness = LivenessDto { passed: liveness.passed, ..LivenessDto::default() };
    }
    Ok(Json(VerifyResponse {
        user_id: upload.user_id.to_string(),
        verified: v.verified,
        session_id: v.session_id,
        token,
        token_expires_at,
        attempts_left: v.attempts_left,
        liveness,
        similarity: full(round_score(v.similarity)),
        threshold: full(v.threshold),
        threshold_fmr: v.threshold_fmr.as_ref().filter(|_| trusted).map(ThresholdFmrDto::from),
        reference_id: v.reference_id.filter(|_| trusted),
        references_compared: trusted.then_some(v.references_compared),
        face: trusted.then(|| FaceSummary::from(&v.face)),
        quality: trusted.then(|| QualityDto::from(&v.quality)),
        model: trusted.then(|| state.service.faces().model_name().to_string()),
        timings_ms: trusted.then_some(timings),
    }))
}
