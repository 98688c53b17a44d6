//! `/health`: the process answers. `/ready`: a real inference and a storage round trip succeed now.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::face::policy::Rejection;
use crate::face::{FaceError, PoolError, Purpose};

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
}

#[derive(Serialize, ToSchema)]
pub struct ReadyResponse {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub checks: ReadyChecks,
    /// Requests waiting for an inference worker.
    pub inference_queue: usize,
}

/// Process liveness only; touches nothing.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok" })
}

/// The self-tests behind `/ready`, cached briefly so a load balancer polling it costs little.
pub struct ReadinessCache {
    last: Mutex<Option<(Instant, ReadyChecks)>>,
    ttl: Duration,
    /// A blank image: the pipeline must decode, detect and answer "no face" for it.
    probe_image: Bytes,
}

impl ReadinessCache {
    pub fn new(ttl: Duration) -> Self {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encoding a small PNG in memory cannot fail");
        Self { last: Mutex::new(None), ttl, probe_image: Bytes::from(png) }
    }

    fn cached(&self) -> Option<ReadyChecks> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, r)| r.clone())
    }

    fn store(&self, checks: ReadyChecks) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), checks));
    }
}

async fn run_checks(state: &AppState) -> ReadyChecks {
    let service = &state.service;
    let refs = service.references();
    let limit = Duration::from_secs(5);
    let (inference, storage) = tokio::join!(
        tokio::time::timeout(limit, service.pool().analyze(state.ready.probe_image.clone(), Purpose::Verify)),
        tokio::time::timeout(limit, refs.objects().probe(refs.prefix())),
    );
    let inference = match inference {
        Ok(Err(PoolError::Face(FaceError::Rejected(Rejection::NoFace)))) => "ok".to_string(),
        // A full queue means the workers are alive and busy: ready, just loaded.
        Ok(Err(PoolError::Overloaded)) => "ok".to_string(),
        Ok(Ok(_)) => "unexpected face in the blank probe image".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "inference self-test timed out".to_string(),
    };
    let storage = match storage {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: storage probe failed");
            "unreachable".to_string()
        }
        Err(_) => "unreachable".to_string(),
    };
    ReadyChecks { inference, storage }
}

/// Models loaded and answering, storage reachable (write/read/delete probe).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses((status = 200, description = "Ready", body = ReadyResponse), (status = 503, description = "Not ready", body = ReadyResponse))
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let checks = match state.ready.cached() {
        Some(checks) => checks,
        None => {
            let checks = run_checks(&state).await;
            state.ready.store(checks.clone());
            checks
        }
    };
    let ok = checks.inference == "ok" && checks.storage == "ok";
    let body = ReadyResponse {
        status: if ok { "ready" } else { "not_ready" },
        checks,
        inference_queue: state.service.pool().queue_depth(),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
