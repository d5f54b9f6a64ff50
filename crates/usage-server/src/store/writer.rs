//! Group commit: one writer task collects the registrations that arrive together
//! and commits them in one transaction, then answers each. An event is
//! acknowledged only after its transaction is durable; a failed transaction fails
//! only the requests in it.
//!
//! With SQLite every commit is an fsync (WAL, `synchronous = FULL`); committing
//! what arrived during the previous commit turns N fsyncs into one, which is where
//! the write throughput comes from.
//!
//! How long a batch waits: clients answered by one commit mostly send again
//! right away (keep-alive connections, a converter's queue). Committing at once
//! whatever is queued splits such clients into two cohorts that take turns, each
//! waiting for the other's commit. So a batch waits, up to the window, until as
//! many events are queued as are expected: those that queued during the last
//! commit plus those it answered. When fewer come (a client went away), the wait
//! ends at the window and the expectation drops to what came.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{NewEvent, Recorded, Store, StoreError};

/// How batches are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// The most events one transaction holds.
    pub max_events: usize,
    /// The longest the writer waits for the events it expects (see the module
    /// documentation) after the first of a batch. Zero commits whatever is queued
    /// at once.
    pub window: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { max_events: 512, window: Duration::from_millis(1) }
    }
}

struct Job {
    event: NewEvent,
    reply: oneshot::Sender<Result<Recorded, StoreError>>,
}

/// The handle requests use to record events; cheap to clone. The writer task
/// ends when every handle is dropped, after committing what it was given.
#[derive(Debug, Clone)]
pub struct EventWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("event", &self.event).finish_non_exhaustive()
    }
}

impl EventWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Store, options: BatchOptions) -> EventWriter {
        let (jobs, queue) = mpsc::channel(options.max_events.max(1) * 8);
        tokio::spawn(write_batches(store, options, queue));
        EventWriter { jobs }
    }

    /// Records one event and waits until its transaction has committed.
    ///
    /// # Errors
    /// The batch's database failure (nothing of it was stored), or
    /// [`StoreError::WriterStopped`] when the writer is gone.
    pub async fn record(&self, event: NewEvent) -> Result<Recorded, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { event, reply }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn write_batches(store: Store, options: BatchOptions, mut queue: mpsc::Receiver<Job>) {
    let max = options.max_events.max(1);
    let mut batch: Vec<Job> = Vec::with_capacity(max);
    // Events expected in the next batch: queued during the last commit, plus
    // those the last commit answered.
    let mut expected = 1;
    while let Some(first) = queue.recv().await {
        batch.push(first);
        let deadline = Instant::now() + options.window;
        let wanted = expected.clamp(1, max);
        while batch.len() < max {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) if batch.len() >= wanted || options.window.is_zero() => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, queue.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        // The events move to the store and the replies stay here: nothing is copied.
        let (events, replies): (Vec<NewEvent>, Vec<_>) = batch.drain(..).map(|job| (job.event, job.reply)).unzip();
        let started = std::time::Instant::now();
        let count = events.len();
        let result = store.record_events(events).await;
        expected = count + queue.len();
        tracing::debug!(events = count, micros = started.elapsed().as_micros() as u64, "batch committed");
        match result {
            Ok(recorded) => {
                for (reply, recorded) in replies.into_iter().zip(recorded) {
                    let _ = reply.send(Ok(recorded));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, events = replies.len(), "a batch of events could not be stored");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::BatchFailed(err.to_string())));
                }
            }
        }
    }
}
