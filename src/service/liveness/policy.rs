//! What the operator's configuration asks of liveness: the mode and the checks' limits.

use super::offer::LightOffer;

/// What a verify must show beyond the right face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessMode {
    Off,
    /// The photo's P(real) (MiniFASNet, scored by the engine) at or above the threshold.
    Passive,
    /// One continuous capture following a plan (movements, and colours unless LIGHT_CHALLENGE=off),
    /// one person throughout, the identified frames scored by the passive model.
    Challenge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LivenessPolicy {
    pub mode: LivenessMode,
    /// P(real) every checked photo needs.
    pub threshold: f64,
    /// The capture's level start: |yaw| at most this (|pitch| 1.5 times it), degrees.
    pub frontal_yaw: f32,
    /// A turn: yaw of the asked sign by at least this, degrees.
    pub min_turn_yaw: f32,
    /// A nod: pitch of the asked sign, relative to the capture's level start, by at least this, degrees.
    pub min_nod_pitch: f32,
    /// The least parallax some prompted move must show (`liveness::planarity`); 0 turns it off.
    pub min_parallax: f32,
    /// The least correlation of the light's balance over the face with its pose
    /// (`liveness::shading`); 0 turns it off.
    pub min_shading: f32,
    /// LIGHT_CHALLENGE: whether plans carry colours, and whether a backend may ask for `movement`.
    pub light: LightOffer,
}
