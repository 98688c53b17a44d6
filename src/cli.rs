//! Commands besides `serve`: each runs the same checked startup path, then does one job.

pub mod compare;
pub mod inspect;
pub mod reembed;
