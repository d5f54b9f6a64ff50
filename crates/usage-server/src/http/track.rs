//! `POST /api/track/register-usage-point` and `POST /api/track/get-usage`.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use usage_core::wire::{GetUsageRequest, GetUsageResponse, RegisterUsagePointRequest, RegisterUsagePointResponse};
use usage_core::{Licence, Origin};

use super::auth::{self, ClientAddress};
use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::report;
use crate::store::{now_ms, Account, NewEvent};

/// The two tracking routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/track/register-usage-point", post(register_usage_point))
        .route("/api/track/get-usage", post(get_usage))
}

/// Counts one event, once per `eventId` within its licence key (or within the
/// unlicensed or free-license bucket).
///
/// A browser's `Origin` header outranks the `host` the body claims, so a
/// production site cannot be counted as development by claiming localhost.
async fn register_usage_point(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Json<RegisterUsagePointResponse>, ApiError> {
    let registration = RegisterUsagePointRequest::from_json(&body)?.validate()?;
    let reported_origin = origin_header(&headers)?;
    let (account, key) = match &registration.licence {
        Licence::Key(public_key) => {
            let key = state.find_public_key(public_key).await?.ok_or(ApiError::UnknownKey("apiKey"))?;
            state.rate_limits.check_key(key.id)?;
            (Account::Key(key.id), Some(key))
        }
        unpaid => {
            state.rate_limits.check_address(address)?;
            (if *unpaid == Licence::FreeLicense { Account::FreeLicense } else { Account::Unlicensed }, None)
        }
    };
    let claim_differed = match (&registration.claimed_origin, &reported_origin) {
        (Some(claim), Some(reported)) => !claim.agrees_with(reported),
        _ => false,
    };
    let origin = reported_origin.as_ref().or(registration.claimed_origin.as_ref());
    let recorded = state
        .writer
        .record(NewEvent {
            account,
            event_id: registration.event_id.clone(),
            kind: registration.event,
            classification: registration.classification(reported_origin.as_ref()),
            origin: origin.map(Origin::to_string),
            origin_claim_differed: claim_differed,
            is_still: registration.is_still,
            created_at_ms: now_ms(),
        })
        .await?;
    if claim_differed {
        tracing::debug!(reported = ?origin.map(Origin::to_string), "host claim differs from the Origin header; using the header");
    }
    let over_limit = match key {
        Some(key) if recorded.classification.is_billable() => {
            state.limit_status(&key).await?.is_some_and(|limit| limit.used > limit.monthly_billable)
        }
        _ => false,
    };
    Ok(Json(RegisterUsagePointResponse::new(recorded.classification, over_limit)))
}

/// Counts per kind and classification since `since` (default: start of the month, UTC).
async fn get_usage(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Json<GetUsageResponse>, ApiError> {
    let query = GetUsageRequest::from_json(&body)?.validate(now_ms())?;
    let key = auth::secret_key(&state, &query.secret_key, "apiKey").await?;
    let rows = state.store.count_since(Account::Key(key.id), query.since_ms).await?;
    let answer =
        GetUsageResponse { success: true, counts: report::totals(&rows), limit: state.limit_status(&key).await? };
    Ok(Json(answer))
}

/// The origin the browser reported, if the request came from one.
fn origin_header(headers: &HeaderMap) -> Result<Option<Origin>, ApiError> {
    let Some(value) = headers.get(header::ORIGIN) else { return Ok(None) };
    let text = value.to_str().unwrap_or("\u{fffd}");
    let origin = Origin::parse_field(text, "Origin header")?;
    Ok(Some(origin))
}
