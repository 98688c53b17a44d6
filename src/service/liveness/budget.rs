//! How much work one capture may ask of the server, checked on the frames' headers before any is
//! decoded. The per-frame limits (`MAX_IMAGE_PIXELS`) bound one frame; without a bound on the whole,
//! 360 frames of 40 MP lossless WebP (a 559 KiB body: a flat picture compresses to nothing) held
//! a 2-core instance for a minute. The plan says what the server asked for — its frame rate, its
//! length and [`MAX_SIDE`] — and a capture may take at most that: a camera at up to [`MAX_FPS`]
//! over the plan's duration, each frame at most `MAX_SIDE` on its longer side, and as many pixels
//! in all as that many 4:3 frames at that size. A capture over it is a decided refusal, counted
//! like a failed attempt: oversize work costs its sender.

use super::plan::Plan;

/// The longest side a capture frame may have, in pixels; the plan tells the client (the web SDK
/// records 480).
pub const MAX_SIDE: u32 = 640;
/// The fastest camera a capture may come from (the plans ask 10–30 fps).
pub const MAX_FPS: u32 = 30;

/// Why a capture asks more work than its plan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Oversize {
    #[error("{got} frames, at most {allowed} for this plan")]
    TooManyFrames { got: usize, allowed: usize },
    #[error("frame {frame} is {width}x{height}, more than {MAX_SIDE} px on a side")]
    FrameTooLarge { frame: usize, width: u32, height: u32 },
    #[error("{got} pixels over the capture, at most {allowed}")]
    TooManyPixels { got: u64, allowed: u64 },
}

/// The most frames a capture answering `plan` may carry.
pub fn max_frames(plan: &Plan) -> usize {
    (plan.duration_ms as usize * MAX_FPS as usize).div_ceil(1000) + 2
}

/// The most decoded pixels a capture answering `plan` may carry.
pub fn max_pixels(plan: &Plan) -> u64 {
    max_frames(plan) as u64 * u64::from(MAX_SIDE) * u64::from(MAX_SIDE * 3 / 4)
}

/// Checks the frames' declared sizes (width, height) against the plan's budget.
pub fn check(plan: &Plan, sizes: &[(u32, u32)]) -> Result<(), Oversize> {
    let allowed = max_frames(plan);
    if sizes.len() > allowed {
        return Err(Oversize::TooManyFrames { got: sizes.len(), allowed });
    }
    if let Some((frame, &(width, height))) = sizes.iter().enumerate().find(|(_, (w, h))| (*w).max(*h) > MAX_SIDE) {
        return Err(Oversize::FrameTooLarge { frame: frame + 1, width, height });
    }
    let got: u64 = sizes.iter().map(|&(w, h)| u64::from(w) * u64::from(h)).sum();
    let allowed = max_pixels(plan);
    if got > allowed {
        return Err(Oversize::TooManyPixels { got, allowed });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::Step;
    use super::*;

    fn plan() -> Plan {
        Plan::lay_out(vec![Step::TurnLeft, Step::TurnRight, Step::LookUp], true, 15, |_| 0)
    }

    #[test]
    fn a_capture_at_the_plans_rate_and_size_fits_and_more_does_not() {
        let plan = plan();
        // The SDK's capture: 15 fps at 480 px; a webcam's 30 fps at 640x480.
        assert_eq!(check(&plan, &vec![(480, 360); plan.frames()]), Ok(()));
        assert_eq!(check(&plan, &vec![(640, 480); max_frames(&plan)]), Ok(()));
        let many = vec![(320, 240); max_frames(&plan) + 1];
        assert!(matches!(check(&plan, &many), Err(Oversize::TooManyFrames { .. })));
        let mut large = vec![(480, 360); 10];
        large[3] = (8000, 5000);
        assert_eq!(check(&plan, &large), Err(Oversize::FrameTooLarge { frame: 4, width: 8000, height: 5000 }));
        let square = vec![(640, 640); max_frames(&plan)];
        assert!(matches!(check(&plan, &square), Err(Oversize::TooManyPixels { .. })));
    }
}
