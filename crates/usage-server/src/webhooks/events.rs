//! The event types an endpoint can ask for, the body of each message, and the
//! rules for an endpoint's URL and description.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest endpoint URL.
pub const MAX_URL_LEN: usize = 2000;
/// The longest endpoint description.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// What happened. An endpoint asks for some of these, or for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookEventType)]
pub enum EventType {
    /// A licence was created.
    #[serde(rename = "license.created")]
    LicenseCreated,
    /// A licence's name, monthly limit or allowed origins changed.
    #[serde(rename = "license.changed")]
    LicenseChanged,
    /// A licence got a new key pair.
    #[serde(rename = "license.rotated")]
    LicenseRotated,
    /// A licence was revoked.
    #[serde(rename = "license.revoked")]
    LicenseRevoked,
    /// A licence's billable events this month reached 80 % of its monthly limit.
    #[serde(rename = "license.limit_approaching")]
    LimitApproaching,
    /// A licence's billable events this month reached its monthly limit.
    #[serde(rename = "license.limit_reached")]
    LimitReached,
    /// A licence's key was used on an origin it is not allowed on (once per key and origin).
    #[serde(rename = "license.origin_not_allowed")]
    OriginNotAllowed,
    /// An origin used the product without a licence for the first time (once per origin).
    #[serde(rename = "origin.unlicensed")]
    UnlicensedOrigin,
}

impl EventType {
    /// Every type, in the order the API lists them.
    pub const ALL: [EventType; 8] = [
        EventType::LicenseCreated,
        EventType::LicenseChanged,
        EventType::LicenseRotated,
        EventType::LicenseRevoked,
        EventType::LimitApproaching,
        EventType::LimitReached,
        EventType::OriginNotAllowed,
        EventType::UnlicensedOrigin,
    ];

    /// The name on the wire (`type` in the body).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LicenseCreated => "license.created",
            EventType::LicenseChanged => "license.changed",
            EventType::LicenseRotated => "license.rotated",
            EventType::LicenseRevoked => "license.revoked",
            EventType::LimitApproaching => "license.limit_approaching",
            EventType::LimitReached => "license.limit_reached",
            EventType::OriginNotAllowed => "license.origin_not_allowed",
            EventType::UnlicensedOrigin => "origin.unlicensed",
        }
    }

    /// What happened, in words (the API reference's summary).
    pub fn description(self) -> &'static str {
        match self {
            EventType::LicenseCreated => "A licence was created",
            EventType::LicenseChanged => "A licence's name, monthly limit or allowed origins changed",
            EventType::LicenseRotated => "A licence got a new key pair",
            EventType::LicenseRevoked => "A licence was revoked",
            EventType::LimitApproaching => {
                "A licence's billable events this month reached 80 % of its monthly limit (once a month)"
            }
            EventType::LimitReached => {
                "A licence's billable events this month reached its monthly limit (once a month)"
            }
            EventType::OriginNotAllowed => {
                "A licence's key was used on an origin it is not allowed on (once per key and origin)"
            }
            EventType::UnlicensedOrigin => {
                "An origin used the product without a licence for the first time (once per origin)"
            }
        }
    }

    /// The type with this wire name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event types an endpoint asked for; empty: every type, new ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTypes(Vec<EventType>);

impl EventTypes {
    /// These types, sorted, each once.
    pub fn new(mut types: Vec<EventType>) -> EventTypes {
        types.sort_unstable();
        types.dedup();
        EventTypes(types)
    }

    /// The types these wire names name; empty: all.
    ///
    /// # Errors
    /// The first unknown name, with the names there are, in words.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<EventTypes, String> {
        let types = names
            .iter()
            .map(|name| {
                let name = name.as_ref();
                EventType::parse(name).ok_or_else(|| {
                    let known = EventType::ALL.map(EventType::as_str).join(", ");
                    format!("`{name}` is not an event type; use {known}")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(EventTypes::new(types))
    }

    /// The types asked for; empty: all.
    pub fn types(&self) -> &[EventType] {
        &self.0
    }

    /// As stored: `,a,b,` (so that `LIKE '%,a,%'` finds an endpoint), or `''` for all.
    pub fn to_stored(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut stored = String::from(",");
        for kind in &self.0 {
            stored.push_str(kind.as_str());
            stored.push(',');
        }
        stored
    }

    /// The inverse of [`EventTypes::to_stored`]; names this version does not know are dropped.
    pub fn from_stored(stored: &str) -> EventTypes {
        EventTypes::new(stored.split(',').filter_map(EventType::parse).collect())
    }
}

/// A monthly-limit threshold: 80 % and 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Threshold {
    /// 80 % of the limit.
    Approaching,
    /// The whole limit.
    Reached,
}

impl Threshold {
    /// Both, lower first.
    pub const ALL: [Threshold; 2] = [Threshold::Approaching, Threshold::Reached];

    /// The percentage of the limit.
    pub fn percent(self) -> u64 {
        match self {
            Threshold::Approaching => 80,
            Threshold::Reached => 100,
        }
    }

    /// The event type of its crossing.
    pub fn event_type(self) -> EventType {
        match self {
            Threshold::Approaching => EventType::LimitApproaching,
            Threshold::Reached => EventType::LimitReached,
        }
    }

    /// The billable events at which it is crossed: `percent` of `limit`, rounded up
    /// (at least 1, so that a limit of 0 is reached by the first event).
    pub fn events_for(self, limit: u64) -> u64 {
        (u128::from(limit) * u128::from(self.percent())).div_ceil(100).max(1).try_into().unwrap_or(u64::MAX)
    }

    /// The thresholds `billable` events reach under `limit`.
    pub fn reached(limit: u64, billable: u64) -> Vec<Threshold> {
        Threshold::ALL.into_iter().filter(|threshold| billable >= threshold.events_for(limit)).collect()
    }
}

/// The body of every message: Standard Webhooks' recommended envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookEnvelope {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When it happened (RFC 3339, UTC).
    pub timestamp: String,
    /// The particulars (see `…Data`); `licenseId` names the licence, when there is one.
    pub data: serde_json::Value,
}

/// `data` of `license.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseCreatedData {
    /// The licence's id.
    pub license_id: i64,
    /// Its name.
    pub name: String,
    /// Its public key.
    pub public_key: String,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// The origins it counts from; empty: any.
    pub allowed_origins: Vec<String>,
}

/// `data` of `license.changed`: the licence after the change, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseChangedData {
    /// The licence's id.
    pub license_id: i64,
    /// Its name.
    pub name: String,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// The origins it counts from; empty: any.
    pub allowed_origins: Vec<String>,
    /// The fields the change set: `name`, `monthlyLimit`, `allowedOrigins`.
    pub changed: Vec<String>,
}

/// `data` of `license.rotated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRotatedData {
    /// The licence's id.
    pub license_id: i64,
    /// Its name.
    pub name: String,
    /// The new public key.
    pub public_key: String,
    /// When the previous keys stop being accepted, ms since the epoch.
    pub previous_keys_expire_at_ms: i64,
}

/// `data` of `license.revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRevokedData {
    /// The licence's id.
    pub license_id: i64,
    /// Its name.
    pub name: String,
    /// When, ms since the epoch.
    pub revoked_at_ms: i64,
}

/// `data` of `license.limit_approaching` (80 %) and `license.limit_reached` (100 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitThresholdData {
    /// The licence's id.
    pub license_id: i64,
    /// Its name.
    pub name: String,
    /// 80 or 100.
    pub threshold_percent: u64,
    /// The monthly limit.
    pub monthly_limit: u64,
    /// Billable events counted this month when the threshold was crossed.
    pub billable_this_month: u64,
    /// The month's first moment (RFC 3339, UTC).
    pub month_start: String,
}

/// `data` of `license.origin_not_allowed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OriginNotAllowedData {
    /// The licence whose key was used.
    pub license_id: i64,
    /// The origin it is not allowed on.
    pub origin: String,
}

/// `data` of `origin.unlicensed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnlicensedOriginData {
    /// The origin.
    pub origin: String,
    /// `"free-license"` when it declared the free licence; `null` when it sent no key.
    pub api_key: Option<String>,
}

/// The body sent for a stored message: the same bytes on every attempt.
pub fn render_body(event_type: EventType, created_at_ms: i64, licence_id: Option<i64>, data: &str) -> String {
    let mut data: serde_json::Value = serde_json::from_str(data).unwrap_or_else(|_| serde_json::json!({}));
    if let (Some(id), Some(object)) = (licence_id, data.as_object_mut()) {
        object.insert("licenseId".into(), id.into());
    }
    let envelope = WebhookEnvelope { event_type, timestamp: usage_core::format_rfc3339_ms(created_at_ms), data };
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// An endpoint's URL, checked: absolute `http` or `https`, no fragment, at most
/// [`MAX_URL_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    /// Checks `url`.
    ///
    /// # Errors
    /// The rule it breaks, in words.
    pub fn parse(url: &str) -> Result<EndpointUrl, String> {
        let rule =
            || format!("must be an absolute http or https URL without a fragment, at most {MAX_URL_LEN} characters");
        if url.len() > MAX_URL_LEN {
            return Err(rule());
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| rule())?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() || parsed.fragment().is_some() {
            return Err(rule());
        }
        Ok(EndpointUrl(url.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_names_and_storage() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        let types =
            EventTypes::new(vec![EventType::UnlicensedOrigin, EventType::LicenseCreated, EventType::LicenseCreated]);
        assert_eq!(types.to_stored(), ",license.created,origin.unlicensed,");
        assert_eq!(EventTypes::from_stored(&types.to_stored()), types);
        assert_eq!(EventTypes::default().to_stored(), "");
        assert_eq!(EventTypes::from_stored(""), EventTypes::default());
    }

    #[test]
    fn thresholds_are_80_and_100_percent_rounded_up() {
        assert_eq!(Threshold::Approaching.events_for(10), 8);
        assert_eq!(Threshold::Approaching.events_for(11), 9); // 8.8
        assert_eq!(Threshold::Reached.events_for(11), 11);
        assert_eq!(Threshold::Reached.events_for(0), 1);
        assert_eq!(Threshold::reached(10, 7), vec![]);
        assert_eq!(Threshold::reached(10, 8), vec![Threshold::Approaching]);
        assert_eq!(Threshold::reached(10, 12), vec![Threshold::Approaching, Threshold::Reached]);
        assert_eq!(Threshold::Reached.events_for(u64::MAX), u64::MAX);
    }

    #[test]
    fn bodies_carry_the_type_time_and_licence() {
        let body = render_body(EventType::LicenseRevoked, 0, Some(7), r#"{"name":"acme"}"#);
        assert_eq!(
            body,
            r#"{"type":"license.revoked","timestamp":"1970-01-01T00:00:00Z","data":{"licenseId":7,"name":"acme"}}"#
        );
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(EndpointUrl::parse("https://hooks.example.com/usage").is_ok());
        assert!(EndpointUrl::parse("http://127.0.0.1:9000/").is_ok());
        for bad in ["", "hooks.example.com", "ftp://x.com/", "https://x.com/#frag", "javascript:alert(1)"] {
            assert!(EndpointUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(EndpointUrl::parse(&format!("https://x.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }
}
