//! Which frames of a capture are identified: run through the recognizer (and so fingerprinted for
//! the replay memory) and scored by passive liveness. Every frame is decoded and located (face box,
//! landmarks, pose, light): the movement, continuity and light checks read every frame. The
//! recognizer and MiniFASNet are four fifths of a frame's cost, and what they decide needs fewer:
//! - the probe: the level frames before the first prompt are its candidates ([`LEVEL_CANDIDATES`]
//!   of them, spread over the lead-in);
//! - the replay memory: the frames it remembers (`replay::prompt_frames`), so a later attempt is
//!   compared with exactly what this one presented;
//! - one person throughout: a frame every [`IDENTITY_STRIDE_MS`] and the last one, each compared
//!   with the one before and with the probe. Between two of them the face cannot be swapped
//!   unseen: the continuity checks (`capture.rs`) refuse a face box that jumps or vanishes
//!   between consecutive frames, and a swap that keeps the box in place is still seen at the next
//!   identified frame, a fifth of a second later;
//! - passive liveness: the mean over the identified frames (about one in three at 15 fps),
//!   a sample spread over the whole capture.

use super::plan::Plan;
use super::replay;

/// At most this long between two identified frames: five a second, faster than a head can be
/// swapped in and out of a continuous capture without its box jumping.
pub const IDENTITY_STRIDE_MS: f32 = 200.0;
/// Probe candidates among the level frames before the first prompt.
pub const LEVEL_CANDIDATES: usize = 4;

/// `times[i]`: frame i's time in ms since the capture started. True for each frame to identify.
pub fn identified_frames(times: &[f32], plan: &Plan) -> Vec<bool> {
    let n = times.len();
    let mut pick = vec![false; n];
    if n == 0 {
        return pick;
    }
    pick[n - 1] = true;
    let first_prompt = plan.prompts.first().map_or(f32::MAX, |p| p.at_ms as f32);
    let level: Vec<usize> = (0..n).filter(|&i| times[i] < first_prompt).collect();
    let candidates = LEVEL_CANDIDATES.min(level.len());
    for k in 0..candidates {
        pick[level[k * level.len() / candidates]] = true;
    }
    for i in replay::prompt_frames(times, plan) {
        pick[i] = true;
    }
    pick[0] = true;
    let mut last = times[0];
    for i in 1..n {
        // The last frame before the stride would be overrun is identified (and any picked above
        // restarts it), so no two identified frames are further apart than the stride, unless the
        // frames themselves are.
        let overrun = times.get(i + 1).is_some_and(|next| next - last > IDENTITY_STRIDE_MS);
        if pick[i] || overrun {
            pick[i] = true;
            last = times[i];
        }
    }
    pick
}

#[cfg(test)]
mod tests {
    use super::super::super::Step;
    use super::super::plan::Prompt;
    use super::*;

    fn plan() -> Plan {
        let prompts = [Step::TurnLeft, Step::TurnRight, Step::LookUp]
            .iter()
            .enumerate()
            .map(|(k, &step)| Prompt { step, at_ms: 800 + 1300 * k as u32 })
            .collect();
        Plan { prompts, light: Vec::new(), fps: 15, duration_ms: 5200 }
    }

    #[test]
    fn no_two_identified_frames_are_further_apart_than_the_stride() {
        for fps in [10.0, 15.0, 24.0, 30.0] {
            let times: Vec<f32> = (0..(5.2 * fps) as usize).map(|i| i as f32 * 1000.0 / fps).collect();
            let pick = identified_frames(&times, &plan());
            let chosen: Vec<f32> = times.iter().zip(&pick).filter(|(_, p)| **p).map(|(t, _)| *t).collect();
            assert!(chosen.windows(2).all(|w| w[1] - w[0] <= IDENTITY_STRIDE_MS), "{fps} fps: {chosen:?}");
            assert_eq!(chosen.first(), Some(&0.0));
            assert!(pick[times.len() - 1]);
            let level = times.iter().zip(&pick).filter(|(t, p)| **p && **t < 800.0).count();
            assert!(level >= LEVEL_CANDIDATES.min((0.8 * fps) as usize), "{fps} fps: {level} level frames");
            for i in replay::prompt_frames(&times, &plan()) {
                assert!(pick[i], "the replay memory's frame {i} is identified");
            }
            // The point of it: a fraction of the frames.
            assert!(chosen.len() * 2 <= times.len() || fps <= 10.0, "{fps} fps: {} of {}", chosen.len(), times.len());
        }
    }

    #[test]
    fn a_gap_in_the_frames_identifies_the_frame_after_it() {
        let times = [0.0, 50.0, 100.0, 900.0, 950.0];
        let pick = identified_frames(&times, &plan());
        assert!(pick[3], "{pick:?}");
        assert!(identified_frames(&[], &plan()).is_empty());
    }
}
