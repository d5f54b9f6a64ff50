//! End-to-end tests: the real `usage-server` binary, real SQLite, real HTTP.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn every_classification_is_counted_and_read_back() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);

    assert_eq!(server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", true)).await, "billable");
    assert_eq!(
        server.register_ok(event(&key, "webcodec-conversion", "http://localhost:5173", true)).await,
        "development"
    );
    assert_eq!(server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", false)).await, "failed");
    assert_eq!(server.register_ok(event(&key, "web-render", "https://customer.com", true)).await, "billable");
    assert_eq!(server.register_ok(event(&key, "cloud-render", "http://192.168.1.20:3000", true)).await, "development");
    assert_eq!(server.register_ok(event(&key, "cloud-render", "http://10.0.0.1", false)).await, "failed");
    let mut not_production = event(&key, "cloud-render", "https://customer.com", true);
    not_production["isProduction"] = json!(false);
    not_production["isStill"] = json!(true);
    assert_eq!(server.register_ok(not_production).await, "development");
    let backend = json!({"event": "cloud-render", "apiKey": key.public, "host": null, "succeeded": true});
    assert_eq!(server.register_ok(backend).await, "billable");

    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(2, 1, 1));
    assert_eq!(usage["webRenders"], counts(2, 1, 1));
    assert_eq!(usage["cloudRenders"], counts(1, 2, 1));

    // Another key's events are not mixed in.
    let other = create_key(&db.url, "other");
    assert_eq!(server.usage(&other.secret, None).await["cloudRenders"], counts(0, 0, 0));
}

#[tokio::test]
async fn invalid_registrations_get_the_right_status_and_write_nothing() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let revoked = create_key(&db.url, "revoked");
    let server = TestServer::start(&db.url);
    server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", true)).await;
    let (ok, _, stderr) = cli(&db.url, &["keys", "revoke", "revoked"]);
    assert!(ok, "{stderr}");

    let good = event(&key, "webcodec-conversion", "https://customer.com", true);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(String, Option<&str>, u16, &str)> = vec![
        ("{\"event\":".into(), Some("application/json"), 400, "request body: not valid JSON"),
        ("[]".into(), Some("application/json"), 400, "request body must be a JSON object"),
        (
            with("event", json!("webcodec_conversion")),
            Some("application/json"),
            400,
            "event: unknown variant `webcodec_conversion`",
        ),
        (
            with("host", json!("https://customer.com/page")),
            Some("application/json"),
            400,
            "host `https://customer.com/page` is not a valid origin",
        ),
        (with("host", json!("http://300.1.1.1")), Some("application/json"), 400, "not a valid IPv4 address"),
        (with("host", json!(42)), Some("application/json"), 400, "host: invalid type: integer `42`"),
        (with("succeeded", json!("true")), Some("application/json"), 400, "succeeded: invalid type: string"),
        (without("succeeded"), Some("application/json"), 400, "missing field `succeeded`"),
        (with("eventId", json!("not-a-uuid")), Some("application/json"), 400, "eventId must be a UUID"),
        (with("isStill", json!("no")), Some("application/json"), 400, "isStill: invalid type"),
        (with("apiKey", json!("")), Some("application/json"), 401, "apiKey is missing"),
        (with("apiKey", json!("Free-License")), Some("application/json"), 401, "apiKey is not a licence key"),
        (
            with("apiKey", json!("rm_adm_0000")),
            Some("application/json"),
            403,
            "admin tokens (rm_adm_…) are for the /api/admin endpoints only",
        ),
        (with("apiKey", json!("pk_live_123")), Some("application/json"), 401, "apiKey is not a licence key"),
        (
            with("apiKey", json!("rm_pub_00000000000000000000000000000000")),
            Some("application/json"),
            401,
            "apiKey is not a known key, or it has been revoked",
        ),
        (
            with("apiKey", json!(revoked.public)),
            Some("application/json"),
            401,
            "apiKey is not a known key, or it has been revoked",
        ),
        (
            with("apiKey", json!(key.secret)),
            Some("application/json"),
            403,
            "secret keys must never be sent from a browser; use the public key",
        ),
        (
            good.to_string(),
            Some("application/x-www-form-urlencoded"),
            415,
            "Content-Type must be application/json or text/plain",
        ),
        (good.to_string(), None, 415, "got `none`"),
    ];
    for (body, content_type, status, message) in cases {
        let (got_status, json) = server.post_raw(REGISTER, content_type, None, body.clone()).await;
        assert_eq!(got_status, status, "{body} -> {json}");
        assert_eq!(json["success"], false, "{json}");
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(message), "{body}\n  got: {error}\n  want: {message}");
        assert!(!error.to_lowercase().contains("sqlx") && !error.contains("SELECT"), "leaks internals: {error}");
    }
    // The invalid Origin header is refused too.
    let (status, json) =
        server.post_raw(REGISTER, Some("application/json"), Some("https://a b.com"), good.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        json["error"].as_str().unwrap().starts_with("Origin header `https://a b.com` is not a valid origin"),
        "{json}"
    );

    // Nothing of the above was counted; the one good event still is.
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(1, 0, 0));
    let (status, json) = server.post(GET_USAGE, json!({"apiKey": revoked.secret})).await;
    assert_eq!(status, 401, "a revoked key cannot read usage either: {json}");
}

#[tokio::test]
async fn text_plain_bodies_are_accepted_as_beacons_send_them() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let body = event(&key, "webcodec-conversion", "https://customer.com", true).to_string();
    let (status, json) = server.post_raw(REGISTER, Some("text/plain;charset=UTF-8"), None, body).await;
    assert_eq!((status, json["classification"].as_str()), (200, Some("billable")));
    let query = json!({"apiKey": key.secret}).to_string();
    let (status, json) = server.post_raw(GET_USAGE, Some("text/plain"), None, query).await;
    assert_eq!(status, 200);
    assert_eq!(json["webcodecConversions"], counts(1, 0, 0));
}

#[tokio::test]
async fn the_body_limit_is_16_kib_and_enforced_before_reading() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let body = event(&key, "webcodec-conversion", "https://customer.com", true).to_string();
    let pad = |len: usize| format!("{body}{}", " ".repeat(len - body.len()));

    let (status, _) = server.post_raw(REGISTER, Some("application/json"), None, pad(16 * 1024)).await;
    assert_eq!(status, 200, "exactly 16 KiB is accepted");
    let (status, json) = server.post_raw(REGISTER, Some("application/json"), None, pad(16 * 1024 + 1)).await;
    assert_eq!(status, 413);
    assert_eq!(json["error"], "request body must be at most 16384 bytes");

    // A huge declared length is refused from the headers alone: we send no body at all
    // and still get the answer.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {REGISTER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");

    // A chunked body with no declared length is cut off once it passes the limit.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {REGISTER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = " ".repeat(8 * 1024);
    for _ in 0..3 {
        write!(stream, "{:x}\r\n{chunk}\r\n", chunk.len()).unwrap();
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");

    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(1, 0, 0));
}

#[tokio::test]
async fn one_event_id_is_counted_once_whatever_the_repeats() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let other = create_key(&db.url, "other");
    let server = TestServer::start(&db.url);
    let id = uuid();
    let mut body = event(&key, "webcodec-conversion", "https://customer.com", true);
    body["eventId"] = json!(id);

    // Ten concurrent sends of one event id, as retries racing each other would be.
    let sends: Vec<_> = (0..10)
        .map(|_| {
            let request = server.client.post(format!("{}{REGISTER}", server.url)).json(&body);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.json::<serde_json::Value>().await.unwrap()["classification"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut classifications = Vec::new();
    for send in sends {
        classifications.push(send.await.unwrap());
    }
    assert!(classifications.iter().all(|c| c == "billable"), "{classifications:?}");

    // A repeat that now claims failure answers the original classification.
    let mut repeat = body.clone();
    repeat["succeeded"] = json!(false);
    repeat["eventId"] = json!(id.to_uppercase());
    assert_eq!(server.register_ok(repeat).await, "billable");

    // Event ids are unique per key: another key may use the same one.
    let mut other_body = event(&other, "webcodec-conversion", "https://customer.com", false);
    other_body["eventId"] = json!(id);
    assert_eq!(server.register_ok(other_body).await, "failed");

    // Without eventId every request counts.
    for _ in 0..3 {
        server.register_ok(event(&key, "cloud-render", "https://customer.com", true)).await;
    }

    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(1, 0, 0));
    assert_eq!(usage["cloudRenders"], counts(3, 0, 0));
    assert_eq!(server.usage(&other.secret, None).await["webcodecConversions"], counts(0, 0, 1));
}

#[tokio::test]
async fn concurrent_writers_are_all_counted_exactly_once() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    // 200 registrations, 32 at a time: 100 distinct events, each sent twice.
    let ids: Vec<String> = (0..100).map(|_| uuid()).collect();
    let bodies: Vec<serde_json::Value> = ids
        .iter()
        .chain(ids.iter())
        .enumerate()
        .map(|(i, id)| {
            let mut body = event(&key, "webcodec-conversion", "https://customer.com", i % 100 < 70);
            body["eventId"] = json!(id);
            body
        })
        .collect();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let sends: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = server.client.post(format!("{}{REGISTER}", server.url)).json(&body);
            let limit = limit.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                request.send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(70, 0, 30));
}

#[tokio::test]
async fn the_origin_header_outranks_the_host_claim() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let post = |host: &str, origin: Option<&'static str>| {
        let body = event(&key, "webcodec-conversion", host, true).to_string();
        let server = &server;
        async move { server.post_raw(REGISTER, Some("application/json"), origin, body).await }
    };

    // A production page claiming localhost is still billed.
    let (status, json) = post("http://localhost:3000", Some("https://customer.com")).await;
    assert_eq!((status, json["classification"].as_str()), (200, Some("billable")));
    // A local page is development even if it claims a production host.
    let (_, json) = post("https://customer.com", Some("http://localhost:5173")).await;
    assert_eq!(json["classification"], "development");
    // An agreeing claim, and a bare-host claim for the same host.
    let (_, json) = post("https://customer.com", Some("https://customer.com")).await;
    assert_eq!(json["classification"], "billable");
    let (_, json) = post("customer.com", Some("https://customer.com")).await;
    assert_eq!(json["classification"], "billable");
    // An opaque (sandboxed) origin is not a production site.
    let (_, json) = post("https://customer.com", Some("null")).await;
    assert_eq!(json["classification"], "development");

    server.stop();
    let connection = rusqlite::Connection::open(db.path()).unwrap();
    let mut statement =
        connection.prepare("SELECT origin, origin_claim_differed FROM usage_events ORDER BY id").unwrap();
    let rows: Vec<(Option<String>, bool)> =
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        rows,
        vec![
            (Some("https://customer.com".into()), true),
            (Some("http://localhost:5173".into()), true),
            (Some("https://customer.com".into()), false),
            (Some("https://customer.com".into()), false),
            (Some("null".into()), true),
        ]
    );
}

#[tokio::test]
async fn only_the_documented_fields_are_stored() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let mut body = event(&key, "web-render", "HTTPS://Customer.COM:443", true);
    body["isStill"] = json!(true);
    body["eventId"] = json!(uuid());
    server.post_raw(REGISTER, Some("application/json"), None, body.to_string()).await;
    server.stop();

    let connection = rusqlite::Connection::open(db.path()).unwrap();
    let mut statement = connection.prepare("SELECT name FROM pragma_table_info('usage_events') ORDER BY cid").unwrap();
    let columns: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        columns,
        [
            "id",
            "key_id",
            "event_id",
            "event_kind",
            "classification",
            "origin",
            "origin_claim_differed",
            "is_still",
            "created_at_ms"
        ]
    );
    let (kind, classification, origin, is_still, created): (String, String, String, bool, i64) = connection
        .query_row("SELECT event_kind, classification, origin, is_still, created_at_ms FROM usage_events", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })
        .unwrap();
    assert_eq!(
        (kind.as_str(), classification.as_str(), origin.as_str(), is_still),
        ("web-render", "billable", "https://customer.com", true)
    );
    assert!((now_ms() - created).abs() < 60_000);
}

#[tokio::test]
async fn usage_queries_default_to_this_month_and_check_the_window() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", true)).await;
    let now = now_ms();

    // null, absent and a recent since all include the event.
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(1, 0, 0));
    let (status, json) = server.post(GET_USAGE, json!({"apiKey": key.secret})).await;
    assert_eq!((status, &json["webcodecConversions"]), (200, &counts(1, 0, 0)));
    assert_eq!(server.usage(&key.secret, Some(now - DAY_MS)).await["webcodecConversions"], counts(1, 0, 0));
    assert_eq!(
        server.usage(&key.secret, Some(now - 90 * DAY_MS + 60_000)).await["webcodecConversions"],
        counts(1, 0, 0)
    );
    // A since after the event excludes it (within the clock-skew allowance, so allowed).
    assert_eq!(server.usage(&key.secret, Some(now + 30_000)).await["webcodecConversions"], counts(0, 0, 0));

    let refused = [
        (
            json!({"apiKey": key.secret, "since": now - 91 * DAY_MS}),
            400,
            "since must be within the last 90 days, between ",
        ),
        (json!({"apiKey": key.secret, "since": now + 3_600_000}), 400, "since must be within the last 90 days"),
        (json!({"apiKey": key.secret, "since": "2026-01-01"}), 400, "since: invalid type: string"),
        (json!({"apiKey": key.public}), 403, "getUsage needs the secret key"),
        (json!({"since": null}), 401, "apiKey is missing"),
        (json!({"apiKey": "rm_sec_0000"}), 401, "apiKey is not a known key"),
    ];
    for (body, status, message) in refused {
        let (got, json) = server.post(GET_USAGE, body.clone()).await;
        assert_eq!(got, status, "{body} -> {json}");
        assert_eq!(json["success"], false);
        assert!(json["error"].as_str().unwrap().contains(message), "{json}");
    }
}

#[tokio::test]
async fn cors_preflights_are_answered_for_any_origin_without_credentials() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    for (path, method, request_headers) in [
        (REGISTER, "POST", "content-type"),
        (GET_USAGE, "POST", "content-type"),
        (BREAKDOWN, "GET", "authorization"),
        (ADMIN_USAGE, "GET", "authorization"),
    ] {
        let response = server
            .client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.url))
            .header("origin", "https://customer.com")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", request_headers)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert!(headers["access-control-allow-methods"].to_str().unwrap().contains(method));
        assert!(headers["access-control-allow-headers"].to_str().unwrap().to_lowercase().contains(request_headers));
        assert!(headers.get("access-control-allow-credentials").is_none());
    }
    // The real answers carry the header too, errors included, so the browser can read them.
    for body in [event(&key, "webcodec-conversion", "https://customer.com", true), json!({})] {
        let response = server
            .client
            .post(format!("{}{REGISTER}", server.url))
            .header("origin", "https://customer.com")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            response.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase(),
            "retry-after,content-disposition,x-request-id"
        );
    }
}

#[tokio::test]
async fn a_restart_keeps_every_count() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    for (host, ok) in [("https://customer.com", true), ("http://localhost", true), ("https://customer.com", false)] {
        server.register_ok(event(&key, "webcodec-conversion", host, ok)).await;
    }
    let id = uuid();
    let mut body = event(&key, "cloud-render", "https://customer.com", true);
    body["eventId"] = json!(id);
    server.register_ok(body.clone()).await;
    let before = server.usage(&key.secret, None).await;
    server.stop();

    let server = TestServer::start(&db.url);
    assert_eq!(server.usage(&key.secret, None).await, before);
    // Idempotency survives the restart too.
    server.register_ok(body).await;
    assert_eq!(server.usage(&key.secret, None).await["cloudRenders"], counts(1, 0, 0));
}

#[tokio::test]
async fn a_crash_loses_nothing_that_was_acknowledged() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    for succeeded in [true, true, false] {
        server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", succeeded)).await;
    }
    server.crash();
    let server = TestServer::start(&db.url);
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(2, 0, 1));
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let body = event(&key, "webcodec-conversion", "https://customer.com", true).to_string();
    let (first, rest) = body.split_at(body.len() / 2);

    // A request is under way (headers and half the body sent) when SIGTERM arrives.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {REGISTER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    // Accepted and being handled (not merely queued in the listen backlog) before the signal.
    server.wait_for_log("request started", Duration::from_secs(30));
    server.terminate();
    server.wait_for_log("shutdown signal received", Duration::from_secs(30));
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"classification\":\"billable\""), "{response}");
    server.stop();

    let server = TestServer::start(&db.url);
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(1, 0, 0));
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db.url);
    let response = server.client.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = server.client.get(format!("{}/api/track/nope", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["success"], false);
    let response = server.client.get(format!("{}{REGISTER}", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 405);
}
