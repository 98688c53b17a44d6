//! Is this burst one continuous capture of one moving face? Timestamps from the client's monotonic
//! clock at a camera's pace, and between consecutive frames a face that moves by bounded amounts:
//! no jump, no repeated frame. A burst assembled from a few stills (repeated, shifted, scaled,
//! noised, re-encoded or mirrored) changes pose in jumps where one still gives way to the next.
//!
//! The bounds are rates (per second of the frames' own clock), so they hold at 10 fps and at 30,
//! with a floor for the detector's jitter on a still face. Calibrated on the two real recordings
//! in `../shared/faces/video/` (`tests/pipeline/video.rs` prints their largest changes): the limits
//! are about twice the fastest real motion there, at the recordings' rate and at half of it.

use crate::face::Detection;
use crate::face::frame::CaptureFrame;

/// What the continuity and pose checks need of one analysed frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Milliseconds since the capture started, from the client.
    pub t_ms: f32,
    pub face: Detection,
    pub yaw: f32,
    pub pitch: f32,
}

/// Frames may be no closer than this (120 fps): faster is not a camera of this kind.
pub const MIN_INTERVAL_MS: f32 = 1000.0 / 120.0;
/// The longest pause between two frames (a dropped frame or two at 15 fps).
pub const MAX_GAP_MS: f32 = 300.0;
/// The lowest frame rate over the whole capture.
pub const MIN_FPS: f32 = 8.0;
/// The capture may start this late and end this early against the plan's duration.
pub const SLACK_MS: f32 = 400.0;
/// Head rotation: degrees per second of yaw or pitch, plus a per-frame floor for estimation noise.
/// The recordings' largest change between frames 83 ms apart: 9.5°, so 150°/s + 4° allows 16.5° there;
/// a still giving way to another at a 20° different pose is a jump.
/// The floor grows for small faces, whose landmarks (and so angles) jitter more: a pixel of
/// landmark noise on a face 20 px across moves the estimate by degrees (`TURN_NOISE_PX` / size).
pub const MAX_TURN_RATE: f32 = 150.0;
pub const TURN_NOISE: f32 = 4.0;
pub const TURN_NOISE_PX: f32 = 100.0;
/// The face's centre, in face sizes (`Detection::face_scale`) per second, plus a floor (largest
/// real change: 0.13 face sizes in 83 ms; allowed 0.27).
pub const MAX_SHIFT_RATE: f32 = 2.0;
pub const SHIFT_NOISE: f32 = 0.1;
/// The face's size: the natural log of its ratio per second, plus a floor (largest real change:
/// 0.05 in 83 ms; allowed 0.14).
pub const MAX_SCALE_RATE: f32 = 1.0;
pub const SCALE_NOISE: f32 = 0.06;

/// Why a burst is not one capture.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Discontinuity {
    #[error("the frame times do not increase at frame {0}")]
    TimeNotIncreasing(usize),
    #[error("frames {0} and {1} are closer in time than a camera takes them")]
    TooFast(usize, usize),
    #[error("a pause of {ms:.0} ms before frame {frame}")]
    Gap { frame: usize, ms: f32 },
    #[error("frame {0} repeats the frame before it")]
    Repeated(usize),
    #[error("the face jumps between frames {0} and {1}")]
    Jump(usize, usize),
    #[error("step {0} was reached in one jump, not through the poses between")]
    AbruptMove(usize),
}

/// Why a burst does not cover the challenge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Incomplete {
    #[error("the capture starts {0:.0} ms late")]
    StartsLate(f32),
    #[error("the capture ends before the challenge does")]
    EndsEarly,
    #[error("{got} frames over the capture, at least {needed} needed")]
    TooFewFrames { got: usize, needed: usize },
}

/// What the continuity, pose and planarity checks read of each analysed frame.
pub fn observe(frames: &[CaptureFrame], times: &[f32]) -> Vec<Observation> {
    frames
        .iter()
        .zip(times)
        .map(|(a, &t_ms)| Observation { t_ms, face: a.face.clone(), yaw: a.quality.yaw, pitch: a.quality.pitch })
        .collect()
}

/// Timestamps: strictly increasing, at a camera's pace, without long pauses, covering the plan.
pub fn check_times(times: &[f32], duration_ms: u32) -> Result<(), CaptureRefusal> {
    let duration = duration_ms as f32;
    let needed = (duration / 1000.0 * MIN_FPS).floor() as usize;
    if times.len() < needed.max(2) {
        return Err(Incomplete::TooFewFrames { got: times.len(), needed: needed.max(2) }.into());
    }
    for (i, w) in times.windows(2).enumerate() {
        let dt = w[1] - w[0];
        // NaN cannot come from the parser (finite numbers only); a step of zero or back is refused.
        if dt <= 0.0 {
            return Err(Discontinuity::TimeNotIncreasing(i + 2).into());
        }
        if dt < MIN_INTERVAL_MS {
            return Err(Discontinuity::TooFast(i + 1, i + 2).into());
        }
        if dt > MAX_GAP_MS {
            return Err(Discontinuity::Gap { frame: i + 2, ms: dt }.into());
        }
    }
    if times[0] < 0.0 || times[0] > SLACK_MS {
        return Err(Incomplete::StartsLate(times[0]).into());
    }
    if times[times.len() - 1] < duration - SLACK_MS {
        return Err(Incomplete::EndsEarly.into());
    }
    Ok(())
}

/// How the face changed from one frame to the next.
struct Change {
    /// Seconds between the frames (at least a millisecond).
    dt: f32,
    /// The larger face size, px (`Detection::face_scale`).
    size: f32,
    /// Degrees: the larger of the yaw and the pitch change.
    turn: f32,
    /// The centre's move, in face sizes.
    shift: f32,
    /// |ln| of the size ratio.
    scale: f32,
}

impl Change {
    fn between(a: &Observation, b: &Observation) -> Self {
        let size = a.face.face_scale().max(b.face.face_scale()).max(1.0);
        let centre = |d: &Detection| ((d.bbox[0] + d.bbox[2]) / 2.0, (d.bbox[1] + d.bbox[3]) / 2.0);
        let ((ax, ay), (bx, by)) = (centre(&a.face), centre(&b.face));
        Self {
            dt: ((b.t_ms - a.t_ms) / 1000.0).max(1e-3),
            size,
            turn: (b.yaw - a.yaw).abs().max((b.pitch - a.pitch).abs()),
            shift: ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt() / size,
            scale: (b.face.face_scale().max(1.0) / a.face.face_scale().max(1.0)).ln().abs(),
        }
    }

    /// Each change net of its noise floor, per second: turn (°/s), shift (face sizes/s), scale (ln/s).
    fn rates(&self) -> (f32, f32, f32) {
        (
            (self.turn - TURN_NOISE - TURN_NOISE_PX / self.size).max(0.0) / self.dt,
            (self.shift - SHIFT_NOISE).max(0.0) / self.dt,
            (self.scale - SCALE_NOISE).max(0.0) / self.dt,
        )
    }
}

/// Consecutive frames: not the same frame again (same bytes, or a detector output identical to
/// the last digit, which only a copy of the pixels gives), and a face that moves at human speed.
pub fn check_motion(frames: &[Observation], digests: &[String]) -> Result<(), CaptureRefusal> {
    for i in 1..frames.len() {
        let (a, b) = (&frames[i - 1], &frames[i]);
        if digests.get(i - 1).is_some_and(|d| Some(d) == digests.get(i)) || a.face.landmarks == b.face.landmarks {
            return Err(Discontinuity::Repeated(i + 1).into());
        }
        let (turn, shift, scale) = Change::between(a, b).rates();
        if turn > MAX_TURN_RATE || shift > MAX_SHIFT_RATE || scale > MAX_SCALE_RATE {
            return Err(Discontinuity::Jump(i, i + 1).into());
        }
    }
    Ok(())
}

/// The largest rates between consecutive frames, each net of its noise floor, and the largest raw
/// changes (degrees, face sizes, ln): what the calibration prints.
pub fn motion_rates(frames: &[Observation]) -> ((f32, f32, f32), (f32, f32, f32)) {
    let mut worst = ((0.0f32, 0.0f32, 0.0f32), (0.0f32, 0.0f32, 0.0f32));
    for w in frames.windows(2) {
        let change = Change::between(&w[0], &w[1]);
        let (turn, shift, scale) = change.rates();
        worst.0 = (worst.0.0.max(turn), worst.0.1.max(shift), worst.0.2.max(scale));
        worst.1 = (worst.1.0.max(change.turn), worst.1.1.max(change.shift), worst.1.2.max(change.scale));
    }
    worst
}

/// A capture refused for its timing or its continuity.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaptureRefusal {
    #[error(transparent)]
    Discontinuous(#[from] Discontinuity),
    #[error(transparent)]
    Incomplete(#[from] Incomplete),
    /// More frames, larger frames or more pixels than the plan asked for (`budget.rs`).
    #[error(transparent)]
    TooLarge(#[from] super::budget::Oversize),
}

impl CaptureRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            CaptureRefusal::Discontinuous(_) => "capture_discontinuous",
            CaptureRefusal::Incomplete(_) => "capture_incomplete",
            CaptureRefusal::TooLarge(_) => "capture_too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(t_ms: f32, x: f32, yaw: f32) -> Observation {
        let landmarks =
            [[x + 30.0, 50.0], [x + 70.0, 50.0], [x + 50.0 + yaw, 70.0], [x + 35.0, 90.0], [x + 65.0, 90.0]];
        Observation {
            t_ms,
            face: Detection { bbox: [x, 20.0, x + 100.0, 130.0], score: 0.9, landmarks, pose: None, shape: None },
            yaw,
            pitch: 0.0,
        }
    }

    fn times(n: usize, every: f32) -> Vec<f32> {
        (0..n).map(|i| i as f32 * every).collect()
    }

    #[test]
    fn steady_timestamps_covering_the_plan_pass() {
        assert_eq!(check_times(&times(60, 66.7), 3900), Ok(()));
    }

    #[test]
    fn timestamps_out_of_order_too_fast_or_with_a_gap_are_refused() {
        let mut shuffled = times(60, 66.7);
        shuffled.swap(10, 11);
        assert_eq!(check_times(&shuffled, 3900), Err(Discontinuity::TimeNotIncreasing(12).into()));
        assert_eq!(check_times(&times(500, 1.0), 400), Err(Discontinuity::TooFast(1, 2).into()));
        let mut gap = times(60, 66.7);
        gap.iter_mut().skip(30).for_each(|t| *t += 500.0);
        assert!(matches!(
            check_times(&gap, 3900),
            Err(CaptureRefusal::Discontinuous(Discontinuity::Gap { frame: 31, .. }))
        ));
    }

    #[test]
    fn a_capture_that_does_not_cover_the_plan_is_incomplete() {
        assert_eq!(check_times(&times(30, 66.7), 3900), Err(Incomplete::TooFewFrames { got: 30, needed: 31 }.into()));
        assert_eq!(check_times(&times(40, 66.7), 3900), Err(Incomplete::EndsEarly.into()));
        let late: Vec<f32> = times(60, 66.7).iter().map(|t| t + 600.0).collect();
        assert!(matches!(check_times(&late, 3900), Err(CaptureRefusal::Incomplete(Incomplete::StartsLate(_)))));
    }

    #[test]
    fn smooth_motion_passes_and_a_jump_or_a_repeat_is_refused() {
        let smooth: Vec<Observation> =
            (0..30).map(|i| frame(i as f32 * 66.7, 100.0 + i as f32, i as f32 * 0.8)).collect();
        let digests: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert_eq!(check_motion(&smooth, &digests), Ok(()));
        let mut jump = smooth.clone();
        jump[12].yaw += 30.0;
        assert_eq!(check_motion(&jump, &digests), Err(Discontinuity::Jump(12, 13).into()));
        let mut moved = smooth.clone();
        for f in moved.iter_mut().skip(20) {
            *f = frame(f.t_ms, 300.0, f.yaw);
        }
        assert_eq!(check_motion(&moved, &digests), Err(Discontinuity::Jump(20, 21).into()));
        let mut repeated = smooth.clone();
        repeated[8] = Observation { t_ms: repeated[8].t_ms, ..repeated[7].clone() };
        assert_eq!(check_motion(&repeated, &digests), Err(Discontinuity::Repeated(9).into()));
        let mut same_bytes = digests.clone();
        same_bytes[5] = same_bytes[4].clone();
        assert_eq!(check_motion(&smooth, &same_bytes), Err(Discontinuity::Repeated(6).into()));
    }
}
