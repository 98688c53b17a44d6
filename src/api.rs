//! The HTTP surface. Handlers are glue: extract, call the service, shape the response.

pub mod challenges;
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
use crate::audit::{Actor, Event};
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::middleware;

/// Runs an operation and its audit record in a task of their own. A client that disconnects drops
/// the handler's future and whatever it awaits, which could stop an operation between its steps
/// (a reference stored but not audited, a grant used but not spent); the task runs on to the end
/// whatever happens to the connection, and the handler only waits for it.
async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, ApiError> {
    use crate::telemetry::request::{REQUEST_ID, current_request_id};
    use tracing::Instrument;
    // The task keeps the request's span and id (a task-local does not cross a spawn by itself).
    let work = REQUEST_ID.scope(current_request_id(), work).in_current_span();
    match tokio::spawn(work).await {
        Ok(done) => Ok(done),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a task.
        Err(_) => Err(ApiError::Internal(None)),
    }
}

/// One operation and the audit record of its outcome, run to completion (`to_completion`), the
/// record durable before the answer. `work` gets its own handles to the state and the user.
async fn audited<T, E, F>(
    state: &AppState,
    kind: &'static str,
    user: &UserId,
    caller: Caller,
    work: impl FnOnce(AppState, UserId) -> F + Send + 'static,
) -> Result<Result<T, E>, ApiError>
where
    F: std::future::Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let (state, user) = (state.clone(), user.clone());
    to_completion(async move {
        let outcome = work(state.clone(), user.clone()).await;
        audit(&state, kind, &user, &caller, &outcome, None);
        state.service.audit().commit().await;
        outcome
    })
    .await
}

/// Records a biometric event the API decided, with the caller's key: the operation's outcome and
/// a bounded `detail` (a result word, a notice id).
fn audit<T, E: std::error::Error + 'static>(
    state: &AppState,
    kind: &'static str,
    user: &UserId,
    caller: &Caller,
    outcome: &Result<T, E>,
    detail: Option<&str>,
) {
    let outcome = outcome.as_ref().map(|_| ()).map_err(|e| e as &(dyn std::error::Error + 'static));
    state.service.audit().record(Event { kind, user, actor: Actor::Key(caller), outcome, detail });
}

/// The most a JSON request body may hold: the largest (a session with a nonce and an audience)
/// is a few hundred bytes. A client key cannot make the service buffer megabytes of JSON.
pub const JSON_BODY_LIMIT: usize = 4 * 1024;

pub fn router(state: AppState) -> Router {
    // Biometric operations (each leaves an audit record) wait while the audit trail cannot keep
    // records; a method router's route_layer covers only the methods added before it.
    let audited = || from_fn_with_state(state.clone(), middleware::admit_audited);
    let uploads = Router::new()
        .route("/api/register", post(register::register))
        .route("/api/verify", post(verify::verify))
        .route_layer(from_fn_with_state(state.clone(), middleware::admit_upload))
        .route_layer(audited());
    let json = || DefaultBodyLimit::max(JSON_BODY_LIMIT);
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
