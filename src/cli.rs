//! Commands besides `serve`: each runs the same checked startup path, then does one job.

pub mod calibrate;
pub mod compare;
pub mod embed;
pub mod fairness;
mod fairness_plot;
pub mod inspect;
pub mod liveness_eval;
pub mod reembed;
mod refusal;
pub mod retention;
mod within;
