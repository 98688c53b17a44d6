//! Who may do what, and how often: API keys and their kinds, `/metrics` access, request rates.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::context::ClientAddr;
use crate::app::AppState;
use crate::auth::{Caller, MetricsDecision};
use crate::error::ApiError;
use crate::state::RateKind;
use crate::telemetry::request::Field;

fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, key) = auth.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Establishes the [`Caller`]. With no keys configured (development only: production refuses to
/// start) the API is open and every caller is trusted.
pub async fn require_api_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let keys = &state.security.api_keys;
    let caller = if keys.is_empty() {
        Caller::Open
    } else {
        match presented_key(&req).and_then(|k| keys.check(k)) {
            Some(key) => {
                Field::KeyId.record(key.id.as_str());
                match state.shared.check_rate(RateKind::Key, &key.id).await {
                    Ok(Ok(())) => {}
                    Ok(Err(wait)) => return rate_limited(wait),
                    Err(e) => return ApiError::state_unavailable(e).into_response(),
                }
                Caller::Key(key)
            }
            None => return ApiError::Unauthorized.into_response(),
        }
    };
    Field::KeyKind.record(caller.kind());
    crate::metrics::caller(caller.kind());
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Routes that change or reveal users, or hand out grants: secret keys only. A publishable client
/// key gets `403 forbidden`, whatever it asks.
pub async fn require_trusted_caller(req: Request, next: Next) -> Response {
    match req.extensions().get::<Caller>() {
        Some(caller) if caller.is_trusted() => next.run(req).await,
        // No caller means this layer ran without authentication before it: refuse, never open.
        _ => ApiError::Forbidden.into_response(),
    }
}

fn rate_limited(wait: std::time::Duration) -> Response {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests { retry_after: retry_after.max(1), code: "rate_limited" }.into_response()
}

/// Per-client-IP request rate on the API routes (health and readiness stay unlimited).
pub async fn limit_client_rate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(ClientAddr(client)) = req.extensions().get::<ClientAddr>() {
        match state.shared.check_rate(RateKind::Ip, &crate::limits::bucket(*client).to_string()).await {
            Ok(Ok(())) => {}
            Ok(Err(wait)) => return rate_limited(wait),
            // Fail closed: a limit that silently stopped counting is no limit.
            Err(e) => return ApiError::state_unavailable(e).into_response(),
        }
    }
    next.run(req).await
}

/// `/metrics` is readable with METRICS_TOKEN, open in development without one, and not served in
/// production without one.
pub async fn require_metrics_access(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.security.metrics.check(req.headers()) {
        MetricsDecision::Allowed => next.run(req).await,
        MetricsDecision::Unauthorized => ApiError::Unauthorized.into_response(),
        MetricsDecision::NotServed => ApiError::RouteNotFound.into_response(),
    }
}
