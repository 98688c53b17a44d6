//! The HTTP surface. Handlers are glue: extract, call the service, shape the response.

pub mod challenges;
mod completion;
pub mod demo;
pub mod dto;
pub mod enrollments;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod passkeys;
pub mod register;
pub mod schema;
pub mod sessions;
pub mod tokens;
pub mod upload;
pub mod users;
pub mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use crate::app::AppState;
use crate::error::ApiError;
use crate::middleware;

pub fn router(state: AppState) -> Router {
    // Biometric operations (each leaves an audit record) wait while the audit trail cannot keep
    // records; a method router's route_layer covers only the methods added before it.
    let audited = || from_fn_with_state(state.clone(), middleware::admit_audited);
    let uploads = Router::new()
        .route("/api/register", post(register::register))
        .route("/api/verify", post(verify::verify))
        .route_layer(from_fn_with_state(state.clone(), middleware::admit_upload))
        .route_layer(audited());
    let json = || DefaultBodyLimit::max(dto::JSON_BODY_LIMIT);
    let trusted = Router::new()
        .route("/api/users/{user_id}", delete(users::delete_user).route_layer(audited()).get(users::get_user))
        .route("/api/users/{user_id}/unlock", post(users::unlock_user).route_layer(audited()).route_layer(json()))
        .route("/api/users/{user_id}/export", get(users::export_user).route_layer(audited()))
        .route("/api/enrollments", post(enrollments::create_enrollment).route_layer(audited()).route_layer(json()))
        .route("/api/sessions", post(sessions::create_session).route_layer(audited()).route_layer(json()))
        .route("/api/sessions/{session_id}", get(sessions::get_session))
        // A token may be up to 8 KiB (the documented maxLength), and only a secret key reaches this.
        .route(
            "/api/tokens/introspect",
            post(tokens::introspect).route_layer(DefaultBodyLimit::max(tokens::INTROSPECT_BODY_LIMIT)),
        )
        .route_layer(axum::middleware::from_fn(middleware::require_trusted_caller));
    let protected = uploads
        .merge(trusted)
        .route("/api/challenges", post(challenges::create_challenge).route_layer(json()))
        // A session token (up to 4 KiB) and a registration's attestation make these bodies larger
        // than the others: 16 KiB.
        .route(
            "/api/passkeys/options",
            post(passkeys::passkey_options).route_layer(DefaultBodyLimit::max(passkeys::BODY_LIMIT)),
        )
        .route(
            "/api/passkeys",
            post(passkeys::register_passkey)
                .route_layer(audited())
                .route_layer(DefaultBodyLimit::max(passkeys::BODY_LIMIT)),
        )
        // Route layers run last-added first: the per-IP limit throttles before a key is even checked,
        // and the key is known before a route's own layers (admission, trusted callers) run.
        .route_layer(from_fn_with_state(state.clone(), middleware::require_api_key))
        .route_layer(from_fn_with_state(state.clone(), middleware::limit_client_rate));
    let scraped = Router::new()
        .route("/metrics", get(metrics::metrics_endpoint))
        .route_layer(from_fn_with_state(state.clone(), middleware::require_metrics_access));
    // Made once: the document only changes with the configuration.
    let contract = bytes::Bytes::from(openapi::document(state.http.max_upload_bytes).to_string());
    let open = Router::new()
        .route("/", get(demo::index))
        .route("/demo/app.js", get(demo::script))
        .route("/demo/app.css", get(demo::style))
        .route("/sdk/faceauth.js", get(demo::sdk))
        .route("/sdk/face-mesh/{version}/{file}", get(demo::guide))
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route(
            "/openapi.json",
            get(move || {
                let contract = contract.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], contract) }
            }),
        );
    let body_limit = state.http.body_limit();
    middleware::stack(
        protected
            .merge(scraped)
            .merge(open)
            .fallback(|| async { ApiError::RouteNotFound })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(DefaultBodyLimit::max(body_limit)),
        &state,
    )
    .with_state(state)
}
