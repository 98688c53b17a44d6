//! A bounded, time-limited in-process cache of users' reference embeddings.
//!
//! With it, repeated verifies of a user cost no storage round trip. Entries are invalidated on
//! register/delete in this process; the TTL bounds staleness when several instances share a bucket.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::domain::UserId;
use crate::face::Embedding;

#[derive(Debug, Clone)]
pub struct CachedReference {
    pub reference_id: String,
    pub embedding: Embedding,
    /// SHA-256 (hex) of the reference photo, for the replay guard; unknown for old sidecars.
    pub photo_sha256: Option<String>,
}

pub type References = Arc<Vec<CachedReference>>;

pub struct EmbeddingCache {
    entries: Option<Mutex<LruCache<UserId, (Instant, References)>>>,
    ttl: Duration,
    /// Bumped on every invalidation: a load that started before one must not be cached after it.
    epoch: AtomicU64,
}

impl EmbeddingCache {
    /// `capacity` 0 disables caching.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
            ttl,
            epoch: AtomicU64::new(0),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, user: &UserId) -> Option<References> {
        let mut entries = self.entries.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(user) {
            Some((at, refs)) if at.elapsed() < self.ttl => Some(refs.clone()),
            Some(_) => {
                entries.pop(user);
                None
            }
            None => None,
        }
    }

    /// Caches `refs` unless an invalidation happened since `epoch` was read.
    pub fn put(&self, user: &UserId, refs: References, epoch: u64) {
        let Some(entries) = &self.entries else { return };
        let mut entries = entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            entries.put(user.clone(), (Instant::now(), refs));
        }
    }

    pub fn invalidate(&self, user: &UserId) {
        if let Some(entries) = &self.entries {
            let mut entries = entries.lock().unwrap_or_else(|e| e.into_inner());
            self.epoch.fetch_add(1, Ordering::AcqRel);
            entries.pop(user);
        }
    }

    pub fn contains(&self, user: &UserId) -> bool {
        self.get(user).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> References {
        Arc::new(vec![CachedReference {
            reference_id: "r".into(),
            embedding: Embedding::from_raw(vec![1.0]).unwrap(),
            photo_sha256: None,
        }])
    }

    #[test]
    fn hits_until_invalidated() {
        let cache = EmbeddingCache::new(2, Duration::from_secs(60));
        let alice = UserId::parse("alice").unwrap();
        cache.put(&alice, refs(), cache.epoch());
        assert!(cache.contains(&alice));
        cache.invalidate(&alice);
        assert!(!cache.contains(&alice));
    }

    #[test]
    fn a_load_overtaken_by_an_invalidation_is_not_cached() {
        let cache = EmbeddingCache::new(2, Duration::from_secs(60));
        let alice = UserId::parse("alice").unwrap();
        let epoch = cache.epoch();
        cache.invalidate(&alice); // a register landed while the load was in flight
        cache.put(&alice, refs(), epoch);
        assert!(!cache.contains(&alice));
    }

    #[test]
    fn capacity_and_ttl_bound_the_cache() {
        let cache = EmbeddingCache::new(1, Duration::from_secs(60));
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        cache.put(&a, refs(), cache.epoch());
        cache.put(&b, refs(), cache.epoch());
        assert!(!cache.contains(&a) && cache.contains(&b));
        let expired = EmbeddingCache::new(1, Duration::ZERO);
        expired.put(&a, refs(), expired.epoch());
        assert!(!expired.contains(&a));
        let disabled = EmbeddingCache::new(0, Duration::from_secs(60));
        disabled.put(&a, refs(), disabled.epoch());
        assert!(!disabled.contains(&a));
    }
}
