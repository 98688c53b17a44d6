//! The HTTP surface. Handlers are glue: extract, call the service, shape the response.

pub mod demo;
pub mod error;
pub mod health;
pub mod openapi;
pub mod register;
pub mod upload;
pub mod users;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::auth::ApiKeys;
use crate::service::FaceAuth;

pub use error::ApiError;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<FaceAuth>,
    pub api_keys: Arc<ApiKeys>,
    pub max_upload_bytes: usize,
    pub request_timeout: Duration,
    pub ready: Arc<health::ReadinessCache>,
    pub production: bool,
    pub cors_origins: Arc<Vec<String>>,
    pub limits: Arc<crate::limits::RateLimits>,
    /// Bearer token for `/metrics`; `None` leaves it open (development) or off (production).
    pub metrics_token: Option<Arc<secrecy::SecretString>>,
}

impl axum::extract::FromRef<AppState> for upload::UploadLimit {
    fn from_ref(state: &AppState) -> Self {
        upload::UploadLimit(state.max_upload_bytes)
    }
}

/// Prometheus text format. Protected by METRICS_TOKEN when set; without one it is open in
/// development and not served in production.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
        (status = 401, description = "unauthorized", body = error::ErrorEnvelope),
        (status = 404, description = "not served (production without METRICS_TOKEN)", body = error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn metrics_endpoint(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    match &state.metrics_token {
        Some(token) => {
            let presented = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !bool::from(presented.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
                return Err(ApiError::Unauthorized);
            }
        }
        None if state.production => return Err(ApiError::RouteNotFound),
        None => {}
    }
    crate::metrics::queue_depth(state.service.pool().queue_depth());
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render()))
}

/// Bytes of multipart framing and the user_id field allowed on top of the image itself.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/register", post(register::register))
        .route("/api/verify", post(verify::verify))
        .route("/api/users/{user_id}", get(users::get_user).delete(users::delete_user))
        // Route layers run last-added first: the per-IP limit throttles before a key is even checked.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::middleware::require_api_key))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::middleware::limit_client_rate));
    let open = Router::new()
        .route("/", get(demo::index))
        .route("/demo/app.js", get(demo::script))
        .route("/demo/app.css", get(demo::style))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics_endpoint))
        .route("/openapi.json", get(|| async { axum::Json(openapi::document()) }));
    let body_limit = state.max_upload_bytes + MULTIPART_OVERHEAD;
    crate::middleware::stack(
        protected
            .merge(open)
            .fallback(|| async { ApiError::RouteNotFound })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(DefaultBodyLimit::max(body_limit)),
        &state,
    )
    .with_state(state)
}
