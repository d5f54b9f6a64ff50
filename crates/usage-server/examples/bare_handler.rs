//! The benchmark's baseline: an axum server that reads a registration exactly as
//! `usage-server` does (content type, 16 KiB limit, the shared JSON parsing and
//! validation) and answers the same reply, without a key lookup or storage. What
//! it serves is what the HTTP stack allows on this machine.
//!
//! `cargo run --release --example bare_handler -- 127.0.0.1:0` prints
//! `bare-handler listening on http://…`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use usage_core::wire::{ErrorResponse, RegisterUsagePointRequest, RegisterUsagePointResponse};

async fn register(
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RegisterUsagePointResponse>, (StatusCode, Json<ErrorResponse>)> {
    let bad = |status, message: String| (status, Json(ErrorResponse::new(message)));
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") && !content_type.starts_with("text/plain") {
        return Err(bad(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json".into()));
    }
    if body.len() > usage_server::http::MAX_BODY_BYTES {
        return Err(bad(StatusCode::PAYLOAD_TOO_LARGE, "too large".into()));
    }
    let registration = RegisterUsagePointRequest::from_json(&body)
        .and_then(RegisterUsagePointRequest::validate)
        .map_err(|err| bad(StatusCode::BAD_REQUEST, err.to_string()))?;
    Ok(Json(RegisterUsagePointResponse::new(registration.classification(None), false)))
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("cannot listen");
    println!("bare-handler listening on http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/api/track/register-usage-point", post(register));
    axum::serve(listener, app).await.unwrap();
}
