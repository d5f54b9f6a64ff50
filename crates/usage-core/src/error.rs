//! Validation errors: each message names the field and the rule it broke.

use crate::host::HostError;

/// Why a request (or a client call) was refused before anything was counted.
///
/// The server maps each variant to an HTTP status; the WebAssembly module turns
/// the same variants into JavaScript errors, so both sides say the same thing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The body is not JSON, or a field has the wrong type or is missing.
    #[error("{}: {message}", if field.is_empty() { "request body" } else { field.as_str() })]
    Body {
        /// The JSON path of the offending field, empty for the body itself.
        field: String,
        /// What serde said about it.
        message: String,
    },
    /// The body is JSON but not an object.
    #[error("request body must be a JSON object")]
    NotAnObject,
    /// No key was given.
    #[error("{field} is missing: pass your {kind} key (it starts with `{prefix}`)")]
    MissingKey {
        /// `apiKey` (or `licenseKey` in the client).
        field: &'static str,
        /// `public` or `secret`.
        kind: &'static str,
        /// The prefix such keys start with.
        prefix: &'static str,
    },
    /// A key that is neither public nor secret.
    #[error("{field} is not a licence key: keys start with `rm_pub_` (public) or `rm_sec_` (secret)")]
    MalformedKey {
        /// The field that held it.
        field: &'static str,
    },
    /// A secret key where a browser sends events.
    #[error("secret keys must never be sent from a browser; use the public key (rm_pub_…) to register usage")]
    SecretKeyForRegistration,
    /// A public key where usage is read.
    #[error("getUsage needs the secret key (rm_sec_…); the public key can only register usage")]
    PublicKeyForUsage,
    /// An admin token on an endpoint that takes a licence key.
    #[error("admin tokens (rm_adm_…) are for the /api/admin endpoints only; this endpoint takes a licence key")]
    AdminTokenForLicenceEndpoint,
    /// A licence key on an admin endpoint.
    #[error("this endpoint needs an admin token (rm_adm_…); licence keys cannot read the vendor's view")]
    NeedsAdminToken,
    /// An `Authorization` header that is not `Bearer <key>`.
    #[error("the Authorization header must be `Bearer {expected}…`")]
    MalformedAuthorization {
        /// The prefix of the credential the endpoint takes.
        expected: &'static str,
    },
    /// A query parameter or range that breaks a rule (`until`, `granularity`, …).
    #[error("{field} {rule}")]
    InvalidParameter {
        /// The parameter.
        field: &'static str,
        /// The rule it broke, with what was given.
        rule: String,
    },
    /// A host or origin that is not a valid origin.
    #[error("{field} `{input}` is not a valid origin: it {reason}")]
    InvalidOrigin {
        /// `host`, or `Origin header` on the server.
        field: &'static str,
        /// What was given (cut to 200 characters).
        input: String,
        /// The rule it broke.
        reason: HostError,
    },
    /// An `eventId` that is not a UUID.
    #[error("eventId must be a UUID such as 123e4567-e89b-42d3-a456-426614174000 (got `{0}`)")]
    InvalidEventId(String),
    /// A `since` outside the window usage can be read for.
    #[error("since must be within the last 90 days, between {earliest} and now ({now}) (got {since})")]
    SinceOutOfRange {
        /// The requested instant.
        since: String,
        /// The earliest allowed instant.
        earliest: String,
        /// The current time.
        now: String,
    },
}

impl ValidationError {
    /// An [`ValidationError::InvalidEventId`] for `input`, cut so error bodies stay small.
    pub fn invalid_event_id(input: &str) -> Self {
        ValidationError::InvalidEventId(truncate(input, 64))
    }

    /// An [`ValidationError::InvalidOrigin`] for `input`, cut so error bodies stay small.
    pub fn invalid_origin(field: &'static str, input: &str, reason: HostError) -> Self {
        ValidationError::InvalidOrigin { field, input: truncate(input, 200), reason }
    }
}

/// At most `max` characters, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}
