//! Verify: does this photo show the user? Best cosine similarity over the user's references.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::cache::{CachedReference, References};
use super::{FaceAuth, IssuedToken, LivenessMode, ServiceError, Step, Timings, ms};
use crate::domain::UserId;
use crate::face::Analysis;
use crate::face::quality::Quality;
use crate::face::{Detection, Embedding, Purpose};
use crate::store::photo_digest;

/// What liveness was checked on the verify photo, and how it came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    Off,
    Passive {
        p_real: f64,
        passed: bool,
    },
    /// Every step with the yaw measured on its frame; `p_real` the lowest of all the photos.
    Challenge {
        steps: Vec<(Step, f32)>,
        p_real: Option<f64>,
    },
}

/// The photos that answer a challenge: one per step, in order.
#[derive(Debug, Clone)]
pub struct ChallengeAnswer {
    pub challenge_id: String,
    pub frames: Vec<Bytes>,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    /// The false-match rate measured at this threshold for the loaded profile, when it was measured
    /// and the threshold is the profile's own (not overridden by MATCH_THRESHOLD).
    pub threshold_fmr: Option<f64>,
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
    pub async fn verify(
        &self,
        user: &UserId,
        client: IpAddr,
        image: Bytes,
        answer: Option<ChallengeAnswer>,
    ) -> Result<Verification, ServiceError> {
        let challenge = match (self.liveness.mode, answer) {
            (LivenessMode::Challenge, None) => return Err(ServiceError::ChallengeRequired),
            (LivenessMode::Challenge, Some(answer)) => Some(self.take_challenge(user, answer).await?),
            // Outside challenge mode, challenge fields are ignored.
            _ => None,
        };
        let attempt = self.state.begin_attempt(user, client).await?.map_err(ServiceError::TooManyAttempts)?;
        let result = self.verify_unlocked(user, image, challenge).await;
        let matched = match &result {
            Ok(v) => v.verified,
            // A copy of a reference photo, a spoof, or frames that do not answer the challenge are
            // decided refusals, and count as failures.
            Err(
                ServiceError::ReplayedImage
                | ServiceError::LivenessFailed(_)
                | ServiceError::PoseMismatch { .. }
                | ServiceError::IdentityChanged { .. },
            ) => false,
            Err(_) => return result,
        };
        if let Err(e) = attempt.settle(matched).await {
            // The decision stands; a mismatch stays counted as a failure (it was recorded as one).
            tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: attempt not settled");
        }
        result
    }

    /// The challenge checked, its frame count too, and used up: whatever this verify's outcome,
    /// it cannot be presented again.
    async fn take_challenge(
        &self,
        user: &UserId,
        answer: ChallengeAnswer,
    ) -> Result<(Vec<Step>, Vec<Bytes>), ServiceError> {
        let valid = self.challenges.check(&answer.challenge_id, user)?;
        if answer.frames.len() != valid.steps.len() {
            return Err(ServiceError::ChallengeFrames { expected: valid.steps.len() });
        }
        let claim = self.state.claim(&valid.claim_id, valid.valid_for).await?;
        claim.ok_or(super::ChallengeError::Used)?.spend();
        Ok((valid.steps, answer.frames))
    }

    /// The liveness verdict: the passive score of every photo, and the challenge's steps.
    fn liveness(&self, image: &Analysis, challenge: Option<(&[Step], &[Analysis])>) -> Result<Liveness, ServiceError> {
        let policy = &self.liveness;
        let p_real = |a: &Analysis| a.liveness.map(|s| s.p_real);
        let frames = challenge.map(|(_, frames)| frames).unwrap_or_default();
        // Configured but not scored would be a wiring fault: count it as 0, refuse rather than pass.
        let lowest = std::iter::once(image).chain(frames).map(|a| p_real(a).unwrap_or(0.0)).fold(f64::MAX, f64::min);
        let check_passive = || match lowest < policy.threshold {
            true => Err(ServiceError::LivenessFailed(lowest)),
            false => Ok(()),
        };
        match (policy.mode, challenge) {
            (LivenessMode::Off, _) => Ok(Liveness::Off),
            (LivenessMode::Passive, _) => {
                check_passive()?;
                Ok(Liveness::Passive { p_real: lowest, passed: true })
            }
            (LivenessMode::Challenge, None) => Err(ServiceError::ChallengeRequired),
            (LivenessMode::Challenge, Some((steps, frames))) => {
                if image.quality.yaw.abs() > policy.frontal_yaw {
                    return Err(ServiceError::PoseMismatch { step: 0, yaw: image.quality.yaw });
                }
                for (i, (step, frame)) in steps.iter().zip(frames).enumerate() {
                    if frame.quality.yaw * step.sign() < policy.min_turn_yaw {
                        return Err(ServiceError::PoseMismatch { step: i + 1, yaw: frame.quality.yaw });
                    }
                }
                for (i, frame) in frames.iter().enumerate() {
                    if frame.embedding.cosine(&image.embedding) < self.model.threshold {
                        return Err(ServiceError::IdentityChanged { frame: i + 1 });
                    }
                }
                check_passive()?;
                let steps = steps.iter().zip(frames).map(|(s, f)| (*s, f.quality.yaw)).collect();
                Ok(Liveness::Challenge { steps, p_real: p_real(image).map(|_| lowest) })
            }
        }
    }

    async fn verify_unlocked(
        &self,
        user: &UserId,
        image: Bytes,
        challenge: Option<(Vec<Step>, Vec<Bytes>)>,
    ) -> Result<Verification, ServiceError> {
        let start = Instant::now();
        let digest = self.replay_guard.then(|| photo_digest(&image));
        let (steps, frames) = challenge.map(|(s, f)| (Some(s), f)).unwrap_or_default();
        // Embedding the photos and fetching the references overlap: storage latency hides behind inference.
        let frames = futures::future::join_all(frames.into_iter().map(|f| self.inference.analyze(f, Purpose::Verify)));
        let (analysis, frames, references) =
            tokio::join!(self.inference.analyze(image, Purpose::Verify), frames, self.load_references(user));
        let (references, storage_ms) = references?;
        if let Some(digest) = digest
            && references.iter().any(|r| r.photo_sha256.as_deref() == Some(digest.as_str()))
        {
            return Err(ServiceError::ReplayedImage);
        }
        let analysis = analysis?;
        let frames = frames.into_iter().collect::<Result<Vec<_>, _>>()?;
        let liveness = self.liveness(&analysis, steps.as_deref().map(|s| (s, frames.as_slice())))?;
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
            threshold_fmr: self.model.profile.measured_fmr.filter(|_| threshold == self.model.profile.threshold),
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
