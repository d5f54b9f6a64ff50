//! The vendor's view: `GET /api/admin/usage` and `GET /api/admin/export.csv`,
//! with an admin token as a Bearer credential.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use usage_core::wire::AdminUsageResponse;
use usage_core::{month_period_utc_ms, UsageRange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::openapi::ReadRefused;
use super::usage::RangeQuery;
use super::{auth, csv_download, AppState};
use crate::report::{self, Counted, KeyLimits};
use crate::store::{now_ms, ViewCounts};

/// The admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage)).routes(routes!(export_csv))
}

/// Every licence with its totals and limit, unlicensed and free-license usage by
/// origin, the series of everything, and the busiest (origin, licence) pairs.
#[utoipa::path(
    get,
    path = "/api/admin/usage", operation_id = "getAdminUsage",
    tag = "admin",
    params(RangeQuery),
    security(("adminToken" = [])),
    responses((status = 200, description = "Every licence, unpaid usage by origin, the series of everything", body = AdminUsageResponse), ReadRefused)
)]
async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<AdminUsageResponse>, ApiError> {
    auth::admin(&state, &headers).await?;
    let now = now_ms();
    let range = UsageRange::from_query(query.as_deref(), now)?;
    let period = month_period_utc_ms(now);
    // Independent reads, each on its own connection.
    let (counts, keys) = tokio::try_join!(state.store.count_view(None, &range, Some(period)), state.store.licences())?;
    let ViewCounts { by_time, by_origin, billable_this_month, .. } = counts;
    let limits = KeyLimits { keys: &keys, used_this_month: &billable_this_month, period };
    let counted = Counted { by_time: &by_time, by_origin: &by_origin, not_allowed: &[] };
    Ok(Json(report::admin_usage(counted, &range, &limits)))
}

/// Every account's counts as CSV rows `day,license,origin,event,classification,count`.
#[utoipa::path(
    get,
    path = "/api/admin/export.csv", operation_id = "exportAdminCsv",
    tag = "admin",
    params(RangeQuery),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "CSV rows `day,license,origin,event,classification,count`", content_type = "text/csv", body = String),
        ReadRefused
    )
)]
async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    auth::admin(&state, &headers).await?;
    let range = UsageRange::from_query(query.as_deref(), now_ms())?;
    let keys = state.store.licences().await?;
    let csv = report::Csv::new(range.granularity, Some(&keys));
    Ok(csv_download("usage-all-licenses", state.store.clone(), None, range, csv))
}
