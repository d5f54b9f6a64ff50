//! Sending webhook messages: every server runs one sender. It takes due
//! deliveries from the database under a lease (PostgreSQL's `SKIP LOCKED` keeps
//! servers sharing a database from taking the same one), signs and POSTs each,
//! and records the outcome while its lease holds. A delivery whose server died
//! mid-attempt is taken again once its lease runs out: at least once, with the
//! same `webhook-id`, and one attempt at a time.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::metrics;
use crate::store::{now_ms, AttemptOutcome, ClaimedDelivery, Store};
use crate::telemetry::LogThrottle;
use crate::webhooks::{render_body, retry_delay_ms, sign, EventType};

/// How often a sender looks for due deliveries when it knows of none sooner
/// (messages written by another server, an endpoint enabled again).
const POLL: Duration = Duration::from_secs(1);
/// The shortest wait between looks, so that a delivery another server is taking
/// right now is not looked for in a busy loop.
const MIN_WAIT: Duration = Duration::from_millis(50);
/// Deliveries one sender attempts at once.
const BATCH: i64 = 16;

/// While the database is unavailable every look fails: one line a minute says so.
static LOOK_FAILURES: LogThrottle = LogThrottle::per_minute();

/// How the sender attempts deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderOptions {
    /// How long an endpoint has to answer an attempt.
    pub timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions { timeout: Duration::from_secs(15) }
    }
}

impl SenderOptions {
    /// How long a taken delivery stays with its server: long enough for the
    /// attempt and recording it, short enough that a crashed server's
    /// deliveries are soon taken by another (or by itself, restarted).
    pub fn lease(self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// A running sender; [`SenderHandle::stop`] lets its attempts finish.
#[derive(Debug)]
pub struct SenderHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SenderHandle {
    /// Starts a sender on the current Tokio runtime.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn spawn(store: Store, options: SenderOptions) -> Result<SenderHandle, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("usage-server/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
            .build()?;
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(send_until_stopped(store, client, options, stopping));
        Ok(SenderHandle { stop, task })
    }

    /// Takes no more deliveries and waits for the attempts under way (at most
    /// the timeout); what they did not record is taken again after its lease.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn send_until_stopped(
    store: Store,
    client: reqwest::Client,
    options: SenderOptions,
    mut stopping: watch::Receiver<bool>,
) {
    let lease_ms = i64::try_from(options.lease().as_millis()).unwrap_or(i64::MAX / 2);
    while !*stopping.borrow() {
        let due = match store.webhook_queue().await {
            Ok(queue) => {
                metrics::webhook_backlog(queue.pending);
                queue.next_due_ms
            }
            Err(err) => {
                if let Some(held_back) = LOOK_FAILURES.admit() {
                    tracing::warn!(error = %err, held_back, "cannot look for due webhook deliveries; will retry");
                }
                None
            }
        };
        let now = now_ms();
        if due.is_some_and(|due| due <= now) {
            match store.claim_webhook_deliveries(now, now + lease_ms, BATCH).await {
                Ok(claimed) if !claimed.is_empty() => {
                    attempt_all(&store, &client, options, claimed).await;
                    continue;
                }
                Ok(_) => {}
                Err(err) => {
                    if let Some(held_back) = LOOK_FAILURES.admit() {
                        tracing::warn!(error = %err, held_back, "cannot take due webhook deliveries; will retry");
                    }
                }
            }
        }
        let until_due = due.map_or(POLL, |due| Duration::from_millis(u64::try_from(due - now).unwrap_or(0)));
        tokio::select! {
            () = tokio::time::sleep(until_due.clamp(MIN_WAIT, POLL)) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Attempts `claimed` at once and records each outcome.
async fn attempt_all(store: &Store, client: &reqwest::Client, options: SenderOptions, claimed: Vec<ClaimedDelivery>) {
    let mut attempts = JoinSet::new();
    for delivery in claimed {
        let (store, client) = (store.clone(), client.clone());
        attempts.spawn(async move {
            let outcome = attempt(&client, options, &delivery).await;
            metrics::webhook_attempt(match (&outcome.error, outcome.next_attempt_at_ms) {
                (None, _) => "delivered",
                (Some(_), Some(_)) => "retrying",
                (Some(_), None) => "failed",
            });
            match &outcome.error {
                None => tracing::debug!(message_id = %delivery.message_id, "webhook delivered"),
                Some(error) if outcome.next_attempt_at_ms.is_none() => tracing::warn!(
                    message_id = %delivery.message_id, attempts = delivery.attempts, %error,
                    "webhook delivery failed for good"
                ),
                Some(error) => tracing::info!(
                    message_id = %delivery.message_id, attempts = delivery.attempts, %error,
                    "webhook attempt failed; will retry"
                ),
            }
            if let Err(err) = store.finish_webhook_attempt(&outcome).await {
                tracing::warn!(error = %err, message_id = %delivery.message_id,
                    "cannot record a webhook attempt; it is made again when its lease runs out");
            }
        });
    }
    while attempts.join_next().await.is_some() {}
}

/// One signed POST of `delivery`'s message.
async fn attempt(client: &reqwest::Client, options: SenderOptions, delivery: &ClaimedDelivery) -> AttemptOutcome {
    let attempted_at_ms = now_ms();
    let failed = |status_code: Option<u16>, error: String| AttemptOutcome {
        delivery_id: delivery.id,
        leased_until_ms: delivery.leased_until_ms,
        attempted_at_ms,
        status_code,
        error: Some(error),
        next_attempt_at_ms: retry_delay_ms(delivery.attempts).map(|delay| attempted_at_ms + delay),
    };
    let Some(event_type) = EventType::parse(&delivery.event_type) else {
        let error = format!("`{}` is not an event type this version knows", delivery.event_type);
        return AttemptOutcome { next_attempt_at_ms: None, ..failed(None, error) };
    };
    let body = render_body(event_type, delivery.created_at_ms, delivery.licence_id, &delivery.data);
    let timestamp = attempted_at_ms.div_euclid(1000);
    let signature = match sign(&delivery.secret, &delivery.message_id, timestamp, &body) {
        Ok(signature) => signature,
        Err(err) => return AttemptOutcome { next_attempt_at_ms: None, ..failed(None, err.to_string()) },
    };
    let sent = client
        .post(&delivery.url)
        .header("webhook-id", &delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => AttemptOutcome {
            status_code: Some(answer.status().as_u16()),
            error: None,
            next_attempt_at_ms: None,
            ..failed(None, String::new())
        },
        Ok(answer) => {
            let status = answer.status();
            failed(Some(status.as_u16()), format!("the endpoint answered {status}, not 2xx"))
        }
        Err(err) if err.is_timeout() => {
            failed(None, format!("the endpoint did not answer within {} s", options.timeout.as_secs()))
        }
        Err(err) if err.is_connect() => failed(None, format!("cannot connect to the endpoint: {}", cause(&err))),
        Err(err) => failed(None, format!("the request failed: {}", cause(&err))),
    }
}

/// The innermost cause of a request's failure, without the URL (it may carry a token).
fn cause(err: &reqwest::Error) -> String {
    let Some(mut source) = std::error::Error::source(err) else { return "no cause given".to_owned() };
    while let Some(inner) = source.source() {
        source = inner;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_an_attempt() {
        let options = SenderOptions { timeout: Duration::from_secs(2) };
        assert!(options.lease() > options.timeout * 2);
    }
}
