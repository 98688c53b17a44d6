//! What a verify is asked: the user, the probe (a photo or a capture) and how much the caller
//! may learn.

use std::net::IpAddr;

use bytes::Bytes;

use super::super::error::ServiceError;
use super::super::liveness::budget;
use super::super::liveness::plan::Plan;
use super::super::passkeys::PasskeyAnswer;
use crate::domain::UserId;

/// A verify as the API hands it over.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    pub user: UserId,
    pub client: IpAddr,
    pub probe: Probe,
    /// LIVENESS=challenge without a session: the challenge answered.
    pub challenge_id: Option<String>,
    pub session_token: Option<String>,
    /// A face + passkey session: the WebAuthn assertion (the browser's PublicKeyCredential as JSON).
    pub passkey: Option<String>,
    pub disclosure: Disclosure,
}

/// What the verify is judged on.
#[derive(Debug, Clone)]
pub enum Probe {
    /// One photo (LIVENESS=off or passive).
    Photo(Bytes),
    /// LIVENESS=challenge: one continuous capture, its frames in order with their times (ms since
    /// the capture started, the client's monotonic clock), the hex SHA-256 of the times' field as
    /// sent (a passkey signs it), and `light_declined` when the client says it showed no colours.
    Capture { frames: Vec<Bytes>, times: Vec<f32>, times_sha256: String, light_declined: bool },
}

/// The capture's frames against its plan's budget (`liveness/budget.rs`): `Err` for a header that
/// cannot be read (the upload's fault, not decided), `Ok(Err)` for a decided refusal.
pub(super) fn within_budget(plan: &Plan, frames: &[Bytes]) -> Result<Result<(), ServiceError>, ServiceError> {
    let sizes = frames.iter().map(|f| crate::face::decode::dimensions(f)).collect::<Result<Vec<_>, _>>()?;
    Ok(budget::check(plan, &sizes).map_err(|e| ServiceError::Capture(e.into())))
}

impl Probe {
    /// What a passkey's assertion covers of this probe besides its images.
    pub(super) fn answer(&self) -> PasskeyAnswer<'_> {
        match self {
            Probe::Photo(_) => PasskeyAnswer::Photo,
            Probe::Capture { times_sha256, light_declined, .. } => {
                PasskeyAnswer::Capture { times_sha256, light_declined: *light_declined }
            }
        }
    }

    pub(super) fn photos(&self) -> Vec<&Bytes> {
        match self {
            Probe::Photo(image) => vec![image],
            Probe::Capture { frames, .. } => frames.iter().collect(),
        }
    }
}

/// How much the caller may learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// A backend (secret key): scores, references, timings; an unknown user is `user_not_found`.
    Full,
    /// A publishable client key: pass or fail. An unknown user is answered exactly like a
    /// mismatch, after the same work, and counts as a failed attempt.
    PassFail,
}
