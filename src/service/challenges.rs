//! Challenge–response liveness: a random sequence of head movements (and screen colours) that one
//! continuous capture must follow ([`Plan`]).
//!
//! A challenge is an HS256 JWT under a key derived from SECRET_KEY
//! (`HMAC-SHA256(SECRET_KEY, "faceauth liveness challenge v1")`): bound to one user, with its plan,
//! an expiry and an id that the shared state lets be used once, by the first verify that presents
//! it, whatever that verify's outcome.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::liveness::plan::Plan;
use super::ticket::{self, TicketError, Tickets};
use crate::domain::UserId;

/// One head movement, defined on the photo as the camera took it (not a mirrored preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The subject turns to their own left: the nose tip moves toward the image's right edge.
    TurnLeft,
    TurnRight,
    /// The subject tilts the head back (chin up): the nose tip rises toward the eyes.
    LookUp,
    LookDown,
}

/// Which angle a step moves, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Yaw: positive when turned to the subject's left.
    Yaw,
    /// Pitch: positive when the head is tilted up.
    Pitch,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::TurnLeft, Step::TurnRight, Step::LookUp, Step::LookDown];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::TurnLeft => "turn_left",
            Step::TurnRight => "turn_right",
            Step::LookUp => "look_up",
            Step::LookDown => "look_down",
        }
    }

    pub fn parse(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn axis(self) -> Axis {
        match self {
            Step::TurnLeft | Step::TurnRight => Axis::Yaw,
            Step::LookUp | Step::LookDown => Axis::Pitch,
        }
    }

    /// The sign the step's angle must have.
    pub fn sign(self) -> f32 {
        match self {
            Step::TurnLeft | Step::LookUp => 1.0,
            Step::TurnRight | Step::LookDown => -1.0,
        }
    }
}

/// What a challenge adds to the common claims.
#[derive(Debug, Serialize, Deserialize)]
struct ChallengeExtra {
    plan: Plan,
}

/// A freshly issued challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub plan: Plan,
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

/// A challenge whose signature, expiry, user and plan are good; single use is the caller's to claim.
#[derive(Debug, Clone)]
pub struct ValidChallenge {
    pub claim_id: String,
    pub valid_for: Duration,
    pub plan: Plan,
}

pub struct Challenges {
    tickets: Tickets<ChallengeExtra>,
    steps: usize,
    moves: Vec<Step>,
    fps: u32,
    light: bool,
}

/// A uniform choice below `n` from the operating system's random source (a v4 UUID's bytes),
/// by rejection sampling.
fn random_below(n: usize) -> usize {
    let n = n.clamp(1, 256);
    let limit = 256 - 256 % n;
    loop {
        if let Some(byte) = uuid::Uuid::new_v4().as_bytes().iter().map(|b| *b as usize).find(|b| *b < limit) {
            return byte % n;
        }
    }
}

impl Challenges {
    /// `moves`: the movements a challenge draws from (CHALLENGE_MOVES, at least two, none twice);
    /// `fps`: the frame rate the capture is asked for; `light`: whether plans carry colours.
    pub fn new(secret_key: &SecretString, ttl: Duration, steps: usize, moves: &[Step], fps: u32, light: bool) -> Self {
        let mut distinct: Vec<Step> = Vec::new();
        for m in moves {
            if !distinct.contains(m) {
                distinct.push(*m);
            }
        }
        if distinct.len() < 2 {
            distinct = Step::ALL.to_vec();
        }
        Self {
            tickets: Tickets::new(secret_key, ticket::CHALLENGE, ttl),
            steps: steps.clamp(1, 8),
            moves: distinct,
            fps: fps.clamp(10, 30),
            light,
        }
    }

    /// How long a plan may be answered.
    pub fn ttl(&self) -> Duration {
        self.tickets.ttl()
    }

    /// CHALLENGE_STEPS: the fewest steps a plan presented back may have.
    pub fn min_steps(&self) -> usize {
        self.steps
    }

    /// How many different challenges there are for m moves and k steps: m!/(m−k)! when no move
    /// repeats (k ≤ m), else m·(m−1)^(k−1).
    pub fn sequences(&self) -> u64 {
        let (m, k) = (self.moves.len() as u64, self.steps as u64);
        match k <= m {
            true => (m - k + 1..=m).product(),
            false => m * (m - 1).pow(k as u32 - 1),
        }
    }

    /// A random sequence of steps: no move twice when there are enough moves, else never twice in a row.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::with_capacity(self.steps);
        for _ in 0..self.steps {
            let repeats = self.steps > self.moves.len();
            let choices: Vec<Step> = self
                .moves
                .iter()
                .copied()
                .filter(|m| if repeats { steps.last() != Some(m) } else { !steps.contains(m) })
                .collect();
            steps.push(choices[random_below(choices.len())]);
        }
        steps
    }

    /// A new plan: random steps on the schedule, and random colours when the light challenge is on.
    pub fn draw(&self) -> Plan {
        Plan::lay_out(self.steps(), self.light, self.fps, random_below)
    }

    /// A challenge token carrying `plan` (the user's pending one, or a new draw).
    pub fn issue(&self, user: &UserId, generation: &str, plan: Plan) -> Challenge {
        let issued = self.tickets.issue(user, generation, ChallengeExtra { plan });
        Challenge { id: issued.token, plan: issued.extra.plan, expires_at: issued.expires_at }
    }

    /// A challenge outside the policy (longer than CHALLENGE_TTL_SECS, another generation of the
    /// shared state), of the old format (steps only) or with a plan this server would not draw
    /// (fewer steps than CHALLENGE_STEPS, off the schedule) is no challenge.
    pub fn check(&self, id: &str, user: &UserId, generation: &str) -> Result<ValidChallenge, ChallengeError> {
        let valid = self.tickets.check(id, user, generation).map_err(|e| match e {
            TicketError::Expired => ChallengeError::Expired,
            TicketError::Forged | TicketError::Void => ChallengeError::NotFound,
            TicketError::OtherUser => ChallengeError::Used,
        })?;
        if !valid.extra.plan.is_well_formed(self.steps) {
            return Err(ChallengeError::NotFound);
        }
        Ok(ValidChallenge { claim_id: valid.claim_id, valid_for: valid.valid_for, plan: valid.extra.plan })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{UserClaims, now};

    type ChallengeClaims = UserClaims<ChallengeExtra>;
    const AUDIENCE: &str = ticket::CHALLENGE.audience;

    fn challenges(steps: usize, moves: &[Step]) -> Challenges {
        Challenges::new(&SecretString::from("k".to_string()), Duration::from_secs(60), steps, moves, 15, true)
    }

    #[test]
    fn a_challenge_is_for_its_user_until_it_expires() {
        let challenges = challenges(3, &Step::ALL);
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let issued = challenges.issue(&alice, "g1", challenges.draw());
        assert_eq!(issued.plan.prompts.len(), 3);
        assert!(!issued.plan.light.is_empty());
        assert_eq!(challenges.check(&issued.id, &alice, "g1").unwrap().plan, issued.plan);
        assert_eq!(challenges.check(&issued.id, &bob, "g1").err(), Some(ChallengeError::Used));
        assert_eq!(challenges.check("nonsense", &alice, "g1").err(), Some(ChallengeError::NotFound));
        assert_eq!(challenges.check(&issued.id, &alice, "g2").err(), Some(ChallengeError::NotFound), "state lost");
        let extra = ChallengeExtra { plan: challenges.draw() };
        let expired =
            ChallengeClaims { iat: 1, exp: 2, ..ChallengeClaims::new(AUDIENCE, "alice", Duration::ZERO, "g1", extra) };
        assert_eq!(
            challenges.check(&challenges.tickets.sign(&expired), &alice, "g1").err(),
            Some(ChallengeError::Expired)
        );
        let extra = ChallengeExtra { plan: challenges.draw() };
        let long = ChallengeClaims::new(AUDIENCE, "alice", Duration::from_secs(86_400), "g1", extra);
        assert_eq!(
            challenges.check(&challenges.tickets.sign(&long), &alice, "g1").err(),
            Some(ChallengeError::NotFound)
        );
    }

    #[test]
    fn a_signed_challenge_with_fewer_steps_or_the_old_format_is_no_challenge() {
        let challenges = challenges(3, &Step::ALL);
        let alice = UserId::parse("alice").unwrap();
        let short = Plan::lay_out(vec![Step::TurnLeft], false, 15, |_| 0);
        let issued = challenges.issue(&alice, "g1", short);
        assert_eq!(challenges.check(&issued.id, &alice, "g1").err(), Some(ChallengeError::NotFound));
        let old = serde_json::json!({ "iss": "faceauth", "aud": AUDIENCE, "sub": "alice", "iat": now(),
                                      "exp": now() + 60, "jti": "x", "steps": [] });
        assert_eq!(
            challenges.check(&challenges.tickets.sign(&old), &alice, "g1").err(),
            Some(ChallengeError::NotFound)
        );
    }

    #[test]
    fn steps_serialise_as_the_api_names_them() {
        assert_eq!(serde_json::to_string(&[Step::TurnLeft, Step::TurnRight]).unwrap(), r#"["turn_left","turn_right"]"#);
        for step in Step::ALL {
            assert_eq!(serde_json::to_value(step).unwrap(), step.as_str());
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
    }

    #[test]
    fn challenges_use_every_move_and_never_repeat_one_in_a_row() {
        let drawn = challenges(3, &Step::ALL);
        assert_eq!(drawn.sequences(), 24);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let steps = drawn.steps();
            assert_eq!(steps.len(), 3);
            assert!(steps.windows(2).all(|w| w[0] != w[1]), "{steps:?}");
            assert!(!steps[1..].contains(&steps[0]) && steps[1] != steps[2], "no move twice: {steps:?}");
            seen.extend(steps);
        }
        assert_eq!(seen.len(), 4);
        let turns = challenges(2, &[Step::TurnLeft, Step::TurnRight]);
        assert_eq!(turns.sequences(), 2);
        assert!(turns.steps().iter().all(|s| s.axis() == Axis::Yaw));
        let three_turns = challenges(3, &[Step::TurnLeft, Step::TurnRight]);
        assert_eq!(three_turns.sequences(), 2);
        let steps = three_turns.steps();
        assert!(steps[0] == steps[2] && steps[0] != steps[1], "alternating: {steps:?}");
    }
}
