//! # usage-client
//!
//! Everything the usage-telemetry module decides without a browser, in plain Rust
//! tested natively: the options of each call and their checks ([`options`]), the
//! defaults set with `configure` ([`config`]), the request each call sends
//! ([`request`]), the backoff schedule ([`retry`]), the attempt loop over a small
//! transport trait ([`delivery`]), the answers it reads ([`answers`]), and the rules
//! of the queue of pending registrations ([`queue`]).
//!
//! This crate cannot name a JavaScript type: the wasm shell (the `usage-telemetry`
//! crate) supplies the platform through two traits, [`delivery::Transport`] (fetch,
//! timers, randomness) and [`fields::DynamicValue`] (a JavaScript value read one
//! level at a time).
//!
//! ```
//! use usage_client::{config::Config, options::RegisterOptions, EventKind};
//! use usage_core::EventId;
//!
//! let config = Config { endpoint: Some("https://licensing.vendor.com".into()), ..Config::default() };
//! let options = RegisterOptions {
//!     license_key: Some("rm_pub_abc".into()),
//!     event: Some(EventKind::WebcodecConversion),
//!     succeeded: Some(true),
//!     ..RegisterOptions::default()
//! };
//! let fresh_id = EventId::from_time_and_random(1_795_000_000_000, [7; 16]);
//! let prepared = options.prepare(&config, Some("https://customer.com"), fresh_id).unwrap();
//! assert_eq!(prepared.request.url, "https://licensing.vendor.com/api/track/register-usage-point");
//! ```

pub mod answers;
pub mod config;
pub mod delivery;
pub mod endpoint;
mod error;
pub mod fields;
pub mod json;
pub mod options;
pub mod queue;
pub mod request;
pub mod retry;

pub use config::{ConfigureOptions, LogLevel};
pub use error::TelemetryError;
pub use usage_core::{Classification, EventKind, Granularity};

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
