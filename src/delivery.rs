//! Delivering one request: attempts, timeouts, retries and reading the answer.
//!
//! The loop is written against the small [`Transport`] trait, so the policy is
//! tested natively with a scripted transport and runs in the browser and Node on
//! `fetch` (`transport.rs`).

use crate::dynamic::{read_object, Dynamic, DynamicError, DynamicValue, Fields, FromFields};
use crate::error::TelemetryError;
use crate::json::{self, Parsed};
use crate::options::PreparedRequest;

/// What came back from one attempt that reached a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The body as text.
    pub body: String,
}

/// Why one attempt got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// The connection failed (offline, refused, reset, blocked by an extension…).
    Network(String),
    /// No answer within the timeout.
    Timeout,
}

/// One way to send a request and wait.
#[allow(async_fn_in_trait)] // used with concrete types only, never across threads
pub trait Transport {
    /// Sends `request` once, giving up after its policy's `timeout_ms`.
    async fn send(&self, request: &PreparedRequest) -> Result<HttpResponse, AttemptError>;
    /// Waits `ms` milliseconds.
    async fn sleep(&self, ms: u32);
    /// A number drawn uniformly from `[0, 1)`: the backoff's jitter.
    fn random_unit(&self) -> f64;
}

/// Sends `request` until it is answered or the retry budget is spent.
///
/// Network errors and timeouts are retried after the jittered backoff; 429 and
/// 503 after `Retry-After` (capped). Any other error status fails at once with the server's
/// `error` message. Every attempt sends the same body, so the same `eventId`.
///
/// # Errors
/// [`TelemetryError::Network`], [`TelemetryError::Timeout`], [`TelemetryError::Server`]
/// or [`TelemetryError::NotJson`].
pub async fn deliver<T: FromFields>(
    transport: &impl Transport,
    request: &PreparedRequest,
) -> Result<T, TelemetryError> {
    deliver_reading(transport, request, |parsed| read_object(parsed).ok()).await
}

/// [`deliver`], with `read` turning the parsed answer into the result (`None`:
/// not the answer the API promises).
///
/// # Errors
/// As [`deliver`].
pub async fn deliver_reading<T>(
    transport: &impl Transport,
    request: &PreparedRequest,
    read: impl Fn(Parsed) -> Option<T>,
) -> Result<T, TelemetryError> {
    let response = deliver_until_answered(transport, request).await?;
    read_success(&response, read)
}

/// The retry loop, up to a 2xx answer. Apart from what reads the answer, so that
/// the module holds one copy of it, not one per type of answer (~1 KB each).
async fn deliver_until_answered(
    transport: &impl Transport,
    request: &PreparedRequest,
) -> Result<HttpResponse, TelemetryError> {
    let policy = request.policy;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last_attempt = attempt > policy.retries;
        let wait_ms = match transport.send(request).await {
            Ok(response) if (200..300).contains(&response.status) => return Ok(response),
            Ok(response) if matches!(response.status, 429 | 503) && !last_attempt => {
                policy.retry_after_ms(response.retry_after.as_deref(), attempt, transport.random_unit())
            }
            Ok(response) => return Err(read_failure(&response)),
            Err(_) if !last_attempt => policy.jittered_backoff_ms(attempt, transport.random_unit()),
            Err(AttemptError::Network(message)) => {
                return Err(TelemetryError::Network { url: request.url.clone(), attempts: attempt, message })
            }
            Err(AttemptError::Timeout) => {
                return Err(TelemetryError::Timeout {
                    url: request.url.clone(),
                    attempts: attempt,
                    timeout_ms: policy.timeout_ms,
                })
            }
        };
        transport.sleep(wait_ms).await;
    }
}

fn read_success<T>(response: &HttpResponse, read: impl Fn(Parsed) -> Option<T>) -> Result<T, TelemetryError> {
    let parsed = json::parse(&response.body).ok_or_else(|| not_json(response))?;
    // `{"success": false, "error": …}` with a 2xx status is a refusal all the same.
    if matches!(parsed.property("success").map(DynamicValue::read), Some(Dynamic::Bool(false))) {
        return Err(read_failure(response));
    }
    read(parsed).ok_or_else(|| not_json(response))
}

/// A reader for [`deliver_reading`] that passes an answer through as parsed
/// when it is an object with every one of `fields` (so JavaScript gets the
/// server's answer without the module typing each of its numbers).
pub fn object_with(fields: &'static [&'static str]) -> impl Fn(Parsed) -> Option<Parsed> {
    move |parsed| fields.iter().all(|field| parsed.property(field).is_some()).then_some(parsed)
}

/// An error answer's `error` (`usage_core::wire::ErrorResponse`).
struct ServerError(Option<String>);

impl FromFields for ServerError {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError> {
        fields.string("error").map(ServerError)
    }
}

fn read_failure(response: &HttpResponse) -> TelemetryError {
    match json::parse(&response.body).map(read_object::<ServerError, _>) {
        Some(Ok(ServerError(Some(message)))) => TelemetryError::Server { status: response.status, message },
        _ => not_json(response),
    }
}

fn not_json(response: &HttpResponse) -> TelemetryError {
    let snippet: String = response.body.chars().take(80).collect();
    let snippet = if snippet.trim_ascii().is_empty() { "(empty)".to_owned() } else { snippet };
    TelemetryError::NotJson { status: response.status, snippet }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::options::Registered;
    use crate::retry::RetryPolicy;

    /// Plays back scripted outcomes and records what was asked of it; its
    /// "random" jitter is `jitter` (0.5: exactly the backoff).
    struct Scripted {
        outcomes: RefCell<VecDeque<Result<HttpResponse, AttemptError>>>,
        bodies: RefCell<Vec<String>>,
        sleeps: RefCell<Vec<u32>>,
        jitter: f64,
    }

    impl Scripted {
        fn new(outcomes: Vec<Result<HttpResponse, AttemptError>>) -> Self {
            Scripted {
                outcomes: RefCell::new(outcomes.into()),
                bodies: RefCell::default(),
                sleeps: RefCell::default(),
                jitter: 0.5,
            }
        }
    }

    impl Transport for Scripted {
        async fn send(&self, request: &PreparedRequest) -> Result<HttpResponse, AttemptError> {
            self.bodies.borrow_mut().push(request.body.clone());
            self.outcomes.borrow_mut().pop_front().expect("no more scripted outcomes")
        }
        async fn sleep(&self, ms: u32) {
            self.sleeps.borrow_mut().push(ms);
        }
        fn random_unit(&self) -> f64 {
            self.jitter
        }
    }

    fn ok() -> Result<HttpResponse, AttemptError> {
        answer(200, r#"{"success":true,"billable":true,"classification":"billable"}"#)
    }

    fn answer(status: u16, body: &str) -> Result<HttpResponse, AttemptError> {
        Ok(HttpResponse { status, retry_after: None, body: body.to_owned() })
    }

    fn request() -> PreparedRequest {
        PreparedRequest {
            method: crate::options::Method::Post,
            url: "http://u/api".into(),
            body: r#"{"eventId":"x"}"#.into(),
            bearer: None,
            keepalive: true,
            policy: RetryPolicy::default(),
        }
    }

    fn run(transport: &Scripted) -> Result<Registered, TelemetryError> {
        futures::executor::block_on(deliver(transport, &request()))
    }

    #[test]
    fn network_errors_and_timeouts_back_off_one_two_four_seconds() {
        let t = Scripted::new(vec![
            Err(AttemptError::Network("reset".into())),
            Err(AttemptError::Timeout),
            Err(AttemptError::Network("x".into())),
            ok(),
        ]);
        assert_eq!(run(&t).unwrap().classification.as_str(), "billable");
        assert_eq!(*t.sleeps.borrow(), [1000, 2000, 4000]);
        let bodies = t.bodies.borrow();
        assert_eq!(bodies.len(), 4);
        assert!(bodies.iter().all(|b| b == &bodies[0]), "same body, same eventId on every attempt");
    }

    #[test]
    fn backoff_is_jittered_but_retry_after_is_not() {
        let failures = || vec![Err(AttemptError::Timeout), Err(AttemptError::Timeout), ok()];
        let t = Scripted { jitter: 0.0, ..Scripted::new(failures()) };
        assert!(run(&t).is_ok());
        assert_eq!(*t.sleeps.borrow(), [500, 1000]);
        let t = Scripted { jitter: 0.99, ..Scripted::new(failures()) };
        assert!(run(&t).is_ok());
        assert_eq!(*t.sleeps.borrow(), [1490, 2980]);
        let limited = Ok(HttpResponse { status: 429, retry_after: Some("2".into()), body: String::new() });
        let t = Scripted { jitter: 0.0, ..Scripted::new(vec![limited, ok()]) };
        assert!(run(&t).is_ok());
        assert_eq!(*t.sleeps.borrow(), [2000]);
    }

    #[test]
    fn the_budget_is_one_attempt_plus_three_retries() {
        let t = Scripted::new(vec![Err(AttemptError::Network("fetch failed".into())); 4]);
        let err = run(&t).unwrap_err();
        assert_eq!(
            err,
            TelemetryError::Network { url: "http://u/api".into(), attempts: 4, message: "fetch failed".into() }
        );
        let t = Scripted::new(vec![Err(AttemptError::Timeout); 4]);
        assert_eq!(
            run(&t).unwrap_err().to_string(),
            "the usage server at http://u/api did not answer within 10000 ms (4 attempts)"
        );
    }

    #[test]
    fn rate_limits_wait_for_retry_after_within_the_same_budget() {
        let limited = |after: Option<&str>, status| {
            Ok(HttpResponse { status, retry_after: after.map(str::to_owned), body: String::new() })
        };
        let t = Scripted::new(vec![limited(Some("2"), 429), limited(None, 503), limited(Some("120"), 429), ok()]);
        assert!(run(&t).is_ok());
        assert_eq!(*t.sleeps.borrow(), [2000, 2000, 30_000]);
        let t = Scripted::new(vec![limited(Some("0"), 429); 4]);
        assert_eq!(run(&t).unwrap_err().status(), Some(429));
    }

    #[test]
    fn other_errors_fail_at_once_with_the_servers_message() {
        for status in [400, 401, 403, 413, 500] {
            let t = Scripted::new(vec![answer(status, r#"{"success":false,"error":"apiKey is not a known key"}"#)]);
            let err = run(&t).unwrap_err();
            assert_eq!(err, TelemetryError::Server { status, message: "apiKey is not a known key".into() });
            assert!(t.sleeps.borrow().is_empty());
        }
    }

    #[test]
    fn answers_that_are_not_the_apis_json_say_so() {
        for (status, body) in [(200, "<html>hi</html>"), (502, "Bad Gateway"), (200, r#"{"unexpected":1}"#), (500, "")]
        {
            let t = Scripted::new(vec![answer(status, body)]);
            let err = run(&t).unwrap_err();
            assert_eq!(err.code(), "not_json", "{status} {body}");
            assert!(err.to_string().contains("body that is not the usage API's JSON"));
        }
        let t = Scripted::new(vec![answer(200, r#"{"success":false,"error":"nope"}"#)]);
        assert_eq!(run(&t).unwrap_err(), TelemetryError::Server { status: 200, message: "nope".into() });
    }
}
