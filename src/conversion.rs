//! Reporting a conversion in the background once it has settled.

use std::future::Future;

use usage_client::answers::Registered;
use usage_client::config::{current_config, LogLevel};
use usage_client::options::RegisterOptions;
use usage_client::TelemetryError;
use usage_core::EventKind;

use crate::api::prepare_registration;
use crate::environment::{debug, warn};

/// How a background registration settled, for a UI that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationOutcome {
    /// How the server counted it, or why it was not.
    pub result: Result<Registered, TelemetryError>,
    /// The exact JSON body sent (absent when the options were invalid).
    pub body: Option<String>,
}

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
    crate::tasks::spawn(async move {
        report_outcome(options, succeeded).await;
    });
}

/// Registers a conversion's outcome and logs the result per `logLevel`; never
/// fails. Returns the outcome for a caller that shows it.
pub(crate) async fn report_outcome(
    options: Result<RegisterOptions, TelemetryError>,
    succeeded: bool,
) -> RegistrationOutcome {
    let prepared = options.and_then(|options| {
        prepare_registration(RegisterOptions {
            succeeded: Some(succeeded),
            event: options.event.or(Some(EventKind::WebcodecConversion)),
            ..options
        })
    });
    let outcome = match prepared {
        Ok(prepared) => {
            RegistrationOutcome { result: crate::outbox::submit(&prepared).await, body: Some(prepared.request.body) }
        }
        Err(err) => RegistrationOutcome { result: Err(err), body: None },
    };
    match (&outcome.result, current_config().log_level) {
        (Ok(registered), LogLevel::Verbose) => {
            debug(&format!("conversion registered as {}", registered.classification.as_str()));
        }
        (Err(err), LogLevel::Warn | LogLevel::Verbose) => {
            warn(&format!("the conversion was not registered (the conversion itself is unaffected): {err}"));
        }
        _ => {}
    }
    outcome
}
