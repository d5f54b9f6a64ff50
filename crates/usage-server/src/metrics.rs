//! Prometheus metrics, served on their own listener (`--metrics-addr`), never on
//! the public port. Every label has a bounded set of values: a route template,
//! a status code, an event kind, a classification, an account kind, a reason.
//! Never a key, an origin or an address.
//!
//! Without `--metrics-addr` no recorder is installed and every call here is a
//! no-op of the `metrics` crate.

use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use usage_core::{Classification, EventKind};

const HTTP_REQUESTS: &str = "usage_http_requests_total";
const HTTP_DURATION: &str = "usage_http_request_duration_seconds";
const EVENTS_STORED: &str = "usage_events_stored_total";
const BATCH_EVENTS: &str = "usage_writer_batch_events";
const COMMIT_DURATION: &str = "usage_writer_commit_duration_seconds";
const WRITER_QUEUE: &str = "usage_writer_queue_depth";
const REFUSED: &str = "usage_refused_total";
const DATABASE_ERRORS: &str = "usage_database_errors_total";
const WEBHOOK_ATTEMPTS: &str = "usage_webhook_attempts_total";
const WEBHOOK_BACKLOG: &str = "usage_webhook_backlog";
const BUILD_INFO: &str = "usage_build_info";
const DISK_FREE: &str = "usage_database_disk_free_bytes";

/// Latency buckets, in seconds: a commit's fsync is a millisecond or two, a slow
/// export many seconds.
const SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Events per committed batch (at most `--batch-max-events`).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0];

/// Installs the global recorder and describes every metric.
///
/// # Errors
/// When a recorder is already installed in this process, or a bucket list is invalid.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_EVENTS.into()), BATCH_BUCKETS)?
        .install_recorder()?;
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template, method and status");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's head to its answer's head, by route template"
    );
    describe_counter!(
        EVENTS_STORED,
        "Events newly stored (repeats of an eventId excluded), by event kind, classification and account kind"
    );
    describe_histogram!(BATCH_EVENTS, Unit::Count, "Events per group-commit transaction");
    describe_histogram!(COMMIT_DURATION, Unit::Seconds, "Time to commit one batch of events");
    describe_gauge!(WRITER_QUEUE, Unit::Count, "Registration requests waiting for the event writer");
    describe_counter!(
        REFUSED,
        "Requests and connections refused, or origins folded, by rate limits and caps, by reason"
    );
    describe_counter!(DATABASE_ERRORS, "Database operations that failed, by where they failed");
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook delivery attempts, by outcome");
    describe_gauge!(WEBHOOK_BACKLOG, Unit::Count, "Webhook deliveries not yet delivered nor given up");
    describe_gauge!(BUILD_INFO, "Always 1; the labels say which build runs");
    describe_gauge!(DISK_FREE, Unit::Bytes, "Bytes free for unprivileged use on the SQLite database's file system");
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// `GET /metrics` in Prometheus' text format, for the metrics listener.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            std::future::ready(
                ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text)
                    .into_response(),
            )
        }),
    )
}

/// The free space just measured on the SQLite database's file system.
pub fn disk_free(bytes: u64) {
    gauge!(DISK_FREE).set(bytes as f64);
}

/// One HTTP request answered.
pub fn request_answered(route: &'static str, method: &'static str, status: u16, elapsed: Duration) {
    counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status_label(status)).increment(1);
    histogram!(HTTP_DURATION, "route" => route).record(elapsed.as_secs_f64());
}

/// One event newly stored; `account` is `licence`, `unlicensed`, `free-license`
/// or `not-allowed` (a key used where it is not allowed).
pub fn event_stored(kind: EventKind, classification: Classification, account: &'static str) {
    counter!(EVENTS_STORED, "event" => kind.as_str(), "classification" => classification.as_str(), "account" => account)
        .increment(1);
}

/// One group-commit transaction, committed or not.
pub fn batch_written(events: usize, elapsed: Duration, queued: usize) {
    histogram!(BATCH_EVENTS).record(events as f64);
    histogram!(COMMIT_DURATION).record(elapsed.as_secs_f64());
    gauge!(WRITER_QUEUE).set(queued as f64);
}

/// Why something was refused or folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unpaid events over `--rate-limit-per-address`.
    RateLimitPerAddress,
    /// Licensed events over `--rate-limit-per-key`.
    RateLimitPerKey,
    /// A connection over `--max-connections` or `--max-connections-per-address`.
    Connections,
    /// An event's new origin over `--max-new-origins-per-day`, counted without it.
    NewOriginCap,
    /// A body over its size limit.
    BodyTooLarge,
}

/// One refusal.
pub fn refused(reason: Refusal) {
    let reason = match reason {
        Refusal::RateLimitPerAddress => "rate_limit_per_address",
        Refusal::RateLimitPerKey => "rate_limit_per_key",
        Refusal::Connections => "connections",
        Refusal::NewOriginCap => "new_origin_cap",
        Refusal::BodyTooLarge => "body_too_large",
    };
    counter!(REFUSED, "reason" => reason).increment(1);
}

/// One failed database operation: `source` is `writer`, `request` or `webhooks`.
pub fn database_error(source: &'static str) {
    counter!(DATABASE_ERRORS, "source" => source).increment(1);
}

/// One webhook attempt: `delivered`, `retrying` or `failed` (given up).
pub fn webhook_attempt(outcome: &'static str) {
    counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
}

/// Deliveries still to make.
pub fn webhook_backlog(pending: i64) {
    gauge!(WEBHOOK_BACKLOG).set(pending as f64);
}

/// A status code as a label: a fixed string per code, so no label is built per request.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        // Codes this server does not answer itself: their class.
        other if other < 200 => "1xx",
        other if other < 300 => "2xx",
        other if other < 400 => "3xx",
        other if other < 500 => "4xx",
        _ => "5xx",
    }
}
