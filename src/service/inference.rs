//! The seam between the service and the inference workers: the service needs "analyse this photo"
//! and a few operational facts, not the pool's threads and channels. Tests of the domain logic plug
//! in their own implementation (a refusing one, say) without models.

use async_trait::async_trait;
use bytes::Bytes;

use crate::face::frame::{CaptureFrame, FrameWork, Identity};
use crate::face::{Analysis, InferencePool, PoolError, Purpose};

#[async_trait]
pub trait Inference: Send + Sync + 'static {
    async fn analyze(&self, image: Bytes, purpose: Purpose) -> Result<Analysis, PoolError>;
    /// A capture's frames, in order, each run through what `needs` says; the outer error when the
    /// burst could not be queued at all. By default every frame is analysed in full and what was
    /// not asked for is dropped.
    async fn analyze_frames(
        &self,
        frames: Vec<Bytes>,
        needs: Vec<FrameWork>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        let mut out = Vec::with_capacity(frames.len());
        for (frame, need) in frames.into_iter().zip(needs) {
            let analysed = self.analyze(frame, Purpose::Frame).await.map(CaptureFrame::from);
            out.push(analysed.map(|f| {
                let identity = f.identity.filter(|_| need.identifies());
                let identity = identity.map(|id| Identity { liveness: id.liveness.filter(|_| need.scores()), ..id });
                CaptureFrame { identity, ..f }
            }));
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
        needs: Vec<FrameWork>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        InferencePool::analyze_frames(self, frames, needs).await
    }

    fn queue_depth(&self) -> usize {
        InferencePool::queue_depth(self)
    }

    fn shutdown(&self) {
        InferencePool::shutdown(self)
    }
}
