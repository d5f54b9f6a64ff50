//! # usage-telemetry
//!
//! Tells a vendor's licensing server that a conversion happened, where and whether it
//! succeeded, without slowing down or breaking the conversion; and reads the counts
//! back. Wire-compatible with the documented `@remotion/licensing` API.
//!
//! From JavaScript (built with wasm-pack into the npm package `usage-telemetry`):
//!
//! ```js
//! import { configure, trackConversion } from 'usage-telemetry';
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
//! This crate is the wasm shell over [`usage_client`], which holds every rule in
//! plain Rust and cannot name a JavaScript type. Here: `bindings` (the JavaScript
//! API and its TypeScript types), `interop` (JavaScript values in and out), `api`
//! (the async Rust API), `conversion` (the background registration), `transport`
//! (`fetch`), `environment` (origin, clock, randomness, console, timers), `tasks`
//! and `outbox` (pending registrations kept in IndexedDB, sent at the end of each
//! turn and when the page hides).

mod api;
mod bindings;
mod conversion;
mod environment;
mod interop;
mod outbox;
mod tasks;
mod transport;

pub use api::{get_usage, get_usage_breakdown, register_usage_event};
pub use conversion::{register_in_background, track_conversion};
pub use outbox::flush;
pub use usage_client::answers::{Registered, Usage, UsageBreakdown};
pub use usage_client::config::{configure, ConfigureOptions, LogLevel};
pub use usage_client::options::{BreakdownOptions, HostChoice, RegisterOptions, UsageOptions};
pub use usage_client::retry::RetryOptions;
pub use usage_client::{classify_host, TelemetryError};
pub use usage_core::wire::{AdminUsageResponse, BreakdownResponse, LimitStatus};
pub use usage_core::{Classification, EventKind, Granularity};

/// The npm package's allocator: talc, ~2 KB gzip smaller than dlmalloc.
#[cfg(all(target_arch = "wasm32", feature = "global-allocator"))]
#[global_allocator]
// SAFETY: `TalckWasm::new_global` requires single-threaded wasm: the package is
// built for wasm32-unknown-unknown without atomics, so it is.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
