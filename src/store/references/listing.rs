//! One listing of a user's folder: how many complete references it holds, and which photos a
//! register that died between its two writes left behind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;

use super::handle::ReferenceStore;
use crate::domain::{UserId, reference_id_millis};
use crate::store::object::StoreError;

/// A user's folder as one listing saw it.
#[derive(Debug)]
pub struct Listing {
    /// Sidecars present (complete references).
    pub references: usize,
    /// Photos without a sidecar, old enough that no register can still be writing one.
    pub(super) orphans: Vec<String>,
}

impl ReferenceStore {
    /// One listing of the user's folder: how many complete references there are, and which photos
    /// were left without a sidecar by a register that died between its two writes. A photo counts
    /// as orphaned only once its reference id (which starts with its creation time in ms) is older
    /// than `settled`: a younger one may belong to a register still in flight.
    pub async fn list_user(&self, user: &UserId, settled: Duration) -> Result<Listing, StoreError> {
        let keys = self.objects.list(&self.user_prefix(user)).await?;
        let cutoff = SystemTime::now().checked_sub(settled).unwrap_or(UNIX_EPOCH);
        let cutoff_ms = cutoff.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let stem = |k: &str| k.rsplit_once('.').map(|(s, _)| s.to_string()).unwrap_or_else(|| k.to_string());
        let references = keys.iter().filter(|k| k.ends_with(".json")).count();
        let orphans = keys
            .iter()
            .filter(|k| !k.ends_with(".json") && !keys.contains(&format!("{}.json", stem(k))))
            .filter(|k| {
                let id = stem(k).rsplit('/').next().unwrap_or_default().to_string();
                reference_id_millis(&id).is_some_and(|ms| ms < cutoff_ms)
            })
            .cloned()
            .collect();
        Ok(Listing { references, orphans })
    }

    pub async fn remove_orphans(&self, listing: &Listing) -> Result<usize, StoreError> {
        try_join_all(listing.orphans.iter().map(|k| self.objects.delete(k))).await?;
        Ok(listing.orphans.len())
    }
}
