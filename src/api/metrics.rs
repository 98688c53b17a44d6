//! `GET /metrics`: who may read it is decided by `middleware::require_metrics_access`.

use axum::extract::State;
use axum::http::{HeaderName, header};

use crate::app::AppState;

/// Prometheus text format. Protected by METRICS_TOKEN when set; without one it is open in
/// development and not served in production.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
        (status = 401, description = "unauthorized", body = crate::error::ErrorEnvelope),
        (status = 404, description = "not served (production without METRICS_TOKEN)", body = crate::error::ErrorEnvelope),
    ),
    // Optional: with METRICS_TOKEN the bearer token is required; without, development serves it open.
    security((), ("bearer" = []))
)]
pub async fn metrics_endpoint(State(state): State<AppState>) -> ([(HeaderName, &'static str); 1], String) {
    crate::metrics::queue_depth(state.service.faces().queue_depth());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render())
}
