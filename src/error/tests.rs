//! Codes, statuses and what a response shows of a failure.

use super::*;
use crate::telemetry::request::REQUEST_ID;

#[tokio::test]
async fn the_envelope_carries_code_message_and_request_id() {
    let response = REQUEST_ID.scope("req-1".into(), async { ApiError::UserNotFound.into_response() }).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "user_not_found");
    assert_eq!(v["error"]["request_id"], "req-1");
}

#[test]
fn refusals_that_may_pass_later_and_outdated_references_have_their_codes() {
    let overloaded = ApiError::from(ServiceError::Overloaded);
    assert_eq!((overloaded.status().as_u16(), overloaded.code()), (503, "overloaded"));
    assert_eq!(overloaded.retry_after(), Some(1));
    let outdated = ApiError::from(ServiceError::ReferencesOutdated);
    assert_eq!((outdated.status().as_u16(), outdated.code()), (409, "references_outdated"));
}

#[tokio::test]
async fn storage_failures_never_echo_their_cause_but_keep_it_for_the_log() {
    let err = ApiError::from(ServiceError::Storage(StoreError::Denied("secret bucket name".into())));
    assert_eq!(err.code(), "storage_unavailable");
    assert!(!err.to_string().contains("secret"));
    assert_eq!(err.retry_after(), Some(5));
    let response = err.into_response();
    let logged = response.extensions().get::<ErrorCause>().expect("the cause travels with the response");
    assert!(crate::telemetry::chain(&*logged.cause).contains("secret bucket name"));
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    assert!(!String::from_utf8_lossy(&body).contains("secret"));
}
