//! The JSON bodies of `POST /api/track/register-usage-point` and
//! `POST /api/track/get-usage`, field for field as the documented
//! `@remotion/licensing` client sends and reads them, and their validation.
//!
//! ```
//! use usage_core::wire::RegisterUsagePointRequest;
//!
//! let body = br#"{"event":"webcodec-conversion","apiKey":"rm_pub_abc","host":"https://customer.com","succeeded":true}"#;
//! let registration = RegisterUsagePointRequest::from_json(body).unwrap().validate().unwrap();
//! assert_eq!(registration.classification(None).as_str(), "billable");
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::{classify, resolve_since, Classification, EventId, EventKind, Granularity, KeyKind, Licence, Origin};

/// The body of a usage registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterUsagePointRequest {
    /// What happened.
    pub event: EventKind,
    /// The public key (`rm_pub_…`), `"free-license"`, or `null`/absent for none.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The page's origin; `null` from a backend.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub host: Option<String>,
    /// Whether the conversion succeeded.
    pub succeeded: bool,
    /// A client-generated UUID that makes retries count once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
    )]
    pub event_id: Option<String>,
    /// Whether a render produced a still image (sent by current Remotion clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_still: Option<bool>,
    /// `false` marks the event as development whatever the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_production: Option<bool>,
}

/// A registration that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// What happened.
    pub event: EventKind,
    /// The licence claimed: a public key still to be looked up, the free tier, or none.
    pub licence: Licence,
    /// The origin the body claimed.
    pub claimed_origin: Option<Origin>,
    /// Whether the conversion succeeded.
    pub succeeded: bool,
    /// The idempotency id.
    pub event_id: Option<EventId>,
    /// Still-image render.
    pub is_still: Option<bool>,
    /// Production flag.
    pub is_production: Option<bool>,
}

impl RegisterUsagePointRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// [`ValidationError::Body`] or [`ValidationError::NotAnObject`], naming the field.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        parse_object(body)
    }

    /// Checks the key, host and event id; keys first, so a leaked secret key is
    /// reported as such whatever else is wrong.
    ///
    /// # Errors
    /// The first rule the request breaks.
    pub fn validate(self) -> Result<Registration, ValidationError> {
        let licence = Licence::from_api_key(self.api_key, "apiKey")?;
        let claimed_origin = self.host.as_deref().map(|host| Origin::parse_field(host, "host")).transpose()?;
        let event_id = self.event_id.as_deref().map(EventId::validate).transpose()?;
        Ok(Registration {
            event: self.event,
            licence,
            claimed_origin,
            succeeded: self.succeeded,
            event_id,
            is_still: self.is_still,
            is_production: self.is_production,
        })
    }
}

impl Registration {
    /// The classification, with the browser-reported origin (if any) taking
    /// precedence over the claim.
    pub fn classification(&self, reported_origin: Option<&Origin>) -> Classification {
        classify(self.succeeded, reported_origin.or(self.claimed_origin.as_ref()), self.is_production)
    }
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterUsagePointResponse {
    /// Always `true` here; errors use [`ErrorResponse`].
    pub success: bool,
    /// Whether the event is billed.
    pub billable: bool,
    /// How it was counted.
    pub classification: Classification,
    /// `true` when the event is billable and its key's billable count for this
    /// calendar month now exceeds the key's monthly limit. The event still counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_limit: Option<bool>,
    /// `false` when the key is not allowed on the event's origin: the event is
    /// stored and shown to the vendor and the licensee, never billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origin: Option<bool>,
}

impl RegisterUsagePointResponse {
    /// A success answer for `classification`; `over_limit` only when it is true.
    pub fn new(classification: Classification, over_limit: bool) -> Self {
        RegisterUsagePointResponse {
            success: true,
            billable: classification.is_billable(),
            classification,
            over_limit: over_limit.then_some(true),
            allowed_origin: None,
        }
    }

    /// The answer for an event of a key on an origin it is not allowed on:
    /// stored as `classification`, never billed.
    pub fn not_allowed(classification: Classification) -> Self {
        RegisterUsagePointResponse {
            success: true,
            billable: false,
            classification,
            over_limit: None,
            allowed_origin: Some(false),
        }
    }
}

/// The most registrations one `POST /api/track/register-usage-points` carries.
pub const MAX_REGISTRATIONS_PER_BATCH: usize = 100;

/// The answer to a batch of registrations: one result per registration, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterUsagePointsResponse {
    /// `true`: the batch was read; each result says what became of its registration.
    pub success: bool,
    /// One per registration, in the order sent.
    pub results: Vec<BatchResult>,
}

/// What became of one registration of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BatchResult {
    /// Counted (or counted before, for a repeated `eventId`), as the single
    /// endpoint answers it.
    Counted {
        /// Whether the event is billed.
        billable: bool,
        /// How it was counted.
        classification: Classification,
        /// `true` when the key's billable count this month, after the whole
        /// batch, exceeds its monthly limit (billable events only).
        #[serde(rename = "overLimit", default, skip_serializing_if = "Option::is_none")]
        over_limit: Option<bool>,
        /// `false` when the key is not allowed on the event's origin (never billed).
        #[serde(rename = "allowedOrigin", default, skip_serializing_if = "Option::is_none")]
        allowed_origin: Option<bool>,
    },
    /// Refused, with the status and message the single endpoint would give it;
    /// nothing of it was stored.
    Refused {
        /// What rule it broke.
        error: String,
        /// The HTTP status the single endpoint would answer (4xx).
        status: u16,
    },
}

impl BatchResult {
    /// A counted registration; `over_limit` only when it is true.
    pub fn counted(classification: Classification, over_limit: bool) -> Self {
        BatchResult::Counted {
            billable: classification.is_billable(),
            classification,
            over_limit: over_limit.then_some(true),
            allowed_origin: None,
        }
    }

    /// A registration of a key on an origin it is not allowed on: stored, never billed.
    pub fn not_allowed(classification: Classification) -> Self {
        BatchResult::Counted { billable: false, classification, over_limit: None, allowed_origin: Some(false) }
    }
}

/// The body of a usage query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetUsageRequest {
    /// The secret key (`rm_sec_…`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Milliseconds since the epoch; `null` for the start of the current month.
    #[serde(default, deserialize_with = "whole_ms")]
    pub since: Option<i64>,
}

/// A time in milliseconds: a whole number, written as an integer or (as some
/// JSON writers do) with a zero fraction, `1795000000000.0`.
fn whole_ms<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(|number| {
            whole::of(&number).ok_or_else(|| {
                D::Error::custom(format!("must be a whole number of milliseconds since 1970 (got {number})"))
            })
        })
        .transpose()
}

/// Reading whole numbers that a JSON writer may send with a zero fraction
/// (`120.0`: JSON Schema's `integer` allows it), for `#[serde(deserialize_with)]`.
pub mod whole {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    /// The number as an `i64`, if it is whole and fits.
    pub fn of(number: &serde_json::Number) -> Option<i64> {
        number.as_i64().or_else(|| {
            number.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < 9_223_372_036_854_775_807.0).map(|n| n as i64)
        })
    }

    /// A whole number.
    ///
    /// # Errors
    /// Not a number, or not a whole one that fits 64 bits.
    pub fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        of(&number).ok_or_else(|| D::Error::custom(format!("must be a whole number (got {number})")))
    }

    /// A whole number or `null`.
    ///
    /// # Errors
    /// As [`i64()`].
    pub fn option_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(deserializer)?
            .map(|number| of(&number).ok_or_else(|| D::Error::custom(format!("must be a whole number (got {number})"))))
            .transpose()
    }
}

/// A usage query that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// The secret key.
    pub secret_key: String,
    /// The first instant counted, in milliseconds since the epoch.
    pub since_ms: i64,
}

impl GetUsageRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// [`ValidationError::Body`] or [`ValidationError::NotAnObject`], naming the field.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        parse_object(body)
    }

    /// Checks the key and resolves `since` against `now_ms`.
    ///
    /// # Errors
    /// The first rule the request breaks.
    pub fn validate(self, now_ms: i64) -> Result<UsageQuery, ValidationError> {
        let secret_key = KeyKind::Secret.require(self.api_key, "apiKey")?;
        let since_ms = resolve_since(self.since, now_ms)?;
        Ok(UsageQuery { secret_key, since_ms })
    }
}

/// Counts for one kind of event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageCounts {
    /// Successful events on production origins.
    pub billable: u64,
    /// Successful events on local hosts or marked non-production.
    pub development: u64,
    /// Events that did not succeed.
    pub failed: u64,
}

impl UsageCounts {
    /// Adds `count` events of `classification`.
    pub fn add(&mut self, classification: Classification, count: u64) {
        match classification {
            Classification::Billable => self.billable += count,
            Classification::Development => self.development += count,
            Classification::Failed => self.failed += count,
        }
    }

    /// Adds every count of `other`.
    pub fn add_all(&mut self, other: &UsageCounts) {
        self.billable += other.billable;
        self.development += other.development;
        self.failed += other.failed;
    }

    /// Events of every classification.
    pub fn total(&self) -> u64 {
        self.billable + self.development + self.failed
    }
}

/// Counts per kind of event, as get-usage has always answered them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindCounts {
    /// `webcodec-conversion` and `web-render` events.
    pub webcodec_conversions: UsageCounts,
    /// `cloud-render` events.
    pub cloud_renders: UsageCounts,
    /// The same counts as `webcodecConversions`, under the name current clients read.
    pub web_renders: UsageCounts,
}

impl KindCounts {
    /// Adds `count` events of `kind` and `classification`.
    pub fn add(&mut self, kind: EventKind, classification: Classification, count: u64) {
        match kind {
            EventKind::WebcodecConversion | EventKind::WebRender => {
                self.webcodec_conversions.add(classification, count);
                self.web_renders.add(classification, count);
            }
            EventKind::CloudRender => self.cloud_renders.add(classification, count),
        }
    }

    /// Builds the counts from per-kind, per-classification counts.
    pub fn from_counts(counts: impl IntoIterator<Item = (EventKind, Classification, u64)>) -> Self {
        let mut total = KindCounts::default();
        for (kind, classification, count) in counts {
            total.add(kind, classification, count);
        }
        total
    }
}

/// A licence key's monthly limit and where this calendar month (UTC) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitStatus {
    /// Billable events (all kinds) the licence covers per calendar month.
    pub monthly_billable: u64,
    /// Billable events so far this month.
    pub used: u64,
    /// What is left this month, never below 0.
    pub remaining: u64,
    /// The month's first instant (ms since the epoch).
    pub period_start: i64,
    /// The next month's first instant.
    pub period_end: i64,
}

impl LimitStatus {
    /// The status of `monthly_billable` with `used` events in the month `period`.
    pub fn new(monthly_billable: u64, used: u64, period: (i64, i64)) -> Self {
        LimitStatus {
            monthly_billable,
            used,
            remaining: monthly_billable.saturating_sub(used),
            period_start: period.0,
            period_end: period.1,
        }
    }
}

/// The answer to a usage query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetUsageResponse {
    /// Always `true` here; errors use [`ErrorResponse`].
    pub success: bool,
    /// The counts.
    #[serde(flatten)]
    pub counts: KindCounts,
    /// The key's monthly limit, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitStatus>,
}

impl GetUsageResponse {
    /// Builds the answer from per-kind, per-classification counts.
    pub fn from_counts(counts: impl IntoIterator<Item = (EventKind, Classification, u64)>) -> Self {
        GetUsageResponse { success: true, counts: KindCounts::from_counts(counts), limit: None }
    }
}

/// One time bucket of a breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesBucket {
    /// The bucket's first instant (a UTC midnight or hour), ms since the epoch.
    pub start: i64,
    /// The counts in the bucket (within the range).
    #[serde(flatten)]
    pub counts: KindCounts,
}

/// Events from one origin (all kinds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OriginCounts {
    /// The normalised origin; `null` for events that carried none.
    pub origin: Option<String>,
    /// The counts.
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// `GET /api/usage/breakdown`: a licensee's usage by time and origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakdownResponse {
    /// Always `true` here.
    pub success: bool,
    /// The first instant counted.
    pub since: i64,
    /// The first instant not counted.
    pub until: i64,
    /// The bucket size.
    pub granularity: Granularity,
    /// Every bucket in the range, oldest first, empty ones included.
    pub series: Vec<SeriesBucket>,
    /// The busiest origins (most events first).
    pub origins: Vec<OriginCounts>,
    /// The events of every origin not listed.
    pub other_origins: UsageCounts,
    /// Events counted without their origin: on days the key had already been
    /// counted from as many new origins as the server allows per day.
    #[serde(default)]
    pub folded_origins: UsageCounts,
    /// Origins the key was used on without being allowed (see the key's allowed
    /// origins), most events first: stored, never billed, not in the totals.
    #[serde(default)]
    pub not_allowed_origins: Vec<OriginCounts>,
    /// The whole range; equal to get-usage's counts for the same `since`.
    pub totals: KindCounts,
    /// The key's monthly limit, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitStatus>,
}

/// One licence key in the vendor's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseUsage {
    /// The key pair's name.
    pub name: String,
    /// Its public key.
    pub public_key: String,
    /// Whether it has been revoked.
    pub revoked: bool,
    /// Its events in the range.
    pub totals: KindCounts,
    /// Its events counted without their origin (past the daily cap on new origins).
    #[serde(default)]
    pub folded_origins: UsageCounts,
    /// Origins its key was used on without being allowed, most events first:
    /// stored, never billed, not in its totals. A copied key shows here.
    #[serde(default)]
    pub not_allowed_origins: Vec<OriginCounts>,
    /// Its monthly limit, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitStatus>,
}

/// Unlicensed or free-license usage in the vendor's view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnpaidUsage {
    /// Its events in the range.
    pub totals: KindCounts,
    /// The origins that sent them, most events first.
    pub origins: Vec<OriginCounts>,
    /// Its events counted without their origin (past the daily cap on new origins).
    #[serde(default)]
    pub folded_origins: UsageCounts,
}

/// Events from one origin under one licence, in the vendor's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicensedOriginCounts {
    /// The normalised origin; `null` for events that carried none.
    pub origin: Option<String>,
    /// The key's name, `"free-license"`, or `null` for unlicensed events.
    pub license: Option<String>,
    /// `true` for a key's use on an origin it is not allowed on (never billed).
    #[serde(rename = "notAllowed", default, skip_serializing_if = "std::ops::Not::not")]
    pub not_allowed: bool,
    /// The counts.
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// `GET /api/admin/usage`: every licence, and the sites using the product without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUsageResponse {
    /// Always `true` here.
    pub success: bool,
    /// The first instant counted.
    pub since: i64,
    /// The first instant not counted.
    pub until: i64,
    /// The bucket size.
    pub granularity: Granularity,
    /// Every licence key, oldest first, with its totals in the range.
    pub licenses: Vec<LicenseUsage>,
    /// Events sent without a key.
    pub unlicensed: UnpaidUsage,
    /// Events sent with `apiKey: "free-license"`.
    pub free_license: UnpaidUsage,
    /// Every event, by time bucket.
    pub series: Vec<SeriesBucket>,
    /// The busiest (origin, licence) pairs across everything.
    pub origins: Vec<LicensedOriginCounts>,
}

/// Every error answer: `{"success":false,"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    /// Always `false`.
    pub success: bool,
    /// A message naming the field and the rule.
    pub error: String,
}

impl ErrorResponse {
    /// An error answer with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ErrorResponse { success: false, error: message.into() }
    }
}

/// Reads a JSON object body as `T`, naming the offending field's path in the error.
///
/// # Errors
/// [`ValidationError::Body`] (not JSON, a wrong type, a missing or unknown field)
/// or [`ValidationError::NotAnObject`].
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        // Still report malformed JSON as such, not as a wrong shape.
        if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            return Err(ValidationError::Body { field: String::new(), message: format!("not valid JSON: {err}") });
        }
        return Err(ValidationError::NotAnObject);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ValidationError::Body { field: String::new(), message: format!("not valid JSON: {inner}") };
        }
        let field = if path == "." { String::new() } else { path };
        ValidationError::Body { field, message: inner.to_string() }
    })?;
    deserializer
        .end()
        .map_err(|err| ValidationError::Body { field: String::new(), message: format!("not valid JSON: {err}") })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn register(json: &str) -> Result<Registration, ValidationError> {
        RegisterUsagePointRequest::from_json(json.as_bytes())?.validate()
    }

    #[test]
    fn accepts_the_documented_body_and_current_client_fields() {
        let r = register(r#"{"event":"web-render","apiKey":"rm_pub_x","host":"https://a.com","succeeded":true,"isStill":false,"isProduction":true,"eventId":"123E4567-E89B-42D3-A456-426614174000","future":1}"#).unwrap();
        assert_eq!(r.event, EventKind::WebRender);
        assert_eq!(r.event_id.unwrap().as_str(), "123e4567-e89b-42d3-a456-426614174000");
        assert_eq!(r.is_still, Some(false));
        let r = register(r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":null,"succeeded":true}"#).unwrap();
        assert_eq!(r.claimed_origin, None);
        assert_eq!(r.classification(None), Classification::Billable);
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        let since = |json: &str| GetUsageRequest::from_json(json.as_bytes()).map(|request| request.since);
        assert_eq!(since(r#"{"apiKey":"rm_sec_x","since":1795000000000}"#).unwrap(), Some(1_795_000_000_000));
        assert_eq!(since(r#"{"apiKey":"rm_sec_x","since":1795000000000.0}"#).unwrap(), Some(1_795_000_000_000));
        assert_eq!(since(r#"{"apiKey":"rm_sec_x","since":null}"#).unwrap(), None);
        let err = since(r#"{"apiKey":"rm_sec_x","since":1.5}"#).unwrap_err().to_string();
        assert!(err.starts_with("since: must be a whole number of milliseconds since 1970 (got 1.5)"), "{err}");
        let err = since(r#"{"apiKey":"rm_sec_x","since":"soon"}"#).unwrap_err().to_string();
        assert!(err.starts_with("since: invalid type: string"), "{err}");
    }

    #[test]
    fn keyless_and_free_license_registrations_are_valid() {
        let r = register(r#"{"event":"webcodec-conversion","host":"https://a.com","succeeded":true}"#).unwrap();
        assert_eq!(r.licence, Licence::Unlicensed);
        let r = register(r#"{"event":"webcodec-conversion","apiKey":null,"host":"https://a.com","succeeded":true}"#)
            .unwrap();
        assert_eq!(r.licence, Licence::Unlicensed);
        assert_eq!(r.classification(None), Classification::Billable);
        let r = register(
            r#"{"event":"webcodec-conversion","apiKey":"free-license","host":"http://localhost","succeeded":true}"#,
        )
        .unwrap();
        assert_eq!(r.licence, Licence::FreeLicense);
        assert_eq!(r.classification(None), Classification::Development);
        let err = register(r#"{"event":"webcodec-conversion","apiKey":"rm_adm_x","succeeded":true}"#).unwrap_err();
        assert_eq!(err, ValidationError::AdminTokenForLicenceEndpoint);
    }

    #[test]
    fn answers_carry_over_limit_and_limit_only_when_set() {
        let json = serde_json::to_string(&RegisterUsagePointResponse::new(Classification::Billable, false)).unwrap();
        assert_eq!(json, r#"{"success":true,"billable":true,"classification":"billable"}"#);
        let json = serde_json::to_string(&RegisterUsagePointResponse::new(Classification::Billable, true)).unwrap();
        assert_eq!(json, r#"{"success":true,"billable":true,"classification":"billable","overLimit":true}"#);
        let mut usage = GetUsageResponse::from_counts([]);
        assert!(!serde_json::to_string(&usage).unwrap().contains("limit"));
        usage.limit = Some(LimitStatus::new(10, 12, (1, 2)));
        let json = serde_json::to_value(&usage).unwrap();
        assert_eq!(
            json["limit"],
            serde_json::json!({"monthlyBillable":10,"used":12,"remaining":0,"periodStart":1,"periodEnd":2})
        );
        assert_eq!(serde_json::from_value::<GetUsageResponse>(json).unwrap(), usage);
    }

    #[test]
    fn the_reported_origin_wins_over_the_claim() {
        let r = register(
            r#"{"event":"webcodec-conversion","apiKey":"rm_pub_x","host":"http://localhost","succeeded":true}"#,
        )
        .unwrap();
        assert_eq!(r.classification(None), Classification::Development);
        let reported: Origin = "https://customer.com".parse().unwrap();
        assert_eq!(r.classification(Some(&reported)), Classification::Billable);
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let cases = [
            (r#"{"event":"x","apiKey":"rm_pub_x","host":"a.com","succeeded":true}"#, "event: unknown variant `x`"),
            (
                r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":"a.com","succeeded":"yes"}"#,
                "succeeded: invalid type: string \"yes\", expected a boolean",
            ),
            (
                r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":"a.com"}"#,
                "request body: missing field `succeeded`",
            ),
            (
                r#"{"event":"cloud-render","apiKey":7,"host":"a.com","succeeded":true}"#,
                "apiKey: invalid type: integer `7`",
            ),
            (
                r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":"a.com/x","succeeded":true}"#,
                "host `a.com/x` is not a valid origin: it must be an origin",
            ),
            (
                r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":"a.com","succeeded":true,"eventId":"1"}"#,
                "eventId must be a UUID",
            ),
            (r#"{"event":"cloud-render","apiKey":"","host":"a.com","succeeded":true}"#, "apiKey is missing"),
            (
                r#"{"event":"cloud-render","apiKey":"sk_x","host":"a.com","succeeded":true}"#,
                "apiKey is not a licence key",
            ),
            (
                r#"{"event":"cloud-render","apiKey":"rm_sec_x","host":"a.com","succeeded":true}"#,
                "secret keys must never be sent from a browser",
            ),
            (r#"{"event":"cloud-render""#, "request body: not valid JSON"),
            (
                r#"{"event":"cloud-render","apiKey":"rm_pub_x","host":"a.com","succeeded":true} x"#,
                "request body: not valid JSON",
            ),
            ("[1]", "request body must be a JSON object"),
            ("nope", "request body: not valid JSON"),
            ("", "request body: not valid JSON"),
        ];
        for (json, expected) in cases {
            let message = register(json).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{json}\n  got: {message}\n  want: {expected}");
        }
    }

    #[test]
    fn usage_queries_need_the_secret_key_and_a_valid_since() {
        let now = 1_795_375_800_000;
        let q = GetUsageRequest::from_json(br#"{"apiKey":"rm_sec_x","since":null}"#).unwrap().validate(now).unwrap();
        assert_eq!(q.since_ms, crate::start_of_month_utc_ms(now));
        let q = GetUsageRequest::from_json(br#"{"apiKey":"rm_sec_x","since":1795000000000}"#)
            .unwrap()
            .validate(now)
            .unwrap();
        assert_eq!(q.since_ms, 1_795_000_000_000);
        let err = GetUsageRequest::from_json(br#"{"apiKey":"rm_pub_x"}"#).unwrap().validate(now).unwrap_err();
        assert_eq!(err, ValidationError::PublicKeyForUsage);
        let err = GetUsageRequest::from_json(br#"{"apiKey":"rm_sec_x","since":0}"#).unwrap().validate(now).unwrap_err();
        assert!(matches!(err, ValidationError::SinceOutOfRange { .. }));
        let err = GetUsageRequest::from_json(br#"{"apiKey":"rm_sec_x","since":"yesterday"}"#).unwrap_err();
        assert!(err.to_string().starts_with("since: invalid type: string"), "{err}");
    }

    #[test]
    fn usage_response_folds_web_renders_into_browser_counts() {
        let response = GetUsageResponse::from_counts([
            (EventKind::WebcodecConversion, Classification::Billable, 3),
            (EventKind::WebRender, Classification::Billable, 2),
            (EventKind::WebcodecConversion, Classification::Failed, 1),
            (EventKind::CloudRender, Classification::Development, 4),
        ]);
        assert_eq!(response.counts.webcodec_conversions, UsageCounts { billable: 5, development: 0, failed: 1 });
        assert_eq!(response.counts.web_renders, response.counts.webcodec_conversions);
        assert_eq!(response.counts.cloud_renders, UsageCounts { billable: 0, development: 4, failed: 0 });
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["webcodecConversions"]["billable"], 5);
        assert_eq!(json["cloudRenders"]["development"], 4);
        assert_eq!(json["webRenders"]["failed"], 1);
    }

    #[test]
    fn serialises_what_the_documented_client_sends() {
        let body = RegisterUsagePointRequest {
            event: EventKind::WebcodecConversion,
            api_key: Some("rm_pub_x".into()),
            host: None,
            succeeded: false,
            event_id: Some("123e4567-e89b-42d3-a456-426614174000".into()),
            is_still: None,
            is_production: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"event":"webcodec-conversion","apiKey":"rm_pub_x","host":null,"succeeded":false,"eventId":"123e4567-e89b-42d3-a456-426614174000"}"#
        );
    }

    proptest! {
        #[test]
        fn no_body_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(request) = RegisterUsagePointRequest::from_json(&body) {
                let _ = request.validate();
            }
            if let Ok(request) = GetUsageRequest::from_json(&body) {
                let _ = request.validate(1_795_375_800_000);
            }
        }

        #[test]
        fn no_field_value_panics(host in "\\PC{0,40}", key in "\\PC{0,20}", id in "\\PC{0,40}", since in any::<i64>()) {
            let json = serde_json::json!({"event":"webcodec-conversion","apiKey":key,"host":host,"succeeded":true,"eventId":id});
            let _ = RegisterUsagePointRequest::from_json(json.to_string().as_bytes()).unwrap().validate();
            let json = serde_json::json!({"apiKey":key,"since":since});
            let _ = GetUsageRequest::from_json(json.to_string().as_bytes()).unwrap().validate(1_795_375_800_000);
        }
    }
}
