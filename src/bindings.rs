//! The JavaScript API and its TypeScript types. Each export reads its options
//! (`interop`), calls the Rust API, and turns errors into `UsageTelemetryError`s.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use usage_client::config::{current_config, ConfigureOptions, LogLevel};
use usage_client::options::{BreakdownOptions, RegisterOptions, UsageOptions};
use usage_client::TelemetryError;

use crate::conversion::{report_outcome, RegistrationOutcome};
use crate::environment::{debug, is_cancellation};
use crate::interop::{read_options, set, set_registered, to_js_error};
use crate::tasks::{promise, spawn};

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

/** Delivery: `retries` after the first attempt, backoff from `baseDelayMs` doubling (each wait ±50 % at random), `timeoutMs` per attempt. */
export interface RetryOptions {
  retries?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

export interface RegisterUsageEventOptions {
  /**
   * The public key (`rm_pub_…`), or `"free-license"`; wins over `apiKey`. With no key
   * here or in `configure`, the event is registered as unlicensed (`apiKey: null`).
   */
  licenseKey?: string | null;
  /** The legacy name of `licenseKey`. */
  apiKey?: string | null;
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
  /** `true` when the licence's billable events this month now exceed its monthly limit (the event still counts). */
  overLimit?: boolean;
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

/** A key's monthly limit of billable events and where this calendar month (UTC) stands. */
export interface UsageLimit {
  monthlyBillable: number;
  used: number;
  /** Never below 0. */
  remaining: number;
  /** The month's first instant, ms since the epoch. */
  periodStart: number;
  /** The next month's first instant. */
  periodEnd: number;
}

export interface KindCounts {
  webcodecConversions: UsageCounts;
  cloudRenders: UsageCounts;
  webRenders: UsageCounts;
}

export interface Usage extends KindCounts {
  /** Present when the key has a monthly limit. */
  limit?: UsageLimit;
}

export interface GetUsageBreakdownOptions {
  /** A licensee's secret key (`rm_sec_…`) or the vendor's admin token (`rm_adm_…`). */
  apiKey?: string;
  licenseKey?: string;
  /** Milliseconds since the epoch, within the last 90 days; default: start of this month (UTC). */
  since?: number | null;
  /** Milliseconds since the epoch, after `since`; default: now. */
  until?: number | null;
  /** `day` (default) or `hour` (ranges up to 7 days). */
  granularity?: "day" | "hour";
  endpoint?: string;
  /** Send a secret key or admin token from a public web page anyway. */
  dangerouslyAllowBrowser?: boolean;
  retry?: RetryOptions;
}

/** One UTC day or hour. */
export interface SeriesBucket extends KindCounts {
  start: number;
}

export interface OriginCounts extends UsageCounts {
  /** `null` for events that carried no origin. */
  origin: string | null;
}

/** A licensee's usage by time and origin (`getUsageBreakdown` with a secret key). */
export interface UsageBreakdown {
  success: true;
  since: number;
  until: number;
  granularity: "day" | "hour";
  series: SeriesBucket[];
  /** The 50 busiest origins, most events first. */
  origins: OriginCounts[];
  otherOrigins: UsageCounts;
  /** Events counted without their origin: past the server's daily cap on new origins. */
  foldedOrigins: UsageCounts;
  /** Origins the key was used on without being allowed: stored, never billed, not in `totals`. */
  notAllowedOrigins: OriginCounts[];
  totals: KindCounts;
  limit?: UsageLimit;
}

/** The vendor's view of every licence (`getUsageBreakdown` with an admin token). */
export interface VendorUsage {
  success: true;
  since: number;
  until: number;
  granularity: "day" | "hour";
  licenses: {
    name: string;
    publicKey: string;
    revoked: boolean;
    totals: KindCounts;
    /** Events counted without their origin: past the server's daily cap on new origins. */
    foldedOrigins: UsageCounts;
    /** Where its key was used without being allowed (a copied key): never billed. */
    notAllowedOrigins: OriginCounts[];
    limit?: UsageLimit;
  }[];
  unlicensed: { totals: KindCounts; origins: OriginCounts[]; foldedOrigins: UsageCounts };
  freeLicense: { totals: KindCounts; origins: OriginCounts[]; foldedOrigins: UsageCounts };
  series: SeriesBucket[];
  /**
   * The 100 busiest (origin, licence) pairs; `license` is a key's name, `"free-license"` or `null`;
   * `notAllowed` marks a key's use on an origin it is not allowed on.
   */
  origins: (OriginCounts & { license: string | null; notAllowed?: true })[];
}

/** How a background registration settled: what `onRegistered` receives. */
export type RegistrationOutcome =
  | { ok: true; billable: boolean; classification: Classification; overLimit?: boolean; /** The exact JSON body sent. */ body: string }
  | { ok: false; error: UsageTelemetryError; /** The JSON body sent, when the options allowed one to be built. */ body?: string };

/** `registerUsageEvent`'s options without `succeeded`; `event` defaults to `webcodec-conversion`. */
export type TrackConversionOptions = Omit<RegisterUsageEventOptions, "succeeded" | "event"> & {
  event?: UsageEventKind;
  /** Called once the background registration settles (never for a cancelled conversion); what it throws is ignored. */
  onRegistered?: (outcome: RegistrationOutcome) => void;
};

/** Anything with an `execute()` that returns a promise, such as a Mediabunny `Conversion`. */
export interface Executable<T> {
  execute(): Promise<T>;
}

export interface ConfigureOptions {
  endpoint?: string;
  /** The public key (or `"free-license"`) used when a call gives none. */
  licenseKey?: string;
  logLevel?: LogLevel;
  retry?: RetryOptions;
}

/** What `flush()` did: registrations the server answered, and those still pending (kept for a later try). */
export interface FlushResult {
  sent: number;
  pending: number;
}

/**
 * Every error this module throws or rejects with. `unavailable`: the call needs the
 * WebAssembly module, which could not be used on this page (a Content-Security-Policy
 * without 'wasm-unsafe-eval', say); registrations still go out without it.
 */
export interface UsageTelemetryError extends Error {
  name: "UsageTelemetryError";
  code: "invalid" | "no_endpoint" | "secret_key_in_browser" | "network" | "timeout" | "server" | "not_json" | "unavailable";
  /** The HTTP status, when the server answered. */
  status?: number;
}

/**
 * Runs a conversion and registers its outcome in the background. The returned
 * promise settles exactly as the conversion does; telemetry never rejects, throws
 * or delays it. A cancelled conversion (`AbortError`, Mediabunny's
 * `ConversionCanceledError`) is not reported. `conversion` may be a promise, a
 * function returning one (or a value), or an object with `execute()` (a Mediabunny
 * `Conversion`), which is executed.
 */
export function trackConversion<T>(conversion: Promise<T> | (() => Promise<T> | T) | Executable<T>, options?: TrackConversionOptions): Promise<T>;
"#;

/// Registers one usage event (the documented `@remotion/licensing` call).
#[wasm_bindgen(js_name = registerUsageEvent, unchecked_return_type = "Promise<RegisterUsageEventResult>")]
pub fn register_usage_event(
    #[wasm_bindgen(unchecked_param_type = "RegisterUsageEventOptions")] options: JsValue,
) -> Promise {
    enter();
    let options = read_options(&options, "{ licenseKey, event, succeeded }");
    promise(async move {
        let registered = crate::api::register_usage_event(options.map_err(to_js_error)?).await.map_err(to_js_error)?;
        let result = js_sys::Object::new();
        set_registered(&result, &registered);
        Ok(result.into())
    })
}

/// Reads usage counts with the secret key (from a backend).
#[wasm_bindgen(js_name = getUsage, unchecked_return_type = "Promise<Usage>")]
pub fn get_usage(#[wasm_bindgen(unchecked_param_type = "GetUsageOptions")] options: JsValue) -> Promise {
    enter();
    let options = read_options::<UsageOptions>(&options, "{ apiKey, since }");
    promise(async move {
        let usage = crate::api::usage_answer(options.map_err(to_js_error)?).await.map_err(to_js_error)?.0;
        // getUsage returns the counts (and limit) alone, as it always has.
        Reflect::delete_property(usage.unchecked_ref::<js_sys::Object>(), &"success".into())?;
        Ok(usage)
    })
}

/// Reads usage by time and origin: a licensee's breakdown (secret key) or the
/// vendor's view (admin token), from a backend.
#[wasm_bindgen(js_name = getUsageBreakdown, unchecked_return_type = "Promise<UsageBreakdown | VendorUsage>")]
pub fn get_usage_breakdown(
    #[wasm_bindgen(unchecked_param_type = "GetUsageBreakdownOptions")] options: JsValue,
) -> Promise {
    enter();
    let options = read_options::<BreakdownOptions>(&options, "{ apiKey, since, granularity }");
    promise(async move {
        let (answer, _view) = crate::api::breakdown_answer(options.map_err(to_js_error)?).await.map_err(to_js_error)?;
        Ok(answer.0)
    })
}

/// What a succeeded event from `host` counts as, by the server's own rules.
#[wasm_bindgen(js_name = classifyHost, unchecked_return_type = "HostClassification")]
pub fn classify_host(#[wasm_bindgen(unchecked_param_type = "string")] host: JsValue) -> Result<JsValue, JsValue> {
    enter();
    let host = host
        .as_string()
        .ok_or_else(|| to_js_error(TelemetryError::option("host", "must be a string such as https://example.com")))?;
    let classification = usage_client::classify_host(&host).map_err(to_js_error)?;
    Ok(JsValue::from_str(classification.as_str()))
}

/// Sets defaults for later calls; throws (changing nothing) on an invalid option.
#[wasm_bindgen(js_name = configure)]
pub fn configure(#[wasm_bindgen(unchecked_param_type = "ConfigureOptions")] options: JsValue) -> Result<(), JsValue> {
    enter();
    let options: ConfigureOptions = read_options(&options, "{ endpoint, licenseKey }").map_err(to_js_error)?;
    usage_client::config::configure(options).map_err(to_js_error)
}

/// See the TypeScript declaration above.
#[wasm_bindgen(js_name = trackConversion, skip_typescript)]
pub fn track_conversion(conversion: JsValue, options: JsValue) -> Promise {
    enter();
    let conversion = start(&conversion);
    // Options are read now (the caller may reuse the object) but their errors only
    // surface as a warning after the conversion: they must not affect it.
    let (options, on_registered) = if options.is_undefined() || options.is_null() {
        (Ok(RegisterOptions::default()), None)
    } else {
        let callback = Reflect::get(&options, &"onRegistered".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
        (read_options(&options, "{ licenseKey, endpoint }"), callback)
    };
    let watched = conversion.clone();
    spawn(async move {
        match JsFuture::from(watched).await {
            Err(err) if is_cancellation(&err) => {
                if current_config().log_level == LogLevel::Verbose {
                    debug("conversion cancelled; nothing registered");
                }
            }
            outcome => {
                let registration = report_outcome(options, outcome.is_ok()).await;
                if let Some(callback) = on_registered {
                    // Whatever the callback throws stays here: it must not become an
                    // unhandled error of the page.
                    let _ = callback.call1(&JsValue::UNDEFINED, &outcome_to_js(registration));
                }
            }
        }
    });
    conversion
}

/// `{ ok: true, billable, classification, overLimit?, body }` or `{ ok: false, error, body? }`.
fn outcome_to_js(outcome: RegistrationOutcome) -> JsValue {
    let object = js_sys::Object::new();
    match outcome.result {
        Ok(registered) => {
            set(&object, "ok", JsValue::TRUE);
            set_registered(&object, &registered);
        }
        Err(err) => {
            set(&object, "ok", JsValue::FALSE);
            set(&object, "error", to_js_error(err));
        }
    }
    if let Some(body) = outcome.body {
        set(&object, "body", body.into());
    }
    object.into()
}

/// The conversion as a promise: called if it is a function (a synchronous throw
/// becomes a rejection, as in an async function), executed if it has `execute()`
/// (a Mediabunny `Conversion`), resolved otherwise.
fn start(conversion: &JsValue) -> Promise {
    let call = |function: &Function, this: &JsValue| match function.call0(this) {
        Ok(value) => Promise::resolve(&value),
        Err(thrown) => Promise::reject(&thrown),
    };
    if let Some(function) = conversion.dyn_ref::<Function>() {
        return call(function, &JsValue::UNDEFINED);
    }
    if conversion.is_object() && !conversion.has_type::<Promise>() {
        let execute = Reflect::get(conversion, &"execute".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(execute) = execute {
            return call(&execute, conversion);
        }
    }
    Promise::resolve(conversion)
}

/// What every export does first: panics (bugs) print a Rust message on the
/// console instead of "unreachable", and the outbox starts (re-sending what
/// earlier views left).
fn enter() {
    #[cfg(feature = "console_error_panic_hook")]
    console_error_panic_hook::set_once();
    crate::outbox::ensure_started();
}

/// Called by the package's `init()` once the module is loaded, so earlier views'
/// registrations are re-sent without waiting for a first call. Not
/// `#[wasm_bindgen(start)]`: a binary may have only one start function, and a
/// converter that depends on this crate from Rust may have its own.
#[wasm_bindgen(js_name = __start, skip_typescript)]
pub fn start_outbox() {
    enter();
}

/// Sends every pending registration now (this view's and earlier views'), in
/// batches, one attempt each.
#[wasm_bindgen(js_name = flush, unchecked_return_type = "Promise<FlushResult>")]
pub fn flush() -> Promise {
    enter();
    promise(async {
        let (sent, pending) = crate::outbox::flush().await;
        let result = js_sys::Object::new();
        set(&result, "sent", (sent as u32).into());
        set(&result, "pending", (pending as u32).into());
        Ok(result.into())
    })
}
