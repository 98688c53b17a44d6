//! Operations run to completion whatever happens to the connection, and the audit record of
//! each outcome.

use crate::app::AppState;
use crate::audit::{Actor, Event};
use crate::auth::Caller;
use crate::domain::UserId;
use crate::error::ApiError;

/// Runs an operation and its audit record in a task of their own. A client that disconnects drops
/// the handler's future and whatever it awaits, which could stop an operation between its steps
/// (a reference stored but not audited, a grant used but not spent); the task runs on to the end
/// whatever happens to the connection, and the handler only waits for it.
pub(super) async fn to_completion<T: Send + 'static>(
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
pub(super) async fn audited<T, E, F>(
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
pub(super) fn audit<T, E: std::error::Error + 'static>(
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
