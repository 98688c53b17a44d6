//! How long each stage of a use case took.

use std::time::Instant;

use crate::face::StageTimings;

/// Milliseconds per stage of one request, unrounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub pipeline: StageTimings,
    pub storage_ms: f64,
    pub match_ms: f64,
    pub total_ms: f64,
}

/// Milliseconds since `since`, for the stage timings.
pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
