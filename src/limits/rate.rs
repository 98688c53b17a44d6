//! Request rates per client IP and per API key (GCRA, via `governor`), and which address is the client.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

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
}
