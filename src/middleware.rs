//! The middleware stack, declared in one place. The layers themselves live in `context` (who is
//! asking, the span and access log), `body` (what a request may send and for how long) and `auth`
//! (who may do what, how often).

mod auth;
mod body;
mod context;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

pub use auth::{limit_client_rate, require_api_key, require_metrics_access, require_trusted_caller};
pub use body::{admit_audited, admit_upload};
pub use context::ClientAddr;
use context::X_REQUEST_ID;

use crate::app::AppState;
use crate::error::ApiError;

/// Order, outermost first (the last `.layer` call wraps all before it):
/// 1. request context: request id, the client's address, the request's span and its access-log
///    line, refusal accounting; it sees every response, including those made by the layers inside;
/// 2. security headers, on every response (errors, panics, timeouts and CORS preflights included);
/// 3. CORS from the configured allow-list;
/// 4. panic catcher: a bug answers the error envelope instead of dropping the connection;
/// 5. request timeout: nothing waits unboundedly;
/// 6. lingering close: a response sent before the request body was read to its end (a refusal by
///    any layer or handler) first drains the rest, bounded, so the client receives it;
/// 7. upload size guard: a declared Content-Length over the limit is refused before the body is
///    read (the multipart extractor also enforces the limit on what actually arrives).
///
/// Route layers (see `api::router`), outermost first: the per-IP rate limit, the API key (with the
/// per-key rate), then per route: trusted callers only (user routes, enrolment grants), upload
/// admission (register, verify); `/metrics` has its own access check.
pub fn stack(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let mut router = router
        .layer(from_fn_with_state(state.clone(), body::guard_upload_size))
        .layer(from_fn_with_state(state.clone(), body::linger_on_unread_body))
        .layer(from_fn_with_state(state.clone(), body::timeout))
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
        // The demo page sets its own CSP (script and style from 'self'), the SDK its own caching;
        // everything else gets 'none' and no-store.
        router = router.layer(if name == header::CONTENT_SECURITY_POLICY || name == header::CACHE_CONTROL {
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
    router.layer(from_fn_with_state(state.clone(), context::request_context))
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
