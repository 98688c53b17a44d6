use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{FaceSummary, QualityDto, Timings};
use super::openapi::{RegisterForm, UploadErrors};
use super::upload::{Upload, UploadRoute};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::service::Enrolment;
use crate::telemetry::audit;

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user_id: String,
    pub reference_id: String,
    pub references: usize,
    pub face: FaceSummary,
    pub quality: QualityDto,
    pub model: String,
    pub timings_ms: Timings,
}

/// Stores a reference photo for the user (the photo and a sidecar with its embedding). A photo added
/// to a user who has references must match them. Secret keys may register any user, and replace
/// every reference with `replace=true`; client keys need an `enrollment_token` for this user.
#[utoipa::path(
    post,
    path = "/api/register",
    tag = "faces",
    request_body(content = RegisterForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Reference stored", body = RegisterResponse),
        UploadErrors,
        (status = 403, description = "forbidden (a client key asking to replace) or enrollment_required (a client key without an enrollment_token)", body = ErrorEnvelope),
        (status = 409, description = "face_mismatch: the photo does not match the user's references; nothing stored. references_outdated", body = ErrorEnvelope),
        (status = 422, description = "no_face, multiple_faces (strict at enrolment), face_too_small, face_too_dark, face_overexposed, face_blurry, face_not_frontal or too_many_references", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    upload: Upload,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    upload.check_fields(UploadRoute::Register)?;
    let enrolment = match (caller.is_trusted(), upload.enrollment_token.as_deref()) {
        (true, _) => Enrolment::Trusted { replace: upload.replace },
        (false, _) if upload.replace => return Err(ApiError::Forbidden),
        (false, Some(token)) => Enrolment::Grant(token),
        (false, None) => return Err(ApiError::EnrollmentRequired),
    };
    let event = if upload.replace && caller.is_trusted() { "replace" } else { "register" };
    let outcome = state.service.register(&upload.user_id, upload.image, enrolment).await;
    audit::record(event, &upload.user_id, &caller, outcome.as_ref().map(|_| ()).map_err(|e| e as _));
    let reg = outcome?;
    let timings = Timings::from(&reg.timings);
    timings.record();
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: upload.user_id.to_string(),
            reference_id: reg.reference_id,
            references: reg.references,
            face: FaceSummary::from(&reg.face),
            quality: QualityDto::from(&reg.quality),
            model: state.service.model_name().to_string(),
            timings_ms: timings,
        }),
    ))
}
