//! The async Rust API on the platform's `fetch`.

use crate::config::current_config;
use crate::delivery::deliver;
use crate::environment::{now_ms, page_origin, random_bytes};
use crate::error::TelemetryError;
use crate::options::{RegisterOptions, Registered, Usage, UsageOptions};
use crate::transport::FetchTransport;

/// Registers one usage event and returns how the server counted it.
///
/// # Errors
/// An invalid option (nothing is sent), or a delivery failure after the retries.
pub async fn register_usage_event(options: RegisterOptions) -> Result<Registered, TelemetryError> {
    let (request, _event_id) = options.prepare(&current_config(), page_origin().as_deref(), random_bytes())?;
    deliver(&FetchTransport, &request).await
}

/// Reads the usage counts with the secret key.
///
/// # Errors
/// An invalid option, a secret key on a public page (nothing is sent), or a
/// delivery failure after the retries.
pub async fn get_usage(options: UsageOptions) -> Result<Usage, TelemetryError> {
    let request = options.prepare(&current_config(), page_origin().as_deref(), now_ms())?;
    deliver(&FetchTransport, &request).await
}
