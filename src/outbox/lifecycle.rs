//! The page's life: when the module starts, what earlier views left is re-sent
//! (one tab at a time, under a Web Lock); when the page is hidden or closed, this
//! view's unanswered registrations go out at once with `keepalive`.

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use usage_client::config::{current_config, LogLevel};
use usage_client::queue::{left_by_earlier_views, requests, sendable_while_closing};
use usage_client::retry::RetryPolicy;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::ledger::Ledger;
use super::sender::{send_and_settle, send_within_bounds};
use crate::environment::debug;
use crate::interop::set;
use crate::tasks::{promise, spawn};

/// The Web Lock that lets one tab at a time re-send what earlier views left.
const RESEND_LOCK: &str = "usage-telemetry-resend";

/// Re-sends what earlier views left, one tab at a time where Web Locks exist.
pub fn resend_under_lock(ledger: Rc<Ledger>) {
    let resend = Closure::once_into_js(move |lock: JsValue| -> Promise {
        if lock.is_null() {
            // Another tab holds the lock and is re-sending the same events.
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        promise(async move {
            resend_stored(&ledger).await;
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
        set(&options, "ifAvailable", JsValue::TRUE);
        request.call3(locks, &RESEND_LOCK.into(), &options, &resend).ok()
    });
    if request.is_none() {
        let resend: Function = resend.unchecked_into();
        let _ = resend.call1(&JsValue::UNDEFINED, &JsValue::TRUE);
    }
}

/// What earlier views left (not this view's own), in batches, one request at a
/// time, each with the configured retries.
async fn resend_stored(ledger: &Ledger) {
    let stored = left_by_earlier_views(ledger.stored().await, &ledger.unanswered());
    let (sent, pending) = send_within_bounds(ledger, stored, current_config().retry, false).await;
    if current_config().log_level == LogLevel::Verbose && sent + pending > 0 {
        debug(&format!("re-sent {sent} of {} earlier registrations", sent + pending));
    }
}

/// On `pagehide` and `visibilitychange` to hidden, this view's unanswered
/// registrations go out at once with `keepalive` (within the browser's 64 KiB
/// budget), so a backoff cut short by closing the tab still delivers them.
pub fn listen_for_hide(ledger: Rc<Ledger>) {
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
        send_before_close(&ledger);
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

fn send_before_close(ledger: &Rc<Ledger>) {
    // Writes waiting for their task go now: the page may not get to it.
    ledger.write_now();
    let policy = RetryPolicy { retries: 0, ..current_config().retry };
    let sends = sendable_while_closing(requests(&ledger.unanswered()));
    for send in sends {
        let ledger = ledger.clone();
        spawn(async move {
            send_and_settle(&ledger, &send, policy, true).await;
        });
    }
}
