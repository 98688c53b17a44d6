//! Response pieces register and verify share: how domain values are shown to clients (rounded,
//! renamed) and recorded on the request span and in metrics.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::UserId;
use crate::error::ApiError;

use crate::face::Detection;
use crate::face::quality::Quality;
use crate::service;
use crate::telemetry::request::Field;

/// Hundredths of a millisecond are plenty for clients and keep the JSON short.
fn round_ms(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Four decimals of a similarity or a score.
pub fn round_score(v: f32) -> f32 {
    (v * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct FaceSummary {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
}

impl From<&Detection> for FaceSummary {
    fn from(face: &Detection) -> Self {
        Self { bbox: face.bbox.map(|v| (v * 100.0).round() / 100.0), score: round_score(face.score) }
    }
}

/// Milliseconds per stage, as reported to clients and logs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, ToSchema)]
pub struct Timings {
    pub decode: f64,
    pub detect: f64,
    pub align: f64,
    pub embed: f64,
    pub storage: f64,
    #[serde(rename = "match")]
    pub matching: f64,
    pub total: f64,
}

impl From<&service::Timings> for Timings {
    fn from(t: &service::Timings) -> Self {
        Self {
            decode: round_ms(t.pipeline.decode_ms),
            detect: round_ms(t.pipeline.detect_ms),
            align: round_ms(t.pipeline.align_ms),
            embed: round_ms(t.pipeline.embed_ms),
            storage: round_ms(t.storage_ms),
            matching: round_ms(t.match_ms),
            total: round_ms(t.total_ms),
        }
    }
}

impl Timings {
    /// Records the stages on the request span, so the access log line carries them, and in the
    /// per-stage latency histograms.
    pub fn record(&self) {
        for (field, value) in [
            (Field::DecodeMs, self.decode),
            (Field::DetectMs, self.detect),
            (Field::EmbedMs, self.embed),
            (Field::StorageMs, self.storage),
            (Field::MatchMs, self.matching),
        ] {
            field.record(value);
        }
        for (stage, value) in [
            ("decode", self.decode),
            ("detect", self.detect),
            ("align", self.align),
            ("embed", self.embed),
            ("storage", self.storage),
        ] {
            crate::metrics::stage(stage, value);
        }
    }
}

/// Capture quality of the face (the QUALITY_* limits apply at registration).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct QualityDto {
    /// Variance of the Laplacian of the face's grey levels; low when blurred.
    pub sharpness: f32,
    /// Mean grey level (0-255) of the face's centre.
    pub brightness: f32,
    /// Share of the face's centre clipped white.
    pub clipped: f32,
    /// Degrees (estimate); positive: the subject turned to their own left.
    pub yaw: f32,
    /// Degrees (estimate); positive: the head tilted up.
    pub pitch: f32,
}

impl From<&Quality> for QualityDto {
    fn from(q: &Quality) -> Self {
        let round = |v: f32, step: f32| (v / step).round() * step;
        Self {
            sharpness: round(q.sharpness, 0.1),
            brightness: round(q.brightness, 0.1),
            clipped: round(q.clipped, 0.001),
            yaw: round(q.yaw, 0.1),
            pitch: round(q.pitch, 0.1),
        }
    }
}

/// The JSON body `{"user_id": "..."}` of the routes that hand out tokens for one user.
#[derive(Deserialize, ToSchema)]
pub struct UserRequest {
    /// 1–128 of `A-Z a-z 0-9 . _ @ -`; must not start with `.` or contain `..`.
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    pub user_id: String,
}

/// For optional JSON fields the contract marks non-nullable: absent is `None`, `null` is refused
/// (use with `#[serde(default, deserialize_with = "non_null")]`).
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The most a JSON request body may hold: the largest (a session with a nonce and an audience)
/// is a few hundred bytes. A client key cannot make the service buffer megabytes of JSON.
pub const JSON_BODY_LIMIT: usize = 4 * 1024;

/// A JSON body, or the envelope's error naming what to send (`example`).
pub fn json_body<T>(body: Result<Json<T>, JsonRejection>, example: &str) -> Result<T, ApiError> {
    json_body_within(body, example, JSON_BODY_LIMIT)
}

/// As [`json_body`] on a route whose body limit is `limit` (the 413 names it).
pub fn json_body_within<T>(body: Result<Json<T>, JsonRejection>, example: &str, limit: usize) -> Result<T, ApiError> {
    let Json(request) = body.map_err(|e| match e {
        // As the upload routes answer a body that is not multipart: the media type is wrong.
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType(format!("send JSON {example} with Content-Type: application/json"))
        }
        e if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
        e => ApiError::InvalidRequest(format!("send JSON {example}: {}", e.body_text())),
    })?;
    Ok(request)
}

/// The user a `{"user_id": ...}` body names, or the envelope's error for a bad body or id.
pub fn requested_user(body: Result<Json<UserRequest>, JsonRejection>) -> Result<UserId, ApiError> {
    let request = json_body(body, r#"{"user_id": "..."}"#)?;
    UserId::parse(&request.user_id).map_err(|e| ApiError::InvalidUserId(e.to_string()))
}

/// The false-match rate expected at the threshold, with its 95 % interval and where it was measured.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ThresholdFmrDto {
    pub value: f64,
    /// The exact (Clopper–Pearson) 95 % interval.
    pub lower_95: f64,
    pub upper_95: f64,
    pub source: &'static str,
}

impl From<&service::ThresholdFmr> for ThresholdFmrDto {
    fn from(t: &service::ThresholdFmr) -> Self {
        let round = |v: f64| format!("{v:.3e}").parse().unwrap_or(v);
        Self { value: round(t.value), lower_95: round(t.lower), upper_95: round(t.upper), source: t.source }
    }
}

/// What a challenge's capture must follow, as the SDK reads it.
#[derive(Serialize, ToSchema)]
pub struct PlanDto {
    /// Frames per second to record (at least 10); `frames` in all over `duration_ms`.
    pub fps: u32,
    pub frames: usize,
    pub duration_ms: u32,
    /// The longest side a frame may have, in pixels. A capture with larger frames, more frames than
    /// a 30 fps camera gives over `duration_ms`, or more pixels in all than that many 4:3 frames
    /// at this size is refused on the headers, before decoding (`413 capture_too_large`, counted).
    pub max_side: u32,
    /// Each movement and when to prompt it (ms after the capture starts). Start facing the camera;
    /// after each prompt, move, hold a moment and come back.
    pub prompts: Vec<PromptDto>,
    /// The screen colours to show around the face oval, in order, each from `at_ms` for `ms`
    /// (none a saturated red; at most 2.5 changes a second). Empty when the session asked for
    /// `movement` only, or with LIGHT_CHALLENGE=off. The backend chose: a client that shows none
    /// when there are some is refused (`light_required`).
    pub light: Vec<FlashDto>,
}

#[derive(Serialize, ToSchema)]
pub struct PromptDto {
    /// `turn_left`, `turn_right`, `look_up` or `look_down`.
    pub step: String,
    pub at_ms: u32,
}

#[derive(Serialize, ToSchema)]
pub struct FlashDto {
    /// `white`, `blue`, `green`, `yellow`, `magenta` or `cyan`.
    pub colour: String,
    /// As CSS writes it, e.g. `#2850ff`.
    pub css: String,
    pub at_ms: u32,
    pub ms: u32,
}

impl From<&service::Plan> for PlanDto {
    fn from(plan: &service::Plan) -> Self {
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        Self {
            fps: plan.fps,
            frames: plan.frames(),
            duration_ms: plan.duration_ms,
            max_side: service::liveness::budget::MAX_SIDE,
            prompts: plan.prompts.iter().map(|p| PromptDto { step: p.step.as_str().into(), at_ms: p.at_ms }).collect(),
            light: plan
                .light
                .iter()
                .map(|f| FlashDto {
                    colour: name(serde_json::to_value(f.colour).unwrap_or_default()),
                    css: f.colour.css(),
                    at_ms: f.at_ms,
                    ms: f.ms,
                })
                .collect(),
        }
    }
}
