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
//! - passive liveness: the mean over [`PASSIVE_SAMPLES`] of the identified frames, spread evenly
//!   over the whole capture. MiniFASNet judges the texture of a presentation (paper, screen),
//!   which does not change from one frame to the next of one capture; the mean is over enough
//!   frames that one blurred frame of a real turn does not decide.

use super::plan::Plan;
use super::replay;
use crate::face::frame::FrameWork;

/// At most this long between two identified frames: five a second, faster than a head can be
/// swapped in and out of a continuous capture without its box jumping. Not longer: the neighbour
/// check compares frames this far apart, and a real turn with a hand near the face brings frames
/// 250 ms apart below its limit (0.475 in `tests/pipeline/video.rs`; 300 ms: 0.447).
pub const IDENTITY_STRIDE_MS: f32 = 200.0;
/// Probe candidates among the level frames before the first prompt.
pub const LEVEL_CANDIDATES: usize = 4;
/// Identified frames also scored by passive liveness.
pub const PASSIVE_SAMPLES: usize = 8;

/// What each frame is run through: located, identified, or identified and scored.
/// `times[i]`: frame i's time in ms since the capture started.
pub fn frame_work(times: &[f32], plan: &Plan) -> Vec<FrameWork> {
    let identified = identified_frames(times, plan);
    let picked: Vec<usize> = (0..times.len()).filter(|&i| identified[i]).collect();
    let mut work: Vec<FrameWork> =
        identified.iter().map(|&i| if i { FrameWork::Identify } else { FrameWork::Locate }).collect();
    let samples = PASSIVE_SAMPLES.min(picked.len());
    for k in 0..samples {
        // Evenly over the identified frames, the first and the last included.
        let at = match samples {
            1 => 0,
            _ => k * (picked.len() - 1) / (samples - 1),
        };
        work[picked[at]] = FrameWork::Score;
    }
    work
}

/// True for each frame to identify.
fn identified_frames(times: &[f32], plan: &Plan) -> Vec<bool> {
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
    fn passive_liveness_scores_a_sample_of_the_identified_frames_spread_over_the_capture() {
        let times: Vec<f32> = (0..78).map(|i| i as f32 * 1000.0 / 15.0).collect();
        let work = frame_work(&times, &plan());
        let scored: Vec<usize> = (0..78).filter(|&i| work[i] == FrameWork::Score).collect();
        assert_eq!(scored.len(), PASSIVE_SAMPLES);
        assert_eq!((scored[0], scored[PASSIVE_SAMPLES - 1]), (0, 77), "first and last: {scored:?}");
        let identified = identified_frames(&times, &plan());
        assert!((0..78).all(|i| work[i].identifies() == identified[i]));
        assert!(frame_work(&[0.0], &plan()) == vec![FrameWork::Score]);
        assert!(frame_work(&[], &plan()).is_empty());
    }

    #[test]
    fn a_gap_in_the_frames_identifies_the_frame_after_it() {
        let times = [0.0, 50.0, 100.0, 900.0, 950.0];
        let pick = identified_frames(&times, &plan());
        assert!(pick[3], "{pick:?}");
        assert!(identified_frames(&[], &plan()).is_empty());
    }
}
