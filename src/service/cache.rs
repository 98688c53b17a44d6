//! A bounded, time-limited in-process cache of users' reference embeddings.
//!
//! With it, repeated verifies of a user cost no storage round trip. Entries are invalidated on
//! register/delete in this process; with shared state each entry also carries the user's version
//! when it was loaded, and an entry whose version is no longer current (another instance changed
//! the user) is not used.

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

struct Entry {
    at: Instant,
    version: Option<String>,
    refs: References,
}

pub struct EmbeddingCache {
    entries: Option<Mutex<LruCache<UserId, Entry>>>,
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

    /// The user's references if cached within the TTL at the user's `current` version.
    pub fn get(&self, user: &UserId, current: Option<&str>) -> Option<References> {
        let mut entries = self.entries.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(user) {
            Some(e) if e.at.elapsed() < self.ttl && e.version.as_deref() == current => Some(e.refs.clone()),
            Some(_) => {
                entries.pop(user);
                None
            }
            None => None,
        }
    }

    /// Caches `refs`, loaded at `version`, unless an invalidation happened since `epoch` was read.
    pub fn put(&self, user: &UserId, refs: References, epoch: u64, version: Option<String>) {
        let Some(entries) = &self.entries else { return };
        let mut entries = entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            entries.put(user.clone(), Entry { at: Instant::now(), version, refs });
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
        self.get(user, None).is_some()
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
        cache.put(&alice, refs(), cache.epoch(), None);
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
        cache.put(&alice, refs(), epoch, None);
        assert!(!cache.contains(&alice));
    }

    #[test]
    fn an_entry_loaded_at_another_version_is_not_used() {
        let cache = EmbeddingCache::new(2, Duration::from_secs(60));
        let alice = UserId::parse("alice").unwrap();
        cache.put(&alice, refs(), cache.epoch(), Some("v1".into()));
        assert!(cache.get(&alice, Some("v1")).is_some());
        assert!(cache.get(&alice, Some("v2")).is_none(), "another instance changed alice");
        assert!(cache.get(&alice, Some("v1")).is_none(), "and the stale entry is gone");
    }

    #[test]
    fn capacity_and_ttl_bound_the_cache() {
        let cache = EmbeddingCache::new(1, Duration::from_secs(60));
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        cache.put(&a, refs(), cache.epoch(), None);
        cache.put(&b, refs(), cache.epoch(), None);
        assert!(!cache.contains(&a) && cache.contains(&b));
        let expired = EmbeddingCache::new(1, Duration::ZERO);
        expired.put(&a, refs(), expired.epoch(), None);
        assert!(!expired.contains(&a));
        let disabled = EmbeddingCache::new(0, Duration::from_secs(60));
        disabled.put(&a, refs(), disabled.epoch(), None);
        assert!(!disabled.contains(&a));
    }
}
