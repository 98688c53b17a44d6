//! What a decided verify leaves behind: what it proved (`amr`) and what a backend reads of it
//! (the session's outcome).

use super::super::access::IssuedToken;
use super::super::attempt::Decided;
use super::super::error::ServiceError;
use super::super::faces::ThresholdFmr;
use super::super::liveness::Liveness;
use super::super::matching;
use super::super::passkeys::PasskeyProof;
use super::super::sessions::SessionOutcome;
use super::super::timings::Timings;
use crate::face::Detection;
use crate::face::quality::Quality;
use crate::token::now;

/// What a verify answers.
#[derive(Debug, Clone)]
pub struct Verification {
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    /// The false-match rate measured at this threshold for the loaded profile, when it was measured
    /// and the threshold is the profile's own (not overridden by MATCH_THRESHOLD).
    pub threshold_fmr: Option<ThresholdFmr>,
    /// The reference that matched best (none for an unknown user answered as a mismatch).
    pub reference_id: Option<String>,
    pub references_compared: usize,
    pub face: Detection,
    /// Only when verified.
    pub token: Option<IssuedToken>,
    pub liveness: Liveness,
    /// The photo's capture quality, reported (refusals are for enrolment).
    pub quality: Quality,
    pub timings: Timings,
    /// The session this verify used, if any.
    pub session_id: Option<String>,
    /// Not verified: the failures still allowed before the lockout (None when it is off).
    pub attempts_left: Option<u32>,
    /// Verified on a face + passkey session: the passkey that signed it.
    pub passkey: Option<PasskeyProof>,
}

impl Decided for Verification {
    fn succeeded(&self) -> bool {
        self.verified
    }

    fn told(self, left: u32) -> Self {
        Self { attempts_left: Some(left), ..self }
    }
}

/// What was proven, each factor saying its own part: the face (`face`), the passkey (`hwk`, and
/// `user` when the authenticator verified its user), then the liveness checks that passed.
pub(super) fn amr(liveness: &Liveness, passkey: Option<&PasskeyProof>) -> Vec<&'static str> {
    let mut amr = vec![matching::AMR];
    amr.extend(passkey.map(PasskeyProof::amr).unwrap_or_default());
    amr.extend(liveness.amr());
    amr
}

/// What a backend reads of a session's decided verify.
pub(super) fn outcome(result: &Result<Verification, ServiceError>, passkey: Option<&PasskeyProof>) -> SessionOutcome {
    let completed_at = now();
    match result {
        Ok(v) => {
            let (method, score) = match &v.liveness {
                Liveness::Off => ("off", None),
                Liveness::Passive { p_real, .. } => ("passive", Some(*p_real)),
                Liveness::Challenge { p_real, .. } => ("challenge", *p_real),
            };
            SessionOutcome {
                verified: v.verified,
                code: None,
                similarity: v.reference_id.as_ref().map(|_| v.similarity),
                liveness_method: Some(method.into()),
                liveness_score: score,
                reference_id: v.reference_id.clone(),
                token: v.token.as_ref().map(|t| t.token.clone()),
                token_expires_at: v.token.as_ref().map(|t| t.expires_at),
                amr: match v.verified {
                    true => amr(&v.liveness, passkey).into_iter().map(str::to_string).collect(),
                    false => Vec::new(),
                },
                passkey_id: passkey.filter(|_| v.verified).map(|p| p.credential_id.clone()),
                completed_at,
            }
        }
        Err(e) => SessionOutcome {
            code: e.decided_code().map(str::to_string),
            liveness_score: match e {
                ServiceError::LivenessFailed(p) => Some(*p),
                _ => None,
            },
            completed_at,
            ..SessionOutcome::default()
        },
    }
}
