//! The rules the usage-telemetry WebAssembly module and the usage server share.
//!
//! Everything here is pure Rust without I/O, so it compiles both natively (for the
//! server and for unit tests) and for `wasm32-unknown-unknown` (for the browser
//! module). Keeping the rules in one place means a page can ask
//! [`classify`] what a conversion will count as and get the very answer the
//! server will give.
//!
//! ```
//! use usage_core::{classify, Classification, Origin};
//!
//! let origin: Origin = "http://localhost:5173".parse().unwrap();
//! assert_eq!(classify(true, Some(&origin), None), Classification::Development);
//!
//! let origin: Origin = "https://customer.com".parse().unwrap();
//! assert_eq!(classify(true, Some(&origin), None), Classification::Billable);
//! assert_eq!(classify(false, Some(&origin), None), Classification::Failed);
//! ```

mod calendar;
mod classify;
mod error;
mod event;
mod event_id;
mod host;
mod ip;
mod key;
mod range;
mod since;
mod text;
pub mod wire;

pub use calendar::{format_rfc3339_ms, month_period_utc_ms, start_of_month_utc_ms, MS_PER_DAY, MS_PER_HOUR};
pub use classify::{classify, Classification};
pub use error::ValidationError;
pub use event::EventKind;
pub use event_id::EventId;
pub use host::{Host, HostError, Origin, ALLOWED_SCHEMES, MAX_ORIGIN_LEN};
pub use key::{KeyKind, Licence, ADMIN_TOKEN_PREFIX, FREE_LICENSE, PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX};
pub use range::{Granularity, UsageRange};
pub use since::{resolve_since, MAX_LOOKBACK_MS};
