//! `POST /api/track/register-usage-point`, `POST /api/track/register-usage-points`
//! and `POST /api/track/get-usage`.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::value::RawValue;
use usage_core::wire::{
    BatchResult, ErrorResponse, GetUsageRequest, GetUsageResponse, RegisterUsagePointRequest,
    RegisterUsagePointResponse, RegisterUsagePointsResponse, MAX_REGISTRATIONS_PER_BATCH,
};
use usage_core::{Licence, Origin};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::body::{JsonBody, MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES};
use super::client_address::ClientAddress;
use super::error::ApiError;
use super::openapi::{BodyRefused, RegistrationBatch};
use super::AppState;
use crate::report;
use crate::store::{now_ms, Account, ActiveKey, KeyId, NewEvent};

/// The tracking routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_usage_point))
        .routes(routes!(register_usage_points))
        .routes(routes!(get_usage))
}

/// Counts one event, once per `eventId` within its licence key (or within the
/// unlicensed or free-license bucket).
///
/// A browser's `Origin` header outranks the `host` the body claims, so a
/// production site cannot be counted as development by claiming localhost.
#[utoipa::path(
    post,
    path = "/api/track/register-usage-point", operation_id = "registerUsagePoint",
    tag = "track",
    request_body(content = RegisterUsagePointRequest, description = "One event (also accepted as `text/plain`)"),
    params(("Origin" = Option<String>, Header, max_length = 300, description = "Set by browsers; outranks the body's `host`")),
    responses(
        (status = 200, description = "Counted (a repeated `eventId` answers as first counted)", body = RegisterUsagePointResponse),
        BodyRefused,
        (status = 429, description = "Over a rate limit; nothing was stored", body = ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait")))
    )
)]
async fn register_usage_point(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Json<RegisterUsagePointResponse>, ApiError> {
    let reported_origin = origin_header(&headers)?;
    let accepted = accept(&state, address, reported_origin.as_ref(), &body, now_ms()).await?;
    let account = accepted.event.account;
    let recorded = state.writer.record(accepted.event).await?;
    if matches!(account, Account::NotAllowed(_)) {
        return Ok(Json(RegisterUsagePointResponse::not_allowed(recorded.classification)));
    }
    let over_limit = match accepted.key {
        Some(key) if recorded.classification.is_billable() => state.over_limit(&key).await?,
        _ => false,
    };
    Ok(Json(RegisterUsagePointResponse::new(recorded.classification, over_limit)))
}

/// Counts up to 100 events sent together (a burst, or a queue re-sent after a
/// time offline), each accepted or refused on its own by the rules of
/// [`register_usage_point`], the accepted ones in one transaction.
#[utoipa::path(
    post,
    path = "/api/track/register-usage-points", operation_id = "registerUsagePoints",
    tag = "track",
    request_body(content = RegistrationBatch, description = "1 to 100 events, at most 64 KiB"),
    params(("Origin" = Option<String>, Header, max_length = 300, description = "Set by browsers; outranks each body's `host`")),
    responses(
        (status = 200, description = "One result per event, in order: counted, or refused with its own status", body = RegisterUsagePointsResponse),
        BodyRefused,
        (status = 429, description = "Over a rate limit; nothing was stored", body = ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait")))
    )
)]
async fn register_usage_points(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<MAX_BATCH_BODY_BYTES>,
) -> Result<Json<RegisterUsagePointsResponse>, ApiError> {
    let items = batch_items(&body)?;
    let reported_origin = origin_header(&headers)?;
    let now = now_ms();
    let mut results: Vec<Option<BatchResult>> = vec![None; items.len()];
    let mut accepted = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let text = item.get();
        let outcome = if text.len() > MAX_BODY_BYTES {
            Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES))
        } else {
            accept(&state, address, reported_origin.as_ref(), text.as_bytes(), now).await
        };
        match outcome {
            Ok(event) => accepted.push((index, event)),
            Err(err @ (ApiError::Internal(_) | ApiError::Unavailable(_) | ApiError::Busy)) => return Err(err),
            Err(err) => {
                results[index] = Some(BatchResult::Refused { status: err.status().as_u16(), error: err.to_string() })
            }
        }
    }
    let (positions, accepted): (Vec<usize>, Vec<Accepted>) = accepted.into_iter().unzip();
    let (events, keys): (Vec<NewEvent>, Vec<Option<ActiveKey>>) =
        accepted.into_iter().map(|accepted| (accepted.event, accepted.key)).unzip();
    let accounts: Vec<Account> = events.iter().map(|event| event.account).collect();
    let recorded = state.writer.record_all(events).await?;
    // One limit reading per key, after the whole batch.
    let mut over_limit: HashMap<KeyId, bool> = HashMap::new();
    for (((index, key), recorded), account) in positions.into_iter().zip(keys).zip(recorded).zip(accounts) {
        if matches!(account, Account::NotAllowed(_)) {
            results[index] = Some(BatchResult::not_allowed(recorded.classification));
            continue;
        }
        let over = match key {
            Some(key) if recorded.classification.is_billable() => match over_limit.get(&key.id) {
                Some(&over) => over,
                None => {
                    let over = state.over_limit(&key).await?;
                    over_limit.insert(key.id, over);
                    over
                }
            },
            _ => false,
        };
        results[index] = Some(BatchResult::counted(recorded.classification, over));
    }
    Ok(Json(RegisterUsagePointsResponse { success: true, results: results.into_iter().flatten().collect() }))
}

/// A registration that passed every rule: its event, ready to count, and the
/// key whose licence it counts toward (none for unpaid or not-allowed events).
struct Accepted {
    event: NewEvent,
    key: Option<ActiveKey>,
}

/// Checks one registration body, finds its key and takes its rate limit.
async fn accept(
    state: &AppState,
    address: IpAddr,
    reported_origin: Option<&Origin>,
    body: &[u8],
    now_ms: i64,
) -> Result<Accepted, ApiError> {
    let registration = RegisterUsagePointRequest::from_json(body)?.validate()?;
    let origin = reported_origin.or(registration.claimed_origin.as_ref());
    let (account, key) = match &registration.licence {
        Licence::Key(public_key) => {
            let key = state.find_public_key(public_key).await?.ok_or(ApiError::UnknownKey("apiKey"))?;
            if key.allowed_origins.allows(origin) {
                state.rate_limits.check_key(key.id, address)?;
                (Account::Key(key.id), Some(key))
            } else {
                // A copied key on another site: the unpaid limit, never the licence's.
                state.rate_limits.check_address(address)?;
                (Account::NotAllowed(key.id), None)
            }
        }
        unpaid => {
            state.rate_limits.check_address(address)?;
            (if *unpaid == Licence::FreeLicense { Account::FreeLicense } else { Account::Unlicensed }, None)
        }
    };
    let claim_differed = match (&registration.claimed_origin, reported_origin) {
        (Some(claim), Some(reported)) => !claim.agrees_with(reported),
        _ => false,
    };
    if claim_differed {
        tracing::debug!(reported = ?origin.map(Origin::to_string), "host claim differs from the Origin header; using the header");
    }
    let event = NewEvent {
        account,
        event_id: registration.event_id.clone(),
        kind: registration.event,
        classification: registration.classification(reported_origin),
        origin: origin.map(Origin::to_string),
        origin_claim_differed: claim_differed,
        is_still: registration.is_still,
        created_at_ms: now_ms,
    };
    Ok(Accepted { event, key })
}

/// The registrations of a batch body, each as its JSON text.
fn batch_items(body: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    let not_a_batch = |found: String| ApiError::NotABatch { max: MAX_REGISTRATIONS_PER_BATCH, found };
    let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|err| {
        not_a_batch(if err.is_data() { "not an array".to_owned() } else { format!("not valid JSON: {err}") })
    })?;
    match items.len() {
        0 => Err(not_a_batch("got none".to_owned())),
        n if n > MAX_REGISTRATIONS_PER_BATCH => Err(not_a_batch(format!("got {n}"))),
        _ => Ok(items),
    }
}

/// Counts per kind and classification since `since` (default: start of the month, UTC).
#[utoipa::path(
    post,
    path = "/api/track/get-usage", operation_id = "getUsage",
    tag = "track",
    request_body(content = GetUsageRequest, description = "The secret key in the body, as the documented client sends it"),
    responses((status = 200, description = "The counts since `since`", body = GetUsageResponse), BodyRefused)
)]
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
