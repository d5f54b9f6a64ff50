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

use usage_core::EventKind;

use super::{NewEvent, Recorded, Store, StoreError};
use crate::metrics;
use crate::telemetry::LogThrottle;

/// While the disk is full every batch fails: one line a minute says so, with a count.
static BATCH_FAILURES: LogThrottle = LogThrottle::per_minute();

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

/// Events that are stored in one transaction (one request's), and where to answer.
struct Job {
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Vec<Recorded>, StoreError>>,
}

/// The handle requests use to record events; cheap to clone. The writer task
/// ends when every handle is dropped, after committing what it was given.
#[derive(Debug, Clone)]
pub struct EventWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("events", &self.events).finish_non_exhaustive()
    }
}

impl EventWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Store, options: BatchOptions) -> EventWriter {
        let (jobs, queue) = mpsc::channel(options.max_events.max(1) * 8);
        tokio::spawn(write_batches(store, options, queue));
        EventWriter { jobs }
    }

    /// Whether the writer task still takes events.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Records one event and waits until its transaction has committed.
    ///
    /// # Errors
    /// The batch's database failure (nothing of it was stored), or
    /// [`StoreError::WriterStopped`] when the writer is gone.
    pub async fn record(&self, event: NewEvent) -> Result<Recorded, StoreError> {
        let recorded = self.record_all(vec![event]).await?;
        recorded.into_iter().next().ok_or(StoreError::WriterStopped)
    }

    /// Records `events` in one transaction (never split between batches) and
    /// waits until it has committed; one result per event, in order.
    ///
    /// # Errors
    /// As [`EventWriter::record`]: nothing of `events` is stored then.
    pub async fn record_all(&self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { events, reply }).await.map_err(|_| StoreError::WriterStopped)?;
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
        let mut events = first.events.len();
        batch.push(first);
        let deadline = Instant::now() + options.window;
        let wanted = expected.clamp(1, max);
        // A job is never split; one larger than `max` makes a batch of its own.
        while events < max {
            let job = match queue.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) if events >= wanted || options.window.is_zero() => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, queue.recv()).await {
                    Ok(Some(job)) => job,
                    Ok(None) | Err(_) => break,
                },
            };
            events += job.events.len();
            batch.push(job);
        }
        // The events move to the store and the replies stay here: nothing is copied.
        let mut all = Vec::with_capacity(events);
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            replies.push((job.events.len(), job.reply));
            all.extend(job.events);
        }
        // What the metrics say of each event, once it is known to be new.
        let labels: Vec<(EventKind, &str)> = all.iter().map(|event| (event.kind, event.account.kind_name())).collect();
        let started = std::time::Instant::now();
        let result = store.record_events(all).await;
        expected = events + queue.len();
        metrics::batch_written(events, started.elapsed(), queue.len());
        tracing::debug!(events, micros = started.elapsed().as_micros() as u64, "batch committed");
        match result {
            Ok(recorded) => {
                for ((kind, account), outcome) in labels.iter().zip(&recorded) {
                    if !outcome.repeat {
                        metrics::event_stored(*kind, outcome.classification, account);
                    }
                }
                let mut recorded = recorded.into_iter();
                for (count, reply) in replies {
                    let _ = reply.send(Ok(recorded.by_ref().take(count).collect()));
                }
            }
            Err(err) => {
                metrics::database_error("writer");
                if let Some(held_back) = BATCH_FAILURES.admit() {
                    tracing::error!(error = %err, events, held_back, "a batch of events could not be stored");
                }
                let err = std::sync::Arc::new(err);
                for (_, reply) in replies {
                    let _ = reply.send(Err(StoreError::BatchFailed(err.clone())));
                }
            }
        }
    }
}
