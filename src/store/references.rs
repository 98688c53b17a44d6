//! The reference layout on top of any object store.
//!
//! `{prefix}users/{user_id}/{reference_id}.{jpg|png|webp}` holds the photo as uploaded and
//! `{prefix}users/{user_id}/{reference_id}.json` its sidecar. The image is written first and the
//! sidecar last, and readers look only at sidecars, so an interrupted register never yields a
//! half-made reference; a later register of the user (or its delete) removes such orphans once
//! they are old enough that no register can still be writing their sidecar.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::{ObjectStore, StoreError};
use crate::domain::{UserId, is_reference_id};

pub const SIDECAR_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStamp {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceRecord {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

impl From<&crate::face::engine::ModelId> for ModelStamp {
    fn from(id: &crate::face::engine::ModelId) -> Self {
        Self { name: id.name.clone(), sha256: id.sha256.clone() }
    }
}

impl From<&crate::face::Detection> for FaceRecord {
    fn from(face: &crate::face::Detection) -> Self {
        Self { bbox: face.bbox, score: face.score, landmarks: face.landmarks }
    }
}

/// Everything verify needs about one reference, so verify never touches the photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub version: u32,
    pub reference_id: String,
    pub user_id: String,
    pub image_key: String,
    pub content_type: String,
    pub embedding: Vec<f32>,
    pub model: ModelStamp,
    pub detector: ModelStamp,
    pub face: FaceRecord,
    pub created_at: String,
}

/// A user's folder as one listing saw it.
#[derive(Debug)]
pub struct Listing {
    /// Sidecars present (complete references).
    pub references: usize,
    /// Photos without a sidecar, old enough that no register can still be writing one.
    pub orphans: Vec<String>,
}

#[derive(Clone)]
pub struct ReferenceStore {
    objects: Arc<dyn ObjectStore>,
    prefix: String,
}

pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

impl ReferenceStore {
    pub fn new(objects: Arc<dyn ObjectStore>, prefix: impl Into<String>) -> Self {
        Self { objects, prefix: prefix.into() }
    }

    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn user_prefix(&self, user: &UserId) -> String {
        format!("{}users/{}/", self.prefix, user)
    }

    pub fn image_key(&self, user: &UserId, reference_id: &str, content_type: &str) -> String {
        format!("{}{reference_id}.{}", self.user_prefix(user), extension(content_type))
    }

    fn sidecar_key(&self, user: &UserId, reference_id: &str) -> String {
        format!("{}{reference_id}.json", self.user_prefix(user))
    }

    /// Stores the photo, then the sidecar. If the sidecar cannot be written the photo is removed
    /// (best effort; an orphan left by a crash is ignored by readers and swept later).
    pub async fn save(&self, user: &UserId, image: Bytes, sidecar: &Sidecar) -> Result<(), StoreError> {
        self.objects.put(&sidecar.image_key, image, &sidecar.content_type).await?;
        let json = serde_json::to_vec(sidecar).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let Err(err) = self
            .objects
            .put(&self.sidecar_key(user, &sidecar.reference_id), Bytes::from(json), "application/json")
            .await
        {
            let _ = self.objects.delete(&sidecar.image_key).await;
            return Err(err);
        }
        Ok(())
    }

    /// Rewrites a sidecar in place (after re-embedding with a new model).
    pub async fn update(&self, user: &UserId, sidecar: &Sidecar) -> Result<(), StoreError> {
        let json = serde_json::to_vec(sidecar).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.objects.put(&self.sidecar_key(user, &sidecar.reference_id), Bytes::from(json), "application/json").await
    }

    /// Every complete reference of the user, oldest first. Unreadable sidecars are skipped and
    /// logged rather than failing the user's verifications.
    pub async fn load(&self, user: &UserId) -> Result<Vec<Sidecar>, StoreError> {
        let keys = self.objects.list(&self.user_prefix(user)).await?;
        let sidecar_keys: Vec<&String> = keys.iter().filter(|k| k.ends_with(".json")).collect();
        let blobs = try_join_all(sidecar_keys.iter().map(|k| self.objects.get(k))).await?;
        let mut sidecars = Vec::new();
        for (key, blob) in sidecar_keys.iter().zip(blobs) {
            let Some(blob) = blob else { continue };
            match serde_json::from_slice::<Sidecar>(&blob) {
                Ok(s) if s.user_id == user.as_str() && is_reference_id(&s.reference_id) => sidecars.push(s),
                Ok(_) => {
                    tracing::warn!(key = %key, "sidecar does not belong to this user; ignored")
                }
                Err(e) => tracing::warn!(key = %key, error = %e, "unreadable sidecar; ignored"),
            }
        }
        sidecars.sort_by(|a, b| a.reference_id.cmp(&b.reference_id));
        Ok(sidecars)
    }

    pub async fn image(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.objects.get(key).await
    }

    /// Removes every object of the user. Returns how many objects there were.
    pub async fn delete_user(&self, user: &UserId) -> Result<usize, StoreError> {
        let keys = self.objects.list(&self.user_prefix(user)).await?;
        // Sidecars first: once they are gone the user has no usable reference, even if a later
        // delete fails and leaves a photo for the next attempt.
        let (sidecars, rest): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| k.ends_with(".json"));
        try_join_all(sidecars.iter().map(|k| self.objects.delete(k))).await?;
        try_join_all(rest.iter().map(|k| self.objects.delete(k))).await?;
        Ok(keys.len())
    }

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
                id.split('-').next().and_then(|ms| ms.parse::<u128>().ok()).is_some_and(|ms| ms < cutoff_ms)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;

    fn sidecar(store: &ReferenceStore, user: &UserId, id: &str) -> Sidecar {
        Sidecar {
            version: SIDECAR_VERSION,
            reference_id: id.into(),
            user_id: user.to_string(),
            image_key: store.image_key(user, id, "image/jpeg"),
            content_type: "image/jpeg".into(),
            embedding: vec![0.6, 0.8],
            model: ModelStamp { name: "m".into(), sha256: "aa".into() },
            detector: ModelStamp { name: "d".into(), sha256: "bb".into() },
            face: FaceRecord { bbox: [0.0; 4], score: 0.9, landmarks: [[0.0; 2]; 5] },
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn half_written_references_are_invisible_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReferenceStore::new(Arc::new(LocalStore::new(dir.path())), "p/");
        let user = UserId::parse("alice").unwrap();
        let done = sidecar(&store, &user, "0001-a");
        store.save(&user, Bytes::from_static(b"jpeg"), &done).await.unwrap();
        // A register that died after the photo and before the sidecar:
        let orphan = store.image_key(&user, "0002-b", "image/jpeg");
        store.objects().put(&orphan, Bytes::from_static(b"jpeg"), "image/jpeg").await.unwrap();

        let loaded = store.load(&user).await.unwrap();
        assert_eq!(loaded, vec![done.clone()]);
        // A register still in flight (its id is from now) is not mistaken for a dead one.
        let fresh = store.image_key(&user, &crate::domain::new_reference_id(), "image/jpeg");
        store.objects().put(&fresh, Bytes::from_static(b"jpeg"), "image/jpeg").await.unwrap();
        let listing = store.list_user(&user, Duration::from_secs(600)).await.unwrap();
        assert_eq!(listing.references, 1);
        assert_eq!(listing.orphans, vec![orphan.clone()]);
        assert_eq!(store.remove_orphans(&listing).await.unwrap(), 1);
        assert!(store.image(&fresh).await.unwrap().is_some());
        assert!(store.image(&orphan).await.unwrap().is_none());
        assert!(store.image(&done.image_key).await.unwrap().is_some());
        assert_eq!(store.delete_user(&user).await.unwrap(), 3);
        assert!(store.load(&user).await.unwrap().is_empty());
    }
}
