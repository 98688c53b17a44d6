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

/// One example of every variant (and of every code a variant can carry). `variant` is an
/// exhaustive match: a new variant does not compile until it is numbered here, and then this test
/// fails until it has an example, whose code must be in the table.
fn every_error() -> Vec<ApiError> {
    use crate::face::quality::QualityIssue as Q;
    let cause = || Arc::new(std::io::Error::other("x")) as Cause;
    let mut all = vec![
        ApiError::InvalidUserId(String::new()),
        ApiError::MissingField("image"),
        ApiError::DuplicateField(String::new()),
        ApiError::InvalidRequest(String::new()),
        ApiError::InvalidImage(String::new()),
        ApiError::UnsupportedMediaType(String::new()),
        ApiError::PayloadTooLarge(1),
        ApiError::ImageTooLarge(String::new()),
        ApiError::Face(Rejection::NoFace),
        ApiError::Face(Rejection::MultipleFaces { count: 2 }),
        ApiError::Face(Rejection::FaceTooSmall { scale: 1.0, min: 2.0 }),
        ApiError::Face(Rejection::Quality(Q::TooDark { brightness: 1.0, min: 2.0 })),
        ApiError::Face(Rejection::Quality(Q::Overexposed { brightness: 1.0, clipped: 0.5 })),
        ApiError::Face(Rejection::Quality(Q::Blurry { sharpness: 1.0, min: 2.0 })),
        ApiError::Face(Rejection::Quality(Q::NotFrontal { yaw: 1.0, pitch: 2.0 })),
        ApiError::TooManyReferences(String::new()),
        ApiError::Unauthorized,
        ApiError::Forbidden,
        ApiError::EnrollmentRequired,
        ApiError::InvalidEnrollmentToken,
        ApiError::SessionRequired,
        ApiError::InvalidSession,
        ApiError::SessionNotFound,
        ApiError::ConsentRequired,
        ApiError::FaceMismatch,
        ApiError::ReplayedImage,
        ApiError::LivenessFailed,
        ApiError::ChallengeRequired,
        ApiError::ChallengeNotFound,
        ApiError::ChallengeExpired,
        ApiError::ChallengeUsed,
        ApiError::PoseMismatch,
        ApiError::IdentityChanged,
        ApiError::CaptureDiscontinuous,
        ApiError::CaptureIncomplete,
        ApiError::CaptureTooLarge,
        ApiError::LightNotFollowed,
        ApiError::LightNotReflected,
        ApiError::LightRequired,
        ApiError::CaptureFlat,
        ApiError::LivenessNotOffered(String::new()),
        ApiError::ChallengesDisabled,
        ApiError::VerificationDisabled,
        ApiError::UserNotFound,
        ApiError::ReferencesOutdated,
        ApiError::RouteNotFound,
        ApiError::MethodNotAllowed,
        ApiError::TooManyRequests { retry_after: 1, code: "rate_limited" },
        ApiError::TooManyRequests { retry_after: 1, code: "too_many_attempts" },
        ApiError::StorageUnavailable(cause()),
        ApiError::Overloaded,
        ApiError::StateUnavailable(cause()),
        ApiError::AuditUnavailable(cause()),
        ApiError::Timeout,
        ApiError::Internal(None),
        ApiError::Counted(Box::new(ApiError::PoseMismatch), 3),
    ];
    use crate::service::PasskeyError as P;
    all.extend(
        [
            P::NotConfigured,
            P::Required,
            P::NotAsked,
            P::NoneRegistered,
            P::Malformed(String::new()),
            P::NotRecognised,
            P::WrongChallenge,
            P::WrongOrigin,
            P::CounterRegressed,
            P::UserNotVerified,
            P::Invalid(String::new()),
            P::RegistrationUnknown,
            P::RegistrationRefused(String::new()),
        ]
        .into_iter()
        .map(ApiError::Passkey),
    );
    all
}

fn variant(e: &ApiError) -> usize {
    use ApiError::*;
    match e {
        InvalidUserId(_) => 0,
        MissingField(_) => 1,
        DuplicateField(_) => 2,
        InvalidRequest(_) => 3,
        InvalidImage(_) => 4,
        UnsupportedMediaType(_) => 5,
        PayloadTooLarge(_) => 6,
        ImageTooLarge(_) => 7,
        Face(_) => 8,
        TooManyReferences(_) => 9,
        Unauthorized => 10,
        Forbidden => 11,
        EnrollmentRequired => 12,
        InvalidEnrollmentToken => 13,
        SessionRequired => 14,
        InvalidSession => 15,
        SessionNotFound => 16,
        Passkey(_) => 17,
        ConsentRequired => 18,
        FaceMismatch => 19,
        ReplayedImage => 20,
        LivenessFailed => 21,
        ChallengeRequired => 22,
        ChallengeNotFound => 23,
        ChallengeExpired => 24,
        ChallengeUsed => 25,
        PoseMismatch => 26,
        IdentityChanged => 27,
        CaptureDiscontinuous => 28,
        CaptureIncomplete => 29,
        CaptureTooLarge => 30,
        LightNotFollowed => 31,
        LightNotReflected => 32,
        LightRequired => 33,
        LivenessNotOffered(_) => 34,
        ChallengesDisabled => 35,
        VerificationDisabled => 36,
        UserNotFound => 37,
        ReferencesOutdated => 38,
        RouteNotFound => 39,
        MethodNotAllowed => 40,
        TooManyRequests { .. } => 41,
        StorageUnavailable(_) => 42,
        Overloaded => 43,
        StateUnavailable(_) => 44,
        AuditUnavailable(_) => 45,
        Timeout => 46,
        Internal(_) => 47,
        Counted(..) => 48,
        CaptureFlat => 49,
    }
}

#[test]
fn every_error_code_is_in_the_one_table_with_its_status_and_every_table_code_is_answered() {
    let all = every_error();
    let variants: std::collections::BTreeSet<usize> = all.iter().map(variant).collect();
    assert_eq!(variants, (0..=49).collect(), "an example of every variant");
    let mut answered = std::collections::BTreeSet::new();
    for e in &all {
        let entry = codes::lookup(e.code()).unwrap_or_else(|| panic!("{} is not in error/codes.rs", e.code()));
        assert_eq!(entry.status, e.status().as_u16(), "{}", e.code());
        answered.insert(e.code());
    }
    for c in codes::CODES {
        assert!(answered.contains(c.code), "{} is in the table and no error answers it", c.code);
    }
}

#[test]
fn the_sdk_has_a_sentence_for_every_code_a_client_key_can_receive() {
    let sdk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/sdk/faceauth.js")).unwrap();
    let start = sdk.find("DEFAULT_MESSAGES").expect("the SDK's sentences");
    let end = sdk[start..].find("export function describeError").expect("describeError") + start;
    // Every `key: "…"` in the sentences and in SAME_AS (codes that share a sentence).
    let keys: std::collections::BTreeSet<&str> = sdk[start..end]
        .split(['\n', ',', '{'])
        .filter_map(|part| part.trim().split_once(": \"").map(|(k, _)| k.trim()))
        .collect();
    let missing: Vec<&str> = codes::CODES
        .iter()
        .filter(|c| c.audience == codes::Audience::Client && !keys.contains(c.code))
        .map(|c| c.code)
        .collect();
    assert!(missing.is_empty(), "web/sdk/faceauth.js has no sentence for {missing:?}");
}

/// A backend reads a session's outcome (`GET /api/sessions/{id}`) and the operator reads
/// `liveness-eval`'s report; both name a decided refusal by `ServiceError::decided_code`. It must
/// be the code the client was answered, from the one table.
#[test]
fn the_code_a_session_outcome_records_is_the_code_the_client_was_answered() {
    use crate::service::liveness::{budget, capture, light, planarity, pose};
    use crate::service::{PasskeyError, ServiceError};
    let decided = vec![
        ServiceError::ReplayedImage,
        ServiceError::LivenessFailed(0.2),
        ServiceError::Capture(capture::CaptureRefusal::Discontinuous(capture::Discontinuity::TooFast(1, 2))),
        ServiceError::Capture(capture::CaptureRefusal::Incomplete(capture::Incomplete::EndsEarly)),
        ServiceError::Capture(capture::CaptureRefusal::TooLarge(budget::Oversize::TooManyFrames {
            got: 9,
            allowed: 8,
        })),
        ServiceError::Pose(pose::PoseRefusal::NotLevel),
        ServiceError::Light(light::LightRefusal::NotFollowed),
        ServiceError::Light(light::LightRefusal::NotReflected),
        ServiceError::Light(light::LightRefusal::NotShaped(0.1)),
        ServiceError::Light(light::LightRefusal::Unmeasured),
        ServiceError::Light(light::LightRefusal::Declined),
        ServiceError::Planarity(planarity::PlanarityRefusal::Flat(0.01)),
        ServiceError::IdentityChanged { frame: 3 },
        ServiceError::FaceMismatch,
        ServiceError::Passkey(PasskeyError::NotRecognised),
        ServiceError::Passkey(PasskeyError::WrongChallenge),
        ServiceError::Passkey(PasskeyError::WrongOrigin),
        ServiceError::Passkey(PasskeyError::CounterRegressed),
        ServiceError::Passkey(PasskeyError::UserNotVerified),
        ServiceError::Passkey(PasskeyError::Invalid("x".into())),
    ];
    for error in decided {
        let recorded = error.decided_code().unwrap_or_else(|| panic!("{error:?} decides an attempt"));
        let counted = ServiceError::Counted { error: Box::new(error), attempts_left: 2 };
        assert_eq!(counted.decided_code(), Some(recorded), "the count does not change the code");
        let answered = ApiError::from(counted);
        assert_eq!(recorded, answered.code(), "the outcome and the answer name one code");
        assert!(codes::lookup(recorded).is_some(), "{recorded} is in error/codes.rs");
    }
}
