//! Does the capture answer the prompts? It opens facing the camera by absolute angles (not relative
//! to a frame the client picked); each prompted movement is reached after its prompt, within a
//! human response time, held, and followed by a return toward level before the next one.
//!
//! Turns are judged by the absolute yaw. Nods are judged against the capture's own level stretch
//! (the median pitch before the first prompt, itself bounded in absolute terms), since where the
//! nose sits between eyes and mouth differs from face to face and the five-point pitch of a level
//! head is not exactly zero.

use super::super::challenges::{Axis, Step};
use super::capture::Observation;
use super::plan::{Plan, STEP_MS};

/// No one reacts to a prompt faster than this (simple reaction times are about 200–250 ms).
pub const MIN_REACTION_MS: f32 = 150.0;
/// The movement must be reached within this of its prompt.
pub const MAX_RESPONSE_MS: f32 = 1200.0;
/// Held: at least this long at 70 % of the needed angle or more.
pub const MIN_HOLD_MS: f32 = 60.0;
/// From a third of the needed angle to all of it takes a real head at least this long (the
/// recordings: 210–290 ms); a burst of stills gets there in one frame interval.
pub const MIN_RAMP_MS: f32 = 100.0;

/// The angles a capture must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseLimits {
    /// |yaw| and |pitch| of the level stretch, degrees (CHALLENGE_FRONTAL_YAW; pitch 1.5× it).
    pub frontal_yaw: f32,
    pub min_turn_yaw: f32,
    pub min_nod_pitch: f32,
}

/// Why the movements do not answer the prompts. Step numbers count from 1; 0 is the level start.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PoseRefusal {
    #[error("the capture does not start facing the camera")]
    NotLevel,
    #[error("step {0} was already under way before its prompt")]
    BeforePrompt(usize),
    #[error("step {0} was not reached in time")]
    NotReached(usize),
    /// Reached at once, not through the poses between: stills, not a moving head.
    #[error("step {0} was reached in a jump")]
    Abrupt(usize),
    #[error("step {0} was not held")]
    NotHeld(usize),
    #[error("the head did not come back after step {0}")]
    NoReturn(usize),
}

/// Each step with the largest angle reached on its axis (degrees; a nod relative to level).
pub type Reached = Vec<(Step, f32)>;

fn median(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values[values.len() / 2]
}

pub fn check(frames: &[Observation], plan: &Plan, limits: &PoseLimits) -> Result<Reached, PoseRefusal> {
    let first_prompt = plan.prompts.first().map_or(plan.duration_ms as f32, |p| p.at_ms as f32);
    let lead: Vec<&Observation> = frames.iter().filter(|f| f.t_ms < first_prompt + MIN_REACTION_MS).collect();
    if lead.is_empty() {
        return Err(PoseRefusal::NotLevel);
    }
    let level_yaw = median(lead.iter().map(|f| f.yaw).collect());
    let level_pitch = median(lead.iter().map(|f| f.pitch).collect());
    if level_yaw.abs() > limits.frontal_yaw || level_pitch.abs() > limits.frontal_yaw * 1.5 {
        return Err(PoseRefusal::NotLevel);
    }
    let mut reached = Vec::with_capacity(plan.prompts.len());
    for (i, prompt) in plan.prompts.iter().enumerate() {
        let number = i + 1;
        // The step's angle on a frame, signed so that the asked direction is positive.
        let (needed, axis) = match prompt.step.axis() {
            Axis::Yaw => (limits.min_turn_yaw, Axis::Yaw),
            Axis::Pitch => (limits.min_nod_pitch, Axis::Pitch),
        };
        let angle = |f: &Observation| match axis {
            Axis::Yaw => f.yaw * prompt.step.sign(),
            Axis::Pitch => (f.pitch - level_pitch) * prompt.step.sign(),
        };
        let at = prompt.at_ms as f32;
        let end = at + STEP_MS as f32 + MIN_REACTION_MS;
        let window: Vec<&Observation> = frames.iter().filter(|f| f.t_ms >= at - 200.0 && f.t_ms < end).collect();
        let first = window.iter().position(|f| angle(f) >= needed).ok_or(PoseRefusal::NotReached(number))?;
        if window[first].t_ms < at + MIN_REACTION_MS {
            return Err(PoseRefusal::BeforePrompt(number));
        }
        if window[first].t_ms > at + MAX_RESPONSE_MS {
            return Err(PoseRefusal::NotReached(number));
        }
        let started = window[..first].iter().rev().find(|f| angle(f) <= needed / 3.0).map_or(at - 200.0, |f| f.t_ms);
        if window[first].t_ms - started < MIN_RAMP_MS {
            return Err(PoseRefusal::Abrupt(number));
        }
        let held_until = window[first..].iter().take_while(|f| angle(f) >= needed * 0.7).last().map(|f| f.t_ms);
        let held = held_until.map_or(0.0, |t| t - window[first].t_ms);
        let frames_held = window[first..].iter().take_while(|f| angle(f) >= needed * 0.7).count();
        if held < MIN_HOLD_MS && frames_held < 2 {
            return Err(PoseRefusal::NotHeld(number));
        }
        let peak = window[first..].iter().map(|f| angle(f)).fold(f32::MIN, f32::max);
        // Back toward level before the next prompt's movement is under way (people often come back
        // late, just ahead of the next move), or for the last step by the end of the capture.
        let reached_at = window[first].t_ms;
        let next_at = plan.prompts.get(i + 1).map_or(f32::MAX, |p| p.at_ms as f32 + MAX_RESPONSE_MS);
        let returned = frames.iter().any(|f| f.t_ms > reached_at && f.t_ms < next_at && angle(f) <= needed * 0.5);
        if !returned {
            return Err(PoseRefusal::NoReturn(number));
        }
        reached.push((prompt.step, peak * prompt.step.sign()));
    }
    Ok(reached)
}

#[cfg(test)]
mod tests {
    use super::super::plan::Plan;
    use super::*;
    use crate::face::Detection;

    const LIMITS: PoseLimits = PoseLimits { frontal_yaw: 12.0, min_turn_yaw: 18.0, min_nod_pitch: 15.0 };

    fn plan(steps: Vec<Step>) -> Plan {
        Plan::lay_out(steps, false, 15, |_| 0)
    }

    /// A person who reacts `delay` ms after each prompt, turns over 400 ms to 25°, holds 200 ms
    /// and comes back over 400 ms, filmed at 15 fps.
    fn answer(plan: &Plan, delay: f32, level_pitch: f32) -> Vec<Observation> {
        let n = plan.frames();
        (0..n)
            .map(|k| {
                let t = k as f32 * 1000.0 / 15.0;
                let (mut yaw, mut pitch) = (0.0, level_pitch);
                for p in &plan.prompts {
                    let s = t - p.at_ms as f32 - delay;
                    let amount = match s {
                        s if s < 0.0 => 0.0,
                        s if s < 400.0 => s / 400.0,
                        s if s < 600.0 => 1.0,
                        s if s < 1000.0 => 1.0 - (s - 600.0) / 400.0,
                        _ => 0.0,
                    } * 25.0
                        * p.step.sign();
                    match p.step.axis() {
                        Axis::Yaw => yaw += amount,
                        Axis::Pitch => pitch += amount,
                    }
                }
                Observation {
                    t_ms: t,
                    face: Detection {
                        bbox: [0.0, 0.0, 100.0, 100.0],
                        score: 0.9,
                        landmarks: [[0.0; 2]; 5],
                        pose: None,
                        shape: None,
                    },
                    yaw,
                    pitch,
                }
            })
            .collect()
    }

    #[test]
    fn a_person_following_the_prompts_passes() {
        let plan = plan(vec![Step::TurnLeft, Step::LookDown, Step::TurnRight]);
        let reached = check(&answer(&plan, 300.0, 6.0), &plan, &LIMITS).unwrap();
        assert_eq!(reached.iter().map(|r| r.0).collect::<Vec<_>>(), plan.steps());
        assert!(reached.iter().all(|r| (r.1.abs() - 25.0).abs() < 2.0), "{reached:?}");
    }

    #[test]
    fn the_same_movements_at_the_wrong_times_or_from_a_tilted_start_are_refused() {
        let plan = plan(vec![Step::TurnLeft, Step::LookDown, Step::TurnRight]);
        assert_eq!(check(&answer(&plan, -300.0, 0.0), &plan, &LIMITS), Err(PoseRefusal::BeforePrompt(1)));
        assert_eq!(check(&answer(&plan, 1300.0, 0.0), &plan, &LIMITS), Err(PoseRefusal::NotReached(1)));
        assert_eq!(check(&answer(&plan, 300.0, 25.0), &plan, &LIMITS), Err(PoseRefusal::NotLevel));
        let other = self::plan(vec![Step::TurnRight, Step::LookDown, Step::TurnLeft]);
        assert_eq!(check(&answer(&other, 300.0, 0.0), &plan, &LIMITS), Err(PoseRefusal::NotReached(1)));
    }

    #[test]
    fn a_movement_reached_in_one_frame_is_a_jump() {
        let plan = plan(vec![Step::TurnLeft, Step::TurnRight]);
        let mut frames = answer(&plan, 300.0, 0.0);
        // Stills: level until the turned photo is shown, which holds the whole turn.
        let at = plan.prompts[0].at_ms as f32 + 500.0;
        for f in frames.iter_mut().filter(|f| f.t_ms >= plan.prompts[0].at_ms as f32 && f.t_ms < at + 300.0) {
            f.yaw = if f.t_ms < at { 0.0 } else { 25.0 };
        }
        assert_eq!(check(&frames, &plan, &LIMITS), Err(PoseRefusal::Abrupt(1)));
    }

    #[test]
    fn a_turn_that_never_comes_back_is_refused() {
        let plan = plan(vec![Step::TurnLeft, Step::LookUp]);
        let mut frames = answer(&plan, 300.0, 0.0);
        for f in frames.iter_mut().filter(|f| f.t_ms > plan.prompts[0].at_ms as f32 + 500.0) {
            f.yaw = 25.0;
        }
        assert_eq!(check(&frames, &plan, &LIMITS), Err(PoseRefusal::NoReturn(1)));
    }
}
