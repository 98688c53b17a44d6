//! One attempt at a decision, for register and verify alike: what opening it holds and what
//! deciding it does, written once.
//!
//! Opening ([`FaceAuth::open_attempt`]) takes the ticket the caller presented (a session or a grant,
//! already checked and claimed, revocation read), checks the failure ladder and begins the lockout
//! attempt. The [`Attempt`] it returns is a drop guard for all of them: a request that ends without
//! a decision (an error that may pass if tried again, a dropped client, a timeout) gives every one
//! back, whatever path the drop took. Deciding consumes it, in this order and no other:
//! 1. [`Attempt::spend`]: the ticket is spent (a session comes back to sign the result with);
//! 2. [`Spent::close`]: the use recorded, the ladder climbed, the tries left told, the lockout
//!    settled, the session's outcome written for the backend.
//!
//! Replay's looks are the attempt's too: the first before any inference
//! ([`Attempt::presented_before`]), the rest once the result is known and before it is spent
//! ([`Attempt::remember`]).
//!
//! Ownership enforces the order: a spent attempt cannot be spent again or given back, and one not
//! spent cannot be closed.

use std::net::IpAddr;

use super::access::HeldSession;
use super::error::ServiceError;
use super::facade::FaceAuth;
use super::liveness::replay;
use super::sessions::{SessionOutcome, SessionPurpose, ValidSession};
use crate::domain::UserId;
use crate::face::fingerprint::Fingerprint;
use crate::state::{self, Claim};

/// On whose authority the attempt runs.
pub(super) enum Ticket {
    /// A trusted backend (a secret key): nothing to spend. A verify is still counted.
    Trusted,
    /// An enrolment grant, claimed.
    Grant(Claim),
    /// A session, held for this attempt.
    Session(Box<HeldSession>),
}

impl Ticket {
    /// The session presented, if any.
    pub(super) fn session(&self) -> Option<&ValidSession> {
        match self {
            Ticket::Session(held) => Some(&held.session),
            _ => None,
        }
    }
}

/// What a decided result says of the attempt.
pub(super) trait Decided {
    /// The attempt succeeded: a match, a stored reference.
    fn succeeded(&self) -> bool;
    /// A result that is not a success, told the failures still allowed.
    fn told(self, left: u32) -> Self;
}

/// An open attempt: the ticket held and the lockout attempt begun, both given back if it is dropped.
#[must_use = "an attempt dropped undecided gives its ticket and its lockout attempt back"]
pub(super) struct Attempt {
    user: UserId,
    purpose: SessionPurpose,
    ticket: Ticket,
    lockout: Option<state::Attempt>,
    /// DISABLE_AFTER_FAILURES on a verify: the ladder this attempt climbs.
    ladder: Option<u64>,
}

/// An attempt whose ticket is spent: only closing it is left.
#[must_use = "a spent attempt must be closed: the lockout settled and the outcome recorded"]
pub(super) struct Spent {
    user: UserId,
    purpose: SessionPurpose,
    session: Option<ValidSession>,
    lockout: Option<state::Attempt>,
    ladder: Option<u64>,
}

/// Whether a result decides its attempt. What does not (storage down, no face, a bad upload) may
/// pass if tried again: the attempt is dropped and everything it held given back.
pub(super) fn decides<T>(result: &Result<T, ServiceError>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => e.decided_code().is_some(),
    }
}

impl FaceAuth {
    /// Opens an attempt on `ticket`'s authority. A verify checks the failure ladder first (a
    /// disabled user is refused before anything is counted) and is always counted against the
    /// lockout; a register is counted only on a client's ticket (a grant or a session).
    pub(super) async fn open_attempt(
        &self,
        user: &UserId,
        client: IpAddr,
        purpose: SessionPurpose,
        ticket: Ticket,
    ) -> Result<Attempt, ServiceError> {
        let ladder = match purpose {
            SessionPurpose::Verify => self.ladder.limit(),
            SessionPurpose::Enroll => None,
        };
        if let Some(limit) = ladder {
            self.ladder.check(user, limit).await?;
        }
        let counted = purpose == SessionPurpose::Verify || !matches!(ticket, Ticket::Trusted);
        let lockout = match counted {
            true => Some(self.state.begin_attempt(user, client).await?.map_err(ServiceError::TooManyAttempts)?),
            false => None,
        };
        Ok(Attempt { user: user.clone(), purpose, ticket, lockout, ladder })
    }
}

impl Attempt {
    /// Replay's first look, before any inference: whether these photos' bytes were presented in a
    /// decided verify of the user within REPLAY_WINDOW_SECS.
    pub(super) async fn presented_before(&self, service: &FaceAuth, digests: &[String]) -> Result<bool, ServiceError> {
        service.replays.photos_seen(&self.user, digests, false).await
    }

    /// Replay's looks once the attempt is decided, on the photos it judged (`None`: a refused
    /// device or budget left them unexamined, and they are not remembered as presented).
    /// Their bytes and their content's fingerprints are remembered atomically with one more look:
    /// of two copies racing, one is refused here. Fingerprints are compared in the service, not in
    /// that atomic step, so two disguised copies racing could both pass it: looked at again now
    /// that this attempt's are stored, another attempt's close fingerprint can only be a copy that
    /// raced this one, and a success is refused (fail closed: one person does not race themselves).
    pub(super) async fn remember<T: Decided>(
        &self,
        service: &FaceAuth,
        judged: Option<(&[String], &[Fingerprint])>,
        result: Result<T, ServiceError>,
    ) -> Result<Result<T, ServiceError>, ServiceError> {
        let Some((digests, fingerprints)) = judged else { return Ok(result) };
        let remembered: Vec<String> =
            digests.iter().cloned().chain(fingerprints.iter().map(replay::remembered_as)).collect();
        let seen = service.replays.photos_seen(&self.user, &remembered, true).await?;
        if !result.as_ref().is_ok_and(Decided::succeeded) {
            return Ok(result);
        }
        if seen || service.replays.raced_by_a_copy(&self.user, fingerprints).await? {
            return Ok(Err(ServiceError::ReplayedImage));
        }
        Ok(result)
    }

    /// The attempt is decided: its ticket is spent and cannot be presented again.
    pub(super) fn spend(self) -> Spent {
        let session = match self.ticket {
            Ticket::Trusted => None,
            Ticket::Grant(claim) => {
                claim.spend();
                None
            }
            Ticket::Session(held) => Some(held.spend()),
        };
        Spent { user: self.user, purpose: self.purpose, session, lockout: self.lockout, ladder: self.ladder }
    }
}

impl Spent {
    /// The session spent, to sign the result for its audience and nonce.
    pub(super) fn session(&self) -> Option<&ValidSession> {
        self.session.as_ref()
    }

    /// Counts the decided `result` and records it. A failure climbs the ladder (its top written
    /// before the answer goes out) and is told the tries left, the nearer of the lockout's and the
    /// ladder's; the lockout attempt is settled (a success forgives this client's failures); a
    /// session's outcome is written for the backend, from what `outcome` makes of the result.
    pub(super) async fn close<T: Decided>(
        self,
        service: &FaceAuth,
        mut result: Result<T, ServiceError>,
        outcome: impl FnOnce(&Result<T, ServiceError>) -> SessionOutcome,
    ) -> Result<T, ServiceError> {
        let succeeded = result.as_ref().is_ok_and(Decided::succeeded);
        if succeeded {
            service.retention.record_use(&self.user);
        }
        let mut left = self.lockout.as_ref().and_then(state::Attempt::left_if_failed).map(u64::from);
        if let Some(limit) = self.ladder {
            match service.ladder.climb(&self.user, succeeded, limit).await {
                Ok(failures) => left = left.into_iter().chain([limit.saturating_sub(failures)]).min(),
                // Fail closed on the next attempt rather than this decided one: the state is
                // down, and the next check of the ladder answers 503 until it is back.
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: failure ladder not updated")
                }
            }
        }
        if !succeeded && let Some(left) = left.map(|n| u32::try_from(n).unwrap_or(u32::MAX)) {
            result = match result {
                Ok(v) => Ok(v.told(left)),
                Err(error) => Err(ServiceError::Counted { error: Box::new(error), attempts_left: left }),
            };
        }
        if let Some(lockout) = self.lockout
            && let Err(e) = lockout.settle(succeeded).await
        {
            // The decision stands; a failure stays counted (it was recorded as one).
            tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: attempt not settled");
        }
        if let Some(session) = &self.session {
            service.access.complete(session, &self.user, self.purpose, outcome(&result)).await;
        }
        result
    }
}
