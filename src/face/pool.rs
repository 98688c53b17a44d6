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

/// One photo, or a run of a capture's frames that one worker analyses in order.
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
    /// Frames of a capture, each with what it is run through.
    Frames {
        needs: Vec<FrameWork>,
        reply: Reply<CaptureFrame>,
    },
}

impl Work {
    fn caller_gone(&self) -> bool {
        match self {
            Work::Photos { reply, .. } => reply.is_closed(),
            Work::Frames { reply, .. } => reply.is_closed(),
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

    /// A capture's frames, in order, `needs[i]` saying what frame i is run through: split into one
    /// run per worker, so a burst of fifty frames takes as many queue places as there are workers
    /// (not fifty, which would overflow the queue that protects latency) and every worker shares
    /// the work. The runs are balanced by cost, as identified frames cost several located ones.
    pub async fn analyze_frames(
        &self,
        frames: Vec<Bytes>,
        needs: Vec<FrameWork>,
    ) -> Result<Vec<Result<CaptureFrame, PoolError>>, PoolError> {
        let runs = balanced_runs(&needs, self.size.max(1));
        let mut answers = Vec::new();
        let mut frames = frames.into_iter();
        let mut needs = needs.into_iter();
        for len in runs {
            let (reply, answer) = oneshot::channel();
            let work = Work::Frames { needs: needs.by_ref().take(len).collect(), reply };
            self.submit(frames.by_ref().take(len).collect(), work)?;
            answers.push(answer);
        }
        let mut out = Vec::new();
        for answer in answers {
            out.extend(await_all(answer).await?);
        }
        Ok(out)
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

/// Lengths of consecutive runs, one per worker at most, each of about the same cost (the recognizer
/// and MiniFASNet are most of a frame's cost: [`FrameWork::cost`]).
fn balanced_runs(needs: &[FrameWork], workers: usize) -> Vec<usize> {
    if needs.is_empty() {
        return Vec::new();
    }
    let workers = workers.min(needs.len());
    let total: usize = needs.iter().map(|w| w.cost()).sum();
    let mut runs = Vec::with_capacity(workers);
    let (mut len, mut spent, mut done) = (0, 0, 0);
    for need in needs {
        len += 1;
        spent += need.cost();
        if runs.len() + 1 < workers && spent * workers >= total * (runs.len() + 1) {
            runs.push(len);
            done += len;
            len = 0;
        }
    }
    runs.push(needs.len() - done);
    runs.retain(|&n| n > 0);
    runs
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
            Work::Frames { needs, reply } => {
                let mut result = Vec::with_capacity(bytes.len());
                for (b, need) in bytes.iter().zip(needs) {
                    // The caller gave up mid-run (its request timed out or was dropped): the rest
                    // of its frames are not decoded for nobody.
                    if reply.is_closed() {
                        break;
                    }
                    result.push(guarded(|| engine.analyze_frame(b, need)));
                }
                let _ = reply.send(result);
            }
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
    use super::balanced_runs;
    use crate::face::frame::FrameWork;

    #[test]
    fn runs_cover_every_frame_in_order_and_share_the_cost() {
        let needs: Vec<FrameWork> = (0..78)
            .map(|i| match i {
                _ if i % 12 == 0 => FrameWork::Score,
                _ if i % 4 == 0 || i < 10 => FrameWork::Identify,
                _ => FrameWork::Locate,
            })
            .collect();
        let runs = balanced_runs(&needs, 2);
        assert_eq!(runs.iter().sum::<usize>(), 78);
        assert_eq!(runs.len(), 2);
        // Shared by cost, within a frame either side.
        let cost = |frames: &[FrameWork]| frames.iter().map(|w| w.cost()).sum::<usize>();
        let (first, second) = (cost(&needs[..runs[0]]), cost(&needs[runs[0]..]));
        assert!(first.abs_diff(second) <= 10, "{first} against {second}");
        assert_eq!(balanced_runs(&[FrameWork::Score], 4), vec![1]);
        assert!(balanced_runs(&[], 2).is_empty());
        assert_eq!(balanced_runs(&[FrameWork::Locate; 5], 8).iter().sum::<usize>(), 5);
    }
}
