//! The usage server: receives usage events from the telemetry module (and from
//! existing `@remotion/licensing` clients), classifies them with `usage-core`,
//! counts each exactly once and answers usage queries.
//!
//! `main.rs` only parses the command line; [`cli`] runs the commands, [`http`]
//! builds the axum application ([`http::app`], also used by in-process tests),
//! [`store`] talks to SQLite or PostgreSQL, [`report`] folds counts into the
//! breakdown, the vendor's view and CSV, and [`keys`] makes and hashes keys and
//! admin tokens.

pub mod allowed_origins;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connections;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod report;
pub mod store;
pub mod telemetry;
pub mod webhook_sender;
pub mod webhooks;
