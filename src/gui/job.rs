//! One background job: a named worker thread, its result, live progress, messages, and
//! cancellation — written once for every task of the app.
//!
//! A [`Job`] runs `work(&Worker)` on its own thread. The worker reads the [`CancelToken`],
//! updates the shared progress `P` and sends messages `M` (each send wakes the UI); the UI
//! polls the messages with [`Job::poll`] and takes the result once with [`Job::take_result`].
//! Dropping a job cancels it. A worker that panics does not take the UI down with it: the
//! panic becomes the job's [`JobPanicked`] result (poll-promise would re-raise it on the UI
//! thread).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, TryRecvError, unbounded};
use poll_promise::Promise;

use crate::cancel::CancelToken;

/// A worker thread that ended with a panic instead of a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the background work stopped unexpectedly: {0}")]
pub struct JobPanicked(pub String);

impl JobPanicked {
    fn from_payload(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Self(message)
    }
}

impl From<JobPanicked> for String {
    fn from(panicked: JobPanicked) -> Self {
        panicked.to_string()
    }
}

/// What a job's worker holds: the cancel token, the shared progress and the message sender.
pub struct Worker<P = (), M = ()> {
    cancel: CancelToken,
    progress: Arc<P>,
    messages: Sender<M>,
    ctx: egui::Context,
}

impl<P, M> Worker<P, M> {
    /// The job's cancel token (cancelled by [`Job::cancel`] and when the job is dropped).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// The progress shared with the UI.
    pub fn progress(&self) -> &Arc<P> {
        &self.progress
    }

    /// Sends `message` to the UI and wakes it; false when the UI is gone.
    pub fn send(&self, message: M) -> bool {
        let sent = self.messages.send(message).is_ok();
        self.ctx.request_repaint();
        sent
    }

    /// Wakes the UI (e.g. after updating the progress).
    pub fn repaint(&self) {
        self.ctx.request_repaint();
    }
}

/// What [`Job::poll`] found.
#[derive(Debug)]
pub struct JobPoll<M> {
    /// Messages received, in order.
    pub messages: Vec<M>,
    /// True when the worker has ended and every message was received.
    pub finished: bool,
}

impl<M> Default for JobPoll<M> {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            finished: false,
        }
    }
}

/// A background task: its result `T`, progress `P` shared with the worker, and messages `M`
/// from it. Dropping it cancels the work.
pub struct Job<T: Send + 'static, P = (), M = ()> {
    /// `None` once the result was taken.
    promise: Option<Promise<Result<T, JobPanicked>>>,
    cancel: CancelToken,
    progress: Arc<P>,
    messages: Receiver<M>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread named `name`; wakes `ctx` when it is done.
    pub fn spawn(
        name: &str,
        ctx: &egui::Context,
        work: impl FnOnce(&Worker) -> T + Send + 'static,
    ) -> Result<Self, String> {
        Self::spawn_with(name, ctx, (), work)
    }
}

impl<T, P, M> Job<T, P, M>
where
    T: Send + 'static,
    P: Send + Sync + 'static,
    M: Send + 'static,
{
    /// Runs `work` on a thread named `name` with `progress` shared between it and the UI;
    /// wakes `ctx` after each message and when it is done.
    pub fn spawn_with(
        name: &str,
        ctx: &egui::Context,
        progress: P,
        work: impl FnOnce(&Worker<P, M>) -> T + Send + 'static,
    ) -> Result<Self, String> {
        let cancel = CancelToken::new();
        let progress = Arc::new(progress);
        let (sender, messages) = unbounded();
        let (result, promise) = Promise::new();
        let worker = Worker {
            cancel: cancel.clone(),
            progress: Arc::clone(&progress),
            messages: sender,
            ctx: ctx.clone(),
        };
        let ctx = ctx.clone();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| work(&worker)))
                    .map_err(|payload| JobPanicked::from_payload(payload.as_ref()));
                // Closes the message channel: the UI sees every message, then the end.
                drop(worker);
                result.send(outcome);
                ctx.request_repaint();
            })
            .map_err(|e| format!("could not start a worker thread: {e}"))?;
        Ok(Self {
            promise: Some(promise),
            cancel,
            progress,
            messages,
        })
    }

    /// The progress shared with the worker.
    pub fn progress(&self) -> &P {
        &self.progress
    }

    /// Asks the worker to stop as soon as possible.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes every message that has arrived, without blocking.
    pub fn poll(&self) -> JobPoll<M> {
        let mut poll = JobPoll::default();
        loop {
            match self.messages.try_recv() {
                Ok(message) => poll.messages.push(message),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    poll.finished = true;
                    break;
                }
            }
        }
        poll
    }

    /// The result once the worker is done (only once); `None` while it is still running.
    pub fn take_result(&mut self) -> Option<Result<T, JobPanicked>> {
        match self.promise.take()?.try_take() {
            Ok(value) => Some(value),
            Err(pending) => {
                self.promise = Some(pending);
                None
            }
        }
    }
}

impl<U, E, P, M> Job<Result<U, E>, P, M>
where
    Result<U, E>: Send + 'static,
    E: From<JobPanicked>,
    P: Send + Sync + 'static,
    M: Send + 'static,
{
    /// The worker's own result once it is done (only once), a panic given as its error;
    /// `None` while it is still running.
    pub fn take_outcome(&mut self) -> Option<Result<U, E>> {
        self.take_result()
            .map(|result| result.unwrap_or_else(|panicked| Err(panicked.into())))
    }
}

impl<T: Send + 'static, P, M> Drop for Job<T, P, M> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Polls `job` until its result is in (or a few seconds passed).
    fn wait<T: Send + 'static, P: Send + Sync + 'static, M: Send + 'static>(
        job: &mut Job<T, P, M>,
    ) -> Result<T, JobPanicked> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(result) = job.take_result() {
                return result;
            }
            assert!(Instant::now() < deadline, "the job did not end");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn messages_arrive_before_the_end_and_the_result_once() {
        let ctx = egui::Context::default();
        let mut job: Job<u32, (), u32> = Job::spawn_with("test", &ctx, (), |worker| {
            (1..=3).map(|n| u32::from(worker.send(n))).sum()
        })
        .expect("starts");
        assert_eq!(wait(&mut job), Ok(3));
        assert!(job.take_result().is_none(), "the result is taken once");
        let poll = job.poll();
        assert_eq!(poll.messages, [1, 2, 3]);
        assert!(poll.finished);
    }

    #[test]
    fn a_panicking_worker_gives_an_error_not_a_panic() {
        let ctx = egui::Context::default();
        let mut job: Job<()> = Job::spawn("test", &ctx, |_| panic!("boom")).expect("starts");
        assert_eq!(wait(&mut job), Err(JobPanicked("boom".into())));
    }

    #[test]
    fn dropping_a_job_cancels_its_worker() {
        let ctx = egui::Context::default();
        let (cancelled, seen) = crossbeam_channel::bounded(1);
        let job: Job<()> = Job::spawn("test", &ctx, move |worker| {
            while !worker.cancel_token().is_cancelled() {
                thread::sleep(Duration::from_millis(1));
            }
            cancelled.send(()).ok();
        })
        .expect("starts");
        drop(job);
        assert!(seen.recv_timeout(Duration::from_secs(10)).is_ok());
    }
}
