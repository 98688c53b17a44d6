//! `POST /api/passkeys/options` and `POST /api/passkeys`: register a passkey for a user, so that
//! a verify session can ask for the face and the device together. A backend (secret key) may
//! always; a frontend (client key) with an enrol session for the user (`POST /api/sessions`,
//! `purpose: enroll`), which adds one passkey.

use super::completion;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{json_body_within, non_null};
use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::{ApiError, ErrorEnvelope};
use crate::service::{PasskeyAuthority, PasskeyInfo};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyOptionsRequest {
    /// 1–128 of `A-Z a-z 0-9 . _ @ -`; must not start with `.` or contain `..`.
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    pub user_id: String,
    /// Client keys: an enrol session for this user. Secret keys need none.
    #[schema(min_length = 1, max_length = 4096, nullable = false)]
    #[serde(default, deserialize_with = "non_null")]
    pub session_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyOptions {
    /// Send it back with the browser's answer; valid once, for five minutes.
    pub registration_id: String,
    /// `publicKey` for `navigator.credentials.create` (base64url where WebAuthn has bytes).
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistration {
    #[schema(pattern = "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._@-]{1,128}$", min_length = 1, max_length = 128)]
    pub user_id: String,
    #[schema(min_length = 1, max_length = 64)]
    pub registration_id: String,
    #[schema(min_length = 1, max_length = 4096, nullable = false)]
    #[serde(default, deserialize_with = "non_null")]
    pub session_token: Option<String>,
    /// What `navigator.credentials.create` returned, as JSON (`PublicKeyCredential.toJSON()`).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// One registered passkey.
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    /// base64url, as browsers give it; named in a verified result's `passkey_id`.
    pub credential_id: String,
    /// RFC 3339.
    pub registered_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// The authenticator's signature counter as last seen (0 for authenticators that keep none).
    pub counter: u64,
    /// How the browser can reach it (`internal`, `usb`, `hybrid`, …), as it reported.
    pub transports: Vec<String>,
    /// Whether the authenticator verified its user (a PIN or biometric) at registration.
    pub user_verified: bool,
    /// Whether the credential may be synced to other devices (a synced passkey).
    pub backup_eligible: bool,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            credential_id: p.credential_id,
            registered_at: p.registered_at,
            last_used_at: p.last_used_at,
            counter: p.counter,
            transports: p.transports,
            user_verified: p.user_verified,
            backup_eligible: p.backup_eligible,
        }
    }
}

fn authority(caller: &Caller, session_token: Option<String>) -> Result<PasskeyAuthority, ApiError> {
    match (caller.is_trusted(), session_token) {
        (true, _) => Ok(PasskeyAuthority::Trusted),
        (false, Some(token)) => Ok(PasskeyAuthority::Session(token)),
        (false, None) => Err(ApiError::SessionRequired),
    }
}

/// The body limit of both routes (`api.rs`): a 4 KiB session token, an attestation.
pub const BODY_LIMIT: usize = 4 * super::dto::JSON_BODY_LIMIT;

fn body<T>(body: Result<Json<T>, JsonRejection>, example: &str) -> Result<T, ApiError> {
    json_body_within(body, example, BODY_LIMIT)
}

/// What the contract says of the text fields, checked here (serde knows no lengths).
fn checked(session_token: Option<String>, registration_id: Option<&str>) -> Result<Option<String>, ApiError> {
    if session_token.as_ref().is_some_and(|t| t.is_empty() || t.len() > 4096) {
        return Err(ApiError::InvalidRequest("session_token must be 1-4096 characters".into()));
    }
    if registration_id.is_some_and(|id| id.is_empty() || id.len() > 64) {
        return Err(ApiError::InvalidRequest("registration_id must be 1-64 characters".into()));
    }
    Ok(session_token)
}

fn user(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).map_err(|e| ApiError::InvalidUserId(e.to_string()))
}

/// Starts a passkey registration for one user.
#[utoipa::path(
    post,
    path = "/api/passkeys/options",
    tag = "passkeys",
    request_body(content = PasskeyOptionsRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Creation options for the browser", body = PasskeyOptions),
        (status = 400, description = "invalid_user_id, invalid_request, passkeys_not_configured", body = ErrorEnvelope),
        (status = 401, description = "unauthorized, invalid_session", body = ErrorEnvelope),
        (status = 403, description = "session_required: a client key needs an enrol session", body = ErrorEnvelope),
        (status = 404, description = "user_not_found: a passkey joins a registered face", body = ErrorEnvelope),
        (status = 413, description = "payload_too_large", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
        (status = 503, description = "storage_unavailable, state_unavailable or timeout (Retry-After)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn passkey_options(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PasskeyOptionsRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PasskeyOptions>), ApiError> {
    let request: PasskeyOptionsRequest = self::body(body, r#"{"user_id": "..."}"#)?;
    let user = user(&request.user_id)?;
    let authority = authority(&caller, checked(request.session_token, None)?)?;
    let started = state.service.passkeys().start_passkey_registration(&user, authority).await?;
    Ok((
        StatusCode::CREATED,
        Json(PasskeyOptions { registration_id: started.registration_id, public_key: started.options }),
    ))
}

/// Finishes a passkey registration with the browser's answer.
#[utoipa::path(
    post,
    path = "/api/passkeys",
    tag = "passkeys",
    request_body(content = PasskeyRegistration, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = PasskeyView),
        (status = 400, description = "invalid_user_id, invalid_request, invalid_passkey, passkeys_not_configured", body = ErrorEnvelope),
        (status = 401, description = "unauthorized, invalid_session", body = ErrorEnvelope),
        (status = 403, description = "session_required: a client key needs an enrol session", body = ErrorEnvelope),
        (status = 404, description = "passkey_registration_not_found: expired, used, for another user, or the user was deleted meanwhile", body = ErrorEnvelope),
        (status = 413, description = "payload_too_large", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type", body = ErrorEnvelope),
        (status = 422, description = "passkey_registration_refused: the authenticator's answer does not verify (another origin, no user verification, a credential already registered)", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
        (status = 503, description = "storage_unavailable, state_unavailable, audit_unavailable or timeout (Retry-After)", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn register_passkey(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PasskeyRegistration>, JsonRejection>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    let request: PasskeyRegistration =
        self::body(body, r#"{"user_id": "...", "registration_id": "...", "credential": {...}}"#)?;
    let user = user(&request.user_id)?;
    let authority = authority(&caller, checked(request.session_token, Some(&request.registration_id))?)?;
    let (registration, credential) = (request.registration_id, request.credential.to_string());
    let registered = completion::audited(&state, "passkey_register", &user, caller, |s, u| async move {
        s.service.passkeys().finish_passkey_registration(&u, authority, &registration, &credential).await
    })
    .await??;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(registered))))
}
