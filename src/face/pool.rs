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
use super::policy::Purpose;
use super::runtime::{InferenceError, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("all inference workers are busy and the queue is full")]
    Overloaded,
    #[error("the inference workers have stopped")]
    Stopped,
    #[error(transparent)]
    Face(#[from] FaceError),
}

type Reply = oneshot::Sender<Vec<Result<Analysis, FaceError>>>;

/// One photo, or a run of a capture's frames that one worker analyses in order.
struct Job {
    bytes: Vec<Bytes>,
    purpose: Purpose,
    span: Span,
    reply: Reply,
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
        let answer = self.submit(vec![bytes], purpose)?;
        let mut results = answer.await.map_err(|_| PoolError::Stopped)?;
        Ok(results.pop().ok_or(PoolError::Stopped)??)
    }

    /// A capture's frames, in order: split into one run per worker, so a burst of fifty frames
    /// takes as many queue places as there are workers (not fifty, which would overflow the queue
    /// that protects latency) and every worker shares the work.
    pub async fn analyze_many(
        &self,
        frames: Vec<Bytes>,
        purpose: Purpose,
    ) -> Result<Vec<Result<Analysis, PoolError>>, PoolError> {
        let per_run = frames.len().div_ceil(self.size.max(1)).max(1);
        let mut answers = Vec::new();
        let mut frames = frames.into_iter().peekable();
        while frames.peek().is_some() {
            answers.push(self.submit(frames.by_ref().take(per_run).collect(), purpose)?);
        }
        let mut out = Vec::new();
        for answer in answers {
            out.extend(answer.await.map_err(|_| PoolError::Stopped)?.into_iter().map(|r| r.map_err(PoolError::from)));
        }
        Ok(out)
    }

    fn submit(
        &self,
        bytes: Vec<Bytes>,
        purpose: Purpose,
    ) -> Result<oneshot::Receiver<Vec<Result<Analysis, FaceError>>>, PoolError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { bytes, purpose, span: Span::current(), reply };
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
        Ok(answer)
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
        if job.reply.is_closed() {
            continue;
        }
        // A decoder bug on hostile input must cost one request, not a worker thread.
        let result = job.span.in_scope(|| {
            job.bytes
                .iter()
                .map(|bytes| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.analyze(bytes, job.purpose)))
                        .unwrap_or_else(|_| Err(FaceError::Inference(InferenceError::Panicked)))
                })
                .collect::<Vec<_>>()
        });
        let _ = job.reply.send(result);
    }
}
