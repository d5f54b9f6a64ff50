//! The page's outbox: every registration is kept in IndexedDB (pages and
//! workers; memory in Node or where IndexedDB fails) from before its first
//! attempt until the server has answered it, re-sent when the module starts on a
//! later view, sent at once with `keepalive` when the page is hidden or closed,
//! and on `flush()`. Registrations made in the same turn of the event loop (a
//! batch converter finishing many files) go out together, in batches. The rules
//! (bounds, batches, which answers settle) are `queue.rs`.
//!
//! IndexedDB through web-sys: the few bindings used cost less than a crate's
//! wrapper, and a request becomes a promise by handing it `resolve` and `reject`
//! as its handlers, with no closure per call.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransactionMode};

use crate::config::{current_config, LogLevel};
use crate::delivery::{deliver, deliver_reading};
use crate::environment::{describe, now_ms, page_origin, warn};
use crate::error::TelemetryError;
use crate::options::{Method, PreparedRegistration, PreparedRequest, Registered};
use crate::queue::{batch_results, bounded, requests, settles, Pending, Send, MAX_BATCH_BYTES};
use crate::retry::RetryPolicy;
use crate::tasks::{promise, spawn};
use crate::transport::FetchTransport;

const DATABASE: &str = "usage-telemetry";
const STORE: &str = "pending";
/// The Web Lock that lets one tab at a time re-send what earlier views left.
const RESEND_LOCK: &str = "usage-telemetry-resend";

/// Where pending registrations are kept.
enum Backend {
    /// IndexedDB is being opened; writes wait in `unanswered`.
    Opening,
    Indexed(IdbDatabase),
    /// Node, or IndexedDB missing or failing: this view's memory only.
    Memory,
}

struct Outbox {
    backend: RefCell<Backend>,
    /// This view's registrations that have no answer yet, oldest first (a few,
    /// mostly: a list costs less code than a map).
    unanswered: RefCell<Vec<Pending>>,
    warned: Cell<bool>,
    /// Writes not yet handed to IndexedDB: those of one turn go in one
    /// transaction at its end (a transaction costs the main thread more than the
    /// writes in it).
    writes: RefCell<Vec<Write>>,
    /// The end-of-turn task is already asked for.
    turn_asked: Cell<bool>,
}

/// One change to the stored registrations.
enum Write {
    Put(Pending),
    Delete(String),
}

/// A registration waiting for the next send, and where its result goes.
struct Ready {
    pending: Pending,
    policy: RetryPolicy,
    result: Rc<RefCell<Option<Result<Registered, TelemetryError>>>>,
    /// Resolves the promise its caller awaits.
    wake: Function,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: i32) -> JsValue;
}

thread_local! {
    static OUTBOX: Rc<Outbox> = start();
    /// The one callback of the end-of-turn task (see [`Outbox::end_turn_later`]).
    static END_OF_TURN: Closure<dyn Fn()> = Closure::new(end_of_turn);
    static READY: RefCell<Vec<Ready>> = const { RefCell::new(Vec::new()) };
}

/// Opens the outbox (once per view; every export calls this): IndexedDB is
/// opened, what earlier views left is re-sent, and the page's hide and close
/// events send what is still waiting.
pub fn ensure_started() {
    OUTBOX.with(|_| ());
}

fn outbox() -> Rc<Outbox> {
    OUTBOX.with(Rc::clone)
}

fn start() -> Rc<Outbox> {
    let outbox = Rc::new(Outbox {
        backend: RefCell::new(Backend::Opening),
        unanswered: RefCell::default(),
        warned: Cell::new(false),
        writes: RefCell::default(),
        turn_asked: Cell::new(false),
    });
    listen_for_hide();
    let opening = outbox.clone();
    spawn(async move {
        let backend = match indexed_db() {
            // Node keeps memory by design; a page or worker without IndexedDB says so.
            None if page_origin().is_none() => Backend::Memory,
            None => {
                opening.warn_once("registrations are kept in memory only (IndexedDB is not available)");
                Backend::Memory
            }
            Some(factory) => match open(&factory).await {
                Ok(database) => Backend::Indexed(database),
                Err(err) => {
                    opening.warn_once(&format!("registrations are kept in memory only ({err})"));
                    Backend::Memory
                }
            },
        };
        let indexed = matches!(backend, Backend::Indexed(_));
        *opening.backend.borrow_mut() = backend;
        if indexed {
            for pending in opening.unanswered.borrow().iter() {
                opening.save(pending);
            }
            resend_under_lock();
        }
    });
    outbox
}

impl Outbox {
    fn warn_once(&self, message: &str) {
        if !self.warned.replace(true) && current_config().log_level != LogLevel::Silent {
            warn(message);
        }
    }

    fn database(&self) -> Option<IdbDatabase> {
        match &*self.backend.borrow() {
            Backend::Indexed(database) => Some(database.clone()),
            _ => None,
        }
    }

    /// Keeps `pending` in IndexedDB: written by the end-of-turn task before it
    /// sends anything, without waiting for the write to finish (IndexedDB applies
    /// a store's transactions in order, so a later removal cannot overtake it).
    fn save(&self, pending: &Pending) {
        self.write_at_end_of_turn(Write::Put(pending.clone()));
    }

    /// Removes an answered registration, at the end of this turn. (Not later, to
    /// share a transaction with the next registration: a page left in between
    /// would lose the removal, and the next view would send it again.)
    fn forget(&self, event_id: &str) {
        self.write_at_end_of_turn(Write::Delete(event_id.to_owned()));
    }

    fn write_at_end_of_turn(&self, write: Write) {
        if self.database().is_none() {
            return;
        }
        self.writes.borrow_mut().push(write);
        self.end_turn_later();
    }

    /// Asks for the end-of-turn task: one task (not a microtask, so every
    /// registration of the turn and the next registration an answer lets a caller
    /// make are in) that writes what waits, in one transaction, then sends what is
    /// ready. A save thus always precedes its first attempt.
    fn end_turn_later(&self) {
        if !self.turn_asked.replace(true) {
            set_timeout(&END_OF_TURN.with(|end| end.as_ref().unchecked_ref::<Function>().clone()), 0);
        }
    }

    /// Hands every waiting write to IndexedDB in one transaction.
    fn write_now(&self) {
        let writes = self.writes.take();
        let Some(database) = self.database().filter(|_| !writes.is_empty()) else { return };
        let written = store(&database, true).and_then(|store| {
            for write in writes {
                match write {
                    Write::Put(pending) => store.put(&record_of(&pending))?,
                    Write::Delete(event_id) => store.delete(&event_id.into())?,
                };
            }
            Ok(())
        });
        if let Err(err) = written {
            self.fail_over(&err);
        }
    }

    /// IndexedDB failed (quota, a closed database): memory from now on.
    fn fail_over(&self, err: &JsValue) {
        *self.backend.borrow_mut() = Backend::Memory;
        self.warn_once(&format!("registrations are kept in memory only ({})", describe(err)));
    }

    /// Everything IndexedDB holds (nothing in memory mode), waiting writes included.
    async fn stored(&self) -> Vec<Pending> {
        self.write_now();
        let Some(database) = self.database() else { return Vec::new() };
        let all = match store(&database, false).and_then(|store| store.get_all()) {
            Ok(request) => done(&request).await,
            Err(err) => Err(err),
        };
        match all {
            Ok(records) => js_sys::Array::from(&records).iter().filter_map(|record| pending_from(&record)).collect(),
            Err(err) => {
                self.fail_over(&err);
                Vec::new()
            }
        }
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
    track(pending.clone());
    let result = Rc::new(RefCell::new(None));
    let answered = Promise::new(&mut |wake, _| {
        let ready = Ready { pending: pending.clone(), policy: request.policy, result: result.clone(), wake };
        READY.with(|queue| queue.borrow_mut().push(ready));
    });
    outbox().end_turn_later();
    let _ = JsFuture::from(answered).await;
    let outcome = result.borrow_mut().take();
    outcome.unwrap_or_else(|| {
        Err(TelemetryError::Network { url: request.url.clone(), attempts: 0, message: "not sent".into() })
    })
}

/// The end-of-turn task: what waits is written, what is ready is sent.
fn end_of_turn() {
    let outbox = outbox();
    outbox.turn_asked.set(false);
    outbox.write_now();
    if READY.with(|ready| !ready.borrow().is_empty()) {
        spawn(send_ready());
    }
}

/// Sends what the turn made ready, one request at a time.
async fn send_ready() {
    let ready: Vec<Ready> = READY.with(|ready| ready.take());
    let pending: Vec<Pending> = ready.iter().map(|r| r.pending.clone()).collect();
    for send in requests(&pending) {
        // A batch is delivered with the retry options of its first registration.
        let request = post(&send, ready[send.positions[0]].policy, true);
        let results = if send.positions.len() == 1 {
            vec![deliver::<Registered>(&FetchTransport, &request).await]
        } else {
            batch_results(deliver(&FetchTransport, &request).await, send.positions.len())
        };
        for (&position, result) in send.positions.iter().zip(results) {
            let ready = &ready[position];
            if settled(&result) {
                answered(&ready.pending.event_id);
            }
            *ready.result.borrow_mut() = Some(result);
            let _ = ready.wake.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Keeps `pending` until [`answered`] is called with its id.
fn track(pending: Pending) {
    let outbox = outbox();
    outbox.save(&pending);
    outbox.unanswered.borrow_mut().push(pending);
}

/// The server answered the registration `event_id` in a way a retry cannot change.
fn answered(event_id: &str) {
    let outbox = outbox();
    outbox.unanswered.borrow_mut().retain(|pending| pending.event_id != event_id);
    outbox.forget(event_id);
}

/// Whether a delivery's result settles its registration.
fn settled<T>(result: &Result<T, TelemetryError>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => err.status().is_some_and(settles),
    }
}

/// Sends every pending registration (this view's and earlier views') once, in
/// batches; how many the server answered and how many are still pending.
pub async fn flush() -> (usize, usize) {
    let outbox = outbox();
    let mut all = outbox.stored().await;
    for pending in outbox.unanswered.borrow().iter() {
        if !all.iter().any(|stored| stored.event_id == pending.event_id) {
            all.push(pending.clone());
        }
    }
    let policy = RetryPolicy { retries: 0, ..current_config().retry };
    send_within_bounds(&outbox, all, policy, true).await
}

/// Drops what is beyond the queue's bounds (one warning), then sends the rest in
/// batches, one request at a time: how many the server answered, and how many
/// are still pending.
async fn send_within_bounds(
    outbox: &Outbox,
    pending: Vec<Pending>,
    policy: RetryPolicy,
    keepalive: bool,
) -> (usize, usize) {
    let (kept, dropped) = bounded(pending, now_ms() as f64);
    if !dropped.is_empty() {
        for event_id in &dropped {
            answered(event_id);
        }
        outbox.write_now();
        outbox.warn_once(&format!(
            "{} unsent registrations were dropped (the queue keeps 500, for 30 days)",
            dropped.len()
        ));
    }
    let mut sent = 0;
    for send in requests(&kept) {
        if send_and_settle(&send, policy, keepalive).await {
            sent += send.event_ids.len();
        }
    }
    (sent, kept.len() - sent)
}

/// The POST that carries `send`.
fn post(send: &Send, policy: RetryPolicy, keepalive: bool) -> PreparedRequest {
    PreparedRequest {
        method: Method::Post,
        url: send.url.clone(),
        body: send.body.clone(),
        bearer: None,
        keepalive,
        policy,
    }
}

/// Sends one request with `policy`; settles its registrations when the answer
/// says so. Returns whether it did.
async fn send_and_settle(send: &Send, policy: RetryPolicy, keepalive: bool) -> bool {
    let request = post(send, policy, keepalive);
    let result = deliver_reading(&FetchTransport, &request, |_| Some(())).await;
    let settled = settled(&result);
    if settled {
        for event_id in &send.event_ids {
            answered(event_id);
        }
    }
    settled
}

/// Re-sends what earlier views left, one tab at a time where Web Locks exist.
fn resend_under_lock() {
    let resend = Closure::once_into_js(|lock: JsValue| -> Promise {
        if lock.is_null() {
            // Another tab holds the lock and is re-sending the same events.
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        promise(async {
            resend_stored().await;
            Ok(JsValue::UNDEFINED)
        })
    });
    let locks = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"locks".into()))
        .ok()
        .filter(|locks| locks.is_object());
    let request = locks.as_ref().and_then(|locks| {
        let request: Function = Reflect::get(locks, &"request".into()).ok()?.dyn_into().ok()?;
        let options = Object::new();
        Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).ok()?;
        request.call3(locks, &RESEND_LOCK.into(), &options, &resend).ok()
    });
    if request.is_none() {
        let resend: Function = resend.unchecked_into();
        let _ = resend.call1(&JsValue::UNDEFINED, &JsValue::TRUE);
    }
}

/// What earlier views left (not this view's own), in batches, one request at a
/// time, each with the configured retries.
async fn resend_stored() {
    let outbox = outbox();
    let stored: Vec<Pending> = {
        let stored = outbox.stored().await;
        let unanswered = outbox.unanswered.borrow();
        stored.into_iter().filter(|p| !unanswered.iter().any(|own| own.event_id == p.event_id)).collect()
    };
    let (sent, pending) = send_within_bounds(&outbox, stored, current_config().retry, false).await;
    if current_config().log_level == LogLevel::Verbose && sent + pending > 0 {
        crate::environment::debug(&format!("re-sent {sent} of {} earlier registrations", sent + pending));
    }
}

/// On `pagehide` and `visibilitychange` to hidden, this view's unanswered
/// registrations go out at once with `keepalive` (within the browser's 64 KiB
/// budget), so a backoff cut short by closing the tab still delivers them.
fn listen_for_hide() {
    let global = js_sys::global();
    let Ok(document) = Reflect::get(&global, &"document".into()) else { return };
    if !document.is_object() {
        return; // a worker or Node: no page to close
    }
    let on_hide = Closure::<dyn Fn()>::new(move || {
        let hidden = Reflect::get(&js_sys::global(), &"document".into())
            .and_then(|document| Reflect::get(&document, &"visibilityState".into()))
            .ok()
            .and_then(|state| state.as_string());
        if hidden.as_deref() == Some("visible") {
            return;
        }
        send_before_close();
    });
    let add = |target: &JsValue, event: &str| {
        if let Ok(add) = Reflect::get(target, &"addEventListener".into()).and_then(|f| f.dyn_into::<Function>()) {
            let _ = add.call2(target, &event.into(), on_hide.as_ref());
        }
    };
    add(&global, "pagehide");
    add(&document, "visibilitychange");
    on_hide.forget(); // lives as long as the page
}

fn send_before_close() {
    let outbox = outbox();
    // Writes waiting for their task go now: the page may not get to it.
    outbox.write_now();
    let pending: Vec<Pending> = outbox.unanswered.borrow().clone();
    let policy = RetryPolicy { retries: 0, ..current_config().retry };
    let mut budget = MAX_BATCH_BYTES;
    for send in requests(&pending) {
        if send.body.len() > budget {
            break; // the rest stays queued for the next view
        }
        budget -= send.body.len();
        spawn(async move {
            send_and_settle(&send, policy, true).await;
        });
    }
}

fn indexed_db() -> Option<IdbFactory> {
    let factory = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    factory.dyn_into::<IdbFactory>().ok()
}

/// Opens (creating on first use) the database of pending registrations.
async fn open(factory: &IdbFactory) -> Result<IdbDatabase, String> {
    let request: IdbOpenDbRequest = factory.open_with_u32(DATABASE, 1).map_err(|err| describe(&err))?;
    let upgrade = Closure::once(|event: web_sys::Event| {
        let database = event
            .target()
            .and_then(|target| target.dyn_into::<IdbRequest>().ok())
            .and_then(|request| request.result().ok())
            .and_then(|result| result.dyn_into::<IdbDatabase>().ok());
        if let Some(database) = database {
            let parameters = IdbObjectStoreParameters::new();
            parameters.set_key_path(&"eventId".into());
            let _ = database.create_object_store_with_optional_parameters(STORE, &parameters);
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let result = done(&request).await;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    result.map_err(|err| describe(&err))?.dyn_into::<IdbDatabase>().map_err(|_| "not a database".to_owned())
}

fn store(database: &IdbDatabase, write: bool) -> Result<web_sys::IdbObjectStore, JsValue> {
    let mode = if write { IdbTransactionMode::Readwrite } else { IdbTransactionMode::Readonly };
    database.transaction_with_str_and_mode(STORE, mode)?.object_store(STORE)
}

/// The request's result once it succeeds; its error otherwise.
async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    match JsFuture::from(promise).await {
        Ok(_) => request.result(),
        Err(_) => Err(request.error().ok().flatten().map_or_else(|| "IndexedDB error".into(), JsValue::from)),
    }
}

/// The stored form of a registration: written as JSON and parsed once (fewer
/// crossings than setting each property).
fn record_of(pending: &Pending) -> JsValue {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Record<'a> {
        event_id: &'a str,
        url: &'a str,
        body: &'a str,
        queued_at: f64,
    }
    let record =
        Record { event_id: &pending.event_id, url: &pending.url, body: &pending.body, queued_at: pending.queued_at_ms };
    crate::json::to_string(&record).ok().and_then(|text| js_sys::JSON::parse(&text).ok()).unwrap_or_default()
}

fn pending_from(record: &JsValue) -> Option<Pending> {
    let text = |key: &str| Reflect::get(record, &key.into()).ok()?.as_string();
    Some(Pending {
        event_id: text("eventId")?,
        url: text("url")?,
        body: text("body")?,
        queued_at_ms: Reflect::get(record, &"queuedAt".into()).ok()?.as_f64()?,
    })
}
