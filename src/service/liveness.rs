//! Liveness: what the verify photos must show beyond the right face. The passive score of every
//! photo, and for a challenge its steps (each frame's pose), distinct captures and one person.

use super::{Axis, DISTINCT_CAPTURE_THRESHOLD, FaceAuth, LivenessMode, ServiceError, Step};
use crate::domain::UserId;
use crate::face::Analysis;

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

impl FaceAuth {
    /// The challenge checked and used up: whatever this verify's outcome, it cannot be presented again.
    pub(super) async fn take_challenge(&self, user: &UserId, challenge_id: &str) -> Result<Vec<Step>, ServiceError> {
        let valid = self.challenges.check(challenge_id, user)?;
        let claim = self.state.claim(&valid.claim_id, valid.valid_for).await?;
        claim.ok_or(super::ChallengeError::Used)?.spend();
        Ok(valid.steps)
    }

    /// The liveness verdict: the passive score of every photo, and the challenge's steps.
    pub(super) fn liveness(
        &self,
        image: &Analysis,
        challenge: Option<(&[Step], &[Analysis], &[String])>,
    ) -> Result<Liveness, ServiceError> {
        let policy = &self.liveness;
        let p_real = |a: &Analysis| a.liveness.map(|s| s.p_real);
        let frames = challenge.map(|(_, frames, _)| frames).unwrap_or_default();
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
            (LivenessMode::Challenge, Some((steps, frames, digests))) => {
                // Copies first: a copy is refused as one, whatever pose it shows.
                distinct_captures(image, steps, frames, digests)?;
                if image.quality.yaw.abs() > policy.frontal_yaw {
                    return Err(ServiceError::PoseMismatch { step: 0, angle: image.quality.yaw });
                }
                for (i, (step, frame)) in steps.iter().zip(frames).enumerate() {
                    // A turn by the frame's own yaw; a nod relative to the frontal photo, since
                    // where the nose sits between eyes and mouth differs from face to face.
                    let (angle, needed) = match step.axis() {
                        Axis::Yaw => (frame.quality.yaw, policy.min_turn_yaw),
                        Axis::Pitch => (frame.quality.pitch - image.quality.pitch, policy.min_nod_pitch),
                    };
                    if angle * step.sign() < needed {
                        return Err(ServiceError::PoseMismatch { step: i + 1, angle });
                    }
                }
                for (i, frame) in frames.iter().enumerate() {
                    if frame.embedding.cosine(&image.embedding) < self.model.threshold {
                        return Err(ServiceError::IdentityChanged { frame: i + 1 });
                    }
                }
                check_passive()?;
                let steps = steps
                    .iter()
                    .zip(frames)
                    .map(|(s, f)| (*s, if s.axis() == Axis::Yaw { f.quality.yaw } else { f.quality.pitch }))
                    .collect();
                Ok(Liveness::Challenge { steps, p_real: p_real(image).map(|_| lowest) })
            }
        }
    }
}

/// Every photo of a challenge answer must be its own capture: no frame a copy of the frontal photo
/// or of a frame that answers another move, re-encoded, rescaled, cropped or mirrored (a mirror
/// image answers the opposite turn). Frames answering the same move (possible only when
/// CHALLENGE_MOVES has fewer moves than CHALLENGE_STEPS) are compared by their bytes only
/// (`digests`, image first): two real captures of one pose may be as close as copies.
fn distinct_captures(
    image: &Analysis,
    steps: &[Step],
    frames: &[Analysis],
    digests: &[String],
) -> Result<(), ServiceError> {
    let photos: Vec<(Option<Step>, &Analysis)> =
        std::iter::once((None, image)).chain(steps.iter().copied().map(Some).zip(frames)).collect();
    for (first, (step_a, a)) in photos.iter().enumerate() {
        for (offset, (step_b, b)) in photos[first + 1..].iter().enumerate() {
            let second = first + 1 + offset;
            if step_a.is_some() && step_a == step_b {
                if digests.get(first).is_some_and(|d| Some(d) == digests.get(second)) {
                    return Err(ServiceError::FramesNotDistinct { first, second, mirrored: false });
                }
                continue;
            }
            let (closeness, mirrored) = a.capture_closeness(b);
            if closeness >= DISTINCT_CAPTURE_THRESHOLD {
                return Err(ServiceError::FramesNotDistinct { first, second, mirrored });
            }
        }
    }
    Ok(())
}
