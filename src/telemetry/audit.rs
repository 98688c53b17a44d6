//! One audit line per change to biometric data: who (key id), whose data, what, and how it ended.

use crate::auth::KeyId;
use crate::domain::UserId;

/// `outcome` is `Err` with the error when the change failed; its whole chain is logged.
pub fn record(
    event: &str,
    user: &UserId,
    key: Option<&KeyId>,
    outcome: Result<(), &(dyn std::error::Error + 'static)>,
) {
    let key_id = key.map(|k| k.0.as_str()).unwrap_or("none");
    match outcome {
        Ok(()) => tracing::info!(target: "audit", event, user_id = %user, key_id, outcome = "ok"),
        Err(e) => {
            let reason = super::chain(e);
            tracing::info!(target: "audit", event, user_id = %user, key_id, outcome = "error", reason = %reason)
        }
    }
}
