//! Reporting a conversion in the background once it has settled.

use std::future::Future;

use usage_core::EventKind;
use wasm_bindgen_futures::spawn_local;

use crate::api::register_usage_event;
use crate::config::{current_config, LogLevel};
use crate::environment::{debug, warn};
use crate::error::TelemetryError;
use crate::options::RegisterOptions;

/// Runs `conversion`, returns exactly its result, and registers `succeeded:
/// result.is_ok()` in the background (event `webcodec-conversion` unless `options`
/// says otherwise). Telemetry failures are logged per `logLevel`, never returned.
pub async fn track_conversion<T, E>(
    conversion: impl Future<Output = Result<T, E>>,
    options: RegisterOptions,
) -> Result<T, E> {
    let result = conversion.await;
    register_in_background(Ok(options), result.is_ok());
    result
}

/// Registers an outcome without making anyone wait: the work runs as its own task,
/// and every error ends in at most one console line.
pub fn register_in_background(options: Result<RegisterOptions, TelemetryError>, succeeded: bool) {
    spawn_local(report_outcome(options, succeeded));
}

/// Registers a conversion's outcome and logs the result per `logLevel`; never fails.
pub(crate) async fn report_outcome(options: Result<RegisterOptions, TelemetryError>, succeeded: bool) {
    let log_level = current_config().log_level;
    let outcome = match options {
        Ok(options) => {
            let options = RegisterOptions {
                succeeded: Some(succeeded),
                event: options.event.or(Some(EventKind::WebcodecConversion)),
                ..options
            };
            register_usage_event(options).await
        }
        Err(err) => Err(err),
    };
    match (outcome, log_level) {
        (Ok(registered), LogLevel::Verbose) => {
            debug(&format!("conversion registered as {}", registered.classification.as_str()));
        }
        (Err(err), LogLevel::Warn | LogLevel::Verbose) => {
            warn(&format!("the conversion was not registered (the conversion itself is unaffected): {err}"));
        }
        _ => {}
    }
}
