//! Does the face reflect the screen's colours, in time, more than its surroundings do? (The light
//! challenge; after "Face Flashing", Tang et al., NDSS 2018, and AWS Rekognition Face Liveness.)
//!
//! Each frame gives the mean colour of the face's centre and of everything around the face
//! (`face::light`). Both are reduced to chromaticity (r, g, b over their sum), which keeps the
//! screen's hue when the camera's exposure changes the brightness. The face's chromaticity over time
//! is correlated with the chromaticity of the colour the plan showed at that time, allowing the
//! screen and camera up to [`MAX_LAG_MS`] of delay. A face at arm's length takes on the colour; the
//! wall behind it, several times farther from the screen, much less (inverse square). So:
//! - the face must follow the sequence: correlation at least [`MIN_CORRELATION`];
//! - and follow it more strongly than the surround: the face's response (the regression slope of its
//!   chromaticity on the screen's) at least [`MIN_CONTRAST`] times the surround's. A tint applied to
//!   the whole frame moves both alike and is refused; a recording played against a new sequence
//!   does not follow it at all.

use super::plan::Plan;
use crate::face::light::LightSample;

pub const MAX_LAG_MS: f32 = 300.0;
pub const MIN_CORRELATION: f32 = 0.5;
pub const MIN_CONTRAST: f32 = 2.0;
/// The face's response must be at least this (chromaticity per unit of the screen's): a response
/// this faint is noise, whatever it correlates with.
pub const MIN_RESPONSE: f32 = 0.004;

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LightRefusal {
    #[error("the light on the face does not follow the screen's colours")]
    NotFollowed,
    #[error("the whole picture changes colour with the screen, not the face: not a reflection")]
    NotReflected,
    /// The face took on the colours, but not as a surface turning under the screen does
    /// (`shading.rs`): painted on, not reflected.
    #[error("the colours on the face do not follow its shape as it moves (shading correlation {0:.2})")]
    NotShaped(f32),
    #[error("the face's light could not be measured in enough frames")]
    Unmeasured,
    /// The plan carried colours and the client says it showed none: the backend chose the
    /// challenge, and a client cannot lower it.
    #[error("the plan asked for the screen's colours and the client declined them")]
    Declined,
}

impl LightRefusal {
    pub fn code(self) -> &'static str {
        match self {
            LightRefusal::NotFollowed | LightRefusal::Unmeasured => "light_not_followed",
            LightRefusal::NotReflected | LightRefusal::NotShaped(_) => "light_not_reflected",
            LightRefusal::Declined => "light_required",
        }
    }
}

/// How the face and its surround followed the sequence, at the best delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LightResponse {
    pub correlation: f32,
    pub face: f32,
    pub surround: f32,
    pub lag_ms: f32,
}

/// r, g and b over their sum: the hue, whatever the brightness.
pub fn chroma(rgb: [f32; 3]) -> [f32; 3] {
    let sum = (rgb[0] + rgb[1] + rgb[2]).max(1.0);
    rgb.map(|c| c / sum)
}

/// Correlation and slope of `y` on `x` over the concatenated, per-channel centred series.
fn fit(x: &[[f32; 3]], y: &[[f32; 3]]) -> (f32, f32) {
    let n = x.len().max(1) as f32;
    let (mut sxy, mut sxx, mut syy) = (0.0f32, 0.0f32, 0.0f32);
    for c in 0..3 {
        let mx = x.iter().map(|v| v[c]).sum::<f32>() / n;
        let my = y.iter().map(|v| v[c]).sum::<f32>() / n;
        for (a, b) in x.iter().zip(y) {
            let (dx, dy) = (a[c] - mx, b[c] - my);
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
    }
    if sxx <= f32::EPSILON || syy <= f32::EPSILON {
        return (0.0, 0.0);
    }
    (sxy / (sxx * syy).sqrt(), sxy / sxx)
}

/// The face's and surround's response to the plan's colours at the delay that fits the face best.
pub fn response(times: &[f32], samples: &[Option<LightSample>], plan: &Plan) -> Option<LightResponse> {
    let measured: Vec<(f32, &LightSample)> =
        times.iter().zip(samples).filter_map(|(t, s)| s.as_ref().map(|s| (*t, s))).collect();
    if measured.len() < times.len() * 3 / 5 || measured.len() < 8 {
        return None;
    }
    let face: Vec<[f32; 3]> = measured.iter().map(|(_, s)| chroma(s.face)).collect();
    let surround: Vec<[f32; 3]> = measured.iter().map(|(_, s)| chroma(s.surround)).collect();
    let mut best: Option<LightResponse> = None;
    let mut lag = 0.0;
    while lag <= MAX_LAG_MS {
        let screen: Option<Vec<[f32; 3]>> = measured
            .iter()
            .map(|(t, _)| plan.colour_at((t - lag).max(0.0)).map(|c| chroma(c.rgb().map(f32::from))))
            .collect();
        if let Some(screen) = screen {
            let (correlation, face_slope) = fit(&screen, &face);
            let (_, surround_slope) = fit(&screen, &surround);
            if best.is_none_or(|b| correlation > b.correlation) {
                best = Some(LightResponse { correlation, face: face_slope, surround: surround_slope, lag_ms: lag });
            }
        }
        lag += 1000.0 / 30.0;
    }
    best
}

pub fn check(times: &[f32], samples: &[Option<LightSample>], plan: &Plan) -> Result<LightResponse, LightRefusal> {
    let r = response(times, samples, plan).ok_or(LightRefusal::Unmeasured)?;
    if r.correlation < MIN_CORRELATION || r.face < MIN_RESPONSE {
        return Err(LightRefusal::NotFollowed);
    }
    if r.face < MIN_CONTRAST * r.surround.max(0.0) {
        return Err(LightRefusal::NotReflected);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::super::Step;
    use super::*;

    fn plan() -> Plan {
        let mut i = 0;
        Plan::lay_out(vec![Step::TurnLeft, Step::TurnRight, Step::LookUp], true, 15, move |n| {
            i += 7;
            i % n
        })
    }

    /// Skin and a wall lit by the plan's colours with strengths `face` and `wall`, `lag` ms late.
    fn lit(plan: &Plan, face: f32, wall: f32, lag: f32) -> (Vec<f32>, Vec<Option<LightSample>>) {
        let times: Vec<f32> = (0..plan.frames()).map(|k| k as f32 * 1000.0 / 15.0).collect();
        let samples = times
            .iter()
            .map(|&t| {
                let screen = plan.colour_at((t - lag).max(0.0)).map_or([0.0; 3], |c| c.rgb().map(f32::from));
                let wobble = (t * 0.01).sin() * 3.0;
                let skin = [170.0 + wobble, 120.0, 100.0];
                let wall_base = [90.0, 95.0, 100.0 + wobble];
                Some(LightSample {
                    face: [0, 1, 2].map(|c| skin[c] + face * screen[c]),
                    surround: [0, 1, 2].map(|c| wall_base[c] + wall * screen[c]),
                    points: None,
                })
            })
            .collect();
        (times, samples)
    }

    #[test]
    fn a_face_lit_by_the_screen_passes_with_a_camera_delay() {
        let plan = plan();
        let (times, samples) = lit(&plan, 0.25, 0.02, 130.0);
        let r = check(&times, &samples, &plan).unwrap();
        assert!(r.correlation > 0.9 && (100.0..=170.0).contains(&r.lag_ms), "{r:?}");
    }

    #[test]
    fn a_whole_frame_tint_is_not_a_reflection() {
        let plan = plan();
        let (times, samples) = lit(&plan, 0.25, 0.25, 0.0);
        assert_eq!(check(&times, &samples, &plan).err(), Some(LightRefusal::NotReflected));
    }

    #[test]
    fn a_recording_lit_by_another_sequence_does_not_follow() {
        let (recorded, new) = (plan(), {
            let mut i = 3;
            Plan::lay_out(vec![Step::TurnLeft, Step::TurnRight, Step::LookUp], true, 15, move |n| {
                i += 5;
                (i * 3) % n
            })
        });
        assert_ne!(recorded.light, new.light);
        let (times, samples) = lit(&recorded, 0.25, 0.02, 0.0);
        assert_eq!(check(&times, &samples, &new).err(), Some(LightRefusal::NotFollowed));
        let (times, unlit) = lit(&new, 0.0, 0.0, 0.0);
        assert_eq!(check(&times, &unlit, &new).err(), Some(LightRefusal::NotFollowed));
    }
}
