//! The HTTP surface. Handlers are glue: extract, call the service, shape the response.

pub mod error;
pub mod health;
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
}

/// Bytes of multipart framing and the user_id field allowed on top of the image itself.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/register", post(register::register))
        .route("/api/verify", post(verify::verify))
        .route("/api/users/{user_id}", get(users::get_user).delete(users::delete_user))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::middleware::require_api_key));
    let open = Router::new().route("/health", get(health::health)).route("/ready", get(health::ready));
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
