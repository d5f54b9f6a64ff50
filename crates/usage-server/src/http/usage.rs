//! A licensee's views: `GET /api/usage/breakdown` and `GET /api/usage/export.csv`,
//! with the secret key as a Bearer credential.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use usage_core::wire::{BreakdownResponse, LimitStatus};
use usage_core::{month_period_utc_ms, UsageRange};

use super::error::ApiError;
use super::{auth, csv_download, AppState};
use crate::report::{self, Counted};
use crate::store::{now_ms, Account, ViewCounts};

/// The licensee routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/usage/breakdown", get(breakdown)).route("/api/usage/export.csv", get(export_csv))
}

/// Usage by time bucket and origin, with totals and the monthly limit.
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
