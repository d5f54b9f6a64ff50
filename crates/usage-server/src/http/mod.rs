//! The HTTP API: routes, CORS, request ids, access logs and request metrics.
//!
//! `track`: the registration and get-usage endpoints of the documented client;
//! `usage`: a licensee's breakdown and export; `admin`: the vendor's view;
//! `licences`: managing licences and reading the audit log;
//! `health`: liveness and readiness; `auth`: Bearer credentials; `observe`:
//! request ids, the access line and request metrics;
//! `client_address`: who a request is rate-limited as; `rate_limit`: token
//! buckets; `static_files`: the demo's pages, when served.

mod admin;
mod auth;
mod body;
mod client_address;
mod error;
mod health;
mod key_cache;
mod licences;
mod observe;
mod openapi;
mod paging;
mod rate_limit;
mod static_files;
mod track;
mod usage;
mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderName, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{StreamExt, TryStreamExt};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use usage_core::wire::LimitStatus;
use usage_core::{format_rfc3339_ms, month_period_utc_ms, UsageRange};

pub use body::{MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES};
pub use client_address::{address_block, TrustedProxies};
pub use error::ApiError;
pub use rate_limit::{Limited, RateLimits};

use crate::report;
use crate::store::{now_ms, Account, ActiveAdminToken, ActiveKey, BatchOptions, EventWriter, Store, StoreError};

/// How the server treats clients; `serve`'s flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Unpaid events per client address per minute (0: no limit).
    pub rate_limit_per_address: u32,
    /// Events per licence key and client address per minute (0: no limit).
    pub rate_limit_per_key: u32,
    /// Which peers are reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// How concurrent registrations are committed together.
    pub batch: BatchOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            rate_limit_per_address: 120,
            rate_limit_per_key: 1200,
            trusted_proxies: TrustedProxies::None,
            body_timeout: Duration::from_secs(10),
            batch: BatchOptions::default(),
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    writer: EventWriter,
    options: Arc<ServerOptions>,
    rate_limits: Arc<RateLimits>,
    keys: Arc<key_cache::KeyCache>,
    admin_tokens: Arc<key_cache::AdminTokens>,
    readiness: Arc<health::Readiness>,
}

impl AppState {
    /// State over an opened store; starts the event writer (group commit) on the
    /// current Tokio runtime.
    pub fn new(store: Store, options: ServerOptions) -> Self {
        let rate_limits = Arc::new(RateLimits::per_minute(options.rate_limit_per_address, options.rate_limit_per_key));
        let writer = EventWriter::spawn(store.clone(), options.batch);
        AppState {
            store,
            writer,
            options: Arc::new(options),
            rate_limits,
            keys: Arc::default(),
            admin_tokens: Arc::default(),
            readiness: Arc::default(),
        }
    }

    /// The active key pair of `public_key`, from the cache or the database.
    async fn find_public_key(&self, public_key: &str) -> Result<Option<ActiveKey>, ApiError> {
        if let Some(key) = self.keys.get(public_key) {
            return Ok(Some(key));
        }
        let found = self.store.find_by_public_key(public_key).await?;
        if let Some(key) = &found {
            self.keys.insert(public_key, key.clone());
        }
        Ok(found)
    }

    /// What `find` finds among the active admin tokens: the cached ones first,
    /// then (a token created since they were cached) the database's, read once.
    async fn find_admin_token<T>(
        &self,
        find: impl Fn(&[ActiveAdminToken]) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        if let Some(found) = self.admin_tokens.get().and_then(|tokens| find(&tokens)) {
            return Ok(Some(found));
        }
        let tokens: Arc<[ActiveAdminToken]> = self.store.active_admin_tokens().await?.into();
        self.admin_tokens.set(tokens.clone());
        Ok(find(&tokens))
    }

    /// The rate limits, for the housekeeping task that forgets idle clients.
    pub fn rate_limits(&self) -> Arc<RateLimits> {
        self.rate_limits.clone()
    }

    /// Whether `key`'s billable count this calendar month exceeds its limit.
    async fn over_limit(&self, key: &ActiveKey) -> Result<bool, ApiError> {
        Ok(self.limit_status(key).await?.is_some_and(|limit| limit.used > limit.monthly_billable))
    }

    /// Where `key`'s monthly limit stands this calendar month, if it has one.
    async fn limit_status(&self, key: &ActiveKey) -> Result<Option<LimitStatus>, ApiError> {
        let Some(monthly) = key.monthly_limit else { return Ok(None) };
        let period = month_period_utc_ms(now_ms());
        let used = self.store.count_billable(key.id, period.0, period.1).await?;
        Ok(Some(LimitStatus::new(monthly, used, period)))
    }
}

/// The whole application; `serve` and in-process tests both build it here.
pub fn app(state: AppState) -> Router {
    app_serving(state, None)
}

/// [`app`], also serving the files of `static_dir` (the demo and the dashboard,
/// `serve --static DIR`) at every path the API does not use: `/` is
/// `DIR/index.html`, `/dashboard/` is `DIR/dashboard/index.html`.
pub fn app_serving(state: AppState, static_dir: Option<&Path>) -> Router {
    let (routes, document) = routes().split_for_parts();
    // Serialised once; every answer shares the bytes.
    let served = openapi::Served(openapi::document(document).to_json().unwrap_or_default().into());
    let api = routes
        .route("/api/openapi.json", axum::routing::get(move || std::future::ready(served.clone())))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Counts are private and change with every event: never cache them.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(cors());
    let app = match static_dir {
        Some(dir) => static_files::serve(api, dir),
        None => api.fallback(not_found),
    };
    app.layer(SetResponseHeaderLayer::overriding(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
    // Outermost first, from the bottom: a usable incoming id is kept, else one is
    // made; `observe` logs and measures with it; the answer carries it back.
    .layer(axum::middleware::from_fn(observe::observe))
    .layer(PropagateRequestIdLayer::new(HeaderName::from_static(observe::REQUEST_ID)))
    .layer(SetRequestIdLayer::new(HeaderName::from_static(observe::REQUEST_ID), MakeRequestUuid))
    .layer(axum::middleware::from_fn(observe::drop_unusable_request_id))
}

/// Every documented route, with its OpenAPI paths.
fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .merge(health::router())
        .merge(track::router())
        .merge(usage::router())
        .merge(admin::router())
        .merge(licences::router())
        .merge(webhooks::router())
}

/// The OpenAPI document of every route, as `GET /api/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::document(routes().into_openapi())
}

/// Any origin may call the API: the module runs on customers' sites. No
/// credentials, so the browser never attaches cookies; `Authorization` carries the
/// Bearer credential of the read endpoints. `Retry-After`, `Content-Disposition`
/// and `X-Request-Id` are exposed so a page can honour, name and quote them.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::GET, Method::PATCH])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            HeaderName::from_static(observe::REQUEST_ID),
        ])
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// A CSV download named after what it holds and its range, streamed one UTC day
/// at a time: the server holds one day's rows, however long the export.
fn csv_download(name: &str, store: Store, account: Option<Account>, range: UsageRange, csv: report::Csv) -> Response {
    let day = |ms: i64| format_rfc3339_ms(ms)[..10].to_owned();
    let filename = format!("{name}-{}-to-{}.csv", day(range.since_ms), day(range.until_ms));
    let header = futures_util::stream::once(std::future::ready(Ok::<_, StoreError>(Bytes::from(csv.header()))));
    let days = range.days().map(move |part| {
        let (store, csv) = (store.clone(), csv.clone());
        async move {
            let rows = store.count_rows(account, &part).await?;
            Ok(Bytes::from(csv.lines(&rows)))
        }
    });
    let body = header.chain(futures_util::stream::iter(days).then(|day| day)).inspect_err(|err| {
        tracing::warn!(error = %err, "an export stopped part way; the client gets a cut-off file");
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    let allowed = if path.starts_with("/api/track/") || path.ends_with("/rotate") || path.ends_with("/revoke") {
        "POST"
    } else if path == "/api/admin/licenses" {
        "GET or POST"
    } else if path.starts_with("/api/admin/licenses/") {
        "GET or PATCH"
    } else {
        "GET"
    };
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned(), allowed }
}
