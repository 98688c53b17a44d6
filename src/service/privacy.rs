//! What the data-protection side of the service does with a user's biometric data: the consent
//! record kept with each reference, the retention schedule (delete a user unused for
//! RETENTION_PERIOD), and the user's own copy of their data (export).

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ServiceError;
use super::facade::FaceAuth;
use crate::audit::{Actor, Event};
use crate::domain::UserId;
use crate::store::ConsentRecord;
use crate::token::now;

/// The notice a user accepted, as a register presents it, and on whose key.
#[derive(Debug, Clone)]
pub struct Consent {
    pub notice: String,
    pub key_id: String,
    pub key_kind: &'static str,
}

impl Consent {
    pub(super) fn record(&self) -> ConsentRecord {
        ConsentRecord {
            notice: self.notice.clone(),
            recorded_at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            key_id: self.key_id.clone(),
            key_kind: self.key_kind.into(),
        }
    }
}

/// RETENTION_PERIOD, and how often a user's last use is written (at most once per `touch_every`
/// per user, across instances: not an object write per verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub period: Duration,
    pub touch_every: Duration,
}

impl Retention {
    /// A day between writes, or a tenth of the period when that is shorter (a period of seconds,
    /// as in tests, still sees each use).
    pub fn new(period: Duration) -> Self {
        Self { period, touch_every: (period / 10).clamp(Duration::from_secs(1), Duration::from_secs(86_400)) }
    }
}

/// One reference's consent, as `GET /api/users/{id}` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceConsent {
    pub reference_id: String,
    #[serde(flatten)]
    pub consent: ConsentRecord,
}

/// The user's retention status.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RetentionStatus {
    /// Unix seconds of the last successful verification or enrolment, as recorded.
    pub last_used: u64,
    /// When the user's data will be deleted if unused until then; `None` without a period.
    pub delete_after: Option<u64>,
}

/// A user as the backend reads them.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub reference_ids: Vec<String>,
    pub consents: Vec<ReferenceConsent>,
    pub retention: RetentionStatus,
    /// The user's passkeys (credential ids, counters, dates; never a private key: there is none here).
    pub passkeys: Vec<super::passkeys::PasskeyInfo>,
}

/// What a retention sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub examined: usize,
    pub expired: Vec<UserId>,
    /// Objects removed (zero on a dry run).
    pub objects_removed: usize,
}

impl FaceAuth {
    /// The user's references, consent records and retention status.
    pub async fn user_record(&self, user: &UserId) -> Result<UserRecord, ServiceError> {
        let references = self.refs.load(user).await?;
        if references.is_empty() {
            return Err(ServiceError::UserNotFound);
        }
        let consents = references
            .iter()
            .filter_map(|r| {
                r.consent().map(|c| ReferenceConsent { reference_id: r.reference_id().into(), consent: c.clone() })
            })
            .collect();
        let retention = self.retention.status(user, &references).await?;
        let passkeys = self.passkeys.passkeys_of(user).await?;
        Ok(UserRecord {
            passkeys,
            reference_ids: references.iter().map(|r| r.reference_id().to_string()).collect(),
            consents,
            retention,
        })
    }

    /// Deletes every user unused for RETENTION_PERIOD (a dry run only lists them). Each user is
    /// judged and deleted on its own, so an interrupted sweep is simply run again; a user who
    /// verifies while the sweep runs is judged on their new last use. `each` is told every user
    /// examined, and whether they expired.
    pub async fn retention_sweep(
        &self,
        dry_run: bool,
        mut each: impl FnMut(&UserId, bool),
    ) -> Result<RetentionReport, ServiceError> {
        let Some(retention) = self.retention.policy() else { return Ok(RetentionReport::default()) };
        let mut report = RetentionReport::default();
        for user in self.refs.users().await? {
            report.examined += 1;
            let references = self.refs.load(&user).await?;
            let status = self.retention.status(&user, &references).await?;
            // Whole seconds on both sides: a user is expired once the period has fully run.
            let expired = now().saturating_sub(status.last_used) >= retention.period.as_secs();
            each(&user, expired);
            if !expired {
                continue;
            }
            if !dry_run {
                // No deletion goes unrecorded: a full audit buffer stops the sweep here.
                self.audit.admit().map_err(ServiceError::AuditUnavailable)?;
                match self.delete_user(&user).await {
                    Ok(n) => report.objects_removed += n,
                    // Deleted meanwhile (another sweep, a backend): nothing left to do.
                    Err(ServiceError::UserNotFound) => {}
                    Err(e) => return Err(e),
                }
                self.audit.record(Event {
                    kind: "retention_delete",
                    user: &user,
                    actor: Actor::Service("retention"),
                    outcome: Ok(()),
                    detail: None,
                });
            }
            report.expired.push(user);
        }
        Ok(report)
    }
}
