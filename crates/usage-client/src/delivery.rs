//! Delivering one request: attempts, timeouts, retries and reading the answer.
//!
//! The loop is written against the small [`Transport`] trait, so the policy is
//! tested natively with a scripted transport and runs in the browser and Node on
//! `fetch` (the wasm shell's `transport.rs`).

use crate::answers::ServerError;
use crate::error::TelemetryError;
use crate::fields::{read_object, Dynamic, DynamicValue, FromFields};
use crate::request::PreparedRequest;

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
    /// How this platform holds parsed JSON (the answers are read from it).
    type Json: DynamicValue;
    /// Sends `request` once, giving up after its policy's `timeout_ms`.
    async fn send(&self, request: &PreparedRequest) -> Result<HttpResponse, AttemptError>;
    /// Waits `ms` milliseconds.
    async fn sleep(&self, ms: u32);
    /// A number drawn uniformly from `[0, 1)`: the backoff's jitter.
    fn random_unit(&self) -> f64;
}

/// A 2xx answer, parsed by the platform: read it with [`Answer::read`] or
/// [`Answer::with_fields`].
#[derive(Debug, Clone)]
pub struct Answer<V> {
    /// The status code.
    pub status: u16,
    /// The body as text (for an error that quotes it).
    pub body: String,
    /// The body as parsed JSON.
    pub json: V,
}

impl<V: DynamicValue> Answer<V> {
    /// The answer read as `T`.
    ///
    /// # Errors
    /// [`TelemetryError::NotJson`] when it is not the answer the API promises.
    pub fn read<T: FromFields>(self) -> Result<T, TelemetryError> {
        read_object(self.json).map_err(|_| not_json(self.status, &self.body))
    }

    /// The answer as parsed, when it is an object with every one of `fields` (so
    /// JavaScript gets the server's answer without the module typing each of its
    /// numbers).
    ///
    /// # Errors
    /// [`TelemetryError::NotJson`] when a field is missing.
    pub fn with_fields(self, fields: &[&str]) -> Result<V, TelemetryError> {
        if fields.iter().all(|field| self.json.property(field).is_some()) {
            Ok(self.json)
        } else {
            Err(not_json(self.status, &self.body))
        }
    }
}

/// Sends `request` until it is answered or the retry budget is spent.
///
/// Network errors and timeouts are retried after the jittered backoff; 429 and
/// 503 after `Retry-After` (capped). Any other error status fails at once with the
/// server's `error` message, and so does a 2xx answer that says `"success": false`.
/// Every attempt sends the same body, so the same `eventId`.
///
/// # Errors
/// [`TelemetryError::Network`], [`TelemetryError::Timeout`], [`TelemetryError::Server`]
/// or [`TelemetryError::NotJson`].
pub async fn deliver<X: Transport>(
    transport: &X,
    request: &PreparedRequest,
) -> Result<Answer<X::Json>, TelemetryError> {
    let response = deliver_until_answered(transport, request).await?;
    let json = X::Json::parse_json(&response.body).ok_or_else(|| not_json(response.status, &response.body))?;
    // `{"success": false, "error": …}` with a 2xx status is a refusal all the same.
    if matches!(json.property("success").map(DynamicValue::read), Some(Dynamic::Bool(false))) {
        return Err(read_failure::<X::Json>(&response));
    }
    Ok(Answer { status: response.status, body: response.body, json })
}

/// The retry loop, up to a 2xx answer.
async fn deliver_until_answered<X: Transport>(
    transport: &X,
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
            Ok(response) => return Err(read_failure::<X::Json>(&response)),
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

/// An answer whose status says the server refused: its `error`, else what the body was.
fn read_failure<V: DynamicValue>(response: &HttpResponse) -> TelemetryError {
    match V::parse_json(&response.body).map(read_object::<ServerError, V>) {
        Some(Ok(ServerError(Some(message)))) => TelemetryError::Server { status: response.status, message },
        _ => not_json(response.status, &response.body),
    }
}

/// The error for a body that is not the usage API's JSON: its status and start.
fn not_json(status: u16, body: &str) -> TelemetryError {
    let snippet: String = body.chars().take(80).collect();
    let snippet = if snippet.trim_ascii().is_empty() { "(empty)".to_owned() } else { snippet };
    TelemetryError::NotJson { status, snippet }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::answers::{Registered, RegistrationResult};
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
        type Json = serde_json::Value;
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
            method: crate::request::Method::Post,
            url: "http://u/api".into(),
            body: r#"{"eventId":"x"}"#.into(),
            bearer: None,
            keepalive: true,
            policy: RetryPolicy::default(),
        }
    }

    fn run(transport: &Scripted) -> Result<Registered, TelemetryError> {
        futures::executor::block_on(deliver(transport, &request()))
            .and_then(Answer::read::<RegistrationResult>)?
            .into_result()
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

    #[test]
    fn answers_handed_on_as_parsed_are_checked_for_their_fields() {
        use crate::answers::{BreakdownView, USAGE_FIELDS};
        let usage = r#"{"success":true,"webcodecConversions":{},"cloudRenders":{},"webRenders":{}}"#;
        let answer = || futures::executor::block_on(deliver(&Scripted::new(vec![answer(200, usage)]), &request()));
        assert!(answer().unwrap().with_fields(USAGE_FIELDS).is_ok());
        let err = answer().unwrap().with_fields(BreakdownView::Licensee.fields()).unwrap_err();
        assert_eq!(err.code(), "not_json");
        assert!(err.to_string().contains("webcodecConversions"), "quotes the body: {err}");
    }
}
