//! The async Rust API on the platform's `fetch`.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use usage_core::wire::{AdminUsageResponse, BreakdownResponse};
use usage_core::EventId;

use crate::config::{current_config, LogLevel};
use crate::delivery::{deliver_reading, object_with};
use crate::dynamic::from_value;
use crate::environment::{now_ms, page_origin, random_bytes, warn};
use crate::error::TelemetryError;
use crate::json::Parsed;
use crate::options::{
    BreakdownOptions, BreakdownView, PreparedRegistration, RegisterOptions, Registered, Usage, UsageOptions,
};
use crate::outbox;
use crate::transport::FetchTransport;

/// What `getUsageBreakdown` answers: a licensee's breakdown (secret key) or the
/// vendor's view of every licence (admin token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsageBreakdown {
    /// `GET /api/admin/usage`.
    Vendor(AdminUsageResponse),
    /// `GET /api/usage/breakdown`.
    Licence(BreakdownResponse),
}

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
    let request = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    deliver_reading(&FetchTransport, &request, typed).await
}

/// [`get_usage`] for JavaScript: the server's answer as parsed, checked for the
/// counts' fields (typing every number in Rust only to hand them back to
/// JavaScript would cost the wasm build kilobytes and change nothing).
pub(crate) async fn get_usage_answer(options: UsageOptions) -> Result<Parsed, TelemetryError> {
    let request = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    deliver_reading(&FetchTransport, &request, object_with(&["webcodecConversions", "cloudRenders", "webRenders"]))
        .await
}

/// Reads usage by time and origin: a licensee's breakdown with its secret key,
/// or the vendor's view with an admin token.
///
/// # Errors
/// An invalid option or range, a credential on a public page (nothing is sent),
/// or a delivery failure after the retries.
pub async fn get_usage_breakdown(options: BreakdownOptions) -> Result<UsageBreakdown, TelemetryError> {
    let (request, view) = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    match view {
        BreakdownView::Vendor => deliver_reading(&FetchTransport, &request, typed).await.map(UsageBreakdown::Vendor),
        BreakdownView::Licensee => deliver_reading(&FetchTransport, &request, typed).await.map(UsageBreakdown::Licence),
    }
}

/// [`get_usage_breakdown`] for JavaScript: the server's answer as parsed,
/// checked for the view's fields.
pub(crate) async fn get_usage_breakdown_answer(options: BreakdownOptions) -> Result<Parsed, TelemetryError> {
    let (request, view) = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    let fields: &'static [&'static str] = match view {
        BreakdownView::Vendor => &["licenses", "unlicensed", "freeLicense", "series", "origins"],
        BreakdownView::Licensee => &["series", "origins", "otherOrigins", "totals"],
    };
    deliver_reading(&FetchTransport, &request, object_with(fields)).await
}

/// An answer read with serde into the Rust API's types.
fn typed<T: serde::de::DeserializeOwned>(parsed: Parsed) -> Option<T> {
    from_value(parsed).ok()
}
