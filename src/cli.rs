//! Commands besides `serve`: each runs the same checked startup path, then does one job.

pub mod calibrate;
pub mod compare;
pub mod embed;
pub mod fairness;
mod fairness_plot;
pub mod inspect;
pub mod liveness_eval;
pub mod reembed;
pub mod retention;
mod within;

use crate::error::ApiError;
use crate::face::{FaceError, PoolError};
use crate::service::ServiceError;

/// The stable code the API would answer for a pipeline refusal.
pub(crate) fn code(error: FaceError) -> &'static str {
    ApiError::from(ServiceError::from(PoolError::Face(error))).code()
}
