//! The page's outbox: every registration is kept in IndexedDB (pages and
//! workers; memory in Node or where IndexedDB fails) from before its first
//! attempt until the server has answered it, re-sent when the module starts on a
//! later view, sent at once with `keepalive` when the page is hidden or closed,
//! and on `flush()`. Registrations made in the same turn of the event loop (a
//! batch converter finishing many files) go out together, in batches.
//!
//! The rules (bounds, batches, which answers settle, what is re-sent) are
//! `usage_client::queue`; here: `store` (IndexedDB), `turn` (the end-of-turn
//! task), `ledger` (what this view keeps), `sender` and `lifecycle` (start and
//! page hide).

mod ledger;
mod lifecycle;
mod sender;
mod store;
mod turn;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use usage_client::answers::Registered;
use usage_client::config::current_config;
use usage_client::queue::{everything_pending, Pending};
use usage_client::request::PreparedRegistration;
use usage_client::retry::RetryPolicy;
use usage_client::TelemetryError;
use wasm_bindgen_futures::JsFuture;

use self::ledger::{Backend, Ledger, Ready};
use self::store::{indexed_db, Database};
use self::turn::EndOfTurn;
use crate::environment::{now_ms, page_origin};
use crate::tasks::spawn;

thread_local! {
    static OUTBOX: Rc<Ledger> = start();
}

/// Opens the outbox (once per view; every export calls this): IndexedDB is
/// opened, what earlier views left is re-sent, and the page's hide and close
/// events send what is still waiting.
pub fn ensure_started() {
    OUTBOX.with(|_| ());
}

fn outbox() -> Rc<Ledger> {
    OUTBOX.with(Rc::clone)
}

fn start() -> Rc<Ledger> {
    let ledger = Rc::new(Ledger::new(EndOfTurn::new(end_of_turn)));
    lifecycle::listen_for_hide(ledger.clone());
    let opening = ledger.clone();
    spawn(async move {
        let backend = match indexed_db() {
            // Node keeps memory by design; a page or worker without IndexedDB says so.
            None if page_origin().is_none() => Backend::Memory,
            None => {
                opening.warn_once("registrations are kept in memory only (IndexedDB is not available)");
                Backend::Memory
            }
            Some(factory) => match Database::open(&factory).await {
                Ok(database) => Backend::Indexed(database),
                Err(err) => {
                    opening.warn_once(&format!("registrations are kept in memory only ({err})"));
                    Backend::Memory
                }
            },
        };
        if opening.keep_in(backend) {
            lifecycle::resend_under_lock(opening);
        }
    });
    ledger
}

/// The end-of-turn task: what waits is written (so a save always precedes its
/// first attempt), what is ready is sent.
fn end_of_turn() {
    let ledger = outbox();
    ledger.write_now();
    let ready = ledger.take_ready();
    if !ready.is_empty() {
        spawn(sender::send_ready(ledger, ready));
    }
}

/// Delivers a registration: kept from before its first attempt until the server
/// answers it (what the retries cannot deliver now, a later view re-sends with
/// the same `eventId`), sent together with the others made in the same turn of
/// the event loop: alone to the single endpoint, or in batches.
pub async fn submit(prepared: &PreparedRegistration) -> Result<Registered, TelemetryError> {
    let request = &prepared.request;
    let pending = Pending {
        event_id: prepared.event_id.as_str().to_owned(),
        url: request.url.clone(),
        body: request.body.clone(),
        queued_at_ms: now_ms() as f64,
    };
    let ledger = outbox();
    ledger.track(pending.clone());
    let result = Rc::new(RefCell::new(None));
    let answered = Promise::new(&mut |wake, _| {
        let ready = Ready { pending: pending.clone(), policy: request.policy, result: result.clone(), wake };
        ledger.send_at_end_of_turn(ready);
    });
    let _ = JsFuture::from(answered).await;
    let outcome = result.borrow_mut().take();
    outcome.unwrap_or_else(|| {
        Err(TelemetryError::Network { url: request.url.clone(), attempts: 0, message: "not sent".into() })
    })
}

/// Sends every pending registration (this view's and earlier views') once, in
/// batches; how many the server answered and how many are still pending.
pub async fn flush() -> (usize, usize) {
    let ledger = outbox();
    let all = everything_pending(ledger.stored().await, &ledger.unanswered());
    let policy = RetryPolicy { retries: 0, ..current_config().retry };
    sender::send_within_bounds(&ledger, all, policy, true).await
}
