//! Inference off the async runtime: worker threads that each own an engine, fed by a bounded queue.
//!
//! `Session::run` needs `&mut self`, so sessions cannot be shared; one engine per thread avoids
//! locks on the hot path. A full queue is answered at once with [`PoolError::Overloaded`]: under
//! overload, fast refusals keep latency flat where an unbounded queue would let it grow without limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::Span;

use super::engine::{Analysis, EngineSpec, FaceEngine, FaceError};
use super::frame::{CaptureFrame, FrameWork};
use super::policy::Purpose;
use super::runtime::ModelError;

mod capture;

use capture::{Capture, Reply, guarded};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("all inference workers are busy and the queue is full")]
    Overloaded,
    #[error("the inference workers have stopped")]
    Stopped,
    #[error(transparent)]
    Face(#[from] FaceError),
}

type Answer<T> = oneshot::Receiver<Vec<Result<T, FaceError>>>;

/// One photo, or a worker's share of a capture's frames.
struct Job {
    bytes: Vec<Bytes>,
    work: Work,
    span: Span,
}

enum Work {
    Photos {
        purpose: Purpose,
        reply: Reply<Analysis>,
    },
    /// A capture's frames, shared by every worker that picks up one of its jobs.
    Frames(Arc<Capture<CaptureFrame>>),
}

impl Work {
    fn caller_gone(&self) -> bool {
        match self {
            Work::Photos { reply, .. } => reply.is_closed(),
            Work::Frames(capture) => capture.caller_gone(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub workers: usize,
    pub queue: usize,
}

pub struct InferencePool {
    sender: Mutex<Option<SyncSender<Job>>>,
    queued: Arc<AtomicUsize>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    size: usize,
}

impl InferencePool {
    /// Loads and warms one engine per worker before returning, so a model that cannot load or run
    /// stops startup instead of the first request.
    pub fn start(spec: &EngineSpec, settings: PoolSettings) -> Result<Self, ModelError> {
        let (sender, receiver) = sync_channel::<Job>(settings.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for index in 0..settings.workers.max(1) {
            let mut engine = FaceEngine::load(spec)?;
            engine.warm_up().map_err(ModelError::WarmUp)?;
            let (receiver, queued) = (receiver.clone(), queued.clone());
            let handle = std::thread::Builder::new()
                .name(format!("inference-{index}"))
                .spawn(move || work(engine, receiver, queued))
                .map_err(ModelError::Thread)?;
            workers.push(handle);
        }
        let size = workers.len();
        Ok(Self { sender: Mutex::new(Some(sender)), queued, workers: Mutex::new(workers), size })
    }

    pub fn workers(&self) -> usize {
        self.size
    }

    /// Jobs accepted but not yet picked up by a worker.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub async fn analyze(&self, bytes: Bytes, purpose: Purpose) -> Result<Analysis, PoolError> {
        let (reply, answer) = oneshot::channel();
        self.submit(vec![bytes], Work::Photos { purpose, reply })?;
        let mut results = answer.await.map_err(|_| PoolError::Stopped)?;
        Ok(results.pop().ok_or(PoolError::Stopped)??)
    }

    /// A capture's frames, in order, `needs[i]` saying what frame i is run through: one job per
    /// worker (at most one per frame), so a burst of fifty frames takes as many queue places as
    /// there are workers (not fifty, which would overflow the queue that protects latency), and
    /// the workers that pick them up share the frames as they go ([`Capture`]).
    pub async fn analyze_frames(
        &self,
        frames: Vec<Bytes>,
        needs: Vec<FrameWork>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = self.size.max(1).min(frames.len());
        let (reply, answer) = oneshot::channel();
        let capture = Arc::new(Capture::new(frames, needs, reply));
        for _ in 0..jobs {
            self.submit(Vec::new(), Work::Frames(capture.clone()))?;
        }
        // The jobs hold the capture now: when the pool stops before they finish, dropping them
        // drops the reply, and the caller hears `Stopped`.
        drop(capture);
        await_all(answer).await
    }

    fn submit(&self, bytes: Vec<Bytes>, work: Work) -> Result<(), PoolError> {
        let job = Job { bytes, work, span: Span::current() };
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let sender = guard.as_ref().ok_or(PoolError::Stopped)?;
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = sender.try_send(job) {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(match err {
                TrySendError::Full(_) => PoolError::Overloaded,
                TrySendError::Disconnected(_) => PoolError::Stopped,
            });
        }
        Ok(())
    }

    /// Closes the queue and waits for the workers to finish what they hold.
    pub fn shutdown(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in workers {
            let _ = handle.join();
        }
    }
}

async fn await_all<T>(answer: Answer<T>) -> Result<Vec<Result<T, PoolError>>, PoolError> {
    Ok(answer.await.map_err(|_| PoolError::Stopped)?.into_iter().map(|r| r.map_err(PoolError::from)).collect())
}

impl Drop for InferencePool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn work(mut engine: FaceEngine, receiver: Arc<Mutex<Receiver<Job>>>, queued: Arc<AtomicUsize>) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        let Ok(job) = job else { return };
        queued.fetch_sub(1, Ordering::Relaxed);
        // A caller that gave up (timeout, disconnect) no longer needs the answer: skip the work.
        if job.work.caller_gone() {
            continue;
        }
        let Job { bytes, work, span } = job;
        let _entered = span.enter();
        match work {
            Work::Photos { purpose, reply } => {
                let _ = reply.send(bytes.iter().map(|b| guarded(|| engine.analyze(b, purpose))).collect());
            }
            Work::Frames(capture) => capture.share(|bytes, need| engine.analyze_frame(bytes, need)),
        }
    }
}
