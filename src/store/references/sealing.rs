//! Sealing under the template key, as the reference store applies it: every write encoded, every
//! read decoded (plaintext accepted or refused), and the migration that seals plaintext in place.

use bytes::Bytes;

use super::handle::ReferenceStore;
use crate::domain::UserId;
use crate::store::object::StoreError;
use crate::store::sealed::{Context, ObjectKind, Sealer, is_sealed};
use std::sync::Arc;

/// Whether objects without a seal are read while a key is configured (`TEMPLATE_PLAINTEXT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    /// Read as they are: references from before the key keep working until sealed.
    Accept,
    /// Ignored (sidecars) or refused (photos): a plaintext object planted by whoever can write the
    /// bucket is never used. For after `faceauth reembed` has sealed everything.
    Refuse,
}

/// What sealing a user's plaintext objects did (`faceauth reembed` with a template key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    pub sealed: usize,
    pub already: usize,
}

pub(super) fn context<'a>(user: &'a str, reference_id: &'a str, kind: ObjectKind) -> Context<'a> {
    Context { user, reference_id, kind }
}

impl ReferenceStore {
    /// Seals every photo and sidecar written from now on; reads open sealed objects, and plaintext
    /// ones as `plaintext` says.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>, plaintext: Plaintext) -> Self {
        self.sealer = Some(sealer);
        self.plaintext = plaintext;
        self
    }

    pub fn sealed(&self) -> bool {
        self.sealer.is_some()
    }

    /// What goes into the store for `plain`: sealed when a key is configured.
    pub(super) async fn encode(&self, context: Context<'_>, plain: Bytes) -> Result<Bytes, StoreError> {
        match &self.sealer {
            Some(sealer) => sealer.seal(context, &plain).await,
            None => Ok(plain),
        }
    }

    /// What a stored object holds, opened if it was sealed. Plaintext written before a key was
    /// configured reads as it is, unless `plaintext` refuses it.
    pub(super) async fn decode(&self, context: Context<'_>, stored: Bytes) -> Result<Bytes, StoreError> {
        match (&self.sealer, is_sealed(&stored)) {
            (Some(_), false) if self.plaintext == Plaintext::Refuse => Err(StoreError::Corrupt(format!(
                "a plaintext {:?} of user {} where only sealed objects are read (TEMPLATE_PLAINTEXT=refuse)",
                context.kind, context.user
            ))),
            (_, false) => Ok(stored),
            (Some(sealer), true) => sealer.open(context, &stored).await,
            (None, true) => Err(StoreError::Denied(
                "a reference is sealed under a KMS key but TEMPLATE_KMS_KEY_ID is not set".into(),
            )),
        }
    }

    /// Seals, in place, every plaintext photo and sidecar of the user's current references (after
    /// `TEMPLATE_KMS_KEY_ID` is set). Safe while serving: the sidecar is sealed first and the photo
    /// checked to be still there, then the photo and the sidecar checked; whichever finds the user
    /// deleted meanwhile removes what it wrote, so sealing never resurrects a deleted reference.
    pub async fn seal_in_place(&self, user: &UserId) -> Result<SealReport, StoreError> {
        let mut report = SealReport::default();
        // Refusing plaintext, a plaintext object cannot be told from a planted one: sealing it
        // would launder it. Sealing is for the migration, before plaintext is refused.
        if self.sealer.is_none() || self.plaintext == Plaintext::Refuse {
            return Ok(report);
        }
        for reference in self.load(user).await? {
            let id = reference.0.reference_id.as_str();
            let sidecar_key = self.sidecar_key(user, id);
            let image_key = reference.0.image_key.as_str();
            // Gone since the load: deleted or superseded meanwhile, nothing to seal.
            let Some(stored_sidecar) = self.objects.get(&sidecar_key).await? else { continue };
            let Some(stored_photo) = self.objects.get(image_key).await? else { continue };
            if is_sealed(&stored_sidecar) && is_sealed(&stored_photo) {
                report.already += 1;
                continue;
            }
            if !is_sealed(&stored_sidecar) {
                let stored = stored_sidecar;
                let sealed = self.encode(context(user.as_str(), id, ObjectKind::Sidecar), stored).await?;
                self.objects.put(&sidecar_key, sealed, "application/json").await?;
                if self.objects.get(image_key).await?.is_none() {
                    self.objects.delete(&sidecar_key).await?;
                    continue;
                }
            }
            if !is_sealed(&stored_photo) {
                let sealed = self.encode(context(user.as_str(), id, ObjectKind::Photo), stored_photo).await?;
                self.objects.put(image_key, sealed, &reference.0.content_type).await?;
                if self.objects.get(&sidecar_key).await?.is_none() {
                    self.objects.delete(image_key).await?;
                    continue;
                }
            }
            report.sealed += 1;
        }
        Ok(report)
    }
}
