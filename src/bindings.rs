//! The JavaScript API: the only place that touches `JsValue`. Each export reads its
//! options, calls the plain-Rust API, and turns errors into `UsageTelemetryError`s.

use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::config::{current_config, ConfigureOptions, LogLevel};
use crate::conversion::report_outcome;
use crate::environment::{debug, is_abort};
use crate::error::TelemetryError;
use crate::options::{parse_options, HostChoice, RegisterOptions, UsageOptions};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** What happened. */
export type UsageEventKind = "webcodec-conversion" | "cloud-render" | "web-render";
/** How an event counts: only `billable` is billed. */
export type Classification = "billable" | "development" | "failed";
/** What a succeeded event from a host counts as. */
export type HostClassification = "billable" | "development";
/** Console output of background registrations. */
export type LogLevel = "silent" | "warn" | "verbose";

/** Delivery: `retries` after the first attempt, backoff from `baseDelayMs` doubling, `timeoutMs` per attempt. */
export interface RetryOptions {
  retries?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

export interface RegisterUsageEventOptions {
  /** The public key (`rm_pub_…`); wins over `apiKey`. */
  licenseKey?: string;
  /** The legacy name of `licenseKey`. */
  apiKey?: string;
  event: UsageEventKind;
  /** The origin to report; defaults to the current origin (`null` in Node). */
  host?: string | null;
  succeeded: boolean;
  /** The usage server's base URL; defaults to `configure({ endpoint })`. */
  endpoint?: string;
  /** A UUID that makes retries count once; generated when absent. */
  eventId?: string;
  retry?: RetryOptions;
  isStill?: boolean;
  isProduction?: boolean;
}

export interface RegisterUsageEventResult {
  billable: boolean;
  classification: Classification;
}

export interface GetUsageOptions {
  /** The secret key (`rm_sec_…`). */
  apiKey?: string;
  licenseKey?: string;
  /** Milliseconds since the epoch, within the last 90 days; default: start of this month (UTC). */
  since?: number | null;
  endpoint?: string;
  /** Send a secret key from a public web page anyway (anyone on the page could read it). */
  dangerouslyAllowBrowser?: boolean;
  retry?: RetryOptions;
}

export interface UsageCounts {
  billable: number;
  development: number;
  failed: number;
}

export interface Usage {
  webcodecConversions: UsageCounts;
  cloudRenders: UsageCounts;
  webRenders: UsageCounts;
}

/** `registerUsageEvent`'s options without `succeeded`; `event` defaults to `webcodec-conversion`. */
export type TrackConversionOptions = Omit<RegisterUsageEventOptions, "succeeded" | "event"> & { event?: UsageEventKind };

export interface ConfigureOptions {
  endpoint?: string;
  /** The public key used when a call gives none. */
  licenseKey?: string;
  logLevel?: LogLevel;
  retry?: RetryOptions;
}

/** Every error this module throws or rejects with. */
export interface UsageTelemetryError extends Error {
  name: "UsageTelemetryError";
  code: "invalid" | "no_endpoint" | "secret_key_in_browser" | "network" | "timeout" | "server" | "not_json";
  /** The HTTP status, when the server answered. */
  status?: number;
}

/**
 * Runs a conversion and registers its outcome in the background. The returned
 * promise settles exactly as the conversion does; telemetry never rejects, throws
 * or delays it. An `AbortError` is not reported as a failure.
 */
export function trackConversion<T>(conversion: Promise<T> | (() => Promise<T> | T), options?: TrackConversionOptions): Promise<T>;
"#;

/// Turns an error into a JS `Error` named `UsageTelemetryError` with `code` and `status`.
fn to_js_error(err: TelemetryError) -> JsValue {
    let error = js_sys::Error::new(&err.to_string());
    error.set_name("UsageTelemetryError");
    let _ = Reflect::set(&error, &"code".into(), &err.code().into());
    if let Some(status) = err.status() {
        let _ = Reflect::set(&error, &"status".into(), &status.into());
    }
    error.into()
}

/// Reads an options object with serde, naming the field in errors.
fn read_options<T: DeserializeOwned>(value: &JsValue, example: &str) -> Result<T, TelemetryError> {
    if !value.is_object() {
        return Err(TelemetryError::option("options", format!("must be an object such as {example}")));
    }
    parse_options(serde_wasm_bindgen::Deserializer::from(value.clone()))
}

/// `registerUsageEvent`'s options; an absent (or `undefined`) host means the current origin.
fn read_register_options(value: &JsValue, example: &str) -> Result<RegisterOptions, TelemetryError> {
    let mut options: RegisterOptions = read_options(value, example)?;
    if Reflect::get(value, &"host".into()).map_or(true, |host| host.is_undefined()) {
        options.host = HostChoice::CurrentOrigin;
    }
    Ok(options)
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|err| JsValue::from(js_sys::Error::new(&err.to_string())))
}

/// Registers one usage event (the documented `@remotion/licensing` call).
#[wasm_bindgen(js_name = registerUsageEvent, unchecked_return_type = "RegisterUsageEventResult")]
pub async fn register_usage_event(
    #[wasm_bindgen(unchecked_param_type = "RegisterUsageEventOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    install_panic_hook();
    let options = read_register_options(&options, "{ licenseKey, event, succeeded }").map_err(to_js_error)?;
    let registered = crate::api::register_usage_event(options).await.map_err(to_js_error)?;
    to_js(&registered)
}

/// Reads usage counts with the secret key (from a backend).
#[wasm_bindgen(js_name = getUsage, unchecked_return_type = "Usage")]
pub async fn get_usage(
    #[wasm_bindgen(unchecked_param_type = "GetUsageOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    install_panic_hook();
    let options: UsageOptions = read_options(&options, "{ apiKey, since }").map_err(to_js_error)?;
    let usage = crate::api::get_usage(options).await.map_err(to_js_error)?;
    to_js(&usage)
}

/// What a succeeded event from `host` counts as, by the server's own rules.
#[wasm_bindgen(js_name = classifyHost, unchecked_return_type = "HostClassification")]
pub fn classify_host(#[wasm_bindgen(unchecked_param_type = "string")] host: JsValue) -> Result<JsValue, JsValue> {
    install_panic_hook();
    let host = host
        .as_string()
        .ok_or_else(|| to_js_error(TelemetryError::option("host", "must be a string such as https://example.com")))?;
    let classification = crate::classify_host(&host).map_err(to_js_error)?;
    Ok(JsValue::from_str(classification.as_str()))
}

/// Sets defaults for later calls; throws (changing nothing) on an invalid option.
#[wasm_bindgen(js_name = configure)]
pub fn configure(#[wasm_bindgen(unchecked_param_type = "ConfigureOptions")] options: JsValue) -> Result<(), JsValue> {
    install_panic_hook();
    let options: ConfigureOptions = read_options(&options, "{ endpoint, licenseKey }").map_err(to_js_error)?;
    crate::config::configure(options).map_err(to_js_error)
}

/// See the TypeScript declaration above.
#[wasm_bindgen(js_name = trackConversion, skip_typescript)]
pub fn track_conversion(conversion: JsValue, options: JsValue) -> Promise {
    install_panic_hook();
    let conversion = start(&conversion);
    // Options are read now (the caller may reuse the object) but their errors only
    // surface as a warning after the conversion: they must not affect it.
    let options = if options.is_undefined() || options.is_null() {
        Ok(RegisterOptions::default())
    } else {
        read_register_options(&options, "{ licenseKey, endpoint }")
    };
    let watched = conversion.clone();
    spawn_local(async move {
        match JsFuture::from(watched).await {
            Err(err) if is_abort(&err) => {
                if current_config().log_level == LogLevel::Verbose {
                    debug("conversion aborted; nothing registered");
                }
            }
            outcome => report_outcome(options, outcome.is_ok()).await,
        }
    });
    conversion
}

/// The conversion as a promise: called if it is a function (a synchronous throw
/// becomes a rejection, as in an async function), resolved otherwise.
fn start(conversion: &JsValue) -> Promise {
    let value = match conversion.dyn_ref::<Function>() {
        Some(function) => match function.call0(&JsValue::UNDEFINED) {
            Ok(value) => value,
            Err(thrown) => return Promise::reject(&thrown),
        },
        None => conversion.clone(),
    };
    Promise::resolve(&value)
}

/// Panics (bugs) print a Rust message on the console instead of "unreachable".
fn install_panic_hook() {
    #[cfg(feature = "console_error_panic_hook")]
    console_error_panic_hook::set_once();
}
