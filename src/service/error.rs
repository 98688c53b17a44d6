//! The service layer's one error type: every way a use case can refuse or fail, with its source.

use std::time::Duration;

use super::challenges::ChallengeError;
use super::grants::GrantError;
use super::liveness::offer::NotOffered;
use super::liveness::{capture, light, planarity, pose};
use super::passkeys::PasskeyError;
use super::sessions::SessionError;
use crate::face::policy::Rejection;
use crate::face::{DecodeError, FaceError, InferenceError, PoolError};
use crate::state::StateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Image(#[from] DecodeError),
    #[error(transparent)]
    Face(#[from] Rejection),
    #[error("the inference queue is full")]
    Overloaded,
    #[error("no references are registered for this user")]
    UserNotFound,
    /// Every reference was embedded by another recognizer and none could be re-embedded.
    #[error("every reference of this user was enrolled with another model and could not be converted")]
    ReferencesOutdated,
    #[error("too many failed verifications for this user")]
    TooManyAttempts(Duration),
    /// The failure ladder's top: verification stays off until a backend unlocks the user.
    #[error("verification is disabled for this user after {0} consecutive failures")]
    VerificationDisabled(u64),
    /// The new photo does not match the user's references: adding it could enrol someone else.
    #[error("the photo does not match this user's registered face")]
    FaceMismatch,
    /// Passive anti-spoofing judged the verify photo not live (a print, a screen).
    #[error("the photo does not look like a live person (P(real) {0:.3})")]
    LivenessFailed(f64),
    /// A backend asked a session for a liveness the configuration does not offer.
    #[error(transparent)]
    LivenessNotOffered(#[from] NotOffered),
    /// LIVENESS=challenge and the verify presented no challenge.
    #[error("a liveness challenge is required")]
    ChallengeRequired,
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The burst is not one continuous capture, or does not cover the plan.
    #[error(transparent)]
    Capture(capture::CaptureRefusal),
    /// The capture's movements do not answer the prompts.
    #[error(transparent)]
    Pose(pose::PoseRefusal),
    /// The face does not reflect the screen's colours (or the client declined with LIGHT_CHALLENGE=required).
    #[error(transparent)]
    Light(light::LightRefusal),
    /// The face moved as a flat picture, not as a head.
    #[error(transparent)]
    Planarity(planarity::PlanarityRefusal),
    /// A capture sent while LIVENESS is not challenge.
    #[error("a capture answers a challenge, and LIVENESS is not challenge: send one photo as image")]
    CaptureWithoutChallenge,
    #[error("frame {frame} of the capture does not show the same person")]
    IdentityChanged { frame: usize },
    /// A photo or frame already presented (its bytes, or its content re-encoded, rescaled,
    /// cropped, mirrored or brightened), or the bytes of a stored reference photo.
    #[error("this photo was presented before")]
    ReplayedImage,
    #[error("the enrollment token was refused")]
    InvalidEnrollmentToken(#[source] GrantError),
    #[error("the session was refused")]
    Session(#[from] SessionError),
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    /// CONSENT_REQUIRED and the register named no notice the user accepted.
    #[error("a consent record is required to enrol biometric data")]
    ConsentRequired,
    /// Lockouts, single use and cache versions cannot be checked: refuse rather than guess.
    #[error("the shared state is unavailable")]
    StateUnavailable(#[from] StateError),
    #[error("this user already has {0} references, the most allowed")]
    TooManyReferences(usize),
    #[error("reference storage failed")]
    Storage(#[from] StoreError),
    #[error(transparent)]
    AuditUnavailable(crate::audit::AuditUnavailable),
    #[error("inference failed")]
    Inference(#[source] InferenceError),
    #[error("the inference workers have stopped")]
    Stopped,
    /// A decided refusal and the failures still allowed after it (the lockout's and the failure
    /// ladder's, whichever is nearer).
    #[error("{error}")]
    Counted { error: Box<ServiceError>, attempts_left: u32 },
}

impl ServiceError {
    /// The refusal itself, without the count of attempts left around it.
    pub fn refusal(&self) -> &ServiceError {
        match self {
            ServiceError::Counted { error, .. } => error,
            other => other,
        }
    }

    /// The code of a refusal that decides an attempt (it counts as a failure and spends the
    /// session or grant that carried it); `None` for what may pass if tried again.
    pub fn decided_code(&self) -> Option<&'static str> {
        Some(match self {
            ServiceError::Counted { error, .. } => return error.decided_code(),
            ServiceError::ReplayedImage => "replayed_image",
            ServiceError::LivenessFailed(_) => "liveness_failed",
            ServiceError::Capture(r) => r.code(),
            ServiceError::Pose(_) => "pose_mismatch",
            ServiceError::Light(r) => r.code(),
            ServiceError::Planarity(_) => "capture_flat",
            ServiceError::IdentityChanged { .. } => "identity_changed",
            ServiceError::FaceMismatch => "face_mismatch",
            ServiceError::Passkey(e) => return e.decided_code(),
            _ => return None,
        })
    }
}

impl From<PoolError> for ServiceError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Overloaded => Self::Overloaded,
            PoolError::Stopped => Self::Stopped,
            PoolError::Face(FaceError::Decode(e)) => Self::Image(e),
            PoolError::Face(FaceError::Rejected(r)) => Self::Face(r),
            PoolError::Face(FaceError::Inference(e)) => Self::Inference(e),
        }
    }
}
