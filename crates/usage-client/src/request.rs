//! A request that passed every check: what goes on the wire, where, and how it is
//! delivered. The paths of the usage API live here.

use serde::Serialize;
use usage_core::EventId;

use crate::config::Config;
use crate::endpoint::endpoint_url;
use crate::error::TelemetryError;
use crate::json;
use crate::retry::{RetryOptions, RetryPolicy};

/// The path of the registration endpoint below the base URL.
pub const REGISTER_PATH: &str = "/api/track/register-usage-point";
/// The path of the batch registration endpoint below the base URL.
pub const REGISTER_BATCH_PATH: &str = "/api/track/register-usage-points";
/// The path of the usage endpoint below the base URL.
pub const GET_USAGE_PATH: &str = "/api/track/get-usage";
/// The path of a licensee's breakdown below the base URL.
pub const BREAKDOWN_PATH: &str = "/api/usage/breakdown";
/// The path of the vendor's view below the base URL.
pub const ADMIN_USAGE_PATH: &str = "/api/admin/usage";

/// The two ways a request goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A JSON body as `text/plain` (no CORS preflight), with `keepalive`.
    Post,
    /// A read with `Authorization: Bearer …`.
    Get,
}

/// A request ready for [`crate::delivery::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// POST or GET.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The JSON body (empty for GET).
    pub body: String,
    /// The Bearer credential of a GET.
    pub bearer: Option<String>,
    /// Whether the request may outlive the page (`fetch`'s `keepalive`: POSTs
    /// whose bodies fit the browser's 64 KiB budget for such requests).
    pub keepalive: bool,
    /// How to deliver it.
    pub policy: RetryPolicy,
}

/// A registration ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRegistration {
    /// The request.
    pub request: PreparedRequest,
    /// The event id every attempt carries.
    pub event_id: EventId,
    /// Whether no licence key was given or configured (sent as `apiKey: null`).
    pub unlicensed: bool,
}

impl PreparedRequest {
    /// A POST of `body` to `path` below the call's endpoint (else the configured
    /// one), with the call's retry options over the configured policy.
    ///
    /// # Errors
    /// No endpoint, an invalid one, or retry options out of range.
    pub fn post(
        config: &Config,
        endpoint: Option<&str>,
        path: &str,
        retry: Option<RetryOptions>,
        body: &impl Serialize,
    ) -> Result<PreparedRequest, TelemetryError> {
        let url = endpoint_url(endpoint, config.endpoint.as_deref(), path)?;
        let policy = config.retry.with(&retry.unwrap_or_default())?;
        let body = json::to_string(body).map_err(|err| TelemetryError::option("body", err.to_string()))?;
        Ok(PreparedRequest::post_json(url, body, policy, true))
    }

    /// A POST of a JSON text already checked: a queued registration or a batch.
    pub fn post_json(url: String, body: String, policy: RetryPolicy, keepalive: bool) -> PreparedRequest {
        PreparedRequest { method: Method::Post, url, body, bearer: None, keepalive, policy }
    }

    /// A GET of `path` below the call's endpoint (else the configured one), with
    /// `credential` as its Bearer token.
    ///
    /// # Errors
    /// No endpoint, an invalid one, or retry options out of range.
    pub fn get(
        config: &Config,
        endpoint: Option<&str>,
        path: &str,
        retry: Option<RetryOptions>,
        credential: String,
    ) -> Result<PreparedRequest, TelemetryError> {
        let url = endpoint_url(endpoint, config.endpoint.as_deref(), path)?;
        let policy = config.retry.with(&retry.unwrap_or_default())?;
        Ok(PreparedRequest {
            method: Method::Get,
            url,
            body: String::new(),
            bearer: Some(credential),
            keepalive: false,
            policy,
        })
    }
}
