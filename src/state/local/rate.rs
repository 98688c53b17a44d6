//! Request rates in one process: GCRA per client IP and per API key, via `governor`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::state::backend::RateKind;

pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<String>>,
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

/// A burst of a tenth of the minute's allowance absorbs a page load or a retry without waiting.
pub fn burst(per_minute: u32) -> u32 {
    (per_minute / 10).max(1)
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst(per_minute)).expect("at least 1");
    Some(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)))
}

impl RateLimits {
    /// A rate of 0 disables that limit.
    pub fn new(per_ip_per_minute: u32, per_key_per_minute: u32) -> Self {
        Self {
            per_ip: limiter(per_ip_per_minute),
            per_key: limiter(per_key_per_minute),
            clock: DefaultClock::default(),
        }
    }

    pub fn check(&self, kind: RateKind, who: &str) -> Result<(), Duration> {
        let limiter = match kind {
            RateKind::Ip => &self.per_ip,
            RateKind::Key => &self.per_key,
        };
        match limiter {
            None => Ok(()),
            Some(l) => l.check_key(&who.to_string()).map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets clients whose allowance has fully recovered, bounding memory.
    pub fn prune(&self) {
        for l in [&self.per_ip, &self.per_key].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_rate_waits_and_others_do_not() {
        let limits = RateLimits::new(20, 0);
        assert!(limits.check(RateKind::Ip, "a").is_ok() && limits.check(RateKind::Ip, "a").is_ok(), "burst of 2");
        let wait = limits.check(RateKind::Ip, "a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3));
        assert!(limits.check(RateKind::Ip, "b").is_ok());
        assert!(limits.check(RateKind::Key, "any").is_ok(), "0 disables the per-key limit");
    }
}
