//! The seam between the service and the inference workers: the service needs "analyse this photo"
//! and a few operational facts, not the pool's threads and channels. Tests of the domain logic plug
//! in their own implementation (a refusing one, say) without models.

use async_trait::async_trait;
use bytes::Bytes;

use crate::face::frame::CaptureFrame;
use crate::face::{Analysis, InferencePool, PoolError, Purpose};

#[async_trait]
pub trait Inference: Send + Sync + 'static {
    async fn analyze(&self, image: Bytes, purpose: Purpose) -> Result<Analysis, PoolError>;
    /// A capture's frames, in order, identified where `identity` says; the outer error when the
    /// burst could not be queued at all. By default every frame is analysed in full.
    async fn analyze_frames(
        &self,
        frames: Vec<Bytes>,
        identity: Vec<bool>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        let mut out = Vec::with_capacity(frames.len());
        for (frame, identify) in frames.into_iter().zip(identity) {
            let analysed = self.analyze(frame, Purpose::Frame).await.map(CaptureFrame::from);
            out.push(analysed.map(|f| if identify { f } else { CaptureFrame { identity: None, ..f } }));
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

    async fn analyze_frames(
        &self,
        frames: Vec<Bytes>,
        identity: Vec<bool>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        InferencePool::analyze_frames(self, frames, identity).await
    }

    fn queue_depth(&self) -> usize {
        InferencePool::queue_depth(self)
    }

    fn shutdown(&self) {
        InferencePool::shutdown(self)
    }
}
