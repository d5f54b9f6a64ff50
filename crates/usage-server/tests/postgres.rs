//! The same API on PostgreSQL: a real server started for the test, the real binary.

mod common;

use common::postgres::TestPostgres;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn postgres_counts_classifies_and_deduplicates_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    let key = create_key(&pg.url, "acme");
    let revoked = create_key(&pg.url, "revoked");
    assert!(cli(&pg.url, &["keys", "revoke", "revoked"]).0);
    let server = TestServer::start(&pg.url);

    assert_eq!(server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", true)).await, "billable");
    assert_eq!(server.register_ok(event(&key, "web-render", "http://[::1]:8080", true)).await, "development");
    assert_eq!(server.register_ok(event(&key, "cloud-render", "https://customer.com", false)).await, "failed");
    let (status, json) = server
        .post_raw(
            REGISTER,
            Some("text/plain"),
            Some("https://customer.com"),
            event(&key, "webcodec-conversion", "http://localhost", true).to_string(),
        )
        .await;
    assert_eq!((status, json["classification"].as_str()), (200, Some("billable")));

    let mut body = event(&key, "webcodec-conversion", "https://customer.com", true);
    body["eventId"] = json!(uuid());
    let sends: Vec<_> = (0..10)
        .map(|_| {
            let request = server.client.post(format!("{}{REGISTER}", server.url)).json(&body);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }

    let (status, _) = server.register(event(&revoked, "webcodec-conversion", "https://customer.com", true)).await;
    assert_eq!(status, 401);
    let (status, _) = server.register(json!({"event": "nope", "apiKey": key.public, "succeeded": true})).await;
    assert_eq!(status, 400);

    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(3, 1, 0));
    assert_eq!(usage["cloudRenders"], counts(0, 0, 1));
    assert_eq!(server.usage(&key.secret, Some(now_ms() + 30_000)).await["webcodecConversions"], counts(0, 0, 0));

    // A restart (migrations already applied) keeps every count.
    server.stop();
    let server = TestServer::start(&pg.url);
    assert_eq!(server.usage(&key.secret, None).await, usage);
    let (ok, list, _) = cli(&pg.url, &["keys", "list"]);
    assert!(ok && list.lines().count() == 2 && !list.contains("rm_sec_"));
}

#[tokio::test]
async fn postgres_answers_the_vendors_questions_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::vendor::vendor_questions(&pg.url).await;
}

#[tokio::test]
async fn postgres_breakdown_buckets_follow_utc_days_hours_and_months() {
    let Some(pg) = TestPostgres::start() else { return };
    common::vendor::breakdown_buckets(&pg.url).await;
}

#[tokio::test]
async fn postgres_folds_invented_origins_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::internet::invented_origins_fold(&pg.url).await;
}

#[tokio::test]
async fn postgres_keeps_a_copied_key_off_the_licence_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::internet::copied_key_on_another_site(&pg.url).await;
}

#[tokio::test]
async fn postgres_manages_licences_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::licences::lifecycle(&pg.url).await;
}

#[tokio::test]
async fn postgres_refuses_bad_licence_changes_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::licences::refused_changes(&pg.url).await;
}

#[tokio::test]
async fn postgres_keeps_read_only_tokens_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::licences::read_only_tokens(&pg.url).await;
}

#[tokio::test]
async fn postgres_keeps_the_audit_trail_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::licences::audit_trail(&pg.url).await;
}

#[tokio::test]
async fn postgres_sends_signed_licence_webhooks_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::webhooks::licence_events_are_signed_and_filtered(&pg.url).await;
}

#[tokio::test]
async fn postgres_sends_origin_webhooks_once_like_sqlite() {
    let Some(pg) = TestPostgres::start() else { return };
    common::webhooks::origin_events_are_sent_once_each(&pg.url).await;
}

/// Two servers on one database: registrations spread over both cross a limit's
/// thresholds once each, and every message is attempted by one server only
/// (each arrives once, after one attempt).
#[tokio::test]
async fn two_servers_on_one_postgres_send_each_message_once() {
    use common::webhooks::*;
    let Some(pg) = TestPostgres::start() else { return };
    let admin = create_admin_token(&pg.url, "vendor");
    let (first, second) = (TestServer::start(&pg.url), TestServer::start(&pg.url));
    let receiver = Receiver::start(0);
    let (endpoint, secret) = add_endpoint(&first, &admin, &receiver.url(), &[]).await;
    receiver.set(Some(&secret), "ok").await;

    thresholds_are_sent_once(&[&first, &second], &admin, &endpoint, &receiver).await;
    let creations: Vec<_> = (0..30)
        .map(|i| {
            let server = if i % 2 == 0 { &first } else { &second };
            let request = server
                .client
                .post(format!("{}/api/admin/licenses", server.url))
                .header("authorization", format!("Bearer {admin}"))
                .json(&json!({ "name": format!("customer-{i}") }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for creation in creations {
        assert_eq!(creation.await.unwrap(), 201);
    }
    // 1 + 30 licences created, 2 thresholds crossed.
    let done = wait_for_deliveries(&first, &admin, &endpoint, "33 delivered", |found| {
        found.len() == 33 && found.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert!(done.iter().all(|d| d["attempts"] == 1), "a message was attempted twice: {done:?}");
    // The threshold messages were read already; the metered licence's creation
    // may have come before or after them (the two servers send concurrently). A
    // second delivery of any message would be among what came since.
    let since: Vec<Value> = receiver.so_far();
    assert!(since.iter().all(|line| line["verified"] == true && line["body"]["type"] == "license.created"));
    let mut ids: Vec<&str> = since.iter().map(|line| line["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), since.len(), "each message arrives exactly once: {since:?}");
    let customers = since.iter().filter(|line| line["body"]["data"]["name"].as_str().unwrap().starts_with("customer-"));
    assert_eq!(customers.count(), 30, "every creation arrived: {since:?}");
}

/// The guide's PostgreSQL backup (docs/DEPLOY.md): `pg_dump --format=custom`, then
/// `pg_restore` into a new database, which a server then serves with every count
/// and licence.
#[tokio::test]
async fn pg_dump_and_pg_restore_round_trip() {
    let Some(pg) = TestPostgres::start() else { return };
    let key = create_key(&pg.url, "acme");
    let admin = create_admin_token(&pg.url, "vendor");
    let server = TestServer::start(&pg.url);
    for (host, times) in [("https://customer.com", 7), ("http://localhost:3000", 2)] {
        for _ in 0..times {
            server.register_ok(event(&key, "webcodec-conversion", host, true)).await;
        }
    }
    let before = server.usage(&key.secret, None).await;
    let (_, licences) = server.call("GET", "/api/admin/licenses", &admin, None).await;
    server.stop();

    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("usage.dump");
    let run = |program: &str, args: &[&str]| {
        let output = std::process::Command::new(pg.program(program)).args(args).output().unwrap();
        assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run("pg_dump", &["--format=custom", "--file", dump.to_str().unwrap(), &pg.url]);
    run("createdb", &["--maintenance-db", &pg.url, "restored"]);
    let restored = pg.url_of("restored");
    run("pg_restore", &["--no-owner", "--exit-on-error", "--dbname", &restored, dump.to_str().unwrap()]);

    let server = TestServer::start(&restored);
    assert_eq!(server.usage(&key.secret, None).await, before);
    assert_eq!(before["webcodecConversions"], counts(7, 2, 0));
    assert_eq!(server.call("GET", "/api/admin/licenses", &admin, None).await.1, licences);
    server.register_ok(event(&key, "webcodec-conversion", "https://customer.com", true)).await;
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(8, 2, 0));
    server.stop();
}
