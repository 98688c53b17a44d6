//! The face factor: the user's references (cached, re-embedded when the recognizer changed), the
//! best match of a probe against them, and the template guard a register passes. Its verdict is a
//! [`FaceMatch`]; what it proves is `face` in the result's `amr`.

use std::sync::Arc;
use std::time::Instant;

use super::cache::{CachedReference, References};
use super::error::ServiceError;
use super::faces::Faces;
use super::timings::ms;
use super::verify::Disclosure;
use crate::domain::UserId;
use crate::face::Embedding;

/// How a probe compared with the user's references.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FaceMatch {
    /// The reference that matched best (none for an unknown user answered as a mismatch).
    pub reference_id: Option<String>,
    pub similarity: f32,
    /// At or above the threshold in use.
    pub verified: bool,
}

/// What the face factor adds to a verified result's `amr` (RFC 8176 has no word for a face;
/// `face` is faceauth's own).
pub const AMR: &str = "face";

impl Faces {
    /// The best cosine similarity of `probe` over the user's references. With none (an unknown
    /// user), a backend is told `user_not_found`; a client key is answered exactly like a mismatch.
    pub(super) fn best_match(
        &self,
        references: &References,
        probe: &Embedding,
        disclosure: Disclosure,
    ) -> Result<FaceMatch, ServiceError> {
        let best = references.iter().map(|r| (r, r.embedding.cosine(probe))).max_by(|a, b| a.1.total_cmp(&b.1));
        let (reference_id, similarity) = match (best, disclosure) {
            (Some((r, similarity)), _) => (Some(r.reference_id.clone()), similarity),
            (None, Disclosure::PassFail) => (None, 0.0),
            (None, Disclosure::Full) => return Err(ServiceError::UserNotFound),
        };
        let verified = reference_id.is_some() && similarity >= self.model.threshold;
        Ok(FaceMatch { reference_id, similarity, verified })
    }

    /// The template guard: a photo added to a user who has references must match them, or whoever
    /// may register could add their own face to someone else's account.
    pub(super) fn guard(&self, references: &References, embedding: &Embedding) -> Result<(), ServiceError> {
        let best = references.iter().map(|r| r.embedding.cosine(embedding)).fold(f32::MIN, f32::max);
        match references.is_empty() || best >= self.model.threshold {
            true => Ok(()),
            false => Err(ServiceError::FaceMismatch),
        }
    }

    /// The user's reference embeddings, from the cache when possible. References embedded by another
    /// model are re-embedded from their stored photo and their sidecars rewritten. Only a complete
    /// set is cached: a set missing a reference would turn the user's genuine attempts into false
    /// rejects (and lockout failures) for as long as it stayed cached.
    pub(super) async fn load_references(&self, user: &UserId) -> Result<(References, f64), ServiceError> {
        // One round trip tells whether another instance changed the user since it was cached.
        let start = Instant::now();
        let version = self.state.user_version(user).await?;
        if let Some(refs) = self.cache.get(user, version.as_deref()) {
            return Ok((refs, ms(start)));
        }
        let epoch = self.cache.epoch();
        let stored = self.refs.load(user).await?;
        let (mut usable, mut complete, mut outdated) = (Vec::with_capacity(stored.len()), true, 0);
        for reference in stored {
            let reference = if reference.model().sha256 == self.model.recognizer.sha256 {
                reference
            } else {
                outdated += 1;
                // A refusal that may pass later (queue full, storage down) fails the whole verify:
                // comparing against the rest would be a decision on partial evidence.
                match self.reembed(user, &reference).await? {
                    Some(current) => current,
                    None => {
                        complete = false;
                        continue;
                    }
                }
            };
            match Embedding::from_raw(reference.embedding().to_vec()) {
                Some(embedding) => usable.push(CachedReference {
                    reference_id: reference.reference_id().to_string(),
                    embedding,
                    photo_sha256: reference.photo_sha256().map(str::to_string),
                }),
                None => {
                    tracing::warn!(reference_id = %reference.reference_id(), "reference has a degenerate embedding; skipped");
                    complete = false;
                }
            }
        }
        if usable.is_empty() && outdated > 0 {
            return Err(ServiceError::ReferencesOutdated);
        }
        let refs = Arc::new(usable);
        if complete {
            self.cache.put(user, refs.clone(), epoch, version);
        }
        Ok((refs, ms(start)))
    }
}
