//! What every request leaves behind: an `x-request-id` (tower-http's, answered
//! back), a span that carries it into every line logged while the request is
//! served, one access line at info (method, route template, status, latency),
//! and the request metrics. Never a client address, a query string, a header
//! value or a body: the route template stands for the path.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics;

/// The header's name.
pub const REQUEST_ID: &str = "x-request-id";
/// The longest request id taken from a client or proxy; a longer one is replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Drops an incoming `x-request-id` that is too long or holds characters other
/// than letters, digits and `-_.:`, so that tower-http makes a fresh one: a
/// client cannot write what it likes into the logs.
pub async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    if request.headers().get(REQUEST_ID).is_some_and(|id| !usable(id)) {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

fn usable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Serves the request inside its span, then logs the access line and records the metrics.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route: &'static str = match request.extensions().get::<MatchedPath>() {
        // Route templates are few and live as long as the router: leak each once.
        Some(path) => intern(path.as_str()),
        None => "unmatched",
    };
    let request_id = request.headers().get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or_default().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id);
    // At debug: a request under way (its body may still be arriving).
    span.in_scope(|| tracing::debug!(target: "usage_server::access", method, route, "request started"));
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            target: "usage_server::access",
            request_id = %request_id,
            method,
            route,
            status,
            latency_ms = elapsed.as_micros() as f64 / 1000.0,
            "request"
        );
    });
    metrics::request_answered(route, method, status, elapsed);
    response
}

/// A method as a label: the standard ones by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A route template with a `'static` lifetime, leaked at most once per template.
fn intern(path: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock, PoisonError};
    static TEMPLATES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut templates = TEMPLATES.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = templates.get(path) {
        return known;
    }
    let leaked: &'static str = Box::leak(path.to_owned().into_boxed_str());
    templates.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for id in ["3f2a-11", "req_01HZX.abc:2", &"a".repeat(128)] {
            assert!(usable(&HeaderValue::from_str(id).unwrap()), "{id}");
        }
        for id in ["", "has space", "quote\"", "{\"json\":1}", &"a".repeat(129), "ünï"] {
            let value = HeaderValue::from_bytes(id.as_bytes()).unwrap_or(HeaderValue::from_static(" "));
            assert!(!usable(&value), "{id}");
        }
    }

    #[test]
    fn templates_are_interned_once() {
        let first = intern("/api/admin/licenses/{id}");
        let again = intern(&String::from("/api/admin/licenses/{id}"));
        assert!(std::ptr::eq(first, again));
    }
}
