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

type Reply<T> = oneshot::Sender<Vec<Result<T, FaceError>>>;
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

/// A capture's frames being analysed: each worker holding one of its jobs takes the next frame
/// not yet taken, the costliest first (identified and scored frames before located ones), until
/// none is left; the worker that finishes the last frame sends every answer, in frame order. So
/// the workers finish together whatever each frame really costs, where runs split in advance by
/// an estimate of the cost left one worker idle while the other finished its run.
struct Capture<T> {
    frames: Vec<Bytes>,
    needs: Vec<FrameWork>,
    /// Frame numbers in the order they are taken.
    order: Vec<usize>,
    next: AtomicUsize,
    answers: Mutex<Vec<Option<Result<T, FaceError>>>>,
    left: AtomicUsize,
    reply: Mutex<Option<Reply<T>>>,
}

impl<T> Capture<T> {
    fn new(frames: Vec<Bytes>, needs: Vec<FrameWork>, reply: Reply<T>) -> Self {
        let mut order: Vec<usize> = (0..frames.len()).collect();
        // Stable: frames of one cost keep their order.
        order.sort_by_key(|&i| std::cmp::Reverse(needs[i].cost()));
        let n = frames.len();
        Self {
            frames,
            needs,
            order,
            next: AtomicUsize::new(0),
            answers: Mutex::new((0..n).map(|_| None).collect()),
            left: AtomicUsize::new(n),
            reply: Mutex::new(Some(reply)),
        }
    }

    fn caller_gone(&self) -> bool {
        self.reply.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|r| r.is_closed())
    }

    /// Analyses frames until none is left to take, or the caller is gone (its request timed out or
    /// was dropped: the rest are not decoded for nobody).
    fn share(&self, mut analyse: impl FnMut(&Bytes, FrameWork) -> Result<T, FaceError>) {
        loop {
            if self.caller_gone() {
                return;
            }
            let Some(&i) = self.order.get(self.next.fetch_add(1, Ordering::Relaxed)) else { return };
            let answer = guarded(|| analyse(&self.frames[i], self.needs[i]));
            self.answers.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(answer);
            if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let answers = std::mem::take(&mut *self.answers.lock().unwrap_or_else(|e| e.into_inner()));
                if let Some(reply) = self.reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    // Every frame was answered: the last one to finish holds them all.
                    let _ = reply.send(answers.into_iter().flatten().collect());
                }
                return;
            }
        }
    }
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

/// A decoder bug on hostile input must cost one request, not a worker thread.
fn guarded<T>(run: impl FnOnce() -> Result<T, FaceError>) -> Result<T, FaceError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(FaceError::Inference(InferenceError::Panicked)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use tokio::sync::oneshot;

    use super::Capture;
    use crate::face::frame::FrameWork;

    fn needs() -> Vec<FrameWork> {
        (0..78)
            .map(|i| match i {
                _ if i % 12 == 0 => FrameWork::Score,
                _ if i % 4 == 0 || i < 10 => FrameWork::Identify,
                _ => FrameWork::Locate,
            })
            .collect()
    }

    #[test]
    fn the_costliest_frames_are_taken_first_in_frame_order_within_a_cost() {
        let (reply, _answer) = oneshot::channel::<Vec<Result<usize, _>>>();
        let capture = Capture::new(vec![Bytes::new(); 78], needs(), reply);
        let costs: Vec<usize> = capture.order.iter().map(|&i| capture.needs[i].cost()).collect();
        assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
        let scored: Vec<usize> =
            capture.order.iter().copied().filter(|&i| capture.needs[i] == FrameWork::Score).collect();
        assert!(scored.windows(2).all(|w| w[0] < w[1]) && scored[0] == 0, "{scored:?}");
        assert_eq!(capture.order.len(), 78);
    }

    #[test]
    fn workers_sharing_a_capture_answer_every_frame_once_in_frame_order() {
        let (reply, answer) = oneshot::channel();
        let frames: Vec<Bytes> = (0..78u8).map(|i| Bytes::from(vec![i])).collect();
        let capture = Arc::new(Capture::new(frames, needs(), reply));
        let runs = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (capture, runs) = (capture.clone(), runs.clone());
                std::thread::spawn(move || {
                    capture.share(|bytes, _| {
                        runs.fetch_add(1, Ordering::Relaxed);
                        Ok(usize::from(bytes[0]))
                    })
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let answers: Vec<usize> = answer.blocking_recv().unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..78).collect::<Vec<_>>());
        assert_eq!(runs.load(Ordering::Relaxed), 78, "each frame analysed once");
    }

    #[test]
    fn a_caller_that_is_gone_stops_the_work() {
        let (reply, answer) = oneshot::channel::<Vec<Result<usize, _>>>();
        let capture = Capture::new(vec![Bytes::new(); 10], vec![FrameWork::Locate; 10], reply);
        drop(answer);
        let mut runs = 0;
        capture.share(|_, _| {
            runs += 1;
            Ok(0)
        });
        assert_eq!(runs, 0);
    }
}
