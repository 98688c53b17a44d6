//! What a request may send and for how long: upload admission, the size guard, lingering close,
//! the request timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::app::AppState;
use crate::error::ApiError;

/// Left on a response whose request body must not be drained: the point of answering early was not
/// to receive it.
#[derive(Debug, Clone, Copy)]
struct CloseWithoutDraining;

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
pub(super) async fn linger_on_unread_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
    let drained = response.extensions().get::<CloseWithoutDraining>().is_none()
        && tokio::time::timeout(LINGER, async {
            let cap = 2 * state.http.body_limit();
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

pub(super) async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.http.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

pub(super) async fn guard_upload_size(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.http.body_limit() as u64) {
        return ApiError::PayloadTooLarge(state.http.max_upload_bytes).into_response();
    }
    next.run(req).await
}

/// At most MAX_CONCURRENT_UPLOADS register/verify requests are received at once. Beyond, the
/// answer is an immediate `503 overloaded` with `Retry-After`, before any body byte is read, and
/// the connection is closed rather than drained: a client learns it is refused without sending
/// megabytes, and the service buffers nothing for it.
pub async fn admit_upload(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(permit) = state.limits.uploads.try_admit() else {
        let mut response = ApiError::Overloaded.into_response();
        response.extensions_mut().insert(CloseWithoutDraining);
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let response = next.run(req).await;
    drop(permit);
    response
}

/// Biometric routes (register, verify, delete, unlock, export, sessions) wait while the audit
/// trail cannot keep their records: refused up front, before any work, never done unrecorded.
pub async fn admit_audited(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.service.audit().admit() {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::AuditUnavailable(std::sync::Arc::new(e)).into_response(),
    }
}
