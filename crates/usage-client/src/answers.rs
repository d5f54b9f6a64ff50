//! The answers the module reads: how a registration was counted (alone or in a
//! batch), the counts `getUsage` returns, the breakdowns, and a refusal's
//! `error`. Each is read with [`crate::fields`], the one reader; the Rust API's
//! typed usage answers are serde types (the wasm shell reads them with
//! `serde-wasm-bindgen`).

use serde::{Deserialize, Serialize};
use usage_core::wire::{AdminUsageResponse, BreakdownResponse, LimitStatus, UsageCounts};
use usage_core::Classification;

use crate::error::TelemetryError;
use crate::fields::{DynamicValue, FieldError, Fields, FromFields};

/// What a registration resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// Whether the event is billed.
    pub billable: bool,
    /// How it was counted.
    pub classification: Classification,
    /// `true` when the licence's billable events this month now exceed its monthly
    /// limit (the event still counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_limit: Option<bool>,
}

/// The counts `getUsage` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// `webcodec-conversion` and `web-render` events.
    pub webcodec_conversions: UsageCounts,
    /// `cloud-render` events.
    pub cloud_renders: UsageCounts,
    /// The same as `webcodec_conversions`, under the name current clients read.
    pub web_renders: UsageCounts,
    /// The key's monthly limit and where this month stands, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitStatus>,
}

/// The fields every `getUsage` answer has: what the module checks before
/// handing the server's answer to JavaScript as parsed.
pub const USAGE_FIELDS: &[&str] = &["webcodecConversions", "cloudRenders", "webRenders"];

/// What `getUsageBreakdown` answers: a licensee's breakdown (secret key) or the
/// vendor's view of every licence (admin token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsageBreakdown {
    /// `GET /api/admin/usage`.
    Vendor(AdminUsageResponse),
    /// `GET /api/usage/breakdown`.
    Licence(BreakdownResponse),
}

/// Which answer a breakdown request reads, decided by its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakdownView {
    /// A secret key: that licence's breakdown.
    Licensee,
    /// An admin token: the vendor's view of every licence.
    Vendor,
}

impl BreakdownView {
    /// The fields every answer of this view has.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            BreakdownView::Vendor => &["licenses", "unlicensed", "freeLicense", "series", "origins"],
            BreakdownView::Licensee => &["series", "origins", "otherOrigins", "totals"],
        }
    }
}

/// An error answer's `error` (`usage_core::wire::ErrorResponse`).
pub struct ServerError(pub Option<String>);

impl FromFields for ServerError {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        fields.string("error").map(ServerError)
    }
}

/// The answer to a batch, as the module reads it: one [`RegistrationResult`] per
/// registration, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnswer {
    /// One per registration, in order.
    pub results: Vec<RegistrationResult>,
}

/// One registration's result, alone (the single endpoint's answer) or in a
/// [`BatchAnswer`]: read flat (a counted registration has `billable` and
/// `classification`, a refused one `error` and `status`) rather than as the
/// server's untagged [`usage_core::wire::BatchResult`], whose reading costs the
/// wasm build several kilobytes of buffering code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResult {
    billable: Option<bool>,
    classification: Option<Classification>,
    over_limit: Option<bool>,
    error: Option<String>,
    status: Option<u16>,
}

impl FromFields for BatchAnswer {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        Ok(BatchAnswer { results: fields.list("results")?.unwrap_or_default() })
    }
}

impl FromFields for RegistrationResult {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        let classifications = Classification::ALL.map(|classification| (classification.as_str(), classification));
        Ok(RegistrationResult {
            billable: fields.bool("billable")?,
            classification: fields.choice("classification", &classifications)?,
            over_limit: fields.bool("overLimit")?,
            error: fields.string("error")?,
            status: fields.u32("status")?.and_then(|status| u16::try_from(status).ok()),
        })
    }
}

/// Each registration's result from the answer to a batch of `count`: the
/// batch's own failure for all of them, else one result per registration.
pub fn batch_results(
    answer: Result<BatchAnswer, TelemetryError>,
    count: usize,
) -> Vec<Result<Registered, TelemetryError>> {
    let failure = match answer {
        Ok(answer) if answer.results.len() == count => {
            return answer.results.into_iter().map(RegistrationResult::into_result).collect()
        }
        Ok(answer) => {
            let snippet = format!("{} results for {count} registrations", answer.results.len());
            TelemetryError::NotJson { status: 200, snippet }
        }
        Err(err) => err,
    };
    // Not `vec![…; count]`: its unrolled copy loop costs ~1 KB.
    (0..count).map(|_| Err(failure.clone())).collect()
}

impl RegistrationResult {
    /// How the registration was counted, or why it was refused.
    ///
    /// # Errors
    /// [`TelemetryError::Server`] for a refusal, [`TelemetryError::NotJson`] for a
    /// result that is neither.
    pub fn into_result(self) -> Result<Registered, TelemetryError> {
        match self {
            RegistrationResult {
                billable: Some(billable), classification: Some(classification), over_limit, ..
            } => Ok(Registered { billable, classification, over_limit }),
            RegistrationResult { error: Some(error), status, .. } => {
                Err(TelemetryError::Server { status: status.unwrap_or(400), message: error })
            }
            _ => Err(TelemetryError::NotJson {
                status: 200,
                snippet: "a result with neither billable and classification nor error".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::read_object;

    #[test]
    fn a_batch_answer_becomes_one_result_per_registration() {
        use usage_core::wire::{BatchResult, RegisterUsagePointsResponse};
        // What the server writes (its own types), read as the module reads it.
        let written = serde_json::to_string(&RegisterUsagePointsResponse {
            success: true,
            results: vec![
                BatchResult::counted(Classification::Billable, true),
                BatchResult::counted(Classification::Development, false),
                BatchResult::Refused { error: "eventId must be a UUID".into(), status: 400 },
            ],
        })
        .unwrap();
        let answer: BatchAnswer = read_object(serde_json::Value::parse_json(&written).unwrap()).unwrap();
        let results = batch_results(Ok(answer.clone()), 3);
        assert_eq!(
            results[0],
            Ok(Registered { billable: true, classification: Classification::Billable, over_limit: Some(true) })
        );
        assert_eq!(
            results[1],
            Ok(Registered { billable: false, classification: Classification::Development, over_limit: None })
        );
        assert_eq!(results[2], Err(TelemetryError::Server { status: 400, message: "eventId must be a UUID".into() }));
        let mismatched = batch_results(Ok(answer), 4);
        assert_eq!(mismatched.len(), 4);
        assert!(mismatched.iter().all(|r| r
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("3 results for 4 registrations")));
        let down = TelemetryError::Timeout { url: "u".into(), attempts: 4, timeout_ms: 1 };
        assert_eq!(batch_results(Err(down.clone()), 2), vec![Err(down.clone()), Err(down)]);
    }

    #[test]
    fn a_lone_answer_reads_as_one_result() {
        let read = |json: serde_json::Value| read_object::<RegistrationResult, _>(json).unwrap().into_result();
        let counted = serde_json::json!({"success": true, "billable": false, "classification": "development"});
        assert_eq!(
            read(counted),
            Ok(Registered { billable: false, classification: Classification::Development, over_limit: None })
        );
        let err = read(serde_json::json!({"success": true})).unwrap_err();
        assert_eq!(err.code(), "not_json");
    }
}
