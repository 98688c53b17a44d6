//! `/health`: the process answers. `/ready`: a real inference and a storage round trip succeed now.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::ThresholdFmrDto;
use crate::app::AppState;
use crate::face::catalogue::Stage;
use crate::service::Check;

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: &'static str,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct ReadyChecks {
    /// `ok`, or why the inference self-test failed.
    pub inference: String,
    /// `ok`, or `unreachable`.
    pub storage: String,
    /// The shared state server (SHARED_STATE_URL): `ok`, or `unreachable`; `ok` when state is in process.
    pub state: String,
    /// The durable audit trail (AUDIT_S3_PREFIX): `ok`, `off` (the log only), `failing: N records
    /// buffered` (still ready), or `full: N records buffered` (not ready: biometric operations are
    /// refused until the records are written).
    pub audit: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReadyResponse {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub checks: ReadyChecks,
    /// Requests waiting for an inference worker.
    pub inference_queue: usize,
    pub operating_point: OperatingPointDto,
    pub models: ModelsDto,
}

/// The models loaded and the terms they come under.
#[derive(Serialize, ToSchema)]
pub struct ModelsDto {
    /// MODEL_PACK (`open`, `buffalo_l`, `buffalo_s`); files set one by one override its stages.
    pub pack: &'static str,
    /// Whether every loaded model's licence permits commercial use. `false` for any InsightFace
    /// model (non-commercial research only) and for any file whose licence faceauth does not know.
    pub commercial_use: bool,
    pub files: Vec<ModelFileDto>,
    /// The per-group error rates published for this pack (`faceauth fairness`): where, on what
    /// data, and the headline; absent for a pack (or a file) not measured here.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fairness: Option<crate::face::pack::FairnessReport>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelFileDto {
    /// `detector`, `landmarks`, `recognizer` or `liveness`.
    pub stage: &'static str,
    pub file: String,
    pub model: &'static str,
    /// SPDX identifier, or the licence's own words.
    pub licence: &'static str,
    pub commercial_use: bool,
    /// What the weights were trained on, and what that may mean for a deployment.
    pub training_data: &'static str,
    /// The loaded file's SHA-256 (hex).
    pub sha256: String,
    /// What the model is fed: size, colour order, range.
    pub preprocessing: &'static str,
}

fn models(info: &crate::face::ModelInfo) -> ModelsDto {
    let files = info
        .models
        .iter()
        .map(|m| ModelFileDto {
            stage: match m.stage {
                Stage::Detector => "detector",
                Stage::Landmarks => "landmarks",
                Stage::Recognizer => "recognizer",
                Stage::Liveness => "liveness",
            },
            file: m.file.clone(),
            model: m.card.model,
            licence: m.card.licence,
            commercial_use: m.card.commercial_use,
            training_data: m.card.training_data,
            sha256: m.sha256.clone(),
            preprocessing: m.card.preprocessing,
        })
        .collect();
    ModelsDto { pack: info.pack, commercial_use: info.commercial_use(), files, fairness: info.fairness() }
}

/// The match threshold in use and what it means.
#[derive(Serialize, ToSchema)]
pub struct OperatingPointDto {
    pub model: String,
    pub threshold: f32,
    /// Whether the FMR at this threshold was measured here (`fmr` then says where). `false` for a
    /// threshold that is only the one commonly used with the model (buffalo_l), and for
    /// MATCH_THRESHOLD.
    pub measured: bool,
    /// The FMR measured at the threshold, its 95 % interval and source; absent when not measured
    /// here (buffalo_l) or when MATCH_THRESHOLD overrides the profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmr: Option<ThresholdFmrDto>,
}

fn shown(check: &Check) -> String {
    match check {
        Check::Ok => "ok".into(),
        Check::Failed(reason) => reason.clone(),
    }
}

/// Process liveness only; touches nothing.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok" })
}

/// Models loaded and answering, storage reachable (write/read/delete probe).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses((status = 200, description = "Ready", body = ReadyResponse), (status = 503, description = "Not ready", body = ReadyResponse))
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let checks = state.service.readiness().check().await;
    let ok = checks.ready();
    let body = ReadyResponse {
        status: if ok { "ready" } else { "not_ready" },
        checks: ReadyChecks {
            inference: shown(&checks.inference),
            storage: shown(&checks.storage),
            state: shown(&checks.state),
            audit: match &checks.audit {
                None => "off".into(),
                Some(a) if a.full => format!("full: {} records buffered", a.buffered),
                Some(a) if a.failing.is_some() => format!("failing: {} records buffered", a.buffered),
                Some(_) => "ok".into(),
            },
        },
        inference_queue: state.service.faces().queue_depth(),
        operating_point: OperatingPointDto {
            model: state.service.faces().model_name().to_string(),
            threshold: state.service.faces().threshold(),
            measured: state.service.faces().threshold_fmr().is_some(),
            fmr: state.service.faces().threshold_fmr().map(ThresholdFmrDto::from),
        },
        models: models(state.service.faces().model_info()),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
