//! The middleware stack, declared in one place.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;

use crate::app::AppState;
use crate::auth::MetricsDecision;
use crate::error::{ApiError, ErrorCause, ErrorCode};
use crate::telemetry::request::{Field, REQUEST_ID};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Order, outermost first (the last `.layer` call wraps all before it):
/// 1. request context: request id, the request's span and its access-log line; it sees every
///    response, including those made by the layers inside it;
/// 2. security headers, on every response (errors, panics, timeouts and CORS preflights included);
/// 3. CORS from the configured allow-list;
/// 4. panic catcher: a bug answers the error envelope instead of dropping the connection;
/// 5. request timeout: nothing waits unboundedly;
/// 6. lingering close: a response sent before the request body was read to its end (a refusal by
///    any layer or handler) first drains the rest, bounded, so the client receives it;
/// 7. upload size guard: a declared Content-Length over the limit is refused before the body is
///    read (the multipart extractor also enforces the limit on what actually arrives).
///
/// Authentication is a route layer on the `/api` routes and `/metrics` only (see `api::router`).
pub fn stack(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let mut router = router
        .layer(from_fn_with_state(state.clone(), guard_upload_size))
        .layer(from_fn_with_state(state.clone(), linger_on_unread_body))
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal(None).into_response()))
        .layer(cors(&state.http.cors_origins));
    let headers: [(HeaderName, &'static str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    for (name, value) in headers {
        // The demo page sets its own (script and style from 'self'); everything else gets 'none'.
        router = router.layer(if name == header::CONTENT_SECURITY_POLICY {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        } else {
            SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
        });
    }
    if state.http.hsts {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ));
    }
    router.layer(from_fn(request_context))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            X_REQUEST_ID,
        ])
        .expose_headers([X_REQUEST_ID, header::RETRY_AFTER])
}

/// An incoming id is kept (so nginx's `$request_id` ties the logs together) only if it is short and plain.
fn incoming_request_id(req: &Request) -> Option<String> {
    let v = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?;
    let ok =
        (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| v.to_string())
}

async fn request_context(req: Request, next: Next) -> Response {
    let id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let span = crate::telemetry::request::span(&id, req.method().as_str(), &route);
    let start = Instant::now();
    let method = req.method().clone();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    let elapsed = start.elapsed().as_secs_f64();
    span.record(Field::Status.name(), response.status().as_u16());
    span.record(Field::LatencyMs.name(), (elapsed * 100_000.0).round() / 100.0);
    crate::metrics::request(&route, method.as_str(), response.status().as_u16(), elapsed);
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        span.record(Field::Error.name(), *code);
    }
    // A server-side failure is logged here, once, with its whole chain; the client saw only its code.
    if let Some(failure) = response.extensions().get::<ErrorCause>() {
        if failure.code == "storage_unavailable" {
            crate::metrics::storage_error();
        }
        let chain = crate::telemetry::chain(&*failure.cause);
        span.in_scope(|| tracing::error!(code = failure.code, error = %chain, "request failed"));
    }
    span.in_scope(|| tracing::info!("request completed"));
    response
}

fn declares_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// How long an early answer waits for the rest of an unread body before giving up on the connection.
const LINGER: Duration = Duration::from_secs(5);

/// Lingering close, as nginx does it: when a layer or handler answers before reading the request
/// body to its end (a refusal), the rest is read and discarded, at most twice the upload limit and
/// [`LINGER`], so the client finishes sending and receives the answer instead of a reset
/// connection. If the rest is too large or too slow, the answer says `Connection: close`.
async fn linger_on_unread_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !declares_body(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // Shared so that what the handler leaves unread can still be drained here afterwards.
    let shared = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
    let handed = futures::stream::unfold(shared.clone(), |s| async move {
        let item = s.lock().await.next().await;
        item.map(|chunk| (chunk, s))
    });
    let mut response = next.run(Request::from_parts(parts, Body::from_stream(handed))).await;
    let cap = 2 * state.http.body_limit();
    let drained = tokio::time::timeout(LINGER, async {
        let mut rest = shared.lock().await;
        let mut read = 0usize;
        while let Some(chunk) = rest.next().await {
            match chunk {
                Ok(bytes) if read + bytes.len() <= cap => read += bytes.len(),
                _ => return false,
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    if !drained {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.http.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn guard_upload_size(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.http.body_limit() as u64) {
        return ApiError::PayloadTooLarge(state.http.max_upload_bytes).into_response();
    }
    next.run(req).await
}

fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, key) = auth.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// With no keys configured (development only: production refuses to start) the API is open.
pub async fn require_api_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let keys = &state.security.api_keys;
    if keys.is_empty() {
        return next.run(req).await;
    }
    match presented_key(&req).and_then(|k| keys.check(k)) {
        Some(key_id) => {
            Field::KeyId.record(key_id.0.as_str());
            if let Err(wait) = state.limits.check_key(&key_id.0) {
                return rate_limited(wait);
            }
            req.extensions_mut().insert(key_id);
            next.run(req).await
        }
        None => ApiError::Unauthorized.into_response(),
    }
}

fn rate_limited(wait: std::time::Duration) -> Response {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests { retry_after: retry_after.max(1), code: "rate_limited" }.into_response()
}

/// Per-client-IP request rate on the API routes (health and readiness stay unlimited).
pub async fn limit_client_rate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let client = state.limits.client_ip(peer.ip(), forwarded);
        if let Err(wait) = state.limits.check_ip(client) {
            tracing::warn!(client = %client, "rate limited");
            return rate_limited(wait);
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
