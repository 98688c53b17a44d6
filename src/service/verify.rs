//! Verify: does this photo show the user? Best cosine similarity over the user's references.

mod outcome;
mod request;

use std::sync::Arc;
use std::time::Instant;

pub use outcome::Verification;
use outcome::{amr, outcome};
use request::within_budget;
pub use request::{Disclosure, Probe, VerifyRequest};

use super::cache::{CachedReference, References};
use super::error::ServiceError;
use super::facade::{FaceAuth, IssuedToken};
use super::liveness::plan::Plan;
use super::liveness::{CaptureAnswer, Liveness, LivenessMode, replay};
use super::passkeys::{PasskeyError, PasskeyProof};
use super::sessions::{SessionPurpose, ValidSession};
use super::timings::{Timings, ms};
use crate::domain::UserId;
use crate::face::fingerprint::Fingerprint;
use crate::face::frame::CaptureFrame;
use crate::face::{Embedding, Purpose};
use crate::store::photo_digest;
use crate::token::result::ResultContext;

impl FaceAuth {
    /// Refuses at once, before any inference, while this client (or everyone) is locked out of the
    /// user; the refusal is the same whatever the photo would have scored, so it reveals nothing.
    /// The attempt counts as a failure while it runs; only a decision settles it, and any other
    /// end (an error, a cancelled or timed-out request) withdraws it as the future is dropped. A
    /// session presented is held the same way: spent by a decision, released by anything else.
    pub async fn verify(&self, request: VerifyRequest) -> Result<Verification, ServiceError> {
        let VerifyRequest { user, client, probe, challenge_id, session_token, passkey, disclosure } = request;
        let generation = self.state.generation().await?;
        let held = match session_token.as_deref() {
            Some(token) => Some(self.hold_session(token, &user, SessionPurpose::Verify, &generation).await?),
            None => None,
        };
        // Said before anything is spent or counted: a client that forgot the assertion learns
        // nothing about the face, and one that sends an assertion nobody asked for is a mistake.
        let assertion = match (held.as_ref().is_some_and(|h| h.session.passkey), passkey) {
            (true, None) => return Err(PasskeyError::Required.into()),
            (false, Some(_)) => return Err(PasskeyError::NotAsked.into()),
            (true, Some(assertion)) => Some(assertion),
            (false, None) => None,
        };
        let plan = match (self.liveness.mode, &probe) {
            (LivenessMode::Challenge, Probe::Capture { .. }) => {
                Some(match (held.as_ref().and_then(|h| h.session.plan.clone()), challenge_id) {
                    (Some(plan), _) => plan,
                    (None, Some(id)) => self.take_challenge(&user, &id, &generation).await?,
                    (None, None) => return Err(ServiceError::ChallengeRequired),
                })
            }
            (LivenessMode::Challenge, Probe::Photo(_)) => return Err(ServiceError::ChallengeRequired),
            (_, Probe::Capture { .. }) => return Err(ServiceError::CaptureWithoutChallenge),
            (_, Probe::Photo(_)) => None,
        };
        if let Some(limit) = self.disable_after {
            self.check_ladder(&user, limit).await?;
        }
        let digests: Vec<String> = probe.photos().into_iter().map(|b| photo_digest(b)).collect();
        let attempt = self.state.begin_attempt(&user, client).await?.map_err(ServiceError::TooManyAttempts)?;
        // The device first: a refused assertion decides the attempt without any inference.
        let (proof, refused) = match (assertion, session_token.as_deref()) {
            (Some(assertion), Some(token)) => {
                match self.check_passkey(&user, token, &digests, probe.answer(), &assertion, &generation).await {
                    Ok(proof) => (Some(proof), None),
                    Err(e) if e.decided_code().is_none() => return Err(e),
                    Err(e) => (None, Some(e)),
                }
            }
            _ => (None, None),
        };
        // More work than the plan asked for is refused on the frames' headers, before any decode,
        // and counted like any decided refusal.
        let refused = match (refused, plan.as_ref(), &probe) {
            (None, Some(plan), Probe::Capture { frames, .. }) => within_budget(plan, frames)?.err(),
            (refused, ..) => refused,
        };
        // A refused device or budget leaves the photos unexamined: they are not remembered as presented.
        let photos_judged = refused.is_none();
        let (mut result, fingerprints) = match refused {
            Some(error) => (Err(error), Vec::new()),
            None => match self.photos_seen(&user, &digests, false).await? {
                true => (Err(ServiceError::ReplayedImage), Vec::new()),
                false => self.verify_unlocked(&user, probe, plan.as_ref(), &digests, disclosure).await,
            },
        };
        if result.as_ref().err().is_some_and(|e| e.decided_code().is_none()) {
            return result;
        }
        // Remembered atomically with the check: of two copies racing, one is refused here.
        let remembered: Vec<String> =
            digests.iter().cloned().chain(fingerprints.iter().map(replay::remembered_as)).collect();
        if photos_judged
            && self.photos_seen(&user, &remembered, true).await?
            && result.as_ref().is_ok_and(|v| v.verified)
        {
            result = Err(ServiceError::ReplayedImage);
        }
        // Fingerprints are compared in the service, not in one atomic step with the write: two
        // disguised copies racing could both pass the first look. Looked at again now that this
        // attempt's are stored, another attempt's close fingerprint can only be a copy that raced
        // this one; both are then refused (fail closed: one person does not race themselves).
        if result.as_ref().is_ok_and(|v| v.verified) && self.raced_by_a_copy(&user, &fingerprints).await? {
            result = Err(ServiceError::ReplayedImage);
        }
        if plan.is_some() {
            self.plan_answered(&user).await;
        }
        let session = held.map(|h| h.spend());
        if let Ok(v) = &mut result {
            v.session_id = session.as_ref().map(|s| s.id.clone());
            if v.verified {
                v.token = Some(self.sign_result(&user, session.as_ref(), &v.liveness, proof.as_ref(), &generation));
                v.passkey = proof.clone();
                self.record_use(&user);
            }
        }
        let matched = result.as_ref().is_ok_and(|v| v.verified);
        let mut left = attempt.left_if_failed().map(u64::from);
        if let Some(limit) = self.disable_after {
            match self.climb_ladder(&user, matched, limit).await {
                Ok(failures) => left = left.into_iter().chain([limit.saturating_sub(failures)]).min(),
                // Fail closed on the next attempt rather than this decided one: the state is
                // down, and the next check of the ladder answers 503 until it is back.
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: failure ladder not updated")
                }
            }
        }
        if !matched && let Some(left) = left.map(|n| u32::try_from(n).unwrap_or(u32::MAX)) {
            result = match result {
                Ok(v) => Ok(Verification { attempts_left: Some(left), ..v }),
                Err(error) => Err(ServiceError::Counted { error: Box::new(error), attempts_left: left }),
            };
        }
        if let Err(e) = attempt.settle(matched).await {
            // The decision stands; a mismatch stays counted as a failure (it was recorded as one).
            tracing::warn!(error = %crate::telemetry::chain(&e), "shared state: attempt not settled");
        }
        if let Some(session) = &session {
            self.complete_session(session, &user, SessionPurpose::Verify, outcome(&result, proof.as_ref())).await;
        }
        result
    }

    /// The result a relying party verifies with the published key.
    fn sign_result(
        &self,
        user: &UserId,
        session: Option<&ValidSession>,
        liveness: &Liveness,
        passkey: Option<&PasskeyProof>,
        generation: &str,
    ) -> IssuedToken {
        let amr = amr(liveness, passkey);
        let context = ResultContext {
            audience: session.and_then(|s| s.audience.clone()),
            nonce: session.and_then(|s| s.nonce.clone()),
            session_id: session.map(|s| s.id.clone()),
            amr,
            passkey_id: passkey.map(|p| p.credential_id.clone()),
            generation: generation.to_string(),
        };
        let (token, claims) = self.tokens.sign(user.as_str(), context);
        IssuedToken { token, expires_at: claims.exp }
    }

    /// The decision on one attempt, and the fingerprints to remember of it (the photo, or a sample of
    /// the capture's frames: its probe and the frames at each step's prompt).
    async fn verify_unlocked(
        &self,
        user: &UserId,
        probe: Probe,
        plan: Option<&Plan>,
        digests: &[String],
        disclosure: Disclosure,
    ) -> (Result<Verification, ServiceError>, Vec<Fingerprint>) {
        let start = Instant::now();
        // Embedding the photos and fetching the references overlap: storage latency hides behind inference.
        let (analysed, references) = match probe {
            Probe::Photo(image) => {
                let (analysis, references) =
                    tokio::join!(self.inference.analyze(image, Purpose::Verify), self.load_references(user));
                let frame = analysis.map(CaptureFrame::from);
                (frame.map(|a| (vec![a], Vec::new(), false)).map_err(ServiceError::from), references)
            }
            Probe::Capture { frames, times, light_declined, .. } => {
                let (analysed, references) =
                    tokio::join!(self.analyze_capture(frames, &times, plan), self.load_references(user));
                (analysed.map(|a| (a, times, light_declined)), references)
            }
        };
        // The photos are judged before the user's existence is: an unknown user must not be told
        // apart by which refusal comes first.
        let (frames, times, light_declined) = match analysed {
            Ok(a) => a,
            Err(e) => return (Err(e), Vec::new()),
        };
        let (references, storage_ms) = match references {
            Ok(r) => r,
            Err(e) => return (Err(e), Vec::new()),
        };
        // Replays first, whatever the capture answers: a copy is refused as one, never judged.
        if self.replay_guard && references.iter().any(|r| r.photo_sha256.as_ref().is_some_and(|d| digests.contains(d)))
        {
            return (Err(ServiceError::ReplayedImage), Vec::new());
        }
        let every: Vec<Fingerprint> =
            frames.iter().filter_map(|f| f.identity.as_ref()).map(|id| id.fingerprint).collect();
        match self.content_seen(user, &every).await {
            Ok(true) => return (Err(ServiceError::ReplayedImage), Vec::new()),
            Ok(false) => {}
            Err(e) => return (Err(e), Vec::new()),
        }
        let embeddings: Vec<Embedding> = references.iter().map(|r| r.embedding.clone()).collect();
        let judged = match plan {
            Some(plan) => {
                let answer = CaptureAnswer { plan, frames: &frames, times: &times, digests, light_declined };
                self.judge_capture(&answer, &embeddings).map(|v| (v.probe, v.liveness))
            }
            None => self.photo_liveness(&frames[0]).map(|l| (0, l)),
        };
        let fingerprints = replay::sample_fingerprints(&frames, &times, plan, judged.as_ref().map_or(0, |j| j.0));
        let (probe, liveness) = match judged {
            Ok(j) => j,
            Err(e) => return (Err(e), fingerprints),
        };
        let analysis = frames.into_iter().nth(probe).expect("the probe is one of the frames");
        let Some(identity) = &analysis.identity else {
            // The probe is identified by construction (`judge`); anything else is refused, not matched.
            return (Err(ServiceError::IdentityChanged { frame: probe + 1 }), fingerprints);
        };
        let match_start = Instant::now();
        let best =
            references.iter().map(|r| (r, r.embedding.cosine(&identity.embedding))).max_by(|a, b| a.1.total_cmp(&b.1));
        let (reference_id, similarity) = match (best, disclosure) {
            (Some((r, similarity)), _) => (Some(r.reference_id.clone()), similarity),
            (None, Disclosure::PassFail) => (None, 0.0),
            (None, Disclosure::Full) => return (Err(ServiceError::UserNotFound), fingerprints),
        };
        let threshold = self.model.threshold;
        let verified = reference_id.is_some() && similarity >= threshold;
        let verification = Verification {
            verified,
            similarity,
            threshold,
            threshold_fmr: self.threshold_fmr.clone(),
            reference_id,
            references_compared: references.len(),
            face: analysis.face,
            token: None,
            liveness,
            quality: analysis.quality,
            timings: Timings { pipeline: analysis.timings, storage_ms, match_ms: ms(match_start), total_ms: ms(start) },
            session_id: None,
            attempts_left: None,
            passkey: None,
        };
        (Ok(verification), fingerprints)
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
