//! `POST /api/track/register-usage-points`: the real binary, real SQLite, real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

fn with_id(mut registration: Value, id: &str) -> Value {
    registration["eventId"] = json!(id);
    registration
}

#[tokio::test]
async fn each_registration_of_a_batch_is_answered_in_order_and_counted_once() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let other = create_key(&db.url, "other");
    let server = TestServer::start(&db.url);
    let repeated = uuid();
    let batch = json!([
        with_id(event(&key, "webcodec-conversion", "https://customer.com", true), &repeated),
        event(&key, "webcodec-conversion", "http://localhost:5173", true),
        event(&key, "cloud-render", "https://customer.com", false),
        {"event": "webcodec-conversion", "apiKey": other.secret, "host": "https://x.com", "succeeded": true},
        {"event": "teleport", "apiKey": key.public, "host": "https://x.com", "succeeded": true},
        {"event": "webcodec-conversion", "apiKey": "rm_pub_00000000000000000000000000000000", "host": "https://x.com", "succeeded": true},
        with_id(event(&key, "webcodec-conversion", "https://customer.com", true), &repeated),
        event_with_api_key(Value::Null, "https://unlicensed.com", true),
        "not an object",
    ]);
    let (status, answer) = server.post(REGISTER_MANY, batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    assert_eq!(results[0], json!({"billable": true, "classification": "billable"}));
    assert_eq!(results[1], json!({"billable": false, "classification": "development"}));
    assert_eq!(results[2], json!({"billable": false, "classification": "failed"}));
    // Refused ones carry the single endpoint's status and message.
    assert_eq!(results[3]["status"], 403, "a secret key in a registration");
    assert!(results[3]["error"].as_str().unwrap().contains("secret key"), "{}", results[3]);
    assert_eq!(results[4]["status"], 400);
    assert!(results[4]["error"].as_str().unwrap().contains("event"), "{}", results[4]);
    assert_eq!(results[5]["status"], 401, "an unknown key");
    // The same eventId twice in one batch counts once, and answers as the first.
    assert_eq!(results[6], json!({"billable": true, "classification": "billable"}));
    assert_eq!(results[7], json!({"billable": true, "classification": "billable"}));
    assert_eq!(results[8]["status"], 400);

    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(1, 1, 0));
    assert_eq!(usage["cloudRenders"], counts(0, 0, 1));
    assert_eq!(server.usage(&other.secret, None).await["webcodecConversions"], counts(0, 0, 0));

    // Sent again (a queue re-sent after a time offline): nothing new is counted.
    let again = json!([with_id(event(&key, "webcodec-conversion", "https://customer.com", true), &repeated)]);
    let (status, answer) = server.post(REGISTER_MANY, again).await;
    assert_eq!((status, &answer["results"][0]["classification"]), (200, &json!("billable")));
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(1, 1, 0));
}

#[tokio::test]
async fn a_batch_must_be_an_array_of_1_to_100_within_64_kib() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let one = event(&key, "webcodec-conversion", "https://customer.com", true);
    for (body, expected) in [
        (json!(one), "the body must be a JSON array of 1 to 100 registrations (not an array)"),
        (json!([]), "the body must be a JSON array of 1 to 100 registrations (got none)"),
        (Value::Array(vec![one.clone(); 101]), "the body must be a JSON array of 1 to 100 registrations (got 101)"),
    ] {
        let (status, answer) = server.post(REGISTER_MANY, body).await;
        assert_eq!((status, answer["error"].as_str().unwrap()), (400, expected));
    }
    let (status, answer) = server.post_raw(REGISTER_MANY, Some("application/json"), None, "[{".into()).await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("not valid JSON"), "{answer}");
    // 100 registrations fit; a body over 64 KiB does not; one registration over 16 KiB
    // is refused on its own.
    let (status, answer) = server.post(REGISTER_MANY, Value::Array(vec![one.clone(); 100])).await;
    assert_eq!((status, answer["results"].as_array().unwrap().len()), (200, 100));
    let mut padded = one.clone();
    padded["padding"] = json!("x".repeat(20 * 1024));
    let (status, answer) = server.post(REGISTER_MANY, json!([one.clone(), padded])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["classification"], "billable");
    assert_eq!(answer["results"][1], json!({"error": "request body must be at most 16384 bytes", "status": 413}));
    let (status, answer) = server.post(REGISTER_MANY, json!([{"padding": "x".repeat(70 * 1024)}])).await;
    assert_eq!((status, answer["error"].as_str().unwrap()), (413, "request body must be at most 65536 bytes"));
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(101, 0, 0));
}

#[tokio::test]
async fn a_batch_takes_one_rate_limit_token_per_registration_and_reports_limits() {
    let db = TestDb::sqlite();
    let key = create_key_with(&db.url, "acme", &["--monthly-limit", "2"]);
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-key", "4"]);
    let one = || event(&key, "webcodec-conversion", "https://customer.com", true);
    let (status, answer) = server.post(REGISTER_MANY, json!([one(), one(), one(), one(), one()])).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    // Over the monthly limit after the whole batch (3 and more of 2): every billable one says so.
    for result in &results[..4] {
        assert_eq!(result, &json!({"billable": true, "classification": "billable", "overLimit": true}));
    }
    assert_eq!(results[4]["status"], 429);
    assert!(
        results[4]["error"].as_str().unwrap().starts_with("too many events from this licence key"),
        "{}",
        results[4]
    );
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(4, 0, 0));
}
