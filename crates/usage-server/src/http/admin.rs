//! The vendor's view: `GET /api/admin/usage` and `GET /api/admin/export.csv`,
//! with an admin token as a Bearer credential, and `GET /api/admin/token`.

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
use crate::store::{now_ms, Actor, ViewCounts};

/// The admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage)).routes(routes!(export_csv)).routes(routes!(token))
}

/// `GET /api/admin/token`: the token a request carries, so that a dashboard offers
/// changes only to a token that may make them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AdminTokenResponse)]
struct TokenAnswer {
    success: bool,
    /// The name it was created with (the audit log's `token:NAME`).
    name: String,
    /// Whether it may only read: a change with it answers 403.
    read_only: bool,
}

/// Which admin token the request carries: its name and whether it may change things.
#[utoipa::path(
    get,
    path = "/api/admin/token", operation_id = "getAdminToken",
    tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "The token's name and kind", body = TokenAnswer), ReadRefused)
)]
async fn token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<TokenAnswer>, ApiError> {
    let admin = auth::admin(&state, &headers).await?;
    let name = match admin.actor {
        Actor::Token(name) => name,
        // Requests always carry a token; the CLI is no HTTP caller.
        Actor::Cli => "cli".to_owned(),
    };
    Ok(Json(TokenAnswer { success: true, name, read_only: admin.read_only }))
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
