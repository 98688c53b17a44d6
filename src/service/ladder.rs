//! The failure ladder: after `LOCKOUT_DISABLE_AFTER` consecutive failed verifications the user's
//! verification is off until a backend unlocks the user or replaces the references.
//!
//! The count lives in the shared state (it changes on every attempt); reaching the top is also
//! written to the bucket as a durable mark, so a flushed Redis or an empty replica cannot turn
//! verification back on: the count restarting at zero does not lift the mark.

use super::error::ServiceError;
use crate::domain::UserId;
use crate::state::SharedState;
use crate::store::{Mark, ReferenceStore};

/// The ladder: its count in the shared state, its top as a mark in the bucket.
pub struct Ladder {
    state: SharedState,
    refs: ReferenceStore,
    /// LOCKOUT_DISABLE_AFTER; `None`: verification is never disabled.
    limit: Option<u64>,
}

impl Ladder {
    pub fn new(state: SharedState, refs: ReferenceStore, limit: Option<u64>) -> Self {
        Self { state, refs, limit }
    }

    /// The consecutive failures that disable verification, when the ladder is on.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Refuses with 423 while the user is disabled, by the count or by the durable mark.
    pub async fn check(&self, user: &UserId, limit: u64) -> Result<(), ServiceError> {
        let (failures, mark) =
            tokio::join!(self.state.consecutive_failures(user), self.refs.mark(Mark::Disabled, user));
        let failures = failures?;
        if let Some(marked) = mark? {
            let marked = marked.parse::<u64>().unwrap_or(limit);
            return Err(ServiceError::VerificationDisabled(failures.max(marked)));
        }
        if failures >= limit {
            return Err(ServiceError::VerificationDisabled(failures));
        }
        Ok(())
    }

    /// Counts this decided attempt; at the top, the mark is written before the answer goes out.
    /// Returns the consecutive failures now.
    pub async fn climb(&self, user: &UserId, matched: bool, limit: u64) -> Result<u64, ServiceError> {
        let failures = self.state.record_verification(user, matched).await?;
        if failures >= limit {
            self.refs.set_mark(Mark::Disabled, user, &failures.to_string()).await?;
        }
        Ok(failures)
    }

    /// Back to the bottom: the mark goes first, then the count (a crash between them leaves the
    /// count, which still refuses, rather than a mark nobody can see the reason for).
    pub async fn reset(&self, user: &UserId) -> Result<u64, ServiceError> {
        let (failures, mark) =
            tokio::join!(self.state.consecutive_failures(user), self.refs.mark(Mark::Disabled, user));
        let marked = mark?.and_then(|m| m.parse::<u64>().ok()).unwrap_or(0);
        self.refs.clear_mark(Mark::Disabled, user).await?;
        self.state.record_verification(user, true).await?;
        Ok(failures?.max(marked))
    }
}
