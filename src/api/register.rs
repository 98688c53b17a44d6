use super::completion;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{FaceSummary, QualityDto, Timings};
use super::schema::{RegisterForm, UploadErrors};
use super::upload::{Upload, UploadRoute};
use crate::app::AppState;
use crate::auth::Caller;
use crate::config::ClientAccess;
use crate::error::{ApiError, ErrorEnvelope};
use crate::middleware::ClientAddr;
use crate::service::{Consent, Enrolment};

/// A client key gets `user_id`, `reference_id` and `references`; the rest is for secret keys.
#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user_id: String,
    pub reference_id: String,
    pub references: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<Timings>,
}

/// Stores a reference photo for the user (the photo and a sidecar with its embedding). A photo added
/// to a user who has references must match them. Secret keys may register any user, and replace
/// every reference with `replace=true` (which revokes the user's outstanding sessions and grants);
/// client keys need an enrol `session_token` or an `enrollment_token` for this user.
#[utoipa::path(
    post,
    path = "/api/register",
    tag = "faces",
    request_body(content = RegisterForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Reference stored", body = RegisterResponse),
        UploadErrors,
        (status = 409, description = "face_mismatch: the photo does not match the user's references; nothing stored (with a client key: counted as a failed attempt, and the session or grant is spent). references_outdated", body = ErrorEnvelope),
        (status = 429, description = "too_many_attempts: a client key's registers for this user failed too often (Retry-After)", body = ErrorEnvelope),
        (status = 422, description = "no_face, multiple_faces (strict at enrolment), face_too_small, face_too_dark, face_overexposed, face_blurry, face_not_frontal or too_many_references", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn register(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Extension(caller): Extension<Caller>,
    upload: Upload,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    upload.check_fields(UploadRoute::Register)?;
    let trusted = caller.is_trusted();
    if !trusted && upload.replace {
        return Err(ApiError::Forbidden);
    }
    if !trusted && upload.session_token.is_none() && upload.enrollment_token.is_none() {
        return Err(match state.security.client_access {
            ClientAccess::Session => ApiError::SessionRequired,
            ClientAccess::Open => ApiError::EnrollmentRequired,
        });
    }
    let image = upload.image.clone().ok_or(ApiError::MissingField("image"))?;
    let event = if upload.replace && trusted { "replace" } else { "register" };
    let consent = upload.consent.clone().map(|notice| Consent {
        notice,
        key_id: caller.key().map(|k| k.id.clone()).unwrap_or_else(|| "none".into()),
        key_kind: caller.kind(),
    });
    let (user, session, grant, replace) =
        (upload.user_id.clone(), upload.session_token.clone(), upload.enrollment_token.clone(), upload.replace);
    let outcome = completion::to_completion({
        let state = state.clone();
        async move {
            let enrolment = match (trusted, session.as_deref(), grant.as_deref()) {
                (true, _, _) => Enrolment::Trusted { replace },
                (false, Some(session), _) => Enrolment::Session(session),
                (false, None, token) => Enrolment::Grant(token.unwrap_or_default()),
            };
            let notice = consent.as_ref().map(|c| c.notice.clone());
            let outcome = state.service.register(&user, image, enrolment, crate::limits::bucket(client), consent).await;
            completion::audit(&state, event, &user, &caller, &outcome, None);
            if let (Some(notice), Ok(_)) = (&notice, &outcome) {
                completion::audit(&state, "consent", &user, &caller, &outcome, Some(notice));
            }
            state.service.audit().commit().await;
            outcome
        }
    })
    .await?;
    let reg = outcome?;
    let timings = Timings::from(&reg.timings);
    timings.record();
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: upload.user_id.to_string(),
            reference_id: reg.reference_id,
            references: reg.references,
            face: trusted.then(|| FaceSummary::from(&reg.face)),
            quality: trusted.then(|| QualityDto::from(&reg.quality)),
            model: trusted.then(|| state.service.faces().model_name().to_string()),
            timings_ms: trusted.then_some(timings),
        }),
    ))
}
