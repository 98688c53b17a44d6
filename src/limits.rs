//! Abuse limits: request rates per client IP and per API key (GCRA, via `governor`), and the
//! per-user verification lockout.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::UserId;

pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    trusted_proxies: Vec<IpAddr>,
    clock: DefaultClock,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    // A burst of a tenth of the minute's allowance absorbs a page load or a retry without waiting.
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute / 10).max(1)).expect("at least 1");
    Some(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)))
}

impl RateLimits {
    /// A rate of 0 disables that limit.
    pub fn new(per_ip_per_minute: u32, per_key_per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            per_ip: limiter(per_ip_per_minute),
            per_key: limiter(per_key_per_minute),
            trusted_proxies,
            clock: DefaultClock::default(),
        }
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted proxy (the local nginx),
    /// the nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Anyone else's
    /// `X-Forwarded-For` is ignored, so clients cannot pick their own rate-limit bucket.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else { return peer };
        chain
            .rsplit(',')
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .unwrap_or(peer)
    }

    fn wait<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &Option<DefaultKeyedRateLimiter<K>>,
        key: &K,
    ) -> Result<(), Duration> {
        match limiter {
            None => Ok(()),
            Some(l) => l.check_key(key).map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.wait(&self.per_ip, &ip)
    }

    pub fn check_key(&self, key_id: &str) -> Result<(), Duration> {
        self.wait(&self.per_key, &key_id.to_string())
    }

    /// Forgets clients whose allowance has fully recovered, bounding memory.
    pub fn prune(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_key {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// After `max_failures` failed verifications of one user within `window`, further verifications
/// are refused until the oldest failure leaves the window. A verification in progress counts as a
/// failure until it succeeds, so parallel guesses cannot slip past the limit.
pub struct Lockout {
    max_failures: usize,
    window: Duration,
    attempts: Mutex<HashMap<UserId, VecDeque<Instant>>>,
}

/// Bound on users tracked at once; beyond it, expired entries are dropped first.
const MAX_TRACKED_USERS: usize = 100_000;

pub struct Attempt {
    user: UserId,
    at: Instant,
}

impl Lockout {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self { max_failures, window, attempts: Mutex::new(HashMap::new()) }
    }

    /// Registers an attempt, or says how long the user is locked out.
    pub fn begin(&self, user: &UserId) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() >= MAX_TRACKED_USERS {
            let window = self.window;
            attempts.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let queue = attempts.entry(user.clone()).or_default();
        while queue.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            queue.pop_front();
        }
        if self.max_failures > 0 && queue.len() >= self.max_failures {
            let oldest = *queue.front().expect("non-empty when at the limit");
            return Err(self.window.saturating_sub(now.duration_since(oldest)).max(Duration::from_secs(1)));
        }
        queue.push_back(now);
        Ok(Attempt { user: user.clone(), at: now })
    }

    /// `Some(true)`: matched, the user's failures are forgiven. `Some(false)`: a failure, kept.
    /// `None`: no decision (bad photo, storage down), the attempt is withdrawn.
    pub fn finish(&self, attempt: Attempt, matched: Option<bool>) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        match matched {
            Some(false) => {}
            Some(true) => {
                attempts.remove(&attempt.user);
            }
            None => {
                if let Some(queue) = attempts.get_mut(&attempt.user) {
                    if let Some(i) = queue.iter().position(|t| *t == attempt.at) {
                        queue.remove(i);
                    }
                    if queue.is_empty() {
                        attempts.remove(&attempt.user);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let limits = RateLimits::new(60, 60, vec![ip("127.0.0.1")]);
        assert_eq!(limits.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(limits.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 127.0.0.1")), ip("203.0.113.9"));
        assert_eq!(limits.client_ip(ip("192.0.2.1"), Some("203.0.113.9")), ip("192.0.2.1"), "spoofed header ignored");
        assert_eq!(limits.client_ip(ip("127.0.0.1"), Some("garbage")), ip("127.0.0.1"));
    }

    #[test]
    fn a_client_over_its_rate_waits_and_others_do_not() {
        let limits = RateLimits::new(20, 0, vec![]);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert!(limits.check_ip(a).is_ok() && limits.check_ip(a).is_ok(), "burst of 2");
        let wait = limits.check_ip(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3));
        assert!(limits.check_ip(b).is_ok());
        assert!(limits.check_key("any").is_ok(), "0 disables the per-key limit");
    }

    #[test]
    fn lockout_after_n_failures_and_success_forgives() {
        let lockout = Lockout::new(3, Duration::from_secs(300));
        let alice = UserId::parse("alice").unwrap();
        for _ in 0..3 {
            let a = lockout.begin(&alice).unwrap();
            lockout.finish(a, Some(false));
        }
        let wait = lockout.begin(&alice).err().expect("locked");
        assert!(wait > Duration::from_secs(290));
        let bob = UserId::parse("bob").unwrap();
        let attempt = lockout.begin(&bob).unwrap();
        lockout.finish(attempt, Some(true));
        assert!(lockout.attempts.lock().unwrap().get(&bob).is_none());
    }

    #[test]
    fn undecided_attempts_are_withdrawn_and_pending_ones_count() {
        let lockout = Lockout::new(2, Duration::from_secs(300));
        let alice = UserId::parse("alice").unwrap();
        let first = lockout.begin(&alice).unwrap();
        lockout.finish(first, None);
        let p1 = lockout.begin(&alice).unwrap();
        let _p2 = lockout.begin(&alice).unwrap();
        assert!(lockout.begin(&alice).is_err(), "two in flight fill the allowance");
        lockout.finish(p1, None);
        assert!(lockout.begin(&alice).is_ok());
    }

    #[test]
    fn failures_expire_with_the_window() {
        let lockout = Lockout::new(1, Duration::ZERO);
        let alice = UserId::parse("alice").unwrap();
        let a = lockout.begin(&alice).unwrap();
        lockout.finish(a, Some(false));
        assert!(lockout.begin(&alice).is_ok());
    }
}
