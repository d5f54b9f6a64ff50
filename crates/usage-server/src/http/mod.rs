//! The HTTP API: routes, CORS, tracing.

mod body;
mod error;
mod track;

use std::time::Duration;

use axum::http::{header, Method, Uri};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

pub use body::MAX_BODY_BYTES;
pub use error::ApiError;

use crate::store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
}

impl AppState {
    /// State over an opened store.
    pub fn new(store: Store) -> Self {
        AppState { store }
    }
}

/// The whole application; `serve` and in-process tests both build it here.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(track::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(cors())
        .layer(TraceLayer::new_for_http())
}

/// Any origin may call the API: the module runs on customers' sites. No
/// credentials, so the browser never attaches cookies. `Retry-After` is exposed so
/// a page can honour it (browsers hide non-safelisted headers otherwise).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::GET])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// 200 once the database answers, 503 while it does not.
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await.map_err(|err| ApiError::Unavailable(err.into()))?;
    Ok("ok")
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() }
}
