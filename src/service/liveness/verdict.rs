//! What liveness concluded: which checks ran and how they came out, for the result and its `amr`;
//! a capture as the checks read it, and what a passed one gives the match.

use super::super::challenges::Step;
use super::plan::Plan;
use crate::face::frame::CaptureFrame;

/// Whether the light challenge ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LightCheck {
    /// The face followed the screen's colours.
    Passed,
    /// The backend asked for `movement` only: the plan had no colours.
    NotAsked,
    /// LIGHT_CHALLENGE=off: no plan has colours.
    Off,
}

impl LightCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            LightCheck::Passed => "passed",
            LightCheck::NotAsked => "not_asked",
            LightCheck::Off => "off",
        }
    }
}

/// What liveness was checked on the verify, and how it came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    Off,
    Passive {
        p_real: f64,
        passed: bool,
    },
    /// Every step with the largest angle reached on its axis; `p_real` the mean over the frames.
    Challenge {
        steps: Vec<(Step, f32)>,
        p_real: Option<f64>,
        light: LightCheck,
        frames: usize,
    },
}

impl Liveness {
    /// The checks that passed, in faceauth's own names, for the result's `amr`.
    pub fn amr(&self) -> Vec<&'static str> {
        match self {
            Liveness::Off => vec![],
            Liveness::Passive { .. } => vec!["passive_liveness"],
            Liveness::Challenge { light: LightCheck::Passed, .. } => {
                vec!["passive_liveness", "challenge_liveness", "light_liveness"]
            }
            Liveness::Challenge { .. } => vec!["passive_liveness", "challenge_liveness"],
        }
    }
}

/// A capture as the verify received it, analysed.
pub struct CaptureAnswer<'a> {
    pub plan: &'a Plan,
    pub frames: &'a [CaptureFrame],
    pub times: &'a [f32],
    pub digests: &'a [String],
    pub light_declined: bool,
}

/// What a capture that passed gives the match: which frame is the probe.
pub struct CaptureVerdict {
    pub probe: usize,
    pub liveness: Liveness,
}
