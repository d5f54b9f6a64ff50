//! Reading a request body: content type, size limit, then the bytes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::error::ApiError;
use super::AppState;
use crate::metrics::{self, Refusal};

/// The largest body accepted, and the largest registration in a batch. A
/// registration is under 400 bytes; 16 KiB leaves room for growth while refusing
/// floods early.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The largest batch of registrations: what Chromium lets a page have in flight
/// in `keepalive` requests.
pub const MAX_BATCH_BODY_BYTES: usize = 64 * 1024;

/// A body that is `application/json` or `text/plain` (what `navigator.sendBeacon`
/// and preflight-free fetches send) and at most `LIMIT` bytes long.
///
/// A declared `Content-Length` over the limit is refused before any of the body is
/// read; a chunked body is cut off as soon as it passes the limit; a body that
/// has not arrived in full within the body timeout (`--body-timeout-secs`) is
/// refused with 408 and its connection closed.
pub struct JsonBody<const LIMIT: usize = MAX_BODY_BYTES>(pub Bytes);

impl<const LIMIT: usize> FromRequest<AppState> for JsonBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        check_content_type(request.headers().get(header::CONTENT_TYPE))?;
        read_limited(request, state, LIMIT).await.map(JsonBody)
    }
}

/// A body a request may leave out (`POST …/rotate` without options): `None` when
/// it is empty; otherwise as [`JsonBody`].
pub struct OptionalJsonBody(pub Option<Bytes>);

impl FromRequest<AppState> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = read_limited(request, state, MAX_BODY_BYTES).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        check_content_type(content_type.as_ref())?;
        Ok(OptionalJsonBody(Some(bytes)))
    }
}

/// The body's bytes: at most `limit`, arrived within the body timeout.
async fn read_limited(request: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        metrics::refused(Refusal::BodyTooLarge);
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let timeout = state.options.body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(request.into_body(), limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) if is_length_limit(&err) => {
            metrics::refused(Refusal::BodyTooLarge);
            Err(ApiError::PayloadTooLarge(limit))
        }
        Ok(Err(_)) => Err(ApiError::UnreadableBody),
        Err(_) => Err(ApiError::BodyTimeout(timeout.as_secs())),
    }
}

fn check_content_type(value: Option<&header::HeaderValue>) -> Result<(), ApiError> {
    let text = value.and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/plain" => Ok(()),
        "" => Err(ApiError::UnsupportedMediaType("none".to_owned())),
        _ => Err(ApiError::UnsupportedMediaType(essence)),
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_and_plain_text_are_accepted_with_parameters() {
        for ok in ["application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8", "Text/Plain"] {
            assert!(check_content_type(Some(&HeaderValue::from_static(ok))).is_ok(), "{ok}");
        }
    }

    #[test]
    fn other_types_are_refused_with_the_type_named() {
        let err = check_content_type(Some(&HeaderValue::from_static("application/x-www-form-urlencoded"))).unwrap_err();
        assert!(err.to_string().contains("got `application/x-www-form-urlencoded`"));
        assert!(check_content_type(None).unwrap_err().to_string().contains("got `none`"));
    }
}
