//! [`Transport`] on the platform's `fetch`, with an `AbortSignal.timeout`.
//!
//! A POST is sent as `text/plain` (a JSON body): a "simple" request needs no
//! CORS preflight, so one registration is one round trip. `keepalive` lets it
//! finish when the page is closed right after a conversion; `credentials: 'omit'`
//! keeps cookies out. A GET (the breakdown) carries `Authorization: Bearer`.
//!
//! The answer is read through gloo-net's `Response` (status, headers, text). The
//! request is not sent through gloo-net: its builder cannot set `keepalive`, and
//! its `send()` neither catches a `fetch` that throws synchronously nor survives
//! a patched `fetch` that resolves to something other than a `Response` (an ad
//! blocker can do either); here both are attempt errors, retried like any
//! network failure.

use js_sys::Promise;
use usage_client::delivery::{AttemptError, HttpResponse, Transport};
use usage_client::request::{Method, PreparedRequest};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCredentials, RequestInit, RequestMode};

use crate::environment::{describe, sleep};
use crate::interop::{set, Js};

#[wasm_bindgen]
extern "C" {
    // The global `fetch`, present in pages, workers and Node 18+. `catch`: an
    // extension that replaces fetch with one that throws must not break us.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout, catch)]
    fn abort_signal_timeout(ms: u32) -> Result<AbortSignal, JsValue>;
}

/// `fetch`, wherever the module runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

impl Transport for FetchTransport {
    type Json = Js;

    async fn send(&self, request: &PreparedRequest) -> Result<HttpResponse, AttemptError> {
        // `AbortSignal.timeout`: the browser keeps the timer, no closure or
        // `clearTimeout` per attempt. Where it is missing (browsers older than
        // WebCodecs) the attempt runs without one, to the platform's own limits.
        let signal = abort_signal_timeout(request.policy.timeout_ms).ok();
        exchange(request, signal.as_ref()).await.map_err(|err| {
            // The signal's only source is the timeout. Engines differ in what the
            // request rejects with then (Chromium a `TimeoutError`, Firefox an
            // `AbortError`), so the signal is asked.
            if signal.as_ref().is_some_and(AbortSignal::aborted) {
                AttemptError::Timeout
            } else {
                AttemptError::Network(describe(&err))
            }
        })
    }

    async fn sleep(&self, ms: u32) {
        sleep(ms).await;
    }

    fn random_unit(&self) -> f64 {
        // Jitter needs no secrecy: `Math.random` is enough, and everywhere.
        js_sys::Math::random()
    }
}

/// Sends and reads the whole answer; the signal aborts either step.
async fn exchange(request: &PreparedRequest, signal: Option<&AbortSignal>) -> Result<HttpResponse, JsValue> {
    let headers = Headers::new()?;
    let init = RequestInit::new();
    match request.method {
        Method::Post => {
            headers.set("Content-Type", "text/plain;charset=UTF-8")?;
            init.set_method("POST");
            init.set_body(&JsValue::from_str(&request.body));
            if request.keepalive {
                // web-sys has no setter for `keepalive` yet.
                set(&init, "keepalive", JsValue::TRUE);
            }
        }
        Method::Get => init.set_method("GET"),
    }
    if let Some(credential) = &request.bearer {
        headers.set("Authorization", &format!("Bearer {credential}"))?;
    }
    init.set_headers(&headers);
    init.set_credentials(RequestCredentials::Omit);
    init.set_mode(RequestMode::Cors);
    init.set_signal(signal);
    // Promise.resolve: whatever a patched fetch returns, we get a real promise.
    let answer = JsFuture::from(Promise::resolve(&global_fetch(&request.url, &init)?)).await?;
    let response = gloo_net::http::Response::from(
        answer
            .dyn_into::<web_sys::Response>()
            .map_err(|_| JsValue::from_str("fetch resolved to something other than a Response"))?,
    );
    let status = response.status();
    let retry_after = response.headers().get("retry-after");
    let body = response.text().await.map_err(|err| JsValue::from_str(&err.to_string()))?;
    Ok(HttpResponse { status, retry_after, body })
}
