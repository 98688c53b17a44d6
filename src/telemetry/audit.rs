//! One audit line per change to biometric data: who (key id and kind), whose data, what, and how it ended.

use crate::auth::Caller;
use crate::domain::UserId;

/// `outcome` is `Err` with the error when the change failed; its whole chain is logged.
pub fn record(event: &str, user: &UserId, caller: &Caller, outcome: Result<(), &(dyn std::error::Error + 'static)>) {
    let key_id = caller.key().map(|k| k.id.as_str()).unwrap_or("none");
    let key_kind = caller.kind();
    match outcome {
        Ok(()) => tracing::info!(target: "audit", event, user_id = %user, key_id, key_kind, outcome = "ok"),
        Err(e) => {
            let reason = super::chain(e);
            tracing::info!(target: "audit", event, user_id = %user, key_id, key_kind, outcome = "error", reason = %reason)
        }
    }
}
