//! Which liveness a verify session requires: the backend chooses when it creates the session,
//! within what the operator offers, and the choice travels in the signed session (its plan). The
//! client answers the plan it is handed and has no say: Amazon Rekognition Face Liveness works the
//! same way (`ChallengePreferences` are set by the backend's `CreateFaceLivenessSession`).
//!
//! `movement` exists for people who cannot take flashing light: the SDK reports the person's
//! `prefers-reduced-motion` to the app, whose backend then asks for it. It is weaker (the light
//! check is what refuses a recording of the user doing the moves), so an operator can forbid it
//! (LIGHT_CHALLENGE=required).

use serde::{Deserialize, Serialize};

/// What a verify session requires the person to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// One continuous capture following the prompted moves under the screen's colours.
    MovementAndLight,
    /// The moves only: no colours are shown or checked.
    Movement,
    /// One photo scored by the passive model.
    Passive,
}

impl Requirement {
    pub const ALL: [Requirement; 3] = [Requirement::MovementAndLight, Requirement::Movement, Requirement::Passive];

    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::MovementAndLight => "movement_and_light",
            Requirement::Movement => "movement",
            Requirement::Passive => "passive",
        }
    }

    pub fn parse(name: &str) -> Option<Requirement> {
        Requirement::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// LIGHT_CHALLENGE as the service applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LightOffer {
    /// Plans never carry colours: every capture session is `movement`.
    Off,
    /// `movement_and_light` unless the backend asks for `movement`.
    Optional,
    /// `movement_and_light` always: a backend's `movement` is refused.
    Required,
}

/// What this server can check, from LIVENESS and LIGHT_CHALLENGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// LIVENESS=off: nothing to ask for.
    Nothing,
    /// LIVENESS=passive.
    Passive,
    /// LIVENESS=challenge.
    Capture(LightOffer),
}

/// The backend asked for a liveness this server does not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("liveness {} is not offered by this server's configuration", .asked.as_str())]
pub struct NotOffered {
    pub asked: Requirement,
}

impl Offer {
    /// The requirement a verify session carries: the backend's ask, or this server's strongest
    /// when it asks nothing. `None`: no liveness at all (LIVENESS=off, and nothing asked).
    /// Asking for less than the operator allows, or for what is not configured, is refused
    /// rather than quietly changed: the backend learns at once that it did not get what it asked.
    pub fn settle(self, asked: Option<Requirement>) -> Result<Option<Requirement>, NotOffered> {
        use Requirement::*;
        let offered = match (self, asked) {
            (Offer::Nothing, None) => return Ok(None),
            (Offer::Passive, None | Some(Passive)) => Passive,
            (Offer::Capture(LightOffer::Off), None | Some(Movement)) => Movement,
            (Offer::Capture(LightOffer::Optional | LightOffer::Required), None | Some(MovementAndLight)) => {
                MovementAndLight
            }
            (Offer::Capture(LightOffer::Optional), Some(Movement)) => Movement,
            (_, Some(asked)) => return Err(NotOffered { asked }),
        };
        Ok(Some(offered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Requirement::*;

    #[test]
    fn the_backend_gets_what_it_asks_within_the_offer_and_the_strongest_by_default() {
        let optional = Offer::Capture(LightOffer::Optional);
        assert_eq!(optional.settle(None), Ok(Some(MovementAndLight)));
        assert_eq!(optional.settle(Some(Movement)), Ok(Some(Movement)));
        assert_eq!(optional.settle(Some(Passive)), Err(NotOffered { asked: Passive }), "a capture server");
        let required = Offer::Capture(LightOffer::Required);
        assert_eq!(required.settle(Some(Movement)), Err(NotOffered { asked: Movement }), "the operator forbids it");
        assert_eq!(required.settle(Some(MovementAndLight)), Ok(Some(MovementAndLight)));
        let off = Offer::Capture(LightOffer::Off);
        assert_eq!(off.settle(None), Ok(Some(Movement)));
        assert_eq!(off.settle(Some(MovementAndLight)), Err(NotOffered { asked: MovementAndLight }));
        assert_eq!(Offer::Passive.settle(None), Ok(Some(Passive)));
        assert_eq!(Offer::Passive.settle(Some(Movement)), Err(NotOffered { asked: Movement }));
        assert_eq!(Offer::Nothing.settle(None), Ok(None));
        assert_eq!(Offer::Nothing.settle(Some(Passive)), Err(NotOffered { asked: Passive }));
        for r in Requirement::ALL {
            assert_eq!(Requirement::parse(r.as_str()), Some(r));
        }
    }
}
