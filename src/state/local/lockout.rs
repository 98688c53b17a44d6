//! The verification lockout in one process: failed verifications counted per (user, client
//! address), so that an impostor at one address cannot lock the owner out from theirs, plus a
//! higher per-user ceiling across all addresses against guessing spread over many.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::UserId;
use crate::state::backend::AttemptKey;

/// Bound on entries tracked at once; beyond it, expired entries are dropped first.
const MAX_TRACKED: usize = 100_000;

type Queue = VecDeque<(Instant, String)>;

#[derive(Default)]
struct Attempts {
    per_client: HashMap<(UserId, IpAddr), Queue>,
    per_user: HashMap<UserId, Queue>,
}

pub struct Lockout {
    per_client_max: usize,
    per_user_max: usize,
    window: Duration,
    attempts: Mutex<Attempts>,
}

fn expire(queue: &mut Queue, now: Instant, window: Duration) {
    while queue.front().is_some_and(|(t, _)| now.duration_since(*t) >= window) {
        queue.pop_front();
    }
}

fn remove(queue: Option<&mut Queue>, id: &str) {
    if let Some(queue) = queue {
        queue.retain(|(_, entry)| entry != id);
    }
}

impl Lockout {
    /// A maximum of 0 disables that limit.
    pub fn new(per_client_max: usize, per_user_max: usize, window: Duration) -> Self {
        Self { per_client_max, per_user_max, window, attempts: Mutex::new(Attempts::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the attempt and returns the failures still allowed after it (`None`: no limit), or
    /// the wait when this client or everyone is at a limit.
    pub fn begin(&self, key: &AttemptKey) -> Result<Option<u32>, Duration> {
        let now = Instant::now();
        let window = self.window;
        let mut state = self.lock();
        if state.per_client.len() + state.per_user.len() >= MAX_TRACKED {
            let live = |q: &Queue| q.back().is_some_and(|(t, _)| now.duration_since(*t) < window);
            state.per_client.retain(|_, q| live(q));
            state.per_user.retain(|_, q| live(q));
        }
        let Attempts { per_client, per_user } = &mut *state;
        let pair = per_client.entry((key.user.clone(), key.client)).or_default();
        let all = per_user.entry(key.user.clone()).or_default();
        expire(pair, now, window);
        expire(all, now, window);
        for (queue, max) in [(&*pair, self.per_client_max), (&*all, self.per_user_max)] {
            if max > 0 && queue.len() >= max {
                let oldest = queue.front().expect("non-empty when at the limit").0;
                return Err(window.saturating_sub(now.duration_since(oldest)).max(Duration::from_secs(1)));
            }
        }
        pair.push_back((now, key.id.clone()));
        all.push_back((now, key.id.clone()));
        Ok([(pair.len(), self.per_client_max), (all.len(), self.per_user_max)]
            .into_iter()
            .filter(|&(_, max)| max > 0)
            .map(|(used, max)| u32::try_from(max - used).unwrap_or(u32::MAX))
            .min())
    }

    /// A match forgives this client's failures for the user (and was itself no failure); a
    /// mismatch stays counted against both limits.
    pub fn settle(&self, key: &AttemptKey, matched: bool) {
        if matched {
            let mut state = self.lock();
            state.per_client.remove(&(key.user.clone(), key.client));
            remove(state.per_user.get_mut(&key.user), &key.id);
        }
    }

    pub fn withdraw(&self, key: &AttemptKey) {
        let mut state = self.lock();
        remove(state.per_client.get_mut(&(key.user.clone(), key.client)), &key.id);
        remove(state.per_user.get_mut(&key.user), &key.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(user: &str, client: &str) -> AttemptKey {
        AttemptKey {
            user: UserId::parse(user).unwrap(),
            client: client.parse().unwrap(),
            id: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    fn fail(lockout: &Lockout, user: &str, client: &str) {
        let key = attempt(user, client);
        lockout.begin(&key).unwrap();
        lockout.settle(&key, false);
    }

    #[test]
    fn failures_lock_out_that_client_only_and_a_match_forgives_it() {
        let lockout = Lockout::new(3, 20, Duration::from_secs(300));
        for _ in 0..3 {
            fail(&lockout, "alice", "203.0.113.7");
        }
        let wait = lockout.begin(&attempt("alice", "203.0.113.7")).expect_err("locked");
        assert!(wait > Duration::from_secs(290));
        let owner = attempt("alice", "198.51.100.9");
        lockout.begin(&owner).expect("the owner's address is not locked");
        lockout.settle(&owner, true);
        assert!(lockout.begin(&attempt("alice", "203.0.113.7")).is_err(), "the impostor stays locked");
    }

    #[test]
    fn the_per_user_ceiling_stops_guessing_spread_over_many_addresses() {
        let lockout = Lockout::new(5, 4, Duration::from_secs(300));
        for i in 0..4 {
            fail(&lockout, "bob", &format!("192.0.2.{i}"));
        }
        assert!(lockout.begin(&attempt("bob", "192.0.2.99")).is_err());
    }

    #[test]
    fn withdrawn_attempts_free_their_place_and_pending_ones_count() {
        let lockout = Lockout::new(2, 20, Duration::from_secs(300));
        let (p1, p2) = (attempt("alice", "192.0.2.1"), attempt("alice", "192.0.2.1"));
        lockout.begin(&p1).unwrap();
        lockout.begin(&p2).unwrap();
        assert!(lockout.begin(&attempt("alice", "192.0.2.1")).is_err(), "two in flight fill the allowance");
        lockout.withdraw(&p1);
        assert!(lockout.begin(&attempt("alice", "192.0.2.1")).is_ok());
    }

    #[test]
    fn failures_expire_with_the_window() {
        let lockout = Lockout::new(1, 1, Duration::ZERO);
        fail(&lockout, "alice", "192.0.2.1");
        assert!(lockout.begin(&attempt("alice", "192.0.2.1")).is_ok());
    }
}
