//! The async Rust API on the platform's `fetch`. The JavaScript exports
//! (`bindings`) call the same functions and hand the server's answer on as
//! parsed; the Rust API reads it into its types.

use std::cell::Cell;

use usage_client::answers::{BreakdownView, Registered, Usage, UsageBreakdown, USAGE_FIELDS};
use usage_client::config::{current_config, LogLevel};
use usage_client::delivery::deliver;
use usage_client::options::{BreakdownOptions, RegisterOptions, UsageOptions};
use usage_client::request::PreparedRegistration;
use usage_client::TelemetryError;
use usage_core::EventId;

use crate::environment::{now_ms, page_origin, random_bytes, warn};
use crate::interop::{typed, Js};
use crate::outbox;
use crate::transport::FetchTransport;

thread_local! {
    static WARNED_UNLICENSED: Cell<bool> = const { Cell::new(false) };
}

/// Registers one usage event and returns how the server counted it. Without a
/// licence key (given or configured) the event is sent as unlicensed, with one
/// console warning per page.
///
/// # Errors
/// An invalid option (nothing is sent), or a delivery failure after the retries.
pub async fn register_usage_event(options: RegisterOptions) -> Result<Registered, TelemetryError> {
    outbox::submit(&prepare_registration(options)?).await
}

/// Checks a registration's options against the configuration and the current
/// origin; warns once per page when it goes out without a licence key.
pub(crate) fn prepare_registration(options: RegisterOptions) -> Result<PreparedRegistration, TelemetryError> {
    let config = current_config();
    // A time-ordered id: see `EventId::from_time_and_random`.
    let fresh_id = EventId::from_time_and_random(now_ms() as u64, random_bytes());
    let prepared = options.prepare(&config, page_origin().as_deref(), fresh_id)?;
    if prepared.unlicensed && config.log_level != LogLevel::Silent && !WARNED_UNLICENSED.with(|w| w.replace(true)) {
        warn(
            "no licence key is configured: usage is registered as unlicensed. \
             Pass licenseKey, or call configure({ licenseKey: 'rm_pub_…' })",
        );
    }
    Ok(prepared)
}

/// Reads the usage counts with the secret key.
///
/// # Errors
/// An invalid option, a secret key on a public page (nothing is sent), or a
/// delivery failure after the retries.
pub async fn get_usage(options: UsageOptions) -> Result<Usage, TelemetryError> {
    typed(usage_answer(options).await?)
}

/// `getUsage`'s answer as the platform parsed it, checked for the counts' fields.
pub(crate) async fn usage_answer(options: UsageOptions) -> Result<Js, TelemetryError> {
    let request = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    deliver(&FetchTransport, &request).await?.with_fields(USAGE_FIELDS)
}

/// Reads usage by time and origin: a licensee's breakdown with its secret key,
/// or the vendor's view with an admin token.
///
/// # Errors
/// An invalid option or range, a credential on a public page (nothing is sent),
/// or a delivery failure after the retries.
pub async fn get_usage_breakdown(options: BreakdownOptions) -> Result<UsageBreakdown, TelemetryError> {
    let (answer, view) = breakdown_answer(options).await?;
    match view {
        BreakdownView::Vendor => typed(answer).map(UsageBreakdown::Vendor),
        BreakdownView::Licensee => typed(answer).map(UsageBreakdown::Licence),
    }
}

/// `getUsageBreakdown`'s answer as the platform parsed it, checked for its
/// view's fields.
pub(crate) async fn breakdown_answer(options: BreakdownOptions) -> Result<(Js, BreakdownView), TelemetryError> {
    let (request, view) = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    let answer = deliver(&FetchTransport, &request).await?.with_fields(view.fields())?;
    Ok((answer, view))
}
