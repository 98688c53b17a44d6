//! State that several instances must share to behave as one: lockout counters, rate limits, single
//! use of one-time tokens, and a per-user version that tells every instance when its cached
//! embeddings of a user are stale.
//!
//! Two backends: in-process (SHARED_STATE_URL unset: one instance, exactly as before) and a
//! Redis-protocol server (Redis, Valkey, ElastiCache), where every operation is one atomic command
//! or Lua script, never a read-modify-write over two round trips. A backend that cannot answer is
//! an error the callers turn into `503 state_unavailable`: a lockout that silently stopped counting
//! would be an open door.

mod backend;
mod generation;
mod local;
mod redis;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use generation::candidate as new_generation;
pub use local::LocalState;
pub use redis::{RedisState, RedisTarget};

use crate::domain::UserId;

pub use backend::{AttemptKey, Decided, Decision, FAILURE_LADDER_TTL, Policy, RateKind, StateBackend, StateError};

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
