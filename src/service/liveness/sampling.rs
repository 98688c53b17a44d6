//! Which frames of a capture are identified: run through the recognizer (and so fingerprinted for
//! the replay memory) and scored by passive liveness. Every frame is decoded and located (face box,
//! landmarks, pose, light): the movement, continuity and light checks read every frame. The
//! recognizer and MiniFASNet are four fifths of a frame's cost, and what they decide needs fewer:
//! - the probe: the level frames before the first prompt are its candidates ([`LEVEL_CANDIDATES`]
//!   of them, spread over the lead-in);
//! - the replay memory: the frames it remembers (`replay::prompt_frames`), so a later attempt is
//!   compared with exactly what this one presented;
//! - one person throughout: a frame every [`SPARSE_STRIDE_MS`] and the last one, each compared
//!   with the one before and with the probe; and where two of them are less alike than
//!   [`REFINE_BELOW`], the frames the old [`IDENTITY_STRIDE_MS`] would have picked between them too
//!   ([`refinements`], a second pass), so the neighbour check judges exactly the chain it judged
//!   before wherever a face changes at all. Between two identified frames the face cannot be
//!   swapped unseen: the continuity checks (`capture.rs`) refuse a face box that jumps or
//!   vanishes between consecutive frames, and a swap that keeps the box in place is still seen at
//!   the next identified frame;
//! - passive liveness: the mean over [`PASSIVE_SAMPLES`] of the identified frames, spread evenly
//!   over the whole capture. MiniFASNet judges the texture of a presentation (paper, screen),
//!   which does not change from one frame to the next of one capture; the mean is over enough
//!   frames that one blurred frame of a real turn does not decide.

use super::plan::Plan;
use super::replay;
use crate::face::Embedding;
use crate::face::frame::FrameWork;

/// At most this long between two identified frames where the face changes: five a second, faster
/// than a head can be swapped in and out of a continuous capture without its box jumping. Not
/// longer: the neighbour check compares frames this far apart, and a real turn with a hand near the
/// face brings frames 250 ms apart below its limit (0.475 in `tests/pipeline/video.rs`; 300 ms: 0.447).
pub const IDENTITY_STRIDE_MS: f32 = 200.0;
/// The first pass identifies a frame this often; where two such frames are as alike as
/// [`REFINE_BELOW`] or more, the frames between would only repeat what they show.
pub const SPARSE_STRIDE_MS: f32 = 400.0;
/// Two sparse neighbours less alike than this have the frames between them identified (at
/// [`IDENTITY_STRIDE_MS`]) and judged: well above the neighbour check's 0.5, so no pair that the
/// 200 ms chain could have refused is ever left unrefined.
pub const REFINE_BELOW: f32 = 0.7;
/// Probe candidates among the level frames before the first prompt.
pub const LEVEL_CANDIDATES: usize = 4;
/// Identified frames also scored by passive liveness.
pub const PASSIVE_SAMPLES: usize = 8;

/// Each gap of the first pass is shortened by up to this part of the stride, at random: which frames
/// between the fixed ones are identified is drawn by the server per attempt (`seed`), after the
/// frames are sent, so a client cannot know which frames to dress as the victim.
pub const STRIDE_JITTER: f32 = 0.25;

/// A fresh seed for [`frame_work`]: the operating system's randomness (0, a fixed draw, if it has
/// none: the sampling stays valid, only predictable).
pub fn drawn_seed() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_or(0, |()| u64::from_le_bytes(bytes))
}

/// What each frame is run through: located, identified, or identified and scored.
/// `times[i]`: frame i's time in ms since the capture started; `seed` draws the stride's jitter.
pub fn frame_work(times: &[f32], plan: &Plan, seed: u64) -> Vec<FrameWork> {
    let identified = identified_frames(times, plan, SPARSE_STRIDE_MS, Some(seed));
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

/// The frames a second pass identifies: between every two consecutive identified frames of the
/// first (`identified`, with their embeddings, in order) whose similarity is under [`REFINE_BELOW`],
/// those that [`IDENTITY_STRIDE_MS`] picks.
pub fn refinements(times: &[f32], plan: &Plan, identified: &[(usize, &Embedding)]) -> Vec<usize> {
    let dense = identified_frames(times, plan, IDENTITY_STRIDE_MS, None);
    let mut out = Vec::new();
    for pair in identified.windows(2) {
        let ((a, ea), (b, eb)) = (pair[0], pair[1]);
        if ea.cosine(eb) < REFINE_BELOW {
            out.extend((a + 1..b).filter(|&i| dense[i]));
        }
    }
    out
}

/// True for each frame to identify, no two further apart than `stride` ms (each gap up to
/// [`STRIDE_JITTER`] shorter, drawn from `seed`, when there is one).
fn identified_frames(times: &[f32], plan: &Plan, stride: f32, seed: Option<u64>) -> Vec<bool> {
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
    let mut gap = jittered(stride, seed, 0);
    for i in 1..n {
        // The last frame before the gap would be overrun is identified (and any picked above
        // restarts it), so no two identified frames are further apart than the stride, unless the
        // frames themselves are.
        let overrun = times.get(i + 1).is_some_and(|next| next - last > gap);
        if pick[i] || overrun {
            pick[i] = true;
            last = times[i];
            gap = jittered(stride, seed, i as u64);
        }
    }
    pick
}

/// The stride less a random part of [`STRIDE_JITTER`] of it (SplitMix64 of the seed and the frame).
fn jittered(stride: f32, seed: Option<u64>, frame: u64) -> f32 {
    let Some(seed) = seed else { return stride };
    let mut z = seed.wrapping_add(frame.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = (z >> 40) as f32 / (1u64 << 24) as f32;
    stride * (1.0 - STRIDE_JITTER * unit)
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
            let pick = identified_frames(&times, &plan(), IDENTITY_STRIDE_MS, None);
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
        let work = frame_work(&times, &plan(), 7);
        let scored: Vec<usize> = (0..78).filter(|&i| work[i] == FrameWork::Score).collect();
        assert_eq!(scored.len(), PASSIVE_SAMPLES);
        assert_eq!((scored[0], scored[PASSIVE_SAMPLES - 1]), (0, 77), "first and last: {scored:?}");
        let identified = identified_frames(&times, &plan(), SPARSE_STRIDE_MS, Some(7));
        assert!((0..78).all(|i| work[i].identifies() == identified[i]));
        assert!(frame_work(&[0.0], &plan(), 7) == vec![FrameWork::Score]);
        assert!(frame_work(&[], &plan(), 7).is_empty());
    }

    #[test]
    fn the_server_draws_which_frames_between_the_fixed_ones_are_identified() {
        let times: Vec<f32> = (0..78).map(|i| i as f32 * 1000.0 / 15.0).collect();
        let mut draws = std::collections::BTreeSet::new();
        for seed in 0..20u64 {
            let chosen: Vec<usize> = (0..78).filter(|&i| frame_work(&times, &plan(), seed)[i].identifies()).collect();
            assert!(chosen.windows(2).all(|w| times[w[1]] - times[w[0]] <= SPARSE_STRIDE_MS), "{seed}: {chosen:?}");
            draws.insert(chosen);
        }
        assert!(draws.len() >= 10, "{} different choices in 20 draws", draws.len());
        assert_ne!(drawn_seed(), drawn_seed());
    }

    #[test]
    fn frames_between_two_unlike_neighbours_are_identified_at_the_dense_stride() {
        let times: Vec<f32> = (0..78).map(|i| i as f32 * 1000.0 / 15.0).collect();
        let sparse: Vec<usize> = (0..78).filter(|&i| frame_work(&times, &plan(), 7)[i].identifies()).collect();
        assert!(sparse.len() * 3 <= 78, "{} of 78 identified first", sparse.len());
        let (alike, unlike) =
            (Embedding::from_raw(vec![1.0, 0.0]).unwrap(), Embedding::from_raw(vec![0.6, 0.8]).unwrap());
        // Every neighbour alike: nothing more. One pair unlike (cosine 0.6): the dense frames between.
        let same: Vec<(usize, &Embedding)> = sparse.iter().map(|&i| (i, &alike)).collect();
        assert!(refinements(&times, &plan(), &same).is_empty());
        let k = sparse.len() / 2;
        let mut changed = same.clone();
        changed[k].1 = &unlike;
        let more = refinements(&times, &plan(), &changed);
        let dense = identified_frames(&times, &plan(), IDENTITY_STRIDE_MS, None);
        let between = |a: usize, b: usize| (a + 1..b).filter(|&i| dense[i]).collect::<Vec<_>>();
        let mut expected = between(sparse[k - 1], sparse[k]);
        expected.extend(between(sparse[k], sparse[k + 1]));
        assert_eq!(more, expected);
        // The chain judged there is no sparser than the dense one.
        let mut chain: Vec<usize> = sparse[k - 1..=k + 1].to_vec();
        chain.extend(&more);
        chain.sort();
        assert!(chain.windows(2).all(|w| times[w[1]] - times[w[0]] <= IDENTITY_STRIDE_MS), "{chain:?}");
    }

    #[test]
    fn a_gap_in_the_frames_identifies_the_frame_after_it() {
        let times = [0.0, 50.0, 100.0, 900.0, 950.0];
        let pick = identified_frames(&times, &plan(), IDENTITY_STRIDE_MS, None);
        assert!(pick[3], "{pick:?}");
        assert!(identified_frames(&[], &plan(), IDENTITY_STRIDE_MS, None).is_empty());
    }
}
