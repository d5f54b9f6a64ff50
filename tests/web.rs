//! The module in real JavaScript engines against the real usage server: run by
//! `scripts/test.sh` in Node, in headless Chromium (a page) and in a dedicated
//! worker. The server's URL, a fault-injecting proxy's URL and a key pair arrive at
//! build time through the environment, as gloo-net's tests receive `HTTPBIN_URL`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Reflect};
use usage_telemetry::{
    get_usage, get_usage_breakdown, register_usage_event, track_conversion, BreakdownOptions, Classification,
    EventKind, HostChoice, RegisterOptions, RetryOptions, TelemetryError, Usage, UsageBreakdown, UsageOptions,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

/// The servers' URLs and keys, set at build time by `scripts/test.sh` (which starts
/// the servers); without them the tests fail with this hint rather than not build.
fn required(value: Option<&'static str>, name: &str) -> String {
    value
        .unwrap_or_else(|| panic!("{name} is not set: run through ./scripts/test.sh, which starts the servers"))
        .to_owned()
}

fn server_url() -> String {
    required(option_env!("USAGE_SERVER_URL"), "USAGE_SERVER_URL")
}
fn fault_url() -> String {
    required(option_env!("FAULT_SERVER_URL"), "FAULT_SERVER_URL")
}
fn public_key() -> String {
    required(option_env!("USAGE_TEST_PUBLIC_KEY"), "USAGE_TEST_PUBLIC_KEY")
}
fn secret_key() -> String {
    required(option_env!("USAGE_TEST_SECRET_KEY"), "USAGE_TEST_SECRET_KEY")
}

fn admin_token() -> String {
    required(option_env!("USAGE_TEST_ADMIN_TOKEN"), "USAGE_TEST_ADMIN_TOKEN")
}

/// `location.origin` in a page or worker; `None` in Node.
fn current_origin() -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &"location".into()).ok().filter(|l| !l.is_undefined())?;
    Reflect::get(&location, &"origin".into()).ok()?.as_string()
}

/// A page or a worker (they have `location`); Node has none.
fn in_browser() -> bool {
    Reflect::has(&js_sys::global(), &"location".into()).unwrap_or(false)
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_url(url: &str) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
}

async fn sleep(ms: i32) {
    JsFuture::from(Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    }))
    .await
    .unwrap();
}

/// A fresh scenario name, so each test sees only its own attempts.
fn scenario() -> String {
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        *byte = (js_sys::Math::random() * 256.0) as u8;
    }
    usage_core::EventId::from_random_bytes(bytes).to_string()
}

/// The base URL that routes through the fault server in `mode`.
fn faulty(scenario: &str, mode: &str) -> String {
    format!("{}/s/{scenario}/{mode}", fault_url())
}

/// What the fault server saw: (arrival ms, body) per attempt.
async fn attempts(scenario: &str) -> Vec<(f64, serde_json::Value)> {
    attempts_settled(scenario).await.0
}

/// The fault server's log of `scenario`: each attempt's arrival and body, and
/// whether the server is done with all of them.
async fn attempts_settled(scenario: &str) -> (Vec<(f64, serde_json::Value)>, bool) {
    let response: web_sys::Response =
        JsFuture::from(fetch_url(&format!("{}/log/{scenario}", fault_url()))).await.unwrap().unchecked_into();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap().as_string().unwrap();
    let log: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let settled = log.iter().all(|a| a["settled"] == serde_json::Value::Bool(true));
    let seen = log
        .into_iter()
        .map(|a| (a["at"].as_f64().unwrap(), serde_json::from_str(a["body"].as_str().unwrap()).unwrap()))
        .collect();
    (seen, settled)
}

/// Waits (bounded) until the fault server has seen `count` attempts and is done
/// with each (a forwarded one answered, so counted): how a test observes a
/// registration that runs in the background, without its count landing in the next test.
async fn attempts_eventually(scenario: &str, count: usize) -> Vec<(f64, serde_json::Value)> {
    for _ in 0..200 {
        let (seen, settled) = attempts_settled(scenario).await;
        if seen.len() >= count && settled {
            return seen;
        }
        sleep(25).await;
    }
    panic!("the fault server never saw {count} attempts for {scenario}");
}

fn register(endpoint: String, event: EventKind, host: HostChoice, succeeded: bool) -> RegisterOptions {
    RegisterOptions {
        license_key: Some(public_key()),
        event: Some(event),
        host,
        succeeded: Some(succeeded),
        endpoint: Some(endpoint),
        ..Default::default()
    }
}

fn fast_retry(retries: u32, base_delay_ms: u32, timeout_ms: u32) -> Option<RetryOptions> {
    Some(RetryOptions { retries: Some(retries), base_delay_ms: Some(base_delay_ms), timeout_ms: Some(timeout_ms) })
}

async fn usage() -> Usage {
    get_usage(UsageOptions { api_key: Some(secret_key()), endpoint: Some(server_url()), ..Default::default() })
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn registers_from_the_current_origin() {
    let options = register(server_url(), EventKind::WebcodecConversion, HostChoice::CurrentOrigin, true);
    let registered = register_usage_event(options).await.unwrap();
    // The test page is served from 127.0.0.1: development. Node has no origin: billable.
    let expected = if in_browser() { Classification::Development } else { Classification::Billable };
    assert_eq!(registered.classification, expected);
    assert_eq!(registered.billable, expected == Classification::Billable);
}

#[wasm_bindgen_test]
async fn an_explicit_host_counts_unless_the_browser_reports_a_local_origin() {
    let host = HostChoice::Given("https://customer.example.com".into());
    let registered = register_usage_event(register(server_url(), EventKind::WebRender, host, true)).await.unwrap();
    // Browsers send an Origin header the server trusts over the body's claim.
    let expected = if in_browser() { Classification::Development } else { Classification::Billable };
    assert_eq!(registered.classification, expected);
}

#[wasm_bindgen_test]
async fn failed_conversions_are_failed() {
    let options = register(server_url(), EventKind::WebcodecConversion, HostChoice::CurrentOrigin, false);
    assert_eq!(register_usage_event(options).await.unwrap().classification, Classification::Failed);
}

#[wasm_bindgen_test]
async fn get_usage_counts_what_was_sent() {
    let before = usage().await;
    let host = || HostChoice::Given("https://customer.example.com".into());
    let mut sent = Vec::new();
    for (event, host, succeeded, is_production) in [
        (EventKind::WebcodecConversion, host(), true, None),
        (EventKind::WebRender, host(), true, None),
        (EventKind::WebcodecConversion, host(), false, None),
        (EventKind::CloudRender, HostChoice::NoHost, true, Some(false)),
        (EventKind::CloudRender, HostChoice::Given("http://localhost:3000".into()), true, None),
    ] {
        let options = RegisterOptions { is_production, ..register(server_url(), event, host, succeeded) };
        sent.push((event, register_usage_event(options).await.unwrap().classification));
    }
    let after = usage().await;
    let count = |kinds: &[EventKind], class: Classification| {
        sent.iter().filter(|(e, c)| kinds.contains(e) && *c == class).count() as u64
    };
    let browser = [EventKind::WebcodecConversion, EventKind::WebRender];
    let cloud = [EventKind::CloudRender];
    let delta = |a: u64, b: u64| a - b;
    assert_eq!(
        delta(after.webcodec_conversions.billable, before.webcodec_conversions.billable),
        count(&browser, Classification::Billable)
    );
    assert_eq!(
        delta(after.webcodec_conversions.development, before.webcodec_conversions.development),
        count(&browser, Classification::Development)
    );
    assert_eq!(delta(after.webcodec_conversions.failed, before.webcodec_conversions.failed), 1);
    assert_eq!(
        delta(after.cloud_renders.development, before.cloud_renders.development),
        count(&cloud, Classification::Development)
    );
    assert_eq!(after.web_renders, after.webcodec_conversions);
    if !in_browser() {
        assert_eq!(delta(after.webcodec_conversions.billable, before.webcodec_conversions.billable), 2);
    }
}

#[wasm_bindgen_test]
async fn a_lost_answer_is_retried_with_the_same_event_id_and_counted_once() {
    let before = usage().await;
    let run = scenario();
    let mut options = register(faulty(&run, "lose-first"), EventKind::CloudRender, HostChoice::NoHost, false);
    options.retry = fast_retry(3, 20, 5000);
    assert_eq!(register_usage_event(options).await.unwrap().classification, Classification::Failed);
    let seen = attempts(&run).await;
    assert_eq!(seen.len(), 2, "one lost answer, one retry");
    assert_eq!(seen[0].1["eventId"], seen[1].1["eventId"]);
    assert_eq!(seen[0].1, seen[1].1);
    let after = usage().await;
    assert_eq!(after.cloud_renders.failed - before.cloud_renders.failed, 1, "counted exactly once");
}

#[wasm_bindgen_test]
async fn resets_are_retried_with_backoff_then_reported() {
    let run = scenario();
    let mut options = register(faulty(&run, "reset"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    options.retry = fast_retry(2, 100, 5000);
    let err = register_usage_event(options).await.unwrap_err();
    assert!(matches!(err, TelemetryError::Network { attempts: 3, .. }), "{err}");
    let seen = attempts(&run).await;
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, body)| body["eventId"] == seen[0].1["eventId"]));
    // Arrival gaps are at least half the backoff (±50 % jitter): 100 ms, then 200 ms.
    assert!(seen[1].0 - seen[0].0 >= 45.0, "{seen:?}");
    assert!(seen[2].0 - seen[1].0 >= 95.0, "{seen:?}");
}

#[wasm_bindgen_test]
async fn a_hang_past_the_timeout_is_a_timeout() {
    let run = scenario();
    let mut options = register(faulty(&run, "hang"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    options.retry = fast_retry(1, 10, 300);
    let err = register_usage_event(options).await.unwrap_err();
    assert_eq!(err.code(), "timeout", "{err}");
    assert!(err.to_string().contains("did not answer within 300 ms (2 attempts)"), "{err}");
    assert_eq!(attempts(&run).await.len(), 2);
}

#[wasm_bindgen_test]
async fn http_errors_reject_at_once_with_the_servers_message() {
    for (mode, status, message) in
        [("status-401", 401, "injected: apiKey is not a known key"), ("status-500", 500, "injected: internal error")]
    {
        let run = scenario();
        let mut options = register(faulty(&run, mode), EventKind::WebcodecConversion, HostChoice::NoHost, true);
        options.retry = fast_retry(3, 10, 5000);
        let err = register_usage_event(options).await.unwrap_err();
        assert_eq!(err, TelemetryError::Server { status, message: message.into() });
        assert_eq!(attempts(&run).await.len(), 1, "{mode} is not retried");
    }
    // And the real server's own refusal, for a key it does not know.
    let mut options = register(server_url(), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    options.license_key = Some("rm_pub_00000000000000000000000000000000".into());
    let err = register_usage_event(options).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("apiKey is not a known key"), "{err}");
}

#[wasm_bindgen_test]
async fn rate_limits_are_retried_after_retry_after() {
    let run = scenario();
    let mut options = register(faulty(&run, "429-first"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    options.retry = fast_retry(3, 10, 5000);
    assert!(register_usage_event(options).await.is_ok());
    let seen = attempts(&run).await;
    assert_eq!(seen.len(), 2);
    assert!(seen[1].0 - seen[0].0 >= 995.0, "waited for Retry-After: 1 ({seen:?})");

    let run = scenario();
    let mut options = register(faulty(&run, "503-first"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    options.retry = fast_retry(3, 10, 5000);
    assert!(register_usage_event(options).await.is_ok());
    assert_eq!(attempts(&run).await.len(), 2);
}

#[wasm_bindgen_test]
async fn a_non_json_answer_says_so() {
    let run = scenario();
    let options = register(faulty(&run, "not-json"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    let err = register_usage_event(options).await.unwrap_err();
    assert_eq!(err.code(), "not_json");
    assert!(err.to_string().contains("Captive portal"), "{err}");
    assert_eq!(attempts(&run).await.len(), 1);
}

#[wasm_bindgen_test]
async fn track_conversion_returns_the_conversions_result_and_registers_in_the_background() {
    let run = scenario();
    let options = register(faulty(&run, "ok"), EventKind::WebcodecConversion, HostChoice::NoHost, true);
    let output: Result<u32, String> =
        track_conversion(async { Ok(42) }, RegisterOptions { succeeded: None, ..options.clone() }).await;
    assert_eq!(output, Ok(42));
    let seen = attempts_eventually(&run, 1).await;
    assert_eq!(seen[0].1["succeeded"], true);
    assert_eq!(seen[0].1["event"], "webcodec-conversion");

    let run = scenario();
    let options = RegisterOptions { endpoint: Some(faulty(&run, "ok")), event: None, ..options };
    let output: Result<u32, String> = track_conversion(async { Err("decoder error".to_owned()) }, options).await;
    assert_eq!(output, Err("decoder error".to_owned()));
    let seen = attempts_eventually(&run, 1).await;
    assert_eq!(seen[0].1["succeeded"], false);
    assert_eq!(seen[0].1["event"], "webcodec-conversion", "the default event");
}

#[wasm_bindgen_test]
async fn track_conversion_is_unaffected_by_an_unreachable_server() {
    // Nothing listens on loopback port 2 (and fetch does not block it as it blocks 9):
    // the registration fails in the background.
    let options = RegisterOptions {
        retry: fast_retry(0, 0, 1000),
        ..register("http://127.0.0.1:2".into(), EventKind::WebcodecConversion, HostChoice::NoHost, true)
    };
    let output: Result<&str, ()> = track_conversion(async { Ok("video.webm") }, options).await;
    assert_eq!(output, Ok("video.webm"));
}

#[wasm_bindgen_test]
async fn without_a_key_the_event_reaches_the_server_as_unlicensed_with_the_current_origin() {
    let name = scenario();
    let options = RegisterOptions {
        license_key: None,
        ..register(faulty(&name, "ok"), EventKind::WebcodecConversion, HostChoice::CurrentOrigin, true)
    };
    let registered = register_usage_event(options).await.unwrap();
    let expected = if in_browser() { Classification::Development } else { Classification::Billable };
    assert_eq!(registered.classification, expected);
    let seen = attempts(&name).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["apiKey"], serde_json::Value::Null, "sent as null: {}", seen[0].1);
    assert_eq!(seen[0].1["host"].as_str().map(str::to_owned), current_origin());

    // The vendor sees the origin under unlicensed usage, never under a licence.
    let options = BreakdownOptions { api_key: Some(admin_token()), endpoint: Some(server_url()), ..Default::default() };
    let UsageBreakdown::Vendor(view) = get_usage_breakdown(options).await.unwrap() else {
        panic!("an admin token reads the vendor's view")
    };
    let origins: Vec<Option<String>> = view.unlicensed.origins.iter().map(|o| o.origin.clone()).collect();
    assert!(origins.contains(&current_origin()), "{origins:?}");
    assert!(view.unlicensed.totals.webcodec_conversions.total() >= 1);
}

#[wasm_bindgen_test]
async fn free_license_is_sent_as_is() {
    let name = scenario();
    let options = RegisterOptions {
        license_key: Some("free-license".into()),
        ..register(faulty(&name, "ok"), EventKind::WebRender, HostChoice::CurrentOrigin, true)
    };
    register_usage_event(options).await.unwrap();
    assert_eq!(attempts(&name).await[0].1["apiKey"], "free-license");
}

#[wasm_bindgen_test]
async fn the_breakdown_agrees_with_get_usage() {
    // Other tests' background registrations may land at any time: the breakdown is
    // compared with get-usage read just before and just after it, when those agree.
    let mut agreed = None;
    for _ in 0..20 {
        let before = usage().await;
        let options =
            BreakdownOptions { api_key: Some(secret_key()), endpoint: Some(server_url()), ..Default::default() };
        let UsageBreakdown::Licence(breakdown) = get_usage_breakdown(options).await.unwrap() else {
            panic!("a secret key reads the licensee's breakdown")
        };
        if usage().await == before {
            agreed = Some((breakdown, before));
            break;
        }
    }
    let (breakdown, usage) = agreed.expect("get-usage stayed still around a breakdown at least once in 20 tries");
    assert_eq!(breakdown.totals.webcodec_conversions, usage.webcodec_conversions);
    assert_eq!(breakdown.totals.cloud_renders, usage.cloud_renders);
    assert!(!breakdown.series.is_empty());
    let err = get_usage_breakdown(BreakdownOptions {
        api_key: Some(public_key()),
        endpoint: Some(server_url()),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("getUsage needs the secret key"), "{err}");
}
