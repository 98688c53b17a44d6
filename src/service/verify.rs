//! Verify: does this photo show the user? Best cosine similarity over the user's references.

mod outcome;
mod request;

use std::time::Instant;

pub use outcome::Verification;
use outcome::{amr, outcome};
use request::within_budget;
pub use request::{Disclosure, Probe, VerifyRequest};

use super::attempt::{Ticket, decides};
use super::error::ServiceError;
use super::facade::FaceAuth;
use super::liveness::plan::Plan;
use super::liveness::{CaptureAnswer, replay};
use super::passkeys;
use super::sessions::SessionPurpose;
use super::timings::{Timings, ms};
use crate::domain::UserId;
use crate::face::fingerprint::Fingerprint;
use crate::face::frame::CaptureFrame;
use crate::face::{Embedding, Purpose};
use crate::store::photo_digest;

impl FaceAuth {
    /// Refuses at once, before any inference, while this client (or everyone) is locked out of the
    /// user; the refusal is the same whatever the photo would have scored, so it reveals nothing.
    /// The attempt counts as a failure while it runs; only a decision settles it, and any other
    /// end (an error, a cancelled or timed-out request) withdraws it as the future is dropped. A
    /// session presented is held the same way: spent by a decision, released by anything else.
    pub async fn verify(&self, request: VerifyRequest) -> Result<Verification, ServiceError> {
        let VerifyRequest { user, client, probe, challenge_id, session_token, passkey, disclosure } = request;
        let generation = self.state.generation().await?;
        let ticket = match session_token.as_deref() {
            Some(token) => Ticket::Session(Box::new(
                self.access
                    .hold(token, &user, SessionPurpose::Verify, &generation, |s| self.liveness.admits(s))
                    .await?,
            )),
            None => Ticket::Trusted,
        };
        let session = ticket.session();
        // What the session asks of each factor, settled before anything is spent or counted.
        let assertion = passkeys::asked(session.is_some_and(|s| s.passkey), passkey)?;
        let captured = matches!(probe, Probe::Capture { .. });
        let session_plan = session.and_then(|s| s.plan.clone());
        let plan =
            self.liveness.plan_to_answer(&user, captured, session_plan, challenge_id.as_deref(), &generation).await?;
        let attempt = self.open_attempt(&user, client, SessionPurpose::Verify, ticket).await?;
        let digests: Vec<String> = probe.photos().into_iter().map(|b| photo_digest(b)).collect();
        // The device first: a refused assertion decides the attempt without any inference.
        let (proof, refused) = match (assertion, session_token.as_deref()) {
            (Some(assertion), Some(token)) => {
                match self.passkeys.check_passkey(&user, token, &digests, probe.answer(), &assertion, &generation).await
                {
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
        let photos_judged = refused.is_none();
        let (result, fingerprints) = match refused {
            Some(error) => (Err(error), Vec::new()),
            None => match attempt.presented_before(self, &digests).await? {
                true => (Err(ServiceError::ReplayedImage), Vec::new()),
                false => self.verify_unlocked(&user, probe, plan.as_ref(), &digests, disclosure).await,
            },
        };
        if !decides(&result) {
            return result;
        }
        let judged = photos_judged.then_some((digests.as_slice(), fingerprints.as_slice()));
        let mut result = attempt.remember(self, judged, result).await?;
        if plan.is_some() {
            self.liveness.plan_answered(&user).await;
        }
        let spent = attempt.spend();
        if let Ok(v) = &mut result {
            v.session_id = spent.session().map(|s| s.id.clone());
            if v.verified {
                v.token = Some(self.access.sign_result(
                    &user,
                    spent.session(),
                    amr(&v.liveness, proof.as_ref()),
                    proof.as_ref().map(|p| p.credential_id.clone()),
                    &generation,
                ));
                v.passkey = proof.clone();
            }
        }
        spent.close(self, result, |result| outcome(result, proof.as_ref())).await
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
                let (analysis, references) = tokio::join!(
                    self.faces.inference.analyze(image, Purpose::Verify),
                    self.faces.load_references(user)
                );
                let frame = analysis.map(CaptureFrame::from);
                (frame.map(|a| (vec![a], Vec::new(), false)).map_err(ServiceError::from), references)
            }
            Probe::Capture { frames, times, light_declined, .. } => {
                let (analysed, references) =
                    tokio::join!(self.liveness.analyze_capture(frames, &times, plan), self.faces.load_references(user));
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
        match self.replays.content_seen(user, &every).await {
            Ok(true) => return (Err(ServiceError::ReplayedImage), Vec::new()),
            Ok(false) => {}
            Err(e) => return (Err(e), Vec::new()),
        }
        let embeddings: Vec<Embedding> = references.iter().map(|r| r.embedding.clone()).collect();
        let judged = match plan {
            Some(plan) => {
                let answer = CaptureAnswer { plan, frames: &frames, times: &times, digests, light_declined };
                self.liveness.judge_capture(&answer, &embeddings).map(|v| (v.probe, v.liveness))
            }
            None => self.liveness.photo_liveness(&frames[0]).map(|l| (0, l)),
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
        let face = match self.faces.best_match(&references, &identity.embedding, disclosure) {
            Ok(face) => face,
            Err(e) => return (Err(e), fingerprints),
        };
        let verification = Verification {
            verified: face.verified,
            similarity: face.similarity,
            threshold: self.faces.model.threshold,
            threshold_fmr: self.faces.threshold_fmr.clone(),
            reference_id: face.reference_id,
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
}
