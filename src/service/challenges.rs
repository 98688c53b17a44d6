//! Challenge–response liveness: a random sequence of head turns the verify photos must follow.
//!
//! A challenge is an HS256 JWT under a key derived from SECRET_KEY
//! (`HMAC-SHA256(SECRET_KEY, "faceauth liveness challenge v1")`): bound to one user, with its steps,
//! an expiry and an id that the shared state lets be used once, by the first verify that presents
//! it, whatever that verify's outcome.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::UserId;
use crate::token::{Hs256, TokenError, UserClaims, now};

const AUDIENCE: &str = "faceauth:challenge";
const KEY_CONTEXT: &[u8] = b"faceauth liveness challenge v1";

/// One head turn, defined on the photo as the camera took it (not a mirrored preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The subject turns to their own left: the nose tip moves toward the image's right edge.
    TurnLeft,
    TurnRight,
}

impl Step {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::TurnLeft => "turn_left",
            Step::TurnRight => "turn_right",
        }
    }

    /// The sign a frame's yaw must have (positive yaw: turned to the subject's left).
    pub fn sign(self) -> f32 {
        match self {
            Step::TurnLeft => 1.0,
            Step::TurnRight => -1.0,
        }
    }
}

/// What a challenge adds to the common claims.
#[derive(Debug, Serialize, Deserialize)]
struct ChallengeSteps {
    steps: Vec<Step>,
}

type ChallengeClaims = UserClaims<ChallengeSteps>;

/// A freshly issued challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub steps: Vec<Step>,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Why a presented challenge is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("no such challenge")]
    NotFound,
    #[error("the challenge has expired")]
    Expired,
    /// Used already, or issued for another user.
    #[error("the challenge has been used, or belongs to another user")]
    Used,
}

/// A challenge whose signature, expiry and user are good; single use is the caller's to claim.
#[derive(Debug, Clone)]
pub struct ValidChallenge {
    pub claim_id: String,
    pub valid_for: Duration,
    pub steps: Vec<Step>,
}

pub struct Challenges {
    jwt: Hs256,
    ttl: Duration,
    steps: usize,
}

impl Challenges {
    pub fn new(secret_key: &SecretString, ttl: Duration, steps: usize) -> Self {
        Self { jwt: Hs256::derived(secret_key, KEY_CONTEXT), ttl, steps: steps.clamp(1, 8) }
    }

    /// A random sequence of steps.
    pub fn steps(&self) -> Vec<Step> {
        // A v4 UUID's bytes come from the operating system's random source.
        let random = *uuid::Uuid::new_v4().as_bytes();
        (0..self.steps).map(|i| if random[i] & 1 == 1 { Step::TurnLeft } else { Step::TurnRight }).collect()
    }

    pub fn issue(&self, user: &UserId) -> Challenge {
        let steps = self.steps();
        let claims = ChallengeClaims::new(AUDIENCE, user.as_str(), self.ttl, ChallengeSteps { steps });
        let id = self.jwt.sign(&claims);
        Challenge { id, steps: claims.extra.steps, expires_at: claims.exp }
    }

    pub fn check(&self, id: &str, user: &UserId) -> Result<ValidChallenge, ChallengeError> {
        let claims: ChallengeClaims = self.jwt.open(id).map_err(|e| match e {
            TokenError::Expired => ChallengeError::Expired,
            TokenError::Malformed | TokenError::BadSignature => ChallengeError::NotFound,
        })?;
        let steps = &claims.extra.steps;
        if !claims.is_for(AUDIENCE) || steps.is_empty() || steps.len() > 8 {
            return Err(ChallengeError::NotFound);
        }
        let now = now();
        if claims.exp < now {
            return Err(ChallengeError::Expired);
        }
        if claims.sub != user.as_str() {
            return Err(ChallengeError::Used);
        }
        Ok(ValidChallenge {
            claim_id: format!("challenge:{}", claims.jti),
            valid_for: Duration::from_secs(claims.exp - now + 1),
            steps: claims.extra.steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_for_its_user_until_it_expires() {
        let challenges = Challenges::new(&SecretString::from("k".to_string()), Duration::from_secs(60), 3);
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let issued = challenges.issue(&alice);
        assert_eq!(issued.steps.len(), 3);
        assert_eq!(challenges.check(&issued.id, &alice).unwrap().steps, issued.steps);
        assert_eq!(challenges.check(&issued.id, &bob).err(), Some(ChallengeError::Used));
        assert_eq!(challenges.check("nonsense", &alice).err(), Some(ChallengeError::NotFound));
        let steps = ChallengeSteps { steps: vec![Step::TurnLeft] };
        let expired =
            ChallengeClaims { iat: 1, exp: 2, ..ChallengeClaims::new(AUDIENCE, "alice", Duration::ZERO, steps) };
        assert_eq!(challenges.check(&challenges.jwt.sign(&expired), &alice).err(), Some(ChallengeError::Expired));
    }

    #[test]
    fn steps_serialise_as_the_api_names_them() {
        assert_eq!(serde_json::to_string(&[Step::TurnLeft, Step::TurnRight]).unwrap(), r#"["turn_left","turn_right"]"#);
    }
}
