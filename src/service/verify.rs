//! Verify: does this photo show the user? Best cosine similarity over the user's references.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::cache::{CachedReference, References};
use super::{FaceAuth, IssuedToken, ServiceError, Timings, ms};
use crate::domain::UserId;
use crate::face::quality::Quality;
use crate::face::{Detection, Embedding, Purpose};
use crate::store::photo_digest;

/// What liveness was checked on the verify photo, and how it came out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Liveness {
    Off,
    Passive { p_real: f64, passed: bool },
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    /// The reference that matched best.
    pub reference_id: String,
    pub references_compared: usize,
    pub face: Detection,
    /// Only when verified.
    pub token: Option<IssuedToken>,
    pub liveness: Liveness,
    /// The photo's capture quality, reported (refusals are for enrolment).
    pub quality: Quality,
    pub timings: Timings,
}

impl FaceAuth {
    /// Refuses at once, before any inference, while this client (or everyone) is locked out of the
    /// user; the refusal is the same whatever the photo would have scored, so it reveals nothing.
    /// The attempt counts as a failure while it runs; only a decision settles it, and any other
    /// end (an error, a cancelled or timed-out request) withdraws it as the future is dropped.
    pub async fn verify(&self, user: &UserId, client: IpAddr, image: Bytes) -> Result<Verification, ServiceError> {
        let attempt = self.state.begin_attempt(user, client).await?.map_err(ServiceError::TooManyAttempts)?;
        let result = self.verify_unlocked(user, image).await;
        let matched = match &result {
            Ok(v) => v.verified,
            // A copy of a reference photo, or a spoof, is a decided refusal, and counts as one.
            Err(ServiceError::ReplayedImage | ServiceError::LivenessFailed(_)) => false,
            Err(_) => return result,
        };
        if let Err(e) = attempt.settle(matched).await {
            // The decision stands; a mismatch stays counted as a failure (it was recorded as one).
            tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: attempt not settled");
        }
        result
    }

    async fn verify_unlocked(&self, user: &UserId, image: Bytes) -> Result<Verification, ServiceError> {
        let start = Instant::now();
        let digest = self.replay_guard.then(|| photo_digest(&image));
        // Embedding the probe and fetching the references overlap: storage latency hides behind inference.
        let (analysis, references) =
            tokio::join!(self.inference.analyze(image, Purpose::Verify), self.load_references(user));
        let (references, storage_ms) = references?;
        if let Some(digest) = digest
            && references.iter().any(|r| r.photo_sha256.as_deref() == Some(digest.as_str()))
        {
            return Err(ServiceError::ReplayedImage);
        }
        let analysis = analysis?;
        let liveness = match (self.liveness_threshold, analysis.liveness) {
            (Some(threshold), Some(score)) => {
                Liveness::Passive { p_real: score.p_real, passed: score.p_real >= threshold }
            }
            // Configured but not scored would be a wiring fault: refuse rather than pass.
            (Some(_), None) => Liveness::Passive { p_real: 0.0, passed: false },
            (None, _) => Liveness::Off,
        };
        if let Liveness::Passive { p_real, passed: false } = liveness {
            return Err(ServiceError::LivenessFailed(p_real));
        }
        let match_start = Instant::now();
        let (best, similarity) = references
            .iter()
            .map(|r| (r, r.embedding.cosine(&analysis.embedding)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or(ServiceError::UserNotFound)?;
        let threshold = self.model.threshold;
        let verified = similarity >= threshold;
        let match_ms = ms(match_start);
        let token = verified.then(|| {
            let (token, claims) = self.tokens.sign(user.as_str());
            IssuedToken { token, expires_at: claims.exp }
        });
        Ok(Verification {
            verified,
            similarity,
            threshold,
            reference_id: best.reference_id.clone(),
            references_compared: references.len(),
            face: analysis.face,
            token,
            liveness,
            quality: analysis.quality,
            timings: Timings { pipeline: analysis.timings, storage_ms, match_ms, total_ms: ms(start) },
        })
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
