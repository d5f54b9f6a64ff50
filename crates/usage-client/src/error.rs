//! The module's one error type. JavaScript sees each as an `Error` whose `name` is
//! `UsageTelemetryError`, with a `code` (and `status` for server answers).

use usage_core::ValidationError;

/// Why a call failed. Every message names the field or the endpoint and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryError {
    /// A rule shared with the server (key kind, host, eventId, since).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An option of the wrong type or out of range.
    #[error("{field}: {rule}")]
    InvalidOption {
        /// The option's path, e.g. `retry.timeoutMs`.
        field: String,
        /// What it must be.
        rule: String,
    },
    /// Neither the call nor `configure` gave an endpoint.
    #[error("no endpoint configured: pass `endpoint`, or call configure({{ endpoint: 'https://…' }}) first")]
    NoEndpoint,
    /// `getUsage` with a secret key from a public web page.
    #[error(
        "refusing to send a secret key from the browser page {origin}: anyone visiting it could read the key. \
         Call getUsage from your backend, or pass dangerouslyAllowBrowser: true if this page is private"
    )]
    SecretKeyInBrowser {
        /// The page's origin.
        origin: String,
    },
    /// The server could not be reached, on every attempt.
    #[error("could not reach the usage server at {url} ({attempts} attempts): {message}")]
    Network {
        /// The endpoint URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error, as the platform put it.
        message: String,
    },
    /// Every attempt timed out.
    #[error("the usage server at {url} did not answer within {timeout_ms} ms ({attempts} attempts)")]
    Timeout {
        /// The endpoint URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The per-attempt timeout.
        timeout_ms: u32,
    },
    /// The server refused the request; `message` is its `error`.
    #[error("the usage server answered {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// The answer was not the JSON the API promises (a proxy's HTML page, say).
    #[error("the usage server answered {status} with a body that is not the usage API's JSON: {snippet}")]
    NotJson {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        snippet: String,
    },
}

impl TelemetryError {
    /// A short stable code for programs: `invalid`, `no_endpoint`, `secret_key_in_browser`,
    /// `network`, `timeout`, `server`, `not_json`.
    pub fn code(&self) -> &'static str {
        match self {
            TelemetryError::Invalid(_) | TelemetryError::InvalidOption { .. } => "invalid",
            TelemetryError::NoEndpoint => "no_endpoint",
            TelemetryError::SecretKeyInBrowser { .. } => "secret_key_in_browser",
            TelemetryError::Network { .. } => "network",
            TelemetryError::Timeout { .. } => "timeout",
            TelemetryError::Server { .. } => "server",
            TelemetryError::NotJson { .. } => "not_json",
        }
    }

    /// The HTTP status, for errors the server answered with.
    pub fn status(&self) -> Option<u16> {
        match self {
            TelemetryError::Server { status, .. } | TelemetryError::NotJson { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// An [`TelemetryError::InvalidOption`] naming `field` and its `rule`.
    pub fn option(field: impl Into<String>, rule: impl Into<String>) -> Self {
        TelemetryError::InvalidOption { field: field.into(), rule: rule.into() }
    }
}
