//! Moving references to the loaded recognizer: one at a time inside a verify, or every reference
//! in the store as a migration (`faceauth reembed`). Both rewrite the sidecar in place from the
//! stored photo, so running either twice, or both at once, ends in the same state. With a template
//! key configured, the migration also seals every reference still stored in plaintext.

use crate::audit::{Actor, Event};
use crate::domain::UserId;
use crate::store::{StoreError, StoredReference};

use super::error::ServiceError;
use super::faces::Faces;
use crate::face::Purpose;

/// What a migration did to one user's references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Rewritten for the loaded recognizer.
    pub reembedded: usize,
    /// Already made by the loaded recognizer: left alone.
    pub current: usize,
    /// Could not be converted (photo gone, no usable face for the new pipeline); left as they are.
    pub unusable: usize,
    /// Stored in plaintext before `TEMPLATE_KMS_KEY_ID` was set, sealed in place now.
    pub sealed: usize,
}

impl std::ops::AddAssign for MigrationReport {
    fn add_assign(&mut self, other: Self) {
        self.reembedded += other.reembedded;
        self.current += other.current;
        self.unusable += other.unusable;
        self.sealed += other.sealed;
    }
}

impl Faces {
    /// Every user with references, for a migration to walk through.
    pub async fn users(&self) -> Result<Vec<UserId>, ServiceError> {
        Ok(self.refs.users().await?)
    }

    /// Re-embeds every reference of `user` that another recognizer made. Safe while the service
    /// serves: a verify that already re-embedded a reference finds it current here, and the
    /// user's cached embeddings are dropped afterwards.
    pub async fn migrate_user(&self, user: &UserId) -> Result<MigrationReport, ServiceError> {
        let mut report = MigrationReport::default();
        for reference in self.refs.load(user).await? {
            if reference.model().sha256 == self.model.recognizer.sha256 {
                report.current += 1;
            } else if self.reembed(user, &reference).await?.is_some() {
                report.reembedded += 1;
            } else {
                report.unusable += 1;
            }
        }
        if report.reembedded > 0 {
            self.cache.invalidate(user);
        }
        // After the re-embedding, so a rewritten sidecar is sealed in the same pass (with a key
        // configured, rewrites are sealed already; this catches what is still plaintext).
        report.sealed = self.refs.seal_in_place(user).await?.sealed;
        Ok(report)
    }

    /// The reference re-embedded from its photo and rewritten, or `None` when it can never be
    /// (photo gone, or no face the current pipeline accepts). Failures that may pass on a later try
    /// (queue full, storage unavailable, a model fault) are errors.
    pub(super) async fn reembed(
        &self,
        user: &UserId,
        reference: &StoredReference,
    ) -> Result<Option<StoredReference>, ServiceError> {
        let id = reference.reference_id();
        let Some(photo) = self.refs.photo(reference).await? else {
            tracing::warn!(reference_id = %id, "the reference photo is missing; it cannot be re-embedded");
            return Ok(None);
        };
        let analysis = match self.inference.analyze(photo, Purpose::Verify).await.map_err(ServiceError::from) {
            Ok(analysis) => analysis,
            Err(e @ (ServiceError::Image(_) | ServiceError::Face(_))) => {
                tracing::warn!(reference_id = %id, reason = %e, "the reference photo has no usable face for the loaded models");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match self.refs.replace_embedding(user, reference, self.new_reference(&analysis, None)).await {
            Ok(updated) => {
                tracing::info!(reference_id = %id, from = %reference.model().name, to = %self.model.recognizer.name, "re-embedded reference for the loaded model");
                self.audit.record(Event {
                    kind: "reembed",
                    user,
                    actor: Actor::Service("reembed"),
                    outcome: Ok(()),
                    detail: Some(&self.model.recognizer.name),
                });
                Ok(Some(updated))
            }
            // Deleted while it was being rewritten: nothing to convert any more.
            Err(StoreError::Corrupt(reason)) => {
                tracing::warn!(reference_id = %id, %reason, "reference not rewritten");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}
