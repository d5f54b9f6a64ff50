//! Every error answer: a status and `{"success":false,"error":"…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use usage_core::wire::ErrorResponse;
use usage_core::ValidationError;

use super::rate_limit::Limited;
use crate::store::StoreError;
use crate::telemetry::LogThrottle;

/// Why a request was refused. Nothing is written for any of them.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body broke a rule of the shared core (400, or 401/403 for key rules).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A well-formed licence key that is unknown or revoked; names where it was.
    #[error("{0} is not a known key, or it has been revoked")]
    UnknownKey(&'static str),
    /// A well-formed admin token that is unknown or revoked.
    #[error("the admin token is not known, or it has been revoked")]
    UnknownAdminToken,
    /// Over a rate limit (429 with `Retry-After`); nothing was written.
    #[error(
        "too many events from this {}: at most {} a minute; retry in {} s",
        .0.scope, .0.per_minute, .0.retry_after_secs
    )]
    RateLimited(Limited),
    /// The body (or one registration of a batch) is over its limit, in bytes.
    #[error("request body must be at most {0} bytes")]
    PayloadTooLarge(usize),
    /// A batch that is not an array of 1 to 100 registrations.
    #[error("the body must be a JSON array of 1 to {max} registrations ({found})")]
    NotABatch {
        /// The most one request carries.
        max: usize,
        /// What was found instead.
        found: String,
    },
    /// Neither JSON nor plain text.
    #[error("Content-Type must be application/json or text/plain with a JSON body (got `{0}`)")]
    UnsupportedMediaType(String),
    /// The body did not arrive in full in time (408; the connection is closed).
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The body could not be read (the client went away, say).
    #[error("request body could not be read")]
    UnreadableBody,
    /// A read-only admin token asked for a change (403).
    #[error(
        "this admin token is read-only: it cannot change licences or webhooks; use a token made without --read-only"
    )]
    ReadOnlyToken,
    /// No licence with that id (404).
    #[error("no license has id {0}")]
    NoSuchLicence(String),
    /// No webhook endpoint with that id (404).
    #[error("no webhook endpoint has id `{0}`")]
    NoSuchEndpoint(String),
    /// A change to a revoked licence (409).
    #[error("license {0} is revoked: it can be read, not changed")]
    LicenceRevoked(i64),
    /// A licence or token name that is taken (409).
    #[error("name: `{0}` is taken by another license")]
    NameTaken(String),
    /// A field of a management request breaks its rule (400).
    #[error("{field}: {rule}")]
    InvalidField {
        /// The field, as the API names it.
        field: String,
        /// What it must be.
        rule: String,
    },
    /// No such route.
    #[error(
        "no endpoint at {0}; the API is POST /api/track/register-usage-point, \
         POST /api/track/register-usage-points, POST /api/track/get-usage, \
         GET /api/usage/breakdown, GET /api/usage/export.csv, GET /api/admin/usage, GET /api/admin/export.csv, \
         /api/admin/licenses, /api/admin/webhooks and GET /api/admin/audit"
    )]
    NotFound(String),
    /// A route hit with the wrong method.
    #[error("{path} does not accept {method}; use {allowed}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
        /// The method it takes.
        allowed: &'static str,
    },
    /// The database cannot be used right now: a full disk, a read-only or
    /// unreachable database (503 with `Retry-After`; logged, throttled).
    #[error("the usage server cannot use its database right now; nothing of this request was stored; try again later")]
    Unavailable(#[source] anyhow::Error),
    /// Every database connection is in use (503 with `Retry-After`).
    #[error("the usage server is busy; nothing of this request was stored; try again shortly")]
    Busy,
    /// `/readyz`: why the server cannot take events now (503).
    #[error("not ready: {0}")]
    NotReady(String),
    /// Anything else (500; logged, never shown).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        ApiError::RateLimited(limited)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let answer = match err {
            StoreError::Busy => ApiError::Busy,
            StoreError::NoSuchLicence(id) => ApiError::NoSuchLicence(id.to_string()),
            StoreError::NoSuchEndpoint(id) => ApiError::NoSuchEndpoint(id),
            StoreError::LicenceRevoked(id) => ApiError::LicenceRevoked(id),
            StoreError::DuplicateKeyName(name) => ApiError::NameTaken(name),
            StoreError::InvalidField { field, rule } => ApiError::InvalidField { field: field.to_owned(), rule },
            err if err.is_unavailable() => ApiError::Unavailable(err.into()),
            err => ApiError::Internal(err.into()),
        };
        // The database failed, rather than refused what was asked.
        if matches!(answer, ApiError::Busy | ApiError::Unavailable(_) | ApiError::Internal(_)) {
            crate::metrics::database_error("request");
        }
        answer
    }
}

/// Seconds a client is asked to wait after a 503: long enough that a full disk
/// is not hammered, short enough that a busy moment passes.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Failures repeat with every request while they last: one line a minute each.
static INTERNAL_ERRORS: LogThrottle = LogThrottle::per_minute();
static UNAVAILABLE_ERRORS: LogThrottle = LogThrottle::per_minute();

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(err) => match err {
                ValidationError::MissingKey { .. }
                | ValidationError::MalformedKey { .. }
                | ValidationError::MalformedAuthorization { .. } => StatusCode::UNAUTHORIZED,
                ValidationError::SecretKeyForRegistration
                | ValidationError::PublicKeyForUsage
                | ValidationError::AdminTokenForLicenceEndpoint
                | ValidationError::NeedsAdminToken => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            },
            ApiError::UnknownKey(_) | ApiError::UnknownAdminToken => StatusCode::UNAUTHORIZED,
            ApiError::ReadOnlyToken => StatusCode::FORBIDDEN,
            ApiError::NoSuchLicence(_) | ApiError::NoSuchEndpoint(_) => StatusCode::NOT_FOUND,
            ApiError::LicenceRevoked(_) => StatusCode::CONFLICT,
            ApiError::NameTaken(_) => StatusCode::CONFLICT,
            ApiError::InvalidField { .. } => StatusCode::BAD_REQUEST,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotABatch { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UnreadableBody => StatusCode::BAD_REQUEST,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::Busy | ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(source) => {
                if let Some(held_back) = INTERNAL_ERRORS.admit() {
                    tracing::error!(error = ?source, held_back, "request failed");
                }
            }
            ApiError::Unavailable(source) => {
                if let Some(held_back) = UNAVAILABLE_ERRORS.admit() {
                    tracing::warn!(error = %source, held_back, "database unavailable; answering 503");
                }
            }
            _ => {}
        }
        let mut response = (self.status(), Json(ErrorResponse::new(self.to_string()))).into_response();
        let retry_after = match self {
            ApiError::Unavailable(_) | ApiError::NotReady(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ApiError::Busy => Some(BUSY_RETRY_AFTER_SECS),
            ApiError::RateLimited(limited) => Some(limited.retry_after_secs),
            _ => None,
        };
        if matches!(self, ApiError::BodyTimeout(_)) {
            // What is left of the body will not be read: the connection cannot be reused.
            response
                .headers_mut()
                .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}
