//! Sending pending registrations: what a turn made ready (each caller gets its
//! own result), and what is stored (re-sent, flushed, or sent as the page
//! closes), in batches, one request at a time.

use std::rc::Rc;

use usage_client::answers::{batch_results, BatchAnswer, Registered, RegistrationResult};
use usage_client::delivery::{deliver, Answer};
use usage_client::queue::{bounded, requests, result_settles, Pending, Send};
use usage_client::request::PreparedRequest;
use usage_client::retry::RetryPolicy;
use usage_client::TelemetryError;
use wasm_bindgen::JsValue;

use super::ledger::{Ledger, Ready};
use crate::environment::now_ms;
use crate::transport::FetchTransport;

/// Sends what the turn made ready, one request at a time, and hands each caller
/// its registration's result.
pub async fn send_ready(ledger: Rc<Ledger>, ready: Vec<Ready>) {
    let pending: Vec<Pending> = ready.iter().map(|r| r.pending.clone()).collect();
    for send in requests(&pending) {
        // A batch is delivered with the retry options of its first registration.
        let results = send_and_settle(&ledger, &send, ready[send.positions[0]].policy, true).await;
        for (&position, result) in send.positions.iter().zip(results) {
            let ready = &ready[position];
            *ready.result.borrow_mut() = Some(result);
            let _ = ready.wake.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Drops what is beyond the queue's bounds (one warning), then sends the rest in
/// batches, one request at a time: how many the server answered, and how many
/// are still pending.
pub async fn send_within_bounds(
    ledger: &Ledger,
    pending: Vec<Pending>,
    policy: RetryPolicy,
    keepalive: bool,
) -> (usize, usize) {
    let (kept, dropped) = bounded(pending, now_ms() as f64);
    if !dropped.is_empty() {
        for event_id in &dropped {
            ledger.answered(event_id);
        }
        ledger.write_now();
        ledger.warn_once(&format!(
            "{} unsent registrations were dropped (the queue keeps 500, for 30 days)",
            dropped.len()
        ));
    }
    let mut sent = 0;
    for send in requests(&kept) {
        let results = send_and_settle(ledger, &send, policy, keepalive).await;
        sent += results.iter().filter(|result| result_settles(result)).count();
    }
    (sent, kept.len() - sent)
}

/// Sends one request (one registration, or a batch) with `policy`, settles each
/// registration its answer settles, and returns each one's result, in order.
pub async fn send_and_settle(
    ledger: &Ledger,
    send: &Send,
    policy: RetryPolicy,
    keepalive: bool,
) -> Vec<Result<Registered, TelemetryError>> {
    let request = PreparedRequest::post_json(send.url.clone(), send.body.clone(), policy, keepalive);
    let answer = deliver(&FetchTransport, &request).await;
    let results = if send.event_ids.len() == 1 {
        vec![answer.and_then(Answer::read::<RegistrationResult>).and_then(RegistrationResult::into_result)]
    } else {
        batch_results(answer.and_then(Answer::read::<BatchAnswer>), send.event_ids.len())
    };
    for (event_id, result) in send.event_ids.iter().zip(&results) {
        if result_settles(result) {
            ledger.answered(event_id);
        }
    }
    results
}
