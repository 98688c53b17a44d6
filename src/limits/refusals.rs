//! Refused requests are counted in a metric every time, but logged at most once per client per
//! window: a client hammering the service must not be able to fill the disk with warnings.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

pub struct RefusalLog {
    last: Mutex<LruCache<IpAddr, Instant>>,
    window: Duration,
}

impl RefusalLog {
    /// Remembers up to `clients` addresses; beyond that the least recent is forgotten (and may be
    /// logged again sooner, which bounds memory rather than the log).
    pub fn new(clients: NonZeroUsize, window: Duration) -> Self {
        Self { last: Mutex::new(LruCache::new(clients)), window }
    }

    /// Whether this refusal of `client` should be logged.
    pub fn should_log(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.get(&client) {
            Some(at) if now.duration_since(*at) < self.window => false,
            _ => {
                last.put(client, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_client_per_window() {
        let log = RefusalLog::new(NonZeroUsize::new(10).unwrap(), Duration::from_secs(60));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(log.should_log(a));
        assert!(!log.should_log(a));
        assert!(log.should_log(b));
    }
}
