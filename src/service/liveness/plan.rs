//! What a challenge asks of one continuous capture: when each head movement is prompted, and which
//! screen colours light the face when. Drawn by the server, carried in the signed session or
//! challenge token, followed by the SDK, and judged against the frames' own timestamps.
//!
//! The schedule is fixed by the server rather than by the client advancing when it sees a pose: a
//! client-reported prompt time would be the attacker's to choose. Timing: the capture opens with
//! [`LEAD_MS`] facing the camera, then each step has [`STEP_MS`] to react (about 250 ms), turn
//! (300–500 ms), hold and come back, and [`TAIL_MS`] closes the last return.

use serde::{Deserialize, Serialize};

use super::super::challenges::Step;

pub const LEAD_MS: u32 = 800;
pub const STEP_MS: u32 = 1300;
pub const TAIL_MS: u32 = 500;
/// Each colour shows for this long at least and at most: at most 2.5 changes a second, under the
/// three flashes a second of WCAG 2.3.1 (a flash is a pair of opposing changes).
pub const FLASH_MIN_MS: u32 = 400;
pub const FLASH_MAX_MS: u32 = 800;

/// A screen colour of the light challenge. None is a saturated red (WCAG 2.3.1's red flash: red
/// over 80 % of R+G+B), and each differs from the others in chromaticity, which a face's reflection
/// keeps when the camera's exposure changes its brightness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    White,
    Blue,
    Green,
    Yellow,
    Magenta,
    Cyan,
}

impl Colour {
    pub const ALL: [Colour; 6] =
        [Colour::White, Colour::Blue, Colour::Green, Colour::Yellow, Colour::Magenta, Colour::Cyan];

    /// The sRGB the SDK paints.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::White => [255, 255, 255],
            Colour::Blue => [40, 80, 255],
            Colour::Green => [40, 230, 90],
            Colour::Yellow => [255, 220, 40],
            Colour::Magenta => [235, 60, 235],
            Colour::Cyan => [40, 220, 235],
        }
    }

    /// As CSS writes it.
    pub fn css(self) -> String {
        let [r, g, b] = self.rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// A movement prompted at `at_ms` after the capture starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub step: Step,
    pub at_ms: u32,
}

/// A colour shown from `at_ms` for `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    pub colour: Colour,
    pub at_ms: u32,
    pub ms: u32,
}

/// The whole challenge of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub prompts: Vec<Prompt>,
    /// Empty: no light challenge (LIGHT_CHALLENGE=off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub light: Vec<Flash>,
    /// Frames per second the server wants; the capture must cover `duration_ms`.
    pub fps: u32,
    pub duration_ms: u32,
}

impl Plan {
    pub fn steps(&self) -> Vec<Step> {
        self.prompts.iter().map(|p| p.step).collect()
    }

    /// How many frames the server asks for.
    pub fn frames(&self) -> usize {
        (self.duration_ms as usize * self.fps as usize).div_ceil(1000)
    }

    /// Lays out `steps` on the schedule, with colours drawn by `draw` (a uniform choice below n).
    pub fn lay_out(steps: Vec<Step>, light: bool, fps: u32, mut draw: impl FnMut(usize) -> usize) -> Plan {
        let prompts: Vec<Prompt> = steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| Prompt { step, at_ms: LEAD_MS + i as u32 * STEP_MS })
            .collect();
        let duration_ms = LEAD_MS + prompts.len() as u32 * STEP_MS + TAIL_MS;
        let mut flashes: Vec<Flash> = Vec::new();
        let mut at = 0;
        while light && at < duration_ms {
            let choices: Vec<Colour> =
                Colour::ALL.into_iter().filter(|c| flashes.last().map(|f| f.colour) != Some(*c)).collect();
            let colour = choices[draw(choices.len())];
            let ms = (FLASH_MIN_MS + draw((FLASH_MAX_MS - FLASH_MIN_MS) as usize / 50 + 1) as u32 * 50)
                .min(duration_ms - at);
            flashes.push(Flash { colour, at_ms: at, ms });
            at += ms;
        }
        // A last sliver shorter than the minimum joins the colour before it (no fast change at the end).
        if flashes.len() > 1 && flashes.last().is_some_and(|f| f.ms < FLASH_MIN_MS) {
            let last = flashes.pop().expect("checked");
            flashes.last_mut().expect("checked").ms += last.ms;
        }
        Plan { prompts, light: flashes, fps, duration_ms }
    }

    /// The colour on the screen at `t_ms`, if the plan has a light challenge.
    pub fn colour_at(&self, t_ms: f32) -> Option<Colour> {
        self.light.iter().find(|f| t_ms >= f.at_ms as f32 && t_ms < (f.at_ms + f.ms) as f32).map(|f| f.colour)
    }

    /// Whether a plan read back from a token is one this server could have drawn: a forged or
    /// old-format token must not skip a step or stretch the schedule.
    pub fn is_well_formed(&self, min_steps: usize) -> bool {
        let on_schedule = self.prompts.iter().enumerate().all(|(i, p)| p.at_ms == LEAD_MS + i as u32 * STEP_MS);
        let flashes_fit =
            self.light.windows(2).all(|w| w[0].at_ms + w[0].ms == w[1].at_ms && w[0].colour != w[1].colour)
                && self.light.iter().all(|f| f.ms >= FLASH_MIN_MS);
        self.prompts.len() >= min_steps.max(1)
            && self.prompts.len() <= 8
            && on_schedule
            && self.duration_ms == LEAD_MS + self.prompts.len() as u32 * STEP_MS + TAIL_MS
            && (10..=30).contains(&self.fps)
            && flashes_fit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut(usize) -> usize {
        let mut i = 0;
        move |n| {
            i += 1;
            i % n
        }
    }

    #[test]
    fn a_plan_prompts_each_step_on_the_schedule_and_lights_the_whole_capture() {
        let plan = Plan::lay_out(vec![Step::TurnLeft, Step::LookUp, Step::TurnRight], true, 15, counter());
        assert_eq!(plan.duration_ms, LEAD_MS + 3 * STEP_MS + TAIL_MS);
        assert_eq!(plan.prompts[2], Prompt { step: Step::TurnRight, at_ms: LEAD_MS + 2 * STEP_MS });
        assert_eq!(plan.frames(), (plan.duration_ms as usize * 15).div_ceil(1000));
        let covered: u32 = plan.light.iter().map(|f| f.ms).sum();
        assert_eq!(covered, plan.duration_ms);
        assert!(plan.light.windows(2).all(|w| w[0].colour != w[1].colour));
        assert!(plan.light.iter().all(|f| f.ms >= FLASH_MIN_MS), "{:?}", plan.light);
        // At most three changes in any second.
        for flash in &plan.light {
            let changes = plan.light.iter().filter(|f| f.at_ms > flash.at_ms && f.at_ms <= flash.at_ms + 1000).count();
            assert!(changes <= 3, "{:?}", plan.light);
        }
        assert!(plan.is_well_formed(3));
        assert_eq!(plan.colour_at(0.0), Some(plan.light[0].colour));
    }

    #[test]
    fn no_colour_is_a_saturated_red() {
        for colour in Colour::ALL {
            let [r, g, b] = colour.rgb().map(f32::from);
            assert!(r / (r + g + b) < 0.8, "{colour:?}");
        }
    }

    #[test]
    fn a_plan_off_the_schedule_or_short_of_steps_is_refused() {
        let plan = Plan::lay_out(vec![Step::TurnLeft, Step::LookUp, Step::TurnRight], false, 15, counter());
        assert!(plan.is_well_formed(3) && plan.light.is_empty());
        assert!(!plan.is_well_formed(4), "fewer steps than CHALLENGE_STEPS");
        let mut no_steps = plan.clone();
        no_steps.prompts.clear();
        no_steps.duration_ms = LEAD_MS + TAIL_MS;
        assert!(!no_steps.is_well_formed(1));
        let mut stretched = plan.clone();
        stretched.prompts[1].at_ms += 5000;
        assert!(!stretched.is_well_formed(3));
        let mut slow = plan;
        slow.fps = 2;
        assert!(!slow.is_well_formed(3));
    }
}
