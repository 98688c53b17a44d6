//! The retention schedule: when each user was last used (recorded at most once per
//! `touch_every`, in the background), and when their data is due for deletion.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ServiceError;
use super::privacy::{Retention, RetentionStatus};
use crate::domain::UserId;
use crate::state::SharedState;
use crate::store::{ReferenceStore, StoredReference};
use crate::token::now;

fn rfc3339_secs(text: &str) -> Option<u64> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(|t| t.unix_timestamp().max(0) as u64)
}

pub struct RetentionSchedule {
    refs: ReferenceStore,
    state: SharedState,
    /// RETENTION_PERIOD; `None` keeps data until deleted.
    policy: Option<Retention>,
}

impl RetentionSchedule {
    pub fn new(refs: ReferenceStore, state: SharedState, policy: Option<Retention>) -> Self {
        Self { refs, state, policy }
    }

    /// RETENTION_PERIOD and how often a use is written, when a period is set.
    pub fn policy(&self) -> Option<Retention> {
        self.policy
    }

    /// When the user was last used (their newest enrolment at the least) and when their data is
    /// due for deletion.
    pub async fn status(&self, user: &UserId, references: &[StoredReference]) -> Result<RetentionStatus, ServiceError> {
        let enrolled = references.iter().filter_map(|r| rfc3339_secs(r.created_at())).max().unwrap_or(0);
        let last_used = self.refs.last_used(user).await?.unwrap_or(0).max(enrolled);
        Ok(RetentionStatus { last_used, delete_after: self.policy.map(|r| last_used + r.period.as_secs()) })
    }

    /// Notes a successful verification or enrolment for the retention schedule, at most once per
    /// `touch_every` per user (a single-use claim in the shared state keeps the instances from all
    /// writing). In the background: a verify does not wait for it, and a failure only delays the
    /// record to the next use.
    pub fn record_use(&self, user: &UserId) {
        let Some(retention) = self.policy else { return };
        let (state, refs, user) = (self.state.clone(), self.refs.clone(), user.clone());
        tokio::spawn(async move {
            match state.claim(&format!("used:{user}"), retention.touch_every).await {
                Ok(Some(claim)) => match refs.record_use(&user, now()).await {
                    Ok(()) => claim.spend(),
                    Err(e) => tracing::warn!(error = %e, "last use not recorded; the next use retries"),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %crate::telemetry::chain(&e), "last use not recorded"),
            }
        });
    }
}
