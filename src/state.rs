//! State that several instances must share to behave as one: lockout counters, rate limits, single
//! use of one-time tokens, and a per-user version that tells every instance when its cached
//! embeddings of a user are stale.
//!
//! Two backends: in-process (SHARED_STATE_URL unset: one instance, exactly as before) and a
//! Redis-protocol server (Redis, Valkey, ElastiCache), where every operation is one atomic command
//! or Lua script, never a read-modify-write over two round trips. A backend that cannot answer is
//! an error the callers turn into `503 state_unavailable`: a lockout that silently stopped counting
//! would be an open door.

mod generation;
mod local;
mod redis;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use generation::candidate as new_generation;
pub use local::LocalState;
pub use redis::{RedisState, RedisTarget};

use crate::domain::UserId;

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

/// The backend in use and what this instance saw of its generation; cheap to clone.
#[derive(Clone)]
pub struct SharedState {
    backend: Arc<dyn StateBackend>,
    watch: Arc<generation::Watch>,
}

impl SharedState {
    pub fn new(backend: impl StateBackend) -> Self {
        Self { backend: Arc::new(backend), watch: Arc::default() }
    }

    pub fn backend(&self) -> &dyn StateBackend {
        &*self.backend
    }

    /// The generation every token issued now names, and every token presented must name. A
    /// change is logged and counted once per instance (`state/generation.rs`).
    pub async fn generation(&self) -> Result<String, StateError> {
        self.watch.current(&*self.backend).await
    }

    /// Registers a verification attempt; the guard withdraws it unless it is settled.
    pub async fn begin_attempt(&self, user: &UserId, client: IpAddr) -> Result<Result<Attempt, Duration>, StateError> {
        let key = AttemptKey { user: user.clone(), client, id: uuid::Uuid::new_v4().simple().to_string() };
        Ok(match self.backend.begin_attempt(&key).await? {
            Ok(left) => Ok(Attempt { state: self.clone(), key: Some(key), left }),
            Err(wait) => Err(wait),
        })
    }
}

impl std::ops::Deref for SharedState {
    type Target = dyn StateBackend;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

/// One verification in flight. It counts as a failure until it is settled, so parallel guesses
/// cannot slip past the limit. Dropped unsettled (the request was cancelled, timed out, or ended
/// without a decision: storage down, a bad photo) it is withdrawn, whatever path the drop took.
#[must_use = "an attempt dropped unsettled is withdrawn"]
pub struct Attempt {
    state: SharedState,
    key: Option<AttemptKey>,
    left: Option<u32>,
}

impl Attempt {
    /// Failures still allowed if this attempt fails too (`None`: the lockout is off); what the
    /// person is told as "tries left".
    pub fn left_if_failed(&self) -> Option<u32> {
        self.left
    }

    pub async fn settle(mut self, matched: bool) -> Result<(), StateError> {
        let key = self.key.take().expect("an attempt is settled once");
        let settled = self.state.settle_attempt(&key, matched).await;
        if settled.is_err() && matched {
            // The match could not forgive earlier failures; it must not count as one either.
            self.state.withdraw_attempt(key);
        }
        settled
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.state.withdraw_attempt(key);
        }
    }
}

/// A one-time token held by one use. Dropped unspent, the claim is released so the token may be
/// tried again; [`Claim::spend`] keeps it used.
#[must_use = "a claim dropped unspent is released"]
pub struct Claim {
    state: SharedState,
    token_id: Option<String>,
}

impl Claim {
    pub fn spend(mut self) {
        self.token_id = None;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(id) = self.token_id.take() {
            self.state.release_once(id);
        }
    }
}

impl SharedState {
    /// Claims a single-use token until `ttl` from now, as a decision under `generation` (the one the
    /// request checked the token against); `None` when it was already used (or is in use), and
    /// [`StateError::Lost`] when the state was lost since that check.
    pub async fn claim_under(
        &self,
        token_id: &str,
        ttl: Duration,
        generation: &str,
    ) -> Result<Option<Claim>, StateError> {
        Ok(self
            .decide(Decision::Claim { id: token_id, ttl }, generation)
            .await?
            .then(|| Claim { state: self.clone(), token_id: Some(token_id.to_string()) }))
    }

    /// Moves the counter `id` forward to `value` under `generation`; `false` when it is already
    /// there or past it (of two racing with one value, one wins).
    pub async fn advance_under(
        &self,
        id: &str,
        value: u64,
        ttl: Duration,
        generation: &str,
    ) -> Result<bool, StateError> {
        self.decide(Decision::Advance { id, value, ttl }, generation).await
    }

    async fn decide(&self, decision: Decision<'_>, generation: &str) -> Result<bool, StateError> {
        match self.backend.decide(decision, generation, self.watch.seen_tick()).await? {
            Decided::Made { tick } => {
                self.watch.saw_tick(tick);
                Ok(true)
            }
            Decided::Refused => Ok(false),
            Decided::Lost => {
                // Looked again so the loss is noticed, logged and counted now (and a rollback
                // renews the generation), not at some later request.
                if let Err(e) = self.generation().await {
                    tracing::warn!(error = %e, "shared state: generation not looked at again");
                }
                Err(StateError::Lost)
            }
        }
    }

    /// Claims a one-time token until `ttl` from now; `None` when it was already used (or is in use).
    /// For housekeeping leases; a single-use decision of a request is [`SharedState::claim_under`].
    pub async fn claim(&self, token_id: &str, ttl: Duration) -> Result<Option<Claim>, StateError> {
        Ok(self
            .backend
            .claim_once(token_id, ttl)
            .await?
            .then(|| Claim { state: self.clone(), token_id: Some(token_id.to_string()) }))
    }
}
