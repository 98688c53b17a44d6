//! `/health`: the process answers. `/ready`: models loaded and storage reachable right now.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Storage probes are cached briefly so a load balancer polling `/ready` does not hammer S3.
pub struct ReadinessCache {
    last: Mutex<Option<(Instant, Result<(), String>)>>,
    ttl: Duration,
}

impl ReadinessCache {
    pub fn new(ttl: Duration) -> Self {
        Self { last: Mutex::new(None), ttl }
    }

    fn cached(&self) -> Option<Result<(), String>> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, r)| r.clone())
    }

    fn store(&self, result: Result<(), String>) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), result));
    }
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let storage = match state.ready.cached() {
        Some(r) => r,
        None => {
            let refs = state.service.references();
            let probe = tokio::time::timeout(Duration::from_secs(5), refs.objects().probe(refs.prefix())).await;
            let result = match probe {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("storage probe timed out".into()),
            };
            if let Err(e) = &result {
                tracing::warn!(error = %e, "readiness: storage probe failed");
            }
            state.ready.store(result.clone());
            result
        }
    };
    let models_ok = state.service.pool().workers() > 0;
    let ok = storage.is_ok() && models_ok;
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "checks": {
            "models": if models_ok { "ok" } else { "not loaded" },
            "storage": if storage.is_ok() { "ok" } else { "unreachable" },
        },
        "inference_queue": state.service.pool().queue_depth(),
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
