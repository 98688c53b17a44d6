//! A capture's frames shared by the workers that pick up its jobs, and the guard that turns a
//! panic on hostile input into one failed frame.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::face::engine::FaceError;
use crate::face::frame::FrameWork;
use crate::face::runtime::InferenceError;

/// Where a job's answers go: one per photo or frame, in order.
pub(super) type Reply<T> = oneshot::Sender<Vec<Result<T, FaceError>>>;

/// A capture's frames being analysed: each worker holding one of its jobs takes the next frame
/// not yet taken, the costliest first (identified and scored frames before located ones), until
/// none is left; the worker that finishes the last frame sends every answer, in frame order. So
/// the workers finish together whatever each frame really costs, where runs split in advance by
/// an estimate of the cost left one worker idle while the other finished its run.
pub(super) struct Capture<T> {
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
    pub(super) fn new(frames: Vec<Bytes>, needs: Vec<FrameWork>, reply: Reply<T>) -> Self {
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

    pub(super) fn caller_gone(&self) -> bool {
        self.reply.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|r| r.is_closed())
    }

    /// Analyses frames until none is left to take, or the caller is gone (its request timed out or
    /// was dropped: the rest are not decoded for nobody).
    pub(super) fn share(&self, mut analyse: impl FnMut(&Bytes, FrameWork) -> Result<T, FaceError>) {
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

/// A decoder bug on hostile input must cost one request, not a worker thread.
pub(super) fn guarded<T>(run: impl FnOnce() -> Result<T, FaceError>) -> Result<T, FaceError> {
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
