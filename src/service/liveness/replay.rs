//! Replays caught by their content: a verify photo or capture frame that was already presented
//! within REPLAY_WINDOW_SECS is refused even re-encoded, rescaled, cropped by a few pixels,
//! mirrored or brightness-shifted. Exact bytes are caught by their digests (the replay memory's
//! older half); this half compares fingerprints (`face::fingerprint`): the aligned face's
//! perceptual hash and the embedding's sketch, their distances added, must be close. A new photo of the same person
//! has the same identity (a close sketch) but not the same pixels; a copy of another person's photo
//! at the same pose has close pixels but another identity. Both thresholds are calibrated on the dev
//! photos (`tests/pipeline/replay.rs`: every pair of different photos of one identity, and every
//! copy of each photo). The service's side (the replay memory read and written through the shared
//! state, and which frames of a capture are remembered) is the `impl FaceAuth` below. The look happens before the attempt is judged and again after its own
//! fingerprints are stored (`service/verify.rs`), so two copies racing are both refused.

use std::time::Duration;

use super::super::error::ServiceError;
use super::plan::{Plan, STEP_MS};
use crate::domain::UserId;
use crate::face::fingerprint::Fingerprint;
use crate::face::frame::CaptureFrame;
use crate::state::SharedState;

/// Two fingerprints are one capture when twice their hashes' Hamming distance plus their sketches'
/// is at most this (hash 255 bits, counted twice: it tells copies from new photos better than the
/// sketch does; sketch 1,024 bits). On the dev photos (`tests/pipeline/replay.rs`, which prints
/// both sides): disguised copies at most 217, different photos of one person at least 293; the
/// threshold sits between, a little toward the copies (a refused genuine photo costs the user a
/// retry; a missed copy still has to pass the challenge).
pub const MAX_DISTANCE: u32 = 250;
/// A mirrored copy is one capture when twice the distance of its hash, flipped back, plus the
/// sketches' distance is at most this. The sketch is of the embedding of the face as presented, and
/// a face's embedding and its mirror image's differ (up to 149 of 1,024 bits on the dev photos), so
/// this bound is wider: mirrored copies at most 293, different photos of one person (either
/// flipped) at least 347.
pub const MAX_MIRRORED: u32 = 318;

/// How the replay memory stores a fingerprint, apart from digests.
const PREFIX: &str = "fp:";

pub fn remembered_as(fingerprint: &Fingerprint) -> String {
    format!("{PREFIX}{}", fingerprint.to_hex())
}

/// Whether one of `new` is a presentation of one of the remembered entries.
pub fn seen_before(new: &[Fingerprint], remembered: &[String]) -> bool {
    let known: Vec<Fingerprint> =
        remembered.iter().filter_map(|e| e.strip_prefix(PREFIX)).filter_map(Fingerprint::from_hex).collect();
    new.iter().any(|f| known.iter().any(|k| same_capture(f, k)))
}

pub fn same_capture(a: &Fingerprint, b: &Fingerprint) -> bool {
    let d = a.distance(b);
    2 * d.hash + d.sketch <= MAX_DISTANCE || 2 * d.mirrored + d.sketch <= MAX_MIRRORED
}

/// The replay memory's bounds (REPLAY_WINDOW_SECS, and how many photos per user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayMemory {
    pub window: Duration,
    pub per_user: usize,
}

/// The replay memory, in the shared state: what decided verifies presented, for REPLAY_WINDOW_SECS.
pub struct Replays {
    state: SharedState,
    memory: Option<ReplayMemory>,
}

impl Replays {
    pub fn new(state: SharedState, memory: Option<ReplayMemory>) -> Self {
        Self { state, memory }
    }

    /// Whether a fingerprint of this attempt matches one remembered for the user: the same capture
    /// presented again, re-encoded, cropped, mirrored or brightened.
    pub(in crate::service) async fn content_seen(
        &self,
        user: &UserId,
        fingerprints: &[Fingerprint],
    ) -> Result<bool, ServiceError> {
        if self.memory.is_none() || fingerprints.is_empty() {
            return Ok(false);
        }
        Ok(seen_before(fingerprints, &self.state.remembered(user).await?))
    }

    /// Looked at again once this attempt's own fingerprints are stored: another attempt's close
    /// fingerprint can then only be a copy that raced this one.
    pub(in crate::service) async fn raced_by_a_copy(
        &self,
        user: &UserId,
        own: &[Fingerprint],
    ) -> Result<bool, ServiceError> {
        if self.memory.is_none() || own.is_empty() {
            return Ok(false);
        }
        let ours: Vec<String> = own.iter().map(remembered_as).collect();
        let others: Vec<String> =
            self.state.remembered(user).await?.into_iter().filter(|e| !ours.contains(e)).collect();
        Ok(seen_before(own, &others))
    }

    /// Whether any of the photos was sent in a decided verify of this user within
    /// REPLAY_WINDOW_SECS; with `remember`, they are remembered from now on.
    pub(in crate::service) async fn photos_seen(
        &self,
        user: &UserId,
        digests: &[String],
        remember: bool,
    ) -> Result<bool, ServiceError> {
        let Some(memory) = self.memory else { return Ok(false) };
        let remember = remember.then_some((memory.window, memory.per_user));
        Ok(self.state.photos_seen(user, digests, remember).await?)
    }
}

/// The frames nearest each prompt's reach (a third of a step after it): with the probe, what the
/// replay memory keeps of a capture. A replayed capture repeats all of them.
pub fn prompt_frames(times: &[f32], plan: &Plan) -> Vec<usize> {
    let mut picked = Vec::new();
    for prompt in &plan.prompts {
        let target = prompt.at_ms as f32 + STEP_MS as f32 / 3.0;
        let nearest = (0..times.len()).min_by(|&a, &b| (times[a] - target).abs().total_cmp(&(times[b] - target).abs()));
        picked.extend(nearest.filter(|i| !picked.contains(i)));
    }
    picked
}

/// The fingerprints the replay memory keeps: the probe's and those of [`prompt_frames`] (identified
/// by construction: `sampling.rs`).
pub(in crate::service) fn sample_fingerprints(
    frames: &[CaptureFrame],
    times: &[f32],
    plan: Option<&Plan>,
    probe: usize,
) -> Vec<Fingerprint> {
    let probe = probe.min(frames.len().saturating_sub(1));
    let mut picked = vec![probe];
    if let Some(plan) = plan {
        picked.extend(prompt_frames(times, plan).into_iter().filter(|i| *i != probe));
    }
    picked.into_iter().filter_map(|i| frames.get(i)?.identity.as_ref()).map(|id| id.fingerprint).collect()
}
