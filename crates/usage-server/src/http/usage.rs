//! A licensee's views: `GET /api/usage/breakdown` and `GET /api/usage/export.csv`,
//! with the secret key as a Bearer credential.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use usage_core::wire::{BreakdownResponse, LimitStatus};
use usage_core::{month_period_utc_ms, Granularity, UsageRange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::openapi::ReadRefused;
use super::{auth, csv_download, AppState};
use crate::report::{self, Counted};
use crate::store::{now_ms, Account, ViewCounts};

/// The licensee routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(breakdown)).routes(routes!(export_csv))
}

/// The range every view reads: `since`, `until` (ms since the epoch) and the bucket size.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the query is read by `UsageRange::from_query`
pub struct RangeQuery {
    /// The range's start, ms since the epoch, within the last 90 days; default: the start of this month (UTC).
    since: Option<i64>,
    /// The range's end, ms since the epoch, after `since`, not in the future; default: now.
    until: Option<i64>,
    /// `day` (default) or `hour` (ranges up to 7 days).
    granularity: Option<Granularity>,
}

/// Usage by time bucket and origin, with totals and the monthly limit.
#[utoipa::path(
    get,
    path = "/api/usage/breakdown", operation_id = "getBreakdown",
    tag = "usage",
    params(RangeQuery),
    security(("secretKey" = [])),
    responses((status = 200, description = "The licence's usage by bucket and origin", body = BreakdownResponse), ReadRefused)
)]
async fn breakdown(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<BreakdownResponse>, ApiError> {
    let key = auth::licensee(&state, &headers).await?;
    let range = UsageRange::from_query(query.as_deref(), now_ms())?;
    // The month's billable count (for the limit) is read with the rest.
    let period = month_period_utc_ms(now_ms());
    let month = key.monthly_limit.map(|_| period);
    let ViewCounts { by_time, by_origin, billable_this_month, not_allowed_origins } =
        state.store.count_view(Some(Account::Key(key.id)), &range, month).await?;
    let used = billable_this_month.get(&key.id).copied().unwrap_or(0);
    let limit = key.monthly_limit.map(|monthly| LimitStatus::new(monthly, used, period));
    let counted = Counted { by_time: &by_time, by_origin: &by_origin, not_allowed: &not_allowed_origins };
    Ok(Json(report::breakdown(counted, &range, limit)))
}

/// The same counts as CSV rows `day,origin,event,classification,count`.
#[utoipa::path(
    get,
    path = "/api/usage/export.csv", operation_id = "exportLicenseCsv",
    tag = "usage",
    params(RangeQuery),
    security(("secretKey" = [])),
    responses(
        (status = 200, description = "CSV rows `day,origin,event,classification,count`", content_type = "text/csv", body = String),
        ReadRefused
    )
)]
async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let key = auth::licensee(&state, &headers).await?;
    let range = UsageRange::from_query(query.as_deref(), now_ms())?;
    let csv = report::Csv::new(range.granularity, None);
    Ok(csv_download("usage", state.store.clone(), Some(Account::Key(key.id)), range, csv))
}
