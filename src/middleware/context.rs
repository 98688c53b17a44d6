//! The request context: its id, the client's address, its span and access-log line, and what is
//! done about refusals (counted always, logged at most once per client per window).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::app::AppState;
use crate::error::{ErrorCause, ErrorCode};
use crate::telemetry::request::{Field, REQUEST_ID};

/// The request id's header, read from a trusted proxy and echoed on every response.
pub(super) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's address: the TCP peer, or what a trusted proxy says it is (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// An incoming id is kept (so nginx's `$request_id` ties the logs together) only if it is short and plain.
fn incoming_request_id(req: &Request) -> Option<String> {
    let v = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?;
    let ok =
        (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| v.to_string())
}

fn client_addr(state: &AppState, req: &Request) -> ClientAddr {
    // Without connection info (a router driven in-process) there is no peer to name.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    ClientAddr(state.limits.proxies.client_ip(peer, forwarded))
}

/// Refusals an attacker can cause at will: authentication, authorisation, limits, admission.
fn is_refusal(status: StatusCode, code: &str) -> bool {
    matches!(status.as_u16(), 401 | 403 | 429) || code == "overloaded"
}

pub(super) async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let client = client_addr(&state, &req);
    req.extensions_mut().insert(client);
    let span = crate::telemetry::request::span(&id, req.method().as_str(), &route);
    let start = Instant::now();
    let method = req.method().clone();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let status = response.status();
    span.record(Field::Status.name(), status.as_u16());
    span.record(Field::LatencyMs.name(), (elapsed * 100_000.0).round() / 100.0);
    crate::metrics::request(&route, method.as_str(), status.as_u16(), elapsed);
    let code = response.extensions().get::<ErrorCode>().map(|ErrorCode(code)| *code);
    if let Some(code) = code {
        span.record(Field::Error.name(), code);
        if is_refusal(status, code) {
            crate::metrics::refused(code);
            if state.limits.refusals.should_log(client.0) {
                span.in_scope(|| {
                    tracing::warn!(client = %client.0, code, "request refused (further refusals of this client are not logged for a minute)")
                });
            }
        }
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
