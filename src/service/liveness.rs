//! Liveness: what the verify must show beyond the right face. Passive: the photo's P(real).
//! Challenge: one continuous capture that follows the plan the server drew — its timing and
//! continuity (`capture`), its movements (`pose`) made by a head and not a flat picture
//! (`planarity`), the screen's colours on the face (`light`) as on its own relief (`shading`),
//! one person throughout, and the identified frames (`sampling`) scored by the passive model.
//! `trial` runs one recorded capture through them for `faceauth liveness-eval` (`evaluation`).

pub mod budget;
pub mod capture;
pub mod evaluation;
pub mod light;
pub mod offer;
mod pending;
pub mod plan;
pub mod planarity;
mod policy;
pub mod pose;
pub mod replay;
pub mod sampling;
pub mod shading;

mod factor;
mod judge;
mod verdict;

pub use factor::LivenessFactor;
pub use judge::{CAPTURE_IDENTITY, NEIGHBOUR_SIMILARITY, Trial, analyze, judge, refused_by, trial};
pub use policy::{LivenessMode, LivenessPolicy};
pub use verdict::{CaptureAnswer, CaptureVerdict, LightCheck, Liveness};
