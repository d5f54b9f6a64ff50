//! # usage-telemetry
//!
//! Tells a vendor's licensing server that a conversion happened, where and whether it
//! succeeded, without slowing down or breaking the conversion; and reads the counts
//! back. Wire-compatible with the documented `@remotion/licensing` API.
//!
//! From JavaScript (built with wasm-pack into the npm package `usage-telemetry`):
//!
//! ```js
//! import init, { configure, trackConversion } from 'usage-telemetry';
//! await init();
//! configure({ endpoint: 'https://licensing.vendor.com', licenseKey: 'rm_pub_…' });
//! const output = await trackConversion(() => convert(file));
//! ```
//!
//! From Rust, for converters compiled to WebAssembly:
//!
//! ```ignore
//! use usage_telemetry::{track_conversion, RegisterOptions};
//! let options = RegisterOptions { license_key: Some("rm_pub_…".into()), endpoint: Some(url), ..Default::default() };
//! let output = track_conversion(convert(input), options).await?;
//! ```
//!
//! The layout: [`options`] checks and resolves each call's options into a request
//! (plain Rust, tested natively), [`retry`] holds the backoff schedule,
//! [`delivery`] the attempt loop over a small transport trait, [`config`] the
//! defaults set with `configure`, and on `wasm32` only, `transport` (fetch and
//! timers), `environment` (origin, clock, randomness, console), `outbox` (pending
//! registrations kept in IndexedDB by [`queue`]'s rules), `api` (the async Rust
//! API), `conversion` (the background registration) and `bindings`, the only file
//! that touches `JsValue`.

pub mod config;
pub mod delivery;
pub mod dynamic;
mod error;
pub mod json;
pub mod options;
pub mod queue;
pub mod retry;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod conversion;
#[cfg(target_arch = "wasm32")]
mod environment;
#[cfg(target_arch = "wasm32")]
mod outbox;
#[cfg(target_arch = "wasm32")]
mod tasks;
#[cfg(target_arch = "wasm32")]
mod transport;

pub use config::{configure, ConfigureOptions, LogLevel};
pub use error::TelemetryError;
pub use options::{BreakdownOptions, BreakdownView, HostChoice, RegisterOptions, Registered, Usage, UsageOptions};
pub use retry::RetryOptions;
pub use usage_core::wire::{AdminUsageResponse, BreakdownResponse, LimitStatus};
pub use usage_core::{Classification, EventKind, Granularity};

#[cfg(target_arch = "wasm32")]
pub use api::{get_usage, get_usage_breakdown, register_usage_event, UsageBreakdown};
#[cfg(target_arch = "wasm32")]
pub use conversion::{register_in_background, track_conversion};
#[cfg(target_arch = "wasm32")]
pub use outbox::flush;

/// The classification a succeeded event from `host` gets: `Development` for local
/// hosts, `Billable` otherwise. The very code the server runs (`usage-core`).
///
/// # Errors
/// [`TelemetryError::Invalid`] when `host` is not a valid origin.
pub fn classify_host(host: &str) -> Result<Classification, TelemetryError> {
    let origin = usage_core::Origin::parse_field(host, "host")?;
    Ok(usage_core::classify(true, Some(&origin), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_host_uses_the_shared_rules() {
        assert_eq!(classify_host("http://localhost:3000").unwrap(), Classification::Development);
        assert_eq!(classify_host("https://customer.com").unwrap(), Classification::Billable);
        assert_eq!(classify_host("http://[::1]").unwrap(), Classification::Development);
        let err = classify_host("https://customer.com/path").unwrap_err();
        assert!(err.to_string().starts_with("host `https://customer.com/path` is not a valid origin"));
    }
}

/// The npm package's allocator: talc, ~2 KB gzip smaller than dlmalloc.
#[cfg(all(target_arch = "wasm32", feature = "global-allocator"))]
#[global_allocator]
// SAFETY: `TalckWasm::new_global` requires single-threaded wasm: the package is
// built for wasm32-unknown-unknown without atomics, so it is.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
