//! The in-process backend: one instance, no server. Used when SHARED_STATE_URL is unset.

mod lockout;
mod rate;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use rate::burst;

use super::backend::{AttemptKey, Decided, Decision, Policy, RateKind, StateBackend, StateError};
use crate::domain::UserId;

/// One-time tokens remembered at once; beyond it new claims are refused rather than forgotten.
const MAX_CLAIMS: usize = 100_000;

/// Records and users with remembered photos kept at once; past it the expired ones are dropped
/// and, if none were, new ones are refused (fail closed) rather than old ones forgotten.
const MAX_RECORDS: usize = 100_000;

pub struct LocalState {
    lockout: lockout::Lockout,
    rates: rate::RateLimits,
    claims: Mutex<HashMap<String, Instant>>,
    /// Counters moved forward by decisions, with when each is forgotten.
    counters: Mutex<HashMap<String, (u64, Instant)>>,
    records: Mutex<HashMap<String, (String, Instant)>>,
    /// Per user: photo digest → until when it is remembered.
    photos: Mutex<HashMap<String, HashMap<String, Instant>>>,
    /// Per user: consecutive failed verifications (only users with at least one are held).
    failures: Mutex<HashMap<String, u64>>,
    /// This process's generation: a restart forgets every claim, so it is a new one.
    generation: String,
    tick: std::sync::atomic::AtomicU64,
}

impl LocalState {
    pub fn new(policy: &Policy) -> Self {
        Self {
            lockout: lockout::Lockout::new(policy.lockout_per_client, policy.lockout_per_user, policy.lockout_window),
            rates: rate::RateLimits::new(policy.rate_per_ip, policy.rate_per_key),
            claims: Mutex::new(HashMap::new()),
            counters: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            photos: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            generation: super::generation::candidate(),
            tick: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl StateBackend for LocalState {
    async fn begin_attempt(&self, key: &AttemptKey) -> Result<Result<Option<u32>, Duration>, StateError> {
        Ok(self.lockout.begin(key))
    }

    async fn settle_attempt(&self, key: &AttemptKey, matched: bool) -> Result<(), StateError> {
        self.lockout.settle(key, matched);
        Ok(())
    }

    fn withdraw_attempt(&self, key: AttemptKey) {
        self.lockout.withdraw(&key);
    }

    async fn check_rate(&self, kind: RateKind, who: &str) -> Result<Result<(), Duration>, StateError> {
        Ok(self.rates.check(kind, who))
    }

    async fn claim_once(&self, token_id: &str, ttl: Duration) -> Result<bool, StateError> {
        let now = Instant::now();
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        if claims.len() >= MAX_CLAIMS {
            claims.retain(|_, until| *until > now);
        }
        if claims.get(token_id).is_some_and(|until| *until > now) || claims.len() >= MAX_CLAIMS {
            return Ok(false);
        }
        claims.insert(token_id.to_string(), now + ttl);
        Ok(true)
    }

    fn release_once(&self, token_id: String) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).remove(&token_id);
    }

    /// One process is its own generation: only another one (a restart) is lost, and a token of
    /// another generation never gets here. Refused rather than made when asked under another.
    async fn decide(&self, decision: Decision<'_>, generation: &str, _seen_tick: u64) -> Result<Decided, StateError> {
        if generation != self.generation {
            return Ok(Decided::Lost);
        }
        let made = match decision {
            Decision::Claim { id, ttl } => self.claim_once(id, ttl).await?,
            Decision::Advance { id, value, ttl } => {
                let now = Instant::now();
                let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
                if counters.len() >= MAX_CLAIMS {
                    counters.retain(|_, (_, until)| *until > now);
                }
                let current = counters.get(id).filter(|(_, until)| *until > now).map(|(v, _)| *v);
                let made = current.is_none_or(|c| value > c) && counters.len() < MAX_CLAIMS;
                if made {
                    counters.insert(id.to_string(), (value, now + ttl));
                }
                made
            }
        };
        Ok(match made {
            true => Decided::Made { tick: self.tick.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 },
            false => Decided::Refused,
        })
    }

    /// One process needs no versions: register and delete invalidate its own cache directly.
    async fn user_version(&self, _user: &UserId) -> Result<Option<String>, StateError> {
        Ok(None)
    }

    async fn bump_user_version(&self, _user: &UserId) -> Result<(), StateError> {
        Ok(())
    }

    async fn put_record(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StateError> {
        let now = Instant::now();
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_RECORDS {
            records.retain(|_, (_, until)| *until > now);
            if records.len() >= MAX_RECORDS && !records.contains_key(key) {
                return Err(StateError::Protocol("too many records held in process".into()));
            }
        }
        records.insert(key.to_string(), (value.to_string(), now + ttl));
        Ok(())
    }

    async fn get_record(&self, key: &str) -> Result<Option<String>, StateError> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        Ok(records.get(key).filter(|(_, until)| *until > Instant::now()).map(|(v, _)| v.clone()))
    }

    async fn keep_record(&self, key: &str, value: &str, ttl: Duration) -> Result<String, StateError> {
        {
            let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((kept, _)) = records.get(key).filter(|(_, until)| *until > Instant::now()) {
                return Ok(kept.clone());
            }
        }
        // Between the look and the write another caller may store first; the lock is taken again
        // and the look repeated, so both answer with the one that was stored.
        let now = Instant::now();
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kept, _)) = records.get(key).filter(|(_, until)| *until > now) {
            return Ok(kept.clone());
        }
        if records.len() >= MAX_RECORDS {
            records.retain(|_, (_, until)| *until > now);
            if records.len() >= MAX_RECORDS {
                return Err(StateError::Protocol("too many records held in process".into()));
            }
        }
        records.insert(key.to_string(), (value.to_string(), now + ttl));
        Ok(value.to_string())
    }

    async fn drop_record(&self, key: &str) -> Result<(), StateError> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Ok(())
    }

    async fn remembered(&self, user: &UserId) -> Result<Vec<String>, StateError> {
        let now = Instant::now();
        let photos = self.photos.lock().unwrap_or_else(|e| e.into_inner());
        Ok(photos
            .get(user.as_str())
            .map(|known| known.iter().filter(|(_, until)| **until > now).map(|(d, _)| d.clone()).collect())
            .unwrap_or_default())
    }

    async fn photos_seen(
        &self,
        user: &UserId,
        digests: &[String],
        remember: Option<(Duration, usize)>,
    ) -> Result<bool, StateError> {
        let now = Instant::now();
        let mut photos = self.photos.lock().unwrap_or_else(|e| e.into_inner());
        let seen = photos
            .get(user.as_str())
            .is_some_and(|known| digests.iter().any(|d| known.get(d).is_some_and(|until| *until > now)));
        let Some((window, cap)) = remember else { return Ok(seen) };
        if photos.len() >= MAX_RECORDS && !photos.contains_key(user.as_str()) {
            photos.retain(|_, known| known.values().any(|until| *until > now));
            if photos.len() >= MAX_RECORDS {
                return Err(StateError::Protocol("too many users' photos remembered in process".into()));
            }
        }
        let known = photos.entry(user.to_string()).or_default();
        known.retain(|_, until| *until > now);
        for digest in digests {
            known.insert(digest.clone(), now + window);
        }
        while known.len() > cap {
            let oldest = known.iter().min_by_key(|(_, until)| **until).map(|(d, _)| d.clone()).expect("not empty");
            known.remove(&oldest);
        }
        Ok(seen)
    }

    async fn consecutive_failures(&self, user: &UserId) -> Result<u64, StateError> {
        Ok(self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(user.as_str()).copied().unwrap_or(0))
    }

    async fn record_verification(&self, user: &UserId, matched: bool) -> Result<u64, StateError> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if matched {
            failures.remove(user.as_str());
            return Ok(0);
        }
        if failures.len() >= MAX_RECORDS && !failures.contains_key(user.as_str()) {
            return Err(StateError::Protocol("too many users with failed verifications held in process".into()));
        }
        let count = failures.entry(user.to_string()).or_default();
        *count += 1;
        Ok(*count)
    }

    async fn generation(&self, _candidate: &str) -> Result<(String, u64), StateError> {
        Ok((self.generation.clone(), self.tick.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1))
    }

    async fn renew_generation(&self, _lost: &str, _candidate: &str) -> Result<String, StateError> {
        Ok(self.generation.clone())
    }

    async fn probe(&self) -> Result<(), StateError> {
        Ok(())
    }

    fn prune(&self) {
        self.rates.prune();
    }

    fn describe(&self) -> String {
        "in process (one instance: lockouts, rate limits and single-use tokens are per process)".into()
    }
}
