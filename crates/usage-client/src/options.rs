//! The options of each call, as JavaScript (or Rust) passes them, and their
//! resolution against [`Config`] into a request ready to send.
//!
//! Everything here is plain Rust: the checks run natively in `cargo test` and, in
//! the browser, before anything is sent.

use usage_core::wire::{GetUsageRequest, RegisterUsagePointRequest};
use usage_core::{resolve_since, EventId, EventKind, Granularity, KeyKind, Licence, Origin, UsageRange};

use crate::answers::BreakdownView;
use crate::config::Config;
use crate::error::TelemetryError;
use crate::fields::{read_object, DynamicValue, FieldError, Fields, FromFields};
use crate::request::{
    PreparedRegistration, PreparedRequest, ADMIN_USAGE_PATH, BREAKDOWN_PATH, GET_USAGE_PATH, REGISTER_PATH,
};
use crate::retry::RetryOptions;

/// Where the registration says it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HostChoice {
    /// The current origin: `window.location.origin`, `self.location.origin` in a
    /// worker, none in Node. The default.
    #[default]
    CurrentOrigin,
    /// `host: null`: no origin (a backend).
    NoHost,
    /// An explicit origin.
    Given(String),
}

/// `registerUsageEvent`'s options (and `trackConversion`'s, without `succeeded`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterOptions {
    /// The public key, or `"free-license"`; wins over `api_key` and the configured
    /// key. With none anywhere the event is sent as unlicensed (`apiKey: null`).
    pub license_key: Option<String>,
    /// The legacy name of `license_key`.
    pub api_key: Option<String>,
    /// What happened (required for `registerUsageEvent`).
    pub event: Option<EventKind>,
    /// The origin to report.
    pub host: HostChoice,
    /// Whether it succeeded (required for `registerUsageEvent`).
    pub succeeded: Option<bool>,
    /// The usage server's base URL, e.g. `https://licensing.vendor.com`.
    pub endpoint: Option<String>,
    /// The idempotency id; a UUID v7 (time-ordered) when absent.
    pub event_id: Option<String>,
    /// Delivery overrides.
    pub retry: Option<RetryOptions>,
    /// A still-image render.
    pub is_still: Option<bool>,
    /// `false` marks the event as development.
    pub is_production: Option<bool>,
}

impl FromFields for RegisterOptions {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        let events = EventKind::ALL.map(|kind| (kind.as_str(), kind));
        Ok(RegisterOptions {
            license_key: fields.string("licenseKey")?,
            api_key: fields.string("apiKey")?,
            event: fields.choice("event", &events)?,
            host: match fields.nullable_string("host")? {
                None => HostChoice::CurrentOrigin,
                Some(None) => HostChoice::NoHost,
                Some(Some(host)) => HostChoice::Given(host),
            },
            succeeded: fields.bool("succeeded")?,
            endpoint: fields.string("endpoint")?,
            event_id: fields.string("eventId")?,
            retry: fields.object("retry")?,
            is_still: fields.bool("isStill")?,
            is_production: fields.bool("isProduction")?,
        })
    }
}

/// `getUsage`'s options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageOptions {
    /// The secret key.
    pub api_key: Option<String>,
    /// Another name for `api_key`.
    pub license_key: Option<String>,
    /// Milliseconds since the epoch; absent or `null` for the start of this month (UTC).
    pub since: Option<f64>,
    /// The usage server's base URL.
    pub endpoint: Option<String>,
    /// Send a secret key from a public web page anyway.
    pub dangerously_allow_browser: bool,
    /// Delivery overrides.
    pub retry: Option<RetryOptions>,
}

/// `getUsageBreakdown`'s options: a licensee's secret key reads its breakdown, the
/// vendor's admin token the view of every licence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BreakdownOptions {
    /// The secret key (`rm_sec_…`) or an admin token (`rm_adm_…`).
    pub api_key: Option<String>,
    /// Another name for `api_key`.
    pub license_key: Option<String>,
    /// Milliseconds since the epoch, within the last 90 days; default: start of this month (UTC).
    pub since: Option<f64>,
    /// Milliseconds since the epoch, after `since`; default: now.
    pub until: Option<f64>,
    /// `day` (default) or `hour` (ranges up to 7 days).
    pub granularity: Option<Granularity>,
    /// The usage server's base URL.
    pub endpoint: Option<String>,
    /// Send a secret key or admin token from a public web page anyway.
    pub dangerously_allow_browser: bool,
    /// Delivery overrides.
    pub retry: Option<RetryOptions>,
}

impl FromFields for UsageOptions {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        Ok(UsageOptions {
            api_key: fields.string("apiKey")?,
            license_key: fields.string("licenseKey")?,
            since: fields.number("since")?,
            endpoint: fields.string("endpoint")?,
            dangerously_allow_browser: fields.bool("dangerouslyAllowBrowser")?.unwrap_or(false),
            retry: fields.object("retry")?,
        })
    }
}

impl FromFields for BreakdownOptions {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        let granularities =
            [(Granularity::Day.as_str(), Granularity::Day), (Granularity::Hour.as_str(), Granularity::Hour)];
        Ok(BreakdownOptions {
            api_key: fields.string("apiKey")?,
            license_key: fields.string("licenseKey")?,
            since: fields.number("since")?,
            until: fields.number("until")?,
            granularity: fields.choice("granularity", &granularities)?,
            endpoint: fields.string("endpoint")?,
            dangerously_allow_browser: fields.bool("dangerouslyAllowBrowser")?.unwrap_or(false),
            retry: fields.object("retry")?,
        })
    }
}

impl RegisterOptions {
    /// Checks everything and builds the request. `page_origin` is the current
    /// origin (if any); `fresh_id` is the event id when the options give none.
    ///
    /// # Errors
    /// The first rule broken; nothing is sent then.
    pub fn prepare(
        self,
        config: &Config,
        page_origin: Option<&str>,
        fresh_id: EventId,
    ) -> Result<PreparedRegistration, TelemetryError> {
        let event = self.event.ok_or_else(|| {
            TelemetryError::option("event", "is missing: pass `webcodec-conversion`, `cloud-render` or `web-render`")
        })?;
        let succeeded =
            self.succeeded.ok_or_else(|| TelemetryError::option("succeeded", "is missing: pass true or false"))?;
        let (key, field) = match (self.license_key, self.api_key) {
            (Some(key), _) => (Some(key), "licenseKey"),
            (None, Some(key)) => (Some(key), "apiKey"),
            (None, None) => (config.license_key.clone(), "licenseKey"),
        };
        let licence = Licence::from_api_key(key, field)?;
        let host = match self.host {
            HostChoice::CurrentOrigin => page_origin.map(str::to_owned),
            HostChoice::NoHost => None,
            HostChoice::Given(host) => Some(host),
        };
        let host = host.map(|host| Origin::parse_field(&host, "host").map(|origin| origin.to_string())).transpose()?;
        let event_id = match self.event_id {
            Some(id) => EventId::validate(&id)?,
            None => fresh_id,
        };
        let body = RegisterUsagePointRequest {
            event,
            api_key: licence.api_key().map(str::to_owned),
            host,
            succeeded,
            event_id: Some(event_id.to_string()),
            is_still: self.is_still,
            is_production: self.is_production,
        };
        let request = PreparedRequest::post(config, self.endpoint.as_deref(), REGISTER_PATH, self.retry, &body)?;
        Ok(PreparedRegistration { request, event_id, unlicensed: licence == Licence::Unlicensed })
    }
}

impl UsageOptions {
    /// Checks everything and builds the request. `page_origin` is the current
    /// origin (if any), `now_ms` the current time.
    ///
    /// # Errors
    /// The first rule broken; nothing is sent then.
    pub fn prepare(
        self,
        config: &Config,
        page_origin: Option<&str>,
        now_ms: i64,
    ) -> Result<PreparedRequest, TelemetryError> {
        let (key, field) = key_and_field(self.api_key, self.license_key);
        let secret_key = KeyKind::Secret.require(key.or_else(|| config.license_key.clone()), field)?;
        refuse_secret_in_public_page(page_origin, self.dangerously_allow_browser)?;
        let since = self.since.map(|since| whole_ms("since", since)).transpose()?;
        let since = since.map(|since| resolve_since(Some(since), now_ms)).transpose()?;
        let body = GetUsageRequest { api_key: Some(secret_key), since };
        PreparedRequest::post(config, self.endpoint.as_deref(), GET_USAGE_PATH, self.retry, &body)
    }
}

impl BreakdownOptions {
    /// Checks the credential, the range and the page, and builds the GET: a secret
    /// key reads `/api/usage/breakdown`, an admin token `/api/admin/usage`.
    ///
    /// # Errors
    /// The first rule broken; nothing is sent then.
    pub fn prepare(
        self,
        config: &Config,
        page_origin: Option<&str>,
        now_ms: i64,
    ) -> Result<(PreparedRequest, BreakdownView), TelemetryError> {
        let (key, field) = key_and_field(self.api_key, self.license_key);
        let (credential, view) = match key.as_deref().map(KeyKind::of) {
            Some(Some(KeyKind::Admin)) => (key.unwrap_or_default(), BreakdownView::Vendor),
            _ => (KeyKind::Secret.require(key, field)?, BreakdownView::Licensee),
        };
        let path = match view {
            BreakdownView::Licensee => BREAKDOWN_PATH,
            BreakdownView::Vendor => ADMIN_USAGE_PATH,
        };
        refuse_secret_in_public_page(page_origin, self.dangerously_allow_browser)?;
        let since = self.since.map(|since| whole_ms("since", since)).transpose()?;
        let until = self.until.map(|until| whole_ms("until", until)).transpose()?;
        UsageRange::resolve(since, until, self.granularity, now_ms)?;
        let mut path = path.to_owned();
        let mut separator = '?';
        let mut add = |name: &str, value: &str| {
            path.push(separator);
            path.push_str(name);
            path.push('=');
            path.push_str(value);
            separator = '&';
        };
        if let Some(since) = since {
            add("since", &since.to_string());
        }
        if let Some(until) = until {
            add("until", &until.to_string());
        }
        if let Some(granularity) = self.granularity {
            add("granularity", granularity.as_str());
        }
        let request = PreparedRequest::get(config, self.endpoint.as_deref(), &path, self.retry, credential)?;
        Ok((request, view))
    }
}

/// The read endpoints' credential: `apiKey`, else `licenseKey`, with the name of
/// the field it came from for errors.
fn key_and_field(api_key: Option<String>, license_key: Option<String>) -> (Option<String>, &'static str) {
    match (api_key, license_key) {
        (None, Some(key)) => (Some(key), "licenseKey"),
        (key, _) => (key, "apiKey"),
    }
}

/// A secret key or admin token leaves a page only when the page is local or the
/// caller says `dangerouslyAllowBrowser: true`: anyone on a public page could read it.
fn refuse_secret_in_public_page(page_origin: Option<&str>, dangerously_allow: bool) -> Result<(), TelemetryError> {
    if let Some(origin) = page_origin {
        // A page that cannot be parsed is treated as public: refusing is the safe side.
        let local = Origin::parse(origin).is_ok_and(|o| o.is_local());
        if !local && !dangerously_allow {
            return Err(TelemetryError::SecretKeyInBrowser { origin: origin.to_owned() });
        }
    }
    Ok(())
}

/// A time option must be a whole number of milliseconds since the epoch.
fn whole_ms(field: &'static str, value: f64) -> Result<i64, TelemetryError> {
    if !value.is_finite() || value.fract() != 0.0 || value.abs() > 8.64e15 {
        return Err(TelemetryError::option(field, "must be a whole number of milliseconds since 1970"));
    }
    Ok(value as i64)
}

/// Reads options from what the caller passed (a JS object in the browser, JSON
/// in tests), naming the offending field in the error.
///
/// # Errors
/// [`TelemetryError::InvalidOption`] with the field's path.
pub fn parse_options<T: FromFields>(value: impl DynamicValue) -> Result<T, TelemetryError> {
    read_object(value).map_err(invalid_option)
}

/// A reading error as the API's: the offending field, `options` for the whole.
fn invalid_option(err: FieldError) -> TelemetryError {
    TelemetryError::InvalidOption {
        field: if err.path.is_empty() { "options".to_owned() } else { err.path },
        rule: err.rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;
    use crate::retry::RetryPolicy;
    use serde_json::json;

    /// The id a registration gets when its options give none.
    fn fresh_id() -> EventId {
        EventId::from_time_and_random(1_700_000_000_000, [7; 16])
    }
    const NOW: i64 = 1_795_375_800_000;

    fn config() -> Config {
        Config { endpoint: Some("https://usage.vendor.com".into()), ..Config::default() }
    }

    fn register(options: serde_json::Value, page: Option<&str>) -> Result<(PreparedRequest, EventId), TelemetryError> {
        let prepared = parse_options::<RegisterOptions>(options)?.prepare(&config(), page, fresh_id())?;
        Ok((prepared.request, prepared.event_id))
    }

    fn body(request: &PreparedRequest) -> serde_json::Value {
        serde_json::from_str(&request.body).unwrap()
    }

    #[test]
    fn a_registration_carries_exactly_the_documented_fields() {
        let (request, id) = register(
            json!({"licenseKey": "rm_pub_a", "event": "webcodec-conversion", "succeeded": true, "extra": "ignored"}),
            Some("https://customer.com"),
        )
        .unwrap();
        assert_eq!(request.url, "https://usage.vendor.com/api/track/register-usage-point");
        assert_eq!(
            body(&request),
            json!({"event": "webcodec-conversion", "apiKey": "rm_pub_a", "host": "https://customer.com", "succeeded": true, "eventId": id.as_str()})
        );
        assert_eq!(id, fresh_id());
        assert_eq!(request.policy, RetryPolicy::default());
    }

    #[test]
    fn host_defaults_to_the_page_and_may_be_null_or_explicit() {
        let base = json!({"apiKey": "rm_pub_a", "event": "cloud-render", "succeeded": false});
        let (request, _) = register(base.clone(), None).unwrap();
        assert_eq!(body(&request)["host"], serde_json::Value::Null);
        let mut explicit = base.clone();
        explicit["host"] = json!("HTTPS://Shop.Example.COM:443/");
        let (request, _) = register(explicit, Some("http://localhost:8080")).unwrap();
        assert_eq!(body(&request)["host"], "https://shop.example.com");
        let mut null = base;
        null["host"] = serde_json::Value::Null;
        let (request, _) = register(null, Some("http://localhost:8080")).unwrap();
        assert_eq!(body(&request)["host"], serde_json::Value::Null);
    }

    #[test]
    fn license_key_wins_over_api_key_and_the_configured_key() {
        let options =
            json!({"licenseKey": "rm_pub_new", "apiKey": "rm_pub_old", "event": "web-render", "succeeded": true});
        assert_eq!(body(&register(options, None).unwrap().0)["apiKey"], "rm_pub_new");
        let configured = Config { license_key: Some("rm_pub_cfg".into()), ..config() };
        let options: RegisterOptions = parse_options(json!({"event": "web-render", "succeeded": true})).unwrap();
        let prepared = options.prepare(&configured, None, fresh_id()).unwrap();
        assert_eq!(body(&prepared.request)["apiKey"], "rm_pub_cfg");
        assert!(!prepared.unlicensed);
    }

    #[test]
    fn without_a_key_the_event_is_sent_unlicensed_and_free_license_as_is() {
        for options in [
            json!({"event": "web-render", "succeeded": true}),
            json!({"licenseKey": null, "apiKey": null, "event": "web-render", "succeeded": true}),
        ] {
            let prepared =
                parse_options::<RegisterOptions>(options).unwrap().prepare(&config(), None, fresh_id()).unwrap();
            assert!(prepared.unlicensed);
            let sent = body(&prepared.request);
            assert_eq!(sent["apiKey"], serde_json::Value::Null);
            assert!(sent.as_object().unwrap().contains_key("apiKey"), "sent as null, not left out: {sent}");
        }
        let (request, _) =
            register(json!({"licenseKey": "free-license", "event": "web-render", "succeeded": true}), None).unwrap();
        assert_eq!(body(&request)["apiKey"], "free-license");
    }

    #[test]
    fn the_callers_event_id_and_flags_are_kept() {
        let options = json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "isStill": true,
                             "isProduction": false, "eventId": "123E4567-E89B-42D3-A456-426614174000"});
        let (request, id) = register(options, None).unwrap();
        assert_eq!(id.as_str(), "123e4567-e89b-42d3-a456-426614174000");
        assert_eq!(body(&request)["isStill"], true);
        assert_eq!(body(&request)["isProduction"], false);
    }

    #[test]
    fn invalid_options_name_the_field_and_the_rule() {
        // An origin of 2,000 characters is refused before anything is sent.
        let long_host = format!("{}://a.com", "x".repeat(2000));
        let long_message =
            format!("host `{}…` is not a valid origin: it must be at most 300 characters", "x".repeat(200));
        let cases = [
            (json!({"apiKey": "rm_pub_a", "succeeded": true}), "event: is missing"),
            (json!({"apiKey": "rm_pub_a", "event": "render", "succeeded": true}), "event: unknown variant `render`"),
            (json!({"apiKey": "rm_pub_a", "event": "web-render"}), "succeeded: is missing"),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": "yes"}),
                "succeeded: invalid type: string \"yes\", expected a boolean",
            ),
            (json!({"licenseKey": "", "event": "web-render", "succeeded": true}), "licenseKey is missing"),
            (
                json!({"licenseKey": "pk_live_x", "event": "web-render", "succeeded": true}),
                "licenseKey is not a licence key",
            ),
            (
                json!({"licenseKey": "rm_sec_a", "event": "web-render", "succeeded": true}),
                "secret keys must never be sent from a browser",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "host": "a.com/x"}),
                "host `a.com/x` is not a valid origin",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "host": "gopher://a.com"}),
                "host `gopher://a.com` is not a valid origin: it must use the scheme http, https",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "host": long_host}),
                long_message.as_str(),
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "eventId": "7"}),
                "eventId must be a UUID",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "endpoint": "ftp://x"}),
                "endpoint: must be an http(s) URL",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "retry": {"retries": -1}}),
                "retry.retries: invalid value: integer `-1`",
            ),
            (
                json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true, "retry": {"timeoutMs": 0}}),
                "retry.timeoutMs: must be from 1",
            ),
        ];
        for (options, expected) in cases {
            let message = register(options.clone(), None).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{options}\n  got: {message}\n  want: {expected}");
        }
    }

    #[test]
    fn no_endpoint_is_an_error_not_a_default_third_party() {
        let options: RegisterOptions =
            parse_options(json!({"apiKey": "rm_pub_a", "event": "web-render", "succeeded": true})).unwrap();
        let err =
            options.prepare(&Config { endpoint: None, ..Config::default() }, None, fresh_id()).map(|_| ()).unwrap_err();
        assert_eq!(err, TelemetryError::NoEndpoint);
        assert!(err.to_string().starts_with("no endpoint configured"));
    }

    fn usage(options: serde_json::Value, page: Option<&str>) -> Result<PreparedRequest, TelemetryError> {
        parse_options::<UsageOptions>(options)?.prepare(&config(), page, NOW)
    }

    #[test]
    fn usage_queries_check_key_since_and_the_page() {
        let request = usage(json!({"apiKey": "rm_sec_a", "since": 1_795_000_000_000u64}), None).unwrap();
        assert_eq!(request.url, "https://usage.vendor.com/api/track/get-usage");
        assert_eq!(body(&request), json!({"apiKey": "rm_sec_a", "since": 1_795_000_000_000u64}));
        assert_eq!(body(&usage(json!({"licenseKey": "rm_sec_a"}), None).unwrap())["since"], serde_json::Value::Null);

        let err = usage(json!({"apiKey": "rm_pub_a"}), None).unwrap_err();
        assert!(err.to_string().starts_with("getUsage needs the secret key"));
        let err = usage(json!({"apiKey": "rm_sec_a", "since": 0}), None).unwrap_err();
        assert!(err.to_string().starts_with("since must be within the last 90 days"), "{err}");
        let err = usage(json!({"apiKey": "rm_sec_a", "since": (NOW + 3_600_000) as f64}), None).unwrap_err();
        assert!(err.to_string().starts_with("since must be within the last 90 days"), "{err}");
        let err = usage(json!({"apiKey": "rm_sec_a", "since": 1.5}), None).unwrap_err();
        assert_eq!(err.to_string(), "since: must be a whole number of milliseconds since 1970");
        let err = usage(json!({"apiKey": "rm_sec_a", "since": "yesterday"}), None).unwrap_err();
        assert!(err.to_string().starts_with("since: invalid type: string"), "{err}");
    }

    #[test]
    fn a_secret_key_leaves_a_public_page_only_when_the_caller_insists() {
        let err = usage(json!({"apiKey": "rm_sec_a"}), Some("https://customer.com")).unwrap_err();
        assert_eq!(err.code(), "secret_key_in_browser");
        assert!(err.to_string().contains("https://customer.com"));
        assert!(err.to_string().contains("dangerouslyAllowBrowser: true"));
        assert!(
            usage(json!({"apiKey": "rm_sec_a", "dangerouslyAllowBrowser": true}), Some("https://customer.com")).is_ok()
        );
        assert!(usage(json!({"apiKey": "rm_sec_a"}), Some("http://localhost:5173")).is_ok());
        assert!(usage(json!({"apiKey": "rm_sec_a"}), Some("not an origin")).is_err());
    }

    fn breakdown(options: serde_json::Value, page: Option<&str>) -> Result<PreparedRequest, TelemetryError> {
        Ok(breakdown_view(options, page)?.0)
    }

    fn breakdown_view(
        options: serde_json::Value,
        page: Option<&str>,
    ) -> Result<(PreparedRequest, BreakdownView), TelemetryError> {
        parse_options::<BreakdownOptions>(options)?.prepare(&config(), page, NOW)
    }

    #[test]
    fn breakdowns_are_gets_with_a_bearer_credential_and_the_range_in_the_query() {
        let (request, view) = breakdown_view(json!({"apiKey": "rm_sec_a"}), None).unwrap();
        assert_eq!(view, BreakdownView::Licensee);
        assert_eq!(
            (request.method, request.url.as_str()),
            (Method::Get, "https://usage.vendor.com/api/usage/breakdown")
        );
        assert_eq!((request.body.as_str(), request.bearer.as_deref()), ("", Some("rm_sec_a")));
        let (request, view) = breakdown_view(
            json!({"apiKey": "rm_adm_a", "since": 1_795_000_000_000u64, "until": 1_795_300_000_000u64, "granularity": "hour"}),
            None,
        )
        .unwrap();
        assert_eq!(view, BreakdownView::Vendor);
        assert_eq!(
            request.url,
            "https://usage.vendor.com/api/admin/usage?since=1795000000000&until=1795300000000&granularity=hour"
        );
        assert_eq!(request.bearer.as_deref(), Some("rm_adm_a"));
    }

    #[test]
    fn breakdown_mistakes_are_caught_before_sending() {
        let cases = [
            (json!({}), "apiKey is missing: pass your secret key"),
            (json!({"apiKey": "rm_pub_a"}), "getUsage needs the secret key"),
            (json!({"apiKey": "rm_sec_a", "granularity": "week"}), "granularity: unknown variant `week`"),
            (json!({"apiKey": "rm_sec_a", "until": 1.5}), "until: must be a whole number"),
            (json!({"apiKey": "rm_sec_a", "until": (NOW + 3_600_000) as f64}), "until must not be in the future"),
            (
                json!({"apiKey": "rm_sec_a", "since": (NOW - 8 * 86_400_000) as f64, "granularity": "hour"}),
                "granularity `hour` is for ranges up to 7 days",
            ),
        ];
        for (options, expected) in cases {
            let message = breakdown(options.clone(), None).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{options}\n  got: {message}\n  want: {expected}");
        }
        for key in ["rm_sec_a", "rm_adm_a"] {
            let err = breakdown(json!({"apiKey": key}), Some("https://customer.com")).unwrap_err();
            assert_eq!(err.code(), "secret_key_in_browser");
            assert!(breakdown(json!({"apiKey": key, "dangerouslyAllowBrowser": true}), Some("https://customer.com"))
                .is_ok());
        }
    }
}
