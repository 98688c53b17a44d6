//! Verification results for relying parties: the public keys (`GET /.well-known/jwks.json`, no key
//! needed) and introspection (`POST /api/tokens/introspect`, secret keys, RFC 7662's answer).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::json_body_within;
use super::schema::BackendJsonErrors;
use crate::app::AppState;
use crate::error::ApiError;

const MAX_TOKEN_LEN: usize = 8192;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// A verification token from verify (or a session's outcome).
    #[schema(min_length = 1, max_length = 8192)]
    pub token: String,
    /// Mark the token used: a later introspection with `consume` answers `active: false`, on every
    /// instance sharing SHARED_STATE_URL.
    #[serde(default)]
    #[schema(default = false)]
    pub consume: bool,
}

/// RFC 7662 §2.2: `active`, and the token's claims when it is.
#[derive(Serialize, ToSchema, Default)]
pub struct IntrospectResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The passkey (WebAuthn credential id, base64url) that signed the attempt, with `hwk` in `amr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passkey_id: Option<String>,
    /// `Bearer`, as RFC 7662 names a token's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

/// Introspection's body limit (`api.rs`): a token may be up to 8 KiB, the documented maxLength.
pub const INTROSPECT_BODY_LIMIT: usize = 4 * super::dto::JSON_BODY_LIMIT;

/// Whether a verification token is valid now, with its claims; `consume` makes it single use.
#[utoipa::path(
    post,
    path = "/api/tokens/introspect",
    tag = "sessions",
    request_body(content = IntrospectRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`active` and, when active, the claims", body = IntrospectResponse),
        BackendJsonErrors,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn introspect(
    State(state): State<AppState>,
    body: Result<Json<IntrospectRequest>, JsonRejection>,
) -> Result<Json<IntrospectResponse>, ApiError> {
    let request: IntrospectRequest =
        json_body_within(body, r#"{"token": "...", "consume": false}"#, INTROSPECT_BODY_LIMIT)?;
    if request.token.is_empty() || request.token.chars().count() > MAX_TOKEN_LEN {
        return Err(ApiError::InvalidRequest(format!("token must be 1-{MAX_TOKEN_LEN} characters")));
    }
    let Some(claims) = state.service.access().introspect(&request.token, request.consume).await? else {
        return Ok(Json(IntrospectResponse::default()));
    };
    Ok(Json(IntrospectResponse {
        active: true,
        iss: Some(claims.iss),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iat: Some(claims.iat),
        exp: Some(claims.exp),
        jti: Some(claims.jti),
        nonce: claims.nonce,
        sid: claims.sid,
        amr: Some(claims.amr),
        passkey_id: claims.passkey_id,
        token_type: Some("Bearer"),
    }))
}

/// A JWK set (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    /// The active key first, then previous keys until the tokens they signed have expired. Empty
    /// with TOKEN_ALG=HS256.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// The public keys that verify results (no key needed). Cache it for minutes and fetch it again
/// when a token names a `kid` you have not seen: keys rotate.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "sessions",
    responses((status = 200, description = "The JWK set", body = JwkSet)),
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.service.access().jwks()))
}
