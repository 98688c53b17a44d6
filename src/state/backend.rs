//! What a state backend must do, and the values it trades in: errors, decisions, attempts, rates.

use crate::domain::UserId;
use async_trait::async_trait;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the shared state server is unavailable")]
    Unavailable(#[source] ::redis::RedisError),
    #[error("the shared state server answered something unexpected: {0}")]
    Protocol(String),
    /// A single-use decision found the generation it was read under gone, or the state gone back
    /// past what this instance saw: the state was flushed, restarted or failed over while the
    /// request ran. Nothing was decided; the retry finds the token void.
    #[error("the shared state was lost while the request ran (flushed, restarted or failed over)")]
    Lost,
}

/// A single-use decision, made in one atomic step only while the generation it was read under is
/// in force and the state has not gone back past what this instance saw (`state/generation.rs`):
/// a flush or a failover between the request's reads and this write refuses instead of
/// re-admitting what was spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Marks a one-time token used until `ttl` from now, unless it already is.
    Claim { id: &'a str, ttl: Duration },
    /// Moves a counter forward to `value` (kept `ttl`), unless it is already there or past it.
    Advance { id: &'a str, value: u64, ttl: Duration },
}

/// What came of a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Made; the state's tick after it.
    Made { tick: u64 },
    /// Refused: the token was used, the counter is there already.
    Refused,
    /// Not made: the generation is gone or the state went back.
    Lost,
}

/// How long a user's count of consecutive failed verifications is kept after the last one: long
/// enough that spreading guesses out in time does not reset it (NIST SP 800-63B-4 counts attempts,
/// not attempts per period).
pub const FAILURE_LADDER_TTL: Duration = Duration::from_secs(90 * 86_400);

/// Whose request rate is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKind {
    Ip,
    Key,
}

/// The lockout limits and the request rates, the same for every backend.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub lockout_per_client: usize,
    pub lockout_per_user: usize,
    pub lockout_window: Duration,
    /// Requests per minute; 0 disables.
    pub rate_per_ip: u32,
    pub rate_per_key: u32,
}

/// One verification attempt as registered with a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    pub user: UserId,
    pub client: IpAddr,
    /// Unique per attempt (the local backend also uses it to find the entry).
    pub id: String,
}

/// What a backend must do. Every method is one atomic step.
#[async_trait]
pub trait StateBackend: Send + Sync + 'static {
    /// Registers a verification attempt (counted as a failure until settled) and says how many
    /// more failures the limits allow after it (`None`: no limit), or says how long this client
    /// (or everyone) is locked out of the user.
    async fn begin_attempt(&self, key: &AttemptKey) -> Result<Result<Option<u32>, Duration>, StateError>;
    /// A decision: a match forgives this client's failures; a mismatch stays counted.
    async fn settle_attempt(&self, key: &AttemptKey, matched: bool) -> Result<(), StateError>;
    /// No decision: the attempt is taken back. Called from a drop guard, so it cannot wait: a
    /// remote backend does it in the background (and the entry expires with the window anyway).
    fn withdraw_attempt(&self, key: AttemptKey);
    /// One request against a rate; `Err(wait)` when over it.
    async fn check_rate(&self, kind: RateKind, who: &str) -> Result<Result<(), Duration>, StateError>;
    /// Marks a one-time token as used until `ttl` from now; `false` when it already was.
    async fn claim_once(&self, token_id: &str, ttl: Duration) -> Result<bool, StateError>;
    /// Takes back a claim whose use did not happen (from a drop guard, like `withdraw_attempt`).
    fn release_once(&self, token_id: String);
    /// A single-use decision under `generation`, unless the state's tick is below `seen_tick`.
    /// A claim uses the same key as [`StateBackend::claim_once`], so `release_once` takes it back.
    async fn decide(&self, decision: Decision<'_>, generation: &str, seen_tick: u64) -> Result<Decided, StateError>;
    /// The user's current version: changes on every register, replace and delete, on any instance.
    async fn user_version(&self, user: &UserId) -> Result<Option<String>, StateError>;
    async fn bump_user_version(&self, user: &UserId) -> Result<(), StateError>;
    /// Stores a short record (a session's state, a user's revocation mark) until `ttl` from now.
    async fn put_record(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StateError>;
    async fn get_record(&self, key: &str) -> Result<Option<String>, StateError>;
    /// Stores `value` until `ttl` from now unless a record is there already; returns the record
    /// that is there now. One atomic step: of two racing, both get the same value.
    async fn keep_record(&self, key: &str, value: &str, ttl: Duration) -> Result<String, StateError>;
    async fn drop_record(&self, key: &str) -> Result<(), StateError>;
    /// Every entry of the user's replay memory still within its window (digests and fingerprints).
    async fn remembered(&self, user: &UserId) -> Result<Vec<String>, StateError>;
    /// The replay memory: whether any of these photo digests was remembered for the user within
    /// the window, and (with `remember`) remembers them all for `window` from now, keeping at most
    /// `cap` per user (the oldest go first). One atomic step, so two copies racing both cannot pass.
    async fn photos_seen(
        &self,
        user: &UserId,
        digests: &[String],
        remember: Option<(Duration, usize)>,
    ) -> Result<bool, StateError>;
    /// The failure ladder: consecutive failed verifications of the user, from any client. A
    /// failure adds one and returns the new count; a success (or an unlock) sets it back to 0.
    async fn consecutive_failures(&self, user: &UserId) -> Result<u64, StateError>;
    async fn record_verification(&self, user: &UserId, matched: bool) -> Result<u64, StateError>;
    /// The generation in force (made from `candidate` when there is none) and the tick, raised by
    /// one on every call: how a lost state is noticed (`state/generation.rs`).
    async fn generation(&self, candidate: &str) -> Result<(String, u64), StateError>;
    /// Replaces the generation `lost` with `candidate` unless another instance already did;
    /// returns the generation in force.
    async fn renew_generation(&self, lost: &str, candidate: &str) -> Result<String, StateError>;
    /// A write/read/delete round trip under the key prefix.
    async fn probe(&self) -> Result<(), StateError>;
    /// For logs: where the state lives (never a password).
    fn describe(&self) -> String;
    /// Housekeeping, called once a minute (the in-process backend forgets recovered rate entries).
    fn prune(&self) {}
}
