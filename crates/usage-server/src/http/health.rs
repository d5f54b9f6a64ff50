//! Liveness and readiness, for load balancers and orchestrators.
//!
//! `GET /livez`: the process answers. `GET /readyz`: it can take events now: the
//! event writer runs and the database can be written (migrations were applied
//! before the server began to listen). `GET /healthz` (the database answers a
//! read) stays for existing users.

use std::time::{Duration, Instant};

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use usage_core::wire::ErrorResponse;

use super::error::ApiError;
use super::AppState;

/// How long a readiness answer is reused: a probe writes to the database, so a
/// flood of probes must not become a flood of commits.
const READINESS_TTL: Duration = Duration::from_secs(1);

/// The health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(livez)).routes(routes!(readyz)).routes(routes!(healthz))
}

/// The last readiness answer and when it was found; probes wait for one another.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    /// Whether the server can take events, found at most [`READINESS_TTL`] ago.
    async fn check(&self, state: &AppState) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = &*last {
            if at.elapsed() < READINESS_TTL {
                return answer.clone();
            }
        }
        let answer = if !state.writer.is_running() {
            Err("the event writer has stopped".to_owned())
        } else {
            state.store.check_writable().await.map_err(|err| format!("the database cannot be written: {err}"))
        };
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

#[utoipa::path(get, path = "/livez", operation_id = "livez", tag = "health", responses((status = 200, description = "`ok`", body = String)))]
async fn livez() -> &'static str {
    "ok"
}

/// 200 `ready`, or 503 with `Retry-After` and the reason.
#[utoipa::path(
    get,
    path = "/readyz", operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "`ready`", body = String),
        (status = 503, description = "Not ready, and why", body = ErrorResponse, headers(("Retry-After" = u64)))
    )
)]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.readiness.check(&state).await.map_err(ApiError::NotReady)?;
    Ok("ready")
}

/// 200 once the database answers a read, 503 while it does not.
#[utoipa::path(
    get,
    path = "/healthz", operation_id = "healthz",
    tag = "health",
    responses(
        (status = 200, description = "`ok`: the database answers", body = String),
        (status = 503, description = "The database does not answer", body = ErrorResponse, headers(("Retry-After" = u64)))
    )
)]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await.map_err(|err| ApiError::Unavailable(err.into()))?;
    Ok("ok")
}
