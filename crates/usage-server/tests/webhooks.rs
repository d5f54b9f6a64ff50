//! Signed webhooks on the real binary and SQLite, received on loopback and
//! verified with the reference Standard Webhooks implementation (npm
//! `standardwebhooks`): licence and usage events, filters, retries while the
//! receiver is down, a crash mid-delivery, disabled endpoints, read-only tokens
//! and the CLI. `postgres.rs` runs them on PostgreSQL with two servers.

mod common;

use std::time::Duration;

use common::webhooks::*;
use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn licence_events_are_signed_filtered_and_listed() {
    let db = TestDb::sqlite();
    licence_events_are_signed_and_filtered(&db.url).await;
}

#[tokio::test]
async fn crossing_80_and_100_percent_is_sent_once_each_under_concurrent_registrations() {
    let db = TestDb::sqlite();
    let admin = create_admin_token(&db.url, "vendor");
    let server = TestServer::start(&db.url);
    let receiver = Receiver::start(0);
    let (endpoint, secret) = add_endpoint(&server, &admin, &receiver.url(), &[]).await;
    receiver.set(Some(&secret), "ok").await;
    thresholds_are_sent_once(&[&server], &admin, &endpoint, &receiver).await;
}

#[tokio::test]
async fn new_unlicensed_and_not_allowed_origins_are_sent_once_each() {
    let db = TestDb::sqlite();
    origin_events_are_sent_once_each(&db.url).await;
}

/// The receiver is down for the first attempt: the message waits and is
/// delivered, with the same webhook-id, once it is back on the same port.
#[tokio::test]
async fn a_message_waits_while_the_receiver_is_down_and_arrives_with_the_same_id() {
    let db = TestDb::sqlite();
    let admin = create_admin_token(&db.url, "vendor");
    let server = TestServer::start(&db.url);
    let receiver = Receiver::start(0);
    let url = receiver.url();
    let port = receiver.kill();
    let (endpoint, secret) = add_endpoint(&server, &admin, &url, &["license.created"]).await;
    create_licence(&server, &admin, json!({ "name": "acme" })).await;

    let failed = wait_for_deliveries(&server, &admin, &endpoint, "a failed first attempt", |found| {
        found.len() == 1 && found[0]["attempts"] == 1 && found[0]["lastError"].is_string()
    })
    .await;
    assert_eq!(failed[0]["status"], "pending");
    assert!(failed[0]["lastError"].as_str().unwrap().contains("cannot connect"), "{failed:?}");
    assert!(failed[0]["nextAttemptAtMs"].as_i64().unwrap() > failed[0]["lastAttemptAtMs"].as_i64().unwrap());

    let receiver = Receiver::start(port);
    receiver.set(Some(&secret), "ok").await;
    let arrived = receiver.next_of("license.created", WAIT);
    assert_eq!(arrived["id"], failed[0]["messageId"], "a retry keeps the webhook-id");
    let done =
        wait_for_deliveries(&server, &admin, &endpoint, "delivered", |found| found[0]["status"] == "delivered").await;
    assert_eq!(done[0]["attempts"], 2);
}

/// The server dies (SIGKILL) while the receiver holds its request: after a
/// restart the message is delivered again, same id, once the lease runs out.
#[tokio::test]
async fn a_delivery_cut_by_a_crash_is_made_again_after_restart() {
    let db = TestDb::sqlite();
    let admin = create_admin_token(&db.url, "vendor");
    let options = ["--webhook-timeout-secs", "1"];
    let server = TestServer::start_with(&db.url, &options);
    let receiver = Receiver::start(0);
    let (endpoint, secret) = add_endpoint(&server, &admin, &receiver.url(), &["license.created"]).await;
    receiver.set(Some(&secret), "hold").await;
    create_licence(&server, &admin, json!({ "name": "acme" })).await;
    let held = receiver.next_of("license.created", WAIT);
    assert_eq!(held["mode"], "hold");
    server.crash();

    receiver.set(None, "ok").await;
    let server = TestServer::start_with(&db.url, &options);
    let again = receiver.next_of("license.created", WAIT);
    assert_eq!(again["id"], held["id"]);
    let done =
        wait_for_deliveries(&server, &admin, &endpoint, "delivered", |found| found[0]["status"] == "delivered").await;
    assert_eq!(done[0]["attempts"], 2, "the cut attempt counts");
}

/// A disabled endpoint keeps its messages; enabled, it gets them.
#[tokio::test]
async fn a_disabled_endpoint_keeps_its_messages_until_enabled() {
    let db = TestDb::sqlite();
    let admin = create_admin_token(&db.url, "vendor");
    let server = TestServer::start(&db.url);
    let receiver = Receiver::start(0);
    let (endpoint, secret) = add_endpoint(&server, &admin, &receiver.url(), &[]).await;
    receiver.set(Some(&secret), "ok").await;
    let path = format!("/api/admin/webhooks/{endpoint}");
    let (status, answer) = server.call("PATCH", &path, &admin, Some(json!({ "disabled": true }))).await;
    assert_eq!((status, answer["endpoint"]["disabled"].clone()), (200, json!(true)));
    create_licence(&server, &admin, json!({ "name": "acme" })).await;
    let waiting = deliveries(&server, &admin, &endpoint).await;
    assert_eq!(waiting.len(), 1, "the message was written with the licence");
    assert_eq!((waiting[0]["status"].clone(), waiting[0]["attempts"].clone()), (json!("pending"), json!(0)));

    let (status, _) = server.call("PATCH", &path, &admin, Some(json!({ "disabled": false }))).await;
    assert_eq!(status, 200);
    let arrived = receiver.next_of("license.created", WAIT);
    assert_eq!(arrived["id"], waiting[0]["messageId"]);
}

/// Read-only tokens list endpoints and deliveries and change nothing; bad
/// requests name the field; the CLI sees what HTTP made and the other way round.
#[tokio::test]
async fn endpoints_are_managed_over_http_and_the_cli_with_clear_errors() {
    let db = TestDb::sqlite();
    let admin = create_admin_token(&db.url, "vendor");
    let reader = create_read_only_token(&db.url, "dashboard");
    let server = TestServer::start(&db.url);
    let (id, _) = add_endpoint(&server, &admin, "https://hooks.example.com/usage", &["license.created"]).await;

    let listed = server.get_ok("/api/admin/webhooks", "", &reader).await;
    assert_eq!(listed["endpoints"][0]["id"], id.as_str());
    assert_eq!(listed["endpoints"][0]["eventTypes"], json!(["license.created"]));
    assert!(listed["endpoints"][0].get("secret").is_none(), "the secret is shown once only");
    assert_eq!(listed["eventTypes"].as_array().unwrap().len(), 8);
    for (method, path, body) in [
        ("POST", "/api/admin/webhooks".to_owned(), Some(json!({ "url": "https://x.example/" }))),
        ("PATCH", format!("/api/admin/webhooks/{id}"), Some(json!({ "disabled": true }))),
        ("DELETE", format!("/api/admin/webhooks/{id}"), None),
    ] {
        let (status, answer) = server.call(method, &path, &reader, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("read-only"));
    }
    let refused: [(Value, &str); 4] = [
        (json!({ "url": "ftp://x.example/" }), "url: must be an absolute http or https URL"),
        (
            json!({ "url": "https://x.example/", "eventTypes": ["license.exploded"] }),
            "eventTypes: `license.exploded` is not an event type",
        ),
        (
            json!({ "url": "https://x.example/", "description": "a\u{7}b" }),
            "description: must be at most 500 characters",
        ),
        (json!({ "url": "https://x.example/", "colour": "red" }), "colour"),
    ];
    for (body, error) in refused {
        let (status, answer) = server.call("POST", "/api/admin/webhooks", &admin, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(error), "{body}: {answer}");
    }
    let (status, answer) = server.call("GET", "/api/admin/webhooks/ep_missing/deliveries", &reader, None).await;
    assert_eq!((status, answer["error"].clone()), (404, json!("no webhook endpoint has id `ep_missing`")));

    let (ok, stdout, stderr) = cli(
        &db.url,
        &["webhooks", "create", "--url", "https://cli.example/hooks", "--events", "origin.unlicensed,license.revoked"],
    );
    assert!(ok, "{stderr}");
    let made: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let listed = server.get_ok("/api/admin/webhooks", "", &reader).await;
    assert_eq!(listed["endpoints"][1]["id"], made["id"]);
    assert_eq!(listed["endpoints"][1]["eventTypes"], json!(["license.revoked", "origin.unlicensed"]));
    let (ok, _, stderr) = cli(&db.url, &["webhooks", "create", "--url", "https://x.example/", "--events", "nope"]);
    assert!(!ok && stderr.contains("--events: `nope` is not an event type"), "{stderr}");
    assert!(cli(&db.url, &["webhooks", "disable", made["id"].as_str().unwrap()]).0);
    let (ok, stdout, _) = cli(&db.url, &["webhooks", "list"]);
    assert!(ok && stdout.lines().count() == 2 && stdout.contains(r#""disabled":true"#), "{stdout}");
    let (status, _) = server.call("DELETE", &format!("/api/admin/webhooks/{id}"), &admin, None).await;
    assert_eq!(status, 200);
    let (ok, stdout, _) = cli(&db.url, &["webhooks", "list"]);
    assert!(ok && stdout.lines().count() == 1, "{stdout}");

    let audit = server.get_ok("/api/admin/audit", "", &reader).await;
    let actions: Vec<_> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
    assert_eq!(
        actions[..4],
        [json!("webhook.deleted"), json!("webhook.changed"), json!("webhook.created"), json!("webhook.created")]
    );
}
