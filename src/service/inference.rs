//! The seam between the service and the inference workers: the service needs "analyse this photo"
//! and a few operational facts, not the pool's threads and channels. Tests of the domain logic plug
//! in their own implementation (a refusing one, say) without models.

use async_trait::async_trait;
use bytes::Bytes;

use crate::face::{Analysis, InferencePool, PoolError, Purpose};

#[async_trait]
pub trait Inference: Send + Sync + 'static {
    async fn analyze(&self, image: Bytes, purpose: Purpose) -> Result<Analysis, PoolError>;
    /// A capture's frames, in order; the outer error when the burst could not be queued at all.
    async fn analyze_many(
        &self,
        frames: Vec<Bytes>,
        purpose: Purpose,
    ) -> Result<Vec<Result<Analysis, PoolError>>, PoolError> {
        let mut out = Vec::with_capacity(frames.len());
        for frame in frames {
            out.push(self.analyze(frame, purpose).await);
        }
        Ok(out)
    }
    fn queue_depth(&self) -> usize;
    fn shutdown(&self);
}

#[async_trait]
impl Inference for InferencePool {
    async fn analyze(&self, image: Bytes, purpose: Purpose) -> Result<Analysis, PoolError> {
        InferencePool::analyze(self, image, purpose).await
    }

    async fn analyze_many(
        &self,
        frames: Vec<Bytes>,
        purpose: Purpose,
    ) -> Result<Vec<Result<Analysis, PoolError>>, PoolError> {
        InferencePool::analyze_many(self, frames, purpose).await
    }

    fn queue_depth(&self) -> usize {
        InferencePool::queue_depth(self)
    }

    fn shutdown(&self) {
        InferencePool::shutdown(self)
    }
}
