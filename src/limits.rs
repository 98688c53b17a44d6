//! The HTTP layer's own guards: who the client is, how many uploads are read at once, how often
//! refusals are logged. (Rates and the lockout are counted in `state`, shared between instances.)

mod client;
mod refusals;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use client::{TrustedProxies, bucket};
pub use refusals::RefusalLog;

/// Shared by every request of this instance.
pub struct Limits {
    pub proxies: TrustedProxies,
    pub uploads: UploadAdmission,
    pub refusals: RefusalLog,
}

/// A bound on uploads being received and processed at once, checked before any body byte is read:
/// under overload a client learns it at once instead of after sending megabytes.
pub struct UploadAdmission(Arc<Semaphore>);

impl UploadAdmission {
    pub fn new(at_once: usize) -> Self {
        Self(Arc::new(Semaphore::new(at_once.max(1))))
    }

    /// A place, held until the permit is dropped; `None` when every place is taken.
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}
