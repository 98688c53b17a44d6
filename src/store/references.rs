//! The reference layout on top of any object store. This module alone knows the stored format.
//!
//! `{prefix}users/{user_id}/{reference_id}.{jpg|png|webp}` holds the photo as uploaded and
//! `{prefix}users/{user_id}/{reference_id}.json` its sidecar. The image is written first and the
//! sidecar last, and readers look only at sidecars, so an interrupted register never yields a
//! half-made reference; a later register of the user (or its delete) removes such orphans once
//! they are old enough that no register can still be writing their sidecar.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::object::{ObjectStore, StoreError};
use super::sealed::ObjectKind;
use crate::domain::{UserId, is_reference_id, new_reference_id};

const SIDECAR_VERSION: u32 = 1;

/// A model file as stamped on a reference: the name people read and the digest that decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStamp {
    pub name: String,
    pub sha256: String,
}

/// Where the face was in the photo, for audits and re-embedding decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceRecord {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

/// The consent under which a photo was enrolled: which notice the user accepted, when, and on
/// whose key it was sent (BIPA §15(b), GDPR Art. 9(2)(a), NIST SP 800-63A-4: a stored record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub notice: String,
    /// RFC 3339.
    pub recorded_at: String,
    pub key_id: String,
    pub key_kind: String,
}

/// What a reference is made of, as computed from its photo: the store keeps it, never interprets it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReference {
    pub embedding: Vec<f32>,
    pub model: ModelStamp,
    pub detector: ModelStamp,
    pub face: FaceRecord,
    pub consent: Option<ConsentRecord>,
}

/// Everything verify needs about one reference, so verify never touches the photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sidecar {
    version: u32,
    reference_id: String,
    user_id: String,
    image_key: String,
    content_type: String,
    embedding: Vec<f32>,
    model: ModelStamp,
    detector: ModelStamp,
    face: FaceRecord,
    created_at: String,
    /// The photo's SHA-256 (hex), to recognise the same bytes presented again. Absent in sidecars
    /// written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    photo_sha256: Option<String>,
    /// Written by a replace: every reference with a smaller id is superseded from the moment this
    /// sidecar exists, whether or not their objects are deleted yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    replaces_earlier: bool,
    /// Absent for references enrolled without a consent record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consent: Option<ConsentRecord>,
}

/// Whether a new reference joins the user's others or replaces them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Add,
    /// Atomic for readers: the new sidecar's write is the moment the old references stop counting.
    ReplaceAll,
}

/// One complete reference as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReference(Sidecar);

impl StoredReference {
    pub fn reference_id(&self) -> &str {
        &self.0.reference_id
    }

    pub fn embedding(&self) -> &[f32] {
        &self.0.embedding
    }

    /// The recognizer that made the embedding.
    pub fn model(&self) -> &ModelStamp {
        &self.0.model
    }

    /// SHA-256 (hex) of the stored photo, when known.
    pub fn consent(&self) -> Option<&ConsentRecord> {
        self.0.consent.as_ref()
    }

    /// When the reference was enrolled (RFC 3339).
    pub fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// The sidecar as stored, for the user's own copy of their data (export).
    pub fn sidecar_json(&self) -> Result<Bytes, StoreError> {
        to_json(&self.0)
    }

    /// The key of the reference's photo, and its media type.
    pub fn photo_key(&self) -> (&str, &str) {
        (&self.0.image_key, &self.0.content_type)
    }

    pub fn photo_sha256(&self) -> Option<&str> {
        self.0.photo_sha256.as_deref()
    }
}

/// SHA-256 of a photo, as kept in sidecars.
pub fn photo_digest(photo: &[u8]) -> String {
    hex::encode(Sha256::digest(photo))
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

fn to_json(sidecar: &Sidecar) -> Result<Bytes, StoreError> {
    serde_json::to_vec(sidecar).map(Bytes::from).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl ReferenceStore {
    pub fn new(objects: Arc<dyn ObjectStore>, prefix: impl Into<String>) -> Self {
        Self { objects, prefix: prefix.into(), sealer: None, plaintext: Plaintext::Accept }
    }

    pub fn describe(&self) -> String {
        self.objects.describe()
    }

    /// A write/read/delete round trip under the prefix: what readiness and startup prove.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.objects.probe(&self.prefix).await
    }

    fn users_prefix(&self) -> String {
        format!("{}users/", self.prefix)
    }

    fn user_prefix(&self, user: &UserId) -> String {
        format!("{}{}/", self.users_prefix(), user)
    }

    fn sidecar_key(&self, user: &UserId, reference_id: &str) -> String {
        format!("{}{reference_id}.json", self.user_prefix(user))
    }

    /// Stores the photo, then the sidecar, under a new reference id, which it returns. If the
    /// sidecar cannot be written the photo is removed (best effort; an orphan left by a crash is
    /// ignored by readers and swept later). A replace then removes the superseded references; if
    /// that fails, readers ignore them anyway and a later replace or delete removes them.
    pub async fn save(
        &self,
        user: &UserId,
        photo: Bytes,
        content_type: &str,
        new: NewReference,
        placement: Placement,
    ) -> Result<String, StoreError> {
        let reference_id = new_reference_id();
        let image_key = format!("{}{reference_id}.{}", self.user_prefix(user), extension(content_type));
        let sidecar = Sidecar {
            version: SIDECAR_VERSION,
            reference_id: reference_id.clone(),
            user_id: user.to_string(),
            image_key: image_key.clone(),
            content_type: content_type.into(),
            embedding: new.embedding,
            model: new.model,
            detector: new.detector,
            face: new.face,
            created_at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            photo_sha256: Some(photo_digest(&photo)),
            replaces_earlier: placement == Placement::ReplaceAll,
            consent: new.consent,
        };
        // Both sealed before anything is written: a key service outage leaves nothing behind.
        let photo = self.encode(context(user.as_str(), &reference_id, ObjectKind::Photo), photo).await?;
        let sidecar =
            self.encode(context(user.as_str(), &reference_id, ObjectKind::Sidecar), to_json(&sidecar)?).await?;
        self.objects.put(&image_key, photo, content_type).await?;
        if let Err(err) = self.objects.put(&self.sidecar_key(user, &reference_id), sidecar, "application/json").await {
            let _ = self.objects.delete(&image_key).await;
            return Err(err);
        }
        if placement == Placement::ReplaceAll
            && let Err(e) = self.remove_superseded(user, &reference_id).await
        {
            tracing::warn!(error = %e, "superseded references not removed yet; readers ignore them");
        }
        Ok(reference_id)
    }

    /// Deletes every object of the user older than `reference_id`, sidecars first.
    async fn remove_superseded(&self, user: &UserId, reference_id: &str) -> Result<(), StoreError> {
        let prefix = self.user_prefix(user);
        let keys = self.objects.list(&prefix).await?;
        let older = |k: &&String| {
            k.strip_prefix(&prefix).and_then(|name| name.split('.').next()).is_some_and(|id| id < reference_id)
        };
        let (sidecars, photos): (Vec<&String>, Vec<&String>) =
            keys.iter().filter(older).partition(|k| k.ends_with(".json"));
        try_join_all(sidecars.iter().map(|k| self.objects.delete(k))).await?;
        try_join_all(photos.iter().map(|k| self.objects.delete(k))).await?;
        Ok(())
    }

    /// The reference's photo as uploaded; `None` if it is gone.
    pub async fn photo(&self, reference: &StoredReference) -> Result<Option<Bytes>, StoreError> {
        let Some(stored) = self.objects.get(&reference.0.image_key).await? else { return Ok(None) };
        let context = context(&reference.0.user_id, &reference.0.reference_id, ObjectKind::Photo);
        self.decode(context, stored).await.map(Some)
    }

    /// Rewrites a reference's sidecar with what another model made of the same photo; id, photo and
    /// creation time stay. If the user was deleted meanwhile (the photo is gone after the write),
    /// the sidecar is removed again, so a migration never resurrects a deleted reference.
    pub async fn replace_embedding(
        &self,
        user: &UserId,
        reference: &StoredReference,
        new: NewReference,
    ) -> Result<StoredReference, StoreError> {
        let mut sidecar = reference.0.clone();
        sidecar.embedding = new.embedding;
        sidecar.model = new.model;
        sidecar.detector = new.detector;
        sidecar.face = new.face;
        let key = self.sidecar_key(user, &sidecar.reference_id);
        let body =
            self.encode(context(user.as_str(), &sidecar.reference_id, ObjectKind::Sidecar), to_json(&sidecar)?).await?;
        // A delete or a replace writes the revocation mark before it removes anything: a mark that
        // changed while this rewrite ran means the reference was (being) removed, and the rewrite
        // must not bring its template back. The photo check catches a delete that finished.
        let revoked = self.mark(Mark::Revoked, user).await?;
        self.objects.put(&key, body, "application/json").await?;
        if self.mark(Mark::Revoked, user).await? != revoked || self.objects.get(&sidecar.image_key).await?.is_none() {
            self.objects.delete(&key).await?;
            return Err(StoreError::Corrupt("the reference was deleted while it was being rewritten".into()));
        }
        Ok(StoredReference(sidecar))
    }

    /// Every complete reference of the user, oldest first. Unreadable sidecars are skipped and
    /// logged rather than failing the user's verifications.
    pub async fn load(&self, user: &UserId) -> Result<Vec<StoredReference>, StoreError> {
        let keys = self.objects.list(&self.user_prefix(user)).await?;
        let sidecar_keys: Vec<&String> = keys.iter().filter(|k| k.ends_with(".json")).collect();
        if sidecar_keys.is_empty() {
            // An unknown user costs the same round trips as a known one (a listing, then a read), so
            // the time of an answer does not tell enrolled ids from unknown ones.
            let none = format!("{}{DUMMY_SIDECAR}", self.user_prefix(user));
            let _ = self.objects.get(&none).await?;
            return Ok(Vec::new());
        }
        let blobs = try_join_all(sidecar_keys.iter().map(|k| self.objects.get(k))).await?;
        let prefix = self.user_prefix(user);
        let mut references = Vec::new();
        for (key, blob) in sidecar_keys.iter().zip(blobs) {
            let Some(blob) = blob else { continue };
            let id = key.strip_prefix(&prefix).and_then(|name| name.strip_suffix(".json")).unwrap_or_default();
            let blob = match self.decode(context(user.as_str(), id, ObjectKind::Sidecar), blob).await {
                Ok(blob) => blob,
                // One object that does not open (or is refused) is skipped like any unreadable
                // sidecar; the key service being out of reach fails the load, as storage does.
                Err(StoreError::Corrupt(e)) => {
                    tracing::warn!(key = %key, error = %e, "sidecar not used; ignored");
                    continue;
                }
                Err(e) => return Err(e),
            };
            match serde_json::from_slice::<Sidecar>(&blob) {
                Ok(s)
                    if s.user_id == user.as_str()
                        && s.reference_id == id
                        && is_reference_id(&s.reference_id)
                        && is_own_photo(&s.image_key, &prefix, id) =>
                {
                    references.push(StoredReference(s))
                }
                Ok(_) => {
                    tracing::warn!(key = %key, "sidecar does not belong to this user; ignored")
                }
                Err(e) => tracing::warn!(key = %key, error = %e, "unreadable sidecar; ignored"),
            }
        }
        references.sort_by(|a, b| a.0.reference_id.cmp(&b.0.reference_id));
        // The newest replace wins: what came before it no longer counts, deleted yet or not.
        if let Some(last_replace) = references.iter().rposition(|r| r.0.replaces_earlier) {
            references.drain(..last_replace);
        }
        Ok(references)
    }

    /// Every user with a folder, in no particular order (for migrations, not for requests).
    pub async fn users(&self) -> Result<Vec<UserId>, StoreError> {
        let folders = self.objects.list_folders(&self.users_prefix()).await?;
        Ok(folders.iter().filter_map(|name| UserId::parse(name).ok()).collect())
    }

    /// Removes every object of the user. Returns how many objects there were.
    pub async fn delete_user(&self, user: &UserId) -> Result<usize, StoreError> {
        let keys = self.objects.list(&self.user_prefix(user)).await?;
        // Sidecars first: once they are gone the user has no usable reference, even if a later
        // delete fails and leaves a photo for the next attempt.
        let (sidecars, rest): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| k.ends_with(".json"));
        try_join_all(sidecars.iter().map(|k| self.objects.delete(k))).await?;
        try_join_all(rest.iter().map(|k| self.objects.delete(k))).await?;
        // The passkeys go with the face: a device alone must not keep a deleted user verifiable.
        let passkeys = self.delete_passkeys(user).await?;
        // Last: a use recorded meanwhile is removed here, or removes itself (record_use).
        self.objects.delete(&self.activity_key(user)).await?;
        Ok(keys.len() + passkeys)
    }
}

/// The name read for a user without references: never written (not a reference id, not `.json`).
const DUMMY_SIDECAR: &str = "none";

/// Whether a sidecar's photo key is its own photo: `{user prefix}{reference id}.{extension}`. A
/// sidecar is data in the bucket, so a crafted `image_key` could otherwise make an export or a
/// re-embed read (and open, and hand out) another user's object.
fn is_own_photo(image_key: &str, user_prefix: &str, reference_id: &str) -> bool {
    let Some(name) = image_key.strip_prefix(user_prefix) else { return false };
    let Some((id, extension)) = name.split_once('.') else { return false };
    id == reference_id && (1..=5).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_alphanumeric())
}

mod activity;
mod handle;
mod listing;
mod marks;
mod passkeys;
mod sealing;

pub use handle::ReferenceStore;
pub use listing::Listing;
pub use marks::Mark;
use sealing::context;
pub use sealing::{Plaintext, SealReport};

#[cfg(test)]
mod tests;
