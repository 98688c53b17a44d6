//! The verification lockout: failed verifications counted per (user, client address), so that an
//! impostor at one address cannot lock the owner out from theirs, plus a higher per-user ceiling
//! across all addresses against guessing spread over many.
//!
//! The trade-off: an attacker with more addresses than `per_user_max / per_client_max` can still
//! reach the ceiling and lock the user out everywhere for one window; a lower ceiling protects the
//! account better and makes that denial of service cheaper. The defaults (5 per client, 20 per
//! user, 300 s) allow four addresses' worth of guesses per window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::UserId;

/// Bound on entries tracked at once; beyond it, expired entries are dropped first.
const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
struct Attempts {
    per_client: HashMap<(UserId, IpAddr), VecDeque<Instant>>,
    per_user: HashMap<UserId, VecDeque<Instant>>,
}

pub struct Lockout {
    per_client_max: usize,
    per_user_max: usize,
    window: Duration,
    attempts: Mutex<Attempts>,
}

/// One verification in flight. It counts as a failure until it is settled, so parallel guesses
/// cannot slip past the limit. Dropped unsettled (the request was cancelled, timed out, or ended
/// without a decision: storage down, a bad photo) it is withdrawn, whatever path the drop took.
#[must_use = "an attempt dropped unsettled is withdrawn"]
pub struct Attempt<'a> {
    lockout: &'a Lockout,
    user: UserId,
    client: IpAddr,
    at: Instant,
    settled: bool,
}

fn expire(queue: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while queue.front().is_some_and(|t| now.duration_since(*t) >= window) {
        queue.pop_front();
    }
}

fn remove(queue: Option<&mut VecDeque<Instant>>, at: Instant) {
    if let Some(queue) = queue
        && let Some(i) = queue.iter().position(|t| *t == at)
    {
        queue.remove(i);
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

    /// Registers an attempt, or says how long this client (or everyone) is locked out of the user.
    pub fn begin(&self, user: &UserId, client: IpAddr) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let window = self.window;
        let mut state = self.lock();
        if state.per_client.len() + state.per_user.len() >= MAX_TRACKED {
            let live = |q: &VecDeque<Instant>| q.back().is_some_and(|t| now.duration_since(*t) < window);
            state.per_client.retain(|_, q| live(q));
            state.per_user.retain(|_, q| live(q));
        }
        let Attempts { per_client, per_user } = &mut *state;
        let pair = per_client.entry((user.clone(), client)).or_default();
        let all = per_user.entry(user.clone()).or_default();
        expire(pair, now, window);
        expire(all, now, window);
        for (queue, max) in [(&*pair, self.per_client_max), (&*all, self.per_user_max)] {
            if max > 0 && queue.len() >= max {
                let oldest = *queue.front().expect("non-empty when at the limit");
                return Err(window.saturating_sub(now.duration_since(oldest)).max(Duration::from_secs(1)));
            }
        }
        pair.push_back(now);
        all.push_back(now);
        Ok(Attempt { lockout: self, user: user.clone(), client, at: now, settled: false })
    }
}

impl Attempt<'_> {
    /// A decision was made. A match forgives this client's failures for the user; a mismatch stays
    /// counted against both limits.
    pub fn settle(mut self, matched: bool) {
        self.settled = true;
        if matched {
            let mut state = self.lockout.lock();
            state.per_client.remove(&(self.user.clone(), self.client));
            // The match itself was no failure; other clients' failures stay under the ceiling.
            remove(state.per_user.get_mut(&self.user), self.at);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut state = self.lockout.lock();
        remove(state.per_client.get_mut(&(self.user.clone(), self.client)), self.at);
        remove(state.per_user.get_mut(&self.user), self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_lock_out_that_client_only_and_a_match_forgives_it() {
        let lockout = Lockout::new(3, 20, Duration::from_secs(300));
        let alice = UserId::parse("alice").unwrap();
        for _ in 0..3 {
            lockout.begin(&alice, ip("203.0.113.7")).unwrap().settle(false);
        }
        let wait = lockout.begin(&alice, ip("203.0.113.7")).err().expect("locked");
        assert!(wait > Duration::from_secs(290));
        let owner = lockout.begin(&alice, ip("198.51.100.9")).expect("the owner's address is not locked");
        owner.settle(true);
        assert!(lockout.begin(&alice, ip("203.0.113.7")).is_err(), "the impostor stays locked");
    }

    #[test]
    fn the_per_user_ceiling_stops_guessing_spread_over_many_addresses() {
        let lockout = Lockout::new(5, 4, Duration::from_secs(300));
        let bob = UserId::parse("bob").unwrap();
        for i in 0..4 {
            lockout.begin(&bob, ip(&format!("192.0.2.{i}"))).unwrap().settle(false);
        }
        assert!(lockout.begin(&bob, ip("192.0.2.99")).is_err());
    }

    #[test]
    fn attempts_dropped_without_a_decision_are_withdrawn_and_pending_ones_count() {
        let lockout = Lockout::new(2, 20, Duration::from_secs(300));
        let alice = UserId::parse("alice").unwrap();
        let client = ip("192.0.2.1");
        drop(lockout.begin(&alice, client).unwrap()); // cancelled, timed out, storage down
        let p1 = lockout.begin(&alice, client).unwrap();
        let _p2 = lockout.begin(&alice, client).unwrap();
        assert!(lockout.begin(&alice, client).is_err(), "two in flight fill the allowance");
        drop(p1);
        assert!(lockout.begin(&alice, client).is_ok());
    }

    #[test]
    fn failures_expire_with_the_window() {
        let lockout = Lockout::new(1, 1, Duration::ZERO);
        let alice = UserId::parse("alice").unwrap();
        lockout.begin(&alice, ip("192.0.2.1")).unwrap().settle(false);
        assert!(lockout.begin(&alice, ip("192.0.2.1")).is_ok());
    }
}
