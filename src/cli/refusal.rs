//! A pipeline refusal named as a client would see it.

use crate::error::ApiError;
use crate::face::{FaceError, PoolError};
use crate::service::ServiceError;

/// The stable code the API would answer for a pipeline refusal.
pub(crate) fn code(error: FaceError) -> &'static str {
    ApiError::from(ServiceError::from(PoolError::Face(error))).code()
}
