//! What the module reads from where it runs: the page's origin, the clock,
//! timers, randomness, the console. Works in a page, a worker and Node alike.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buffer: &mut [u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: i32) -> JsValue;
}

/// `location.origin` of the page or worker; `None` in Node (no `location`).
pub fn page_origin() -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &JsValue::from_str("location")).ok()?;
    if location.is_undefined() || location.is_null() {
        return None;
    }
    Reflect::get(&location, &JsValue::from_str("origin")).ok()?.as_string()
}

/// 16 bytes from `crypto.getRandomValues` (`Math.random` where there is no `crypto`,
/// which only makes event ids less unpredictable, never shared).
pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if get_random_values(&mut bytes).is_err() {
        for byte in &mut bytes {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Calls `handler` in a task of its own after `ms` milliseconds (0: once the
/// current task and its microtasks are done).
pub fn call_later(handler: &Function, ms: u32) {
    set_timeout(handler, i32::try_from(ms).unwrap_or(i32::MAX));
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = Promise::new(&mut |resolve, _reject| call_later(&resolve, ms));
    let _ = JsFuture::from(promise).await;
}

/// One console warning, prefixed with the module's name.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("usage-telemetry: {message}")));
}

/// One debug line, prefixed with the module's name.
pub fn debug(message: &str) {
    web_sys::console::debug_1(&JsValue::from_str(&format!("usage-telemetry: {message}")));
}

/// `name: message` of a thrown value, with Node's `cause` (`fetch failed` says
/// nothing by itself; its cause says `ECONNREFUSED`).
pub fn describe(value: &JsValue) -> String {
    let get =
        |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok().and_then(|v| v.as_string());
    let mut text = match (get(value, "name"), get(value, "message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        _ => value.as_string().unwrap_or_else(|| "unknown error".to_owned()),
    };
    if let Ok(cause) = Reflect::get(value, &JsValue::from_str("cause")) {
        if let Some(detail) = get(&cause, "code").or_else(|| get(&cause, "message")) {
            text.push_str(&format!(" ({detail})"));
        }
    }
    text
}

/// Whether a thrown value says the conversion was cancelled: an `AbortError`, or
/// Mediabunny's `ConversionCanceledError`.
pub fn is_cancellation(value: &JsValue) -> bool {
    let name = Reflect::get(value, &JsValue::from_str("name")).ok().and_then(|v| v.as_string());
    matches!(name.as_deref(), Some("AbortError" | "ConversionCanceledError"))
}
