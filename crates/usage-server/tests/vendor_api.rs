//! The vendor's questions on the real binary and SQLite: unlicensed usage, rate
//! limits, breakdowns by time and origin, monthly limits, the admin view, exports
//! and every credential boundary.

mod common;

use std::time::{Duration, Instant};

use common::vendor::*;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn keyless_free_license_limits_breakdown_admin_view_and_exports_agree() {
    let db = TestDb::sqlite();
    vendor_questions(&db.url).await;
}

#[tokio::test]
async fn breakdown_buckets_follow_utc_days_hours_and_months() {
    let db = TestDb::sqlite();
    breakdown_buckets(&db.url).await;
}

#[tokio::test]
async fn the_fifty_busiest_origins_are_listed_and_the_rest_summed() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let now = now_ms();
    // site00 has 1 event, site01 2, …, site54 55: listed busiest first.
    let mut events = Vec::new();
    let origins: Vec<String> = (0..55).map(|i| format!("https://site{i:02}.com")).collect();
    for (i, origin) in origins.iter().enumerate() {
        for n in 0..=i {
            let class = if n % 3 == 0 { "failed" } else { "billable" };
            events.push((now - 1000, Some(origin.as_str()), "webcodec-conversion", class));
        }
    }
    insert_events(&db.url, "acme", &events).await;
    let answer = server.get_ok(BREAKDOWN, "", &key.secret).await;
    let listed = answer["origins"].as_array().unwrap();
    assert_eq!(listed.len(), 50);
    assert_eq!(listed[0]["origin"], "https://site54.com");
    assert_eq!(listed[49]["origin"], "https://site05.com");
    let total = |o: &Value| ["billable", "development", "failed"].iter().map(|c| o[c].as_u64().unwrap()).sum::<u64>();
    assert!(listed.windows(2).all(|pair| total(&pair[0]) >= total(&pair[1])));
    // site00..site04: 1+2+3+4+5 events, of which those with n % 3 == 0 failed.
    assert_eq!(answer["otherOrigins"], json!({"billable": 8, "development": 0, "failed": 7}));
    let listed_sum: u64 = listed.iter().map(total).sum();
    assert_eq!(listed_sum + 15, (1..=55).sum::<u64>());
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_write_nothing() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let admin = create_admin_token(&db.url, "vendor");
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-address", "3", "--rate-limit-per-key", "4"]);

    // Per address, for keyless and free-license events together.
    for api_key in [Value::Null, json!("free-license"), Value::Null] {
        server.register_ok(event_with_api_key(api_key, "https://pirate.com", true)).await;
    }
    let response = server
        .client
        .post(format!("{}{REGISTER}", server.url))
        .header("content-type", "application/json")
        .body(event_with_api_key(json!("free-license"), "https://pirate.com", true).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "a token every 20 s: {retry_after}");
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["success"], false);
    assert!(json["error"].as_str().unwrap().starts_with("too many events from this client address"), "{json}");

    // Per key and address; licensed events do not use the unpaid tokens.
    for _ in 0..4 {
        server.register_ok(event(&key, "webcodec-conversion", "https://acme.com", true)).await;
    }
    let (status, json) = server.register(event(&key, "webcodec-conversion", "https://acme.com", true)).await;
    assert_eq!(status, 429, "{json}");
    assert!(
        json["error"].as_str().unwrap().starts_with("too many events from this licence key and client address"),
        "{json}"
    );

    // Exactly what was accepted is counted.
    let view = server.get_ok(ADMIN_USAGE, "", &admin).await;
    assert_eq!(view["unlicensed"]["totals"]["webcodecConversions"], counts(2, 0, 0));
    assert_eq!(view["freeLicense"]["totals"]["webcodecConversions"], counts(1, 0, 0));
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(4, 0, 0));

    // X-Forwarded-For is ignored unless trusted.
    let forwarded = |server: &TestServer, address: &'static str| {
        server
            .client
            .post(format!("{}{REGISTER}", server.url))
            .header("content-type", "application/json")
            .header("x-forwarded-for", address)
            .body(event_with_api_key(Value::Null, "https://pirate.com", true).to_string())
            .send()
    };
    assert_eq!(forwarded(&server, "203.0.113.1").await.unwrap().status().as_u16(), 429);
    server.stop();
    // Behind one trusted proxy, the address it appended (the right-most) counts;
    // what the client wrote before it does not.
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-address", "1", "--trust-forwarded-for"]);
    assert_eq!(forwarded(&server, "10.0.0.1, 203.0.113.1").await.unwrap().status().as_u16(), 200);
    assert_eq!(forwarded(&server, "10.0.0.9, 203.0.113.1").await.unwrap().status().as_u16(), 429);
    assert_eq!(forwarded(&server, "203.0.113.2").await.unwrap().status().as_u16(), 200);
    server.stop();
    // 0 disables a limit.
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-address", "0"]);
    for _ in 0..20 {
        server.register_ok(event_with_api_key(Value::Null, "https://pirate.com", true)).await;
    }
}

#[tokio::test]
async fn every_credential_is_refused_where_it_does_not_belong() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let revoked_key = create_key(&db.url, "gone");
    let admin = create_admin_token(&db.url, "vendor");
    let revoked_admin = create_admin_token(&db.url, "former");
    assert!(cli(&db.url, &["keys", "revoke", "gone"]).0);
    assert!(cli(&db.url, &["admin", "revoke", "former"]).0);
    let server = TestServer::start(&db.url);
    let unknown_secret = format!("rm_sec_{}", "0".repeat(64));
    let unknown_admin = format!("rm_adm_{}", "0".repeat(64));

    for path in [BREAKDOWN, USAGE_CSV] {
        for (credential, status, message) in [
            (None, 401, "the Authorization header must be `Bearer rm_sec_…`"),
            (Some("nonsense"), 401, "the Authorization header must be `Bearer rm_sec_…`"),
            (Some(unknown_secret.as_str()), 401, "the Bearer key is not a known key, or it has been revoked"),
            (Some(revoked_key.secret.as_str()), 401, "the Bearer key is not a known key"),
            (Some(key.public.as_str()), 403, "getUsage needs the secret key"),
            (Some(admin.as_str()), 403, "admin tokens (rm_adm_…) are for the /api/admin endpoints only"),
        ] {
            let answer = server.get(path, "", credential).await;
            assert_eq!(answer.status, status, "{path} {credential:?}: {}", answer.text);
            assert!(answer.json()["error"].as_str().unwrap().starts_with(message), "{path}: {}", answer.text);
        }
        assert_eq!(server.get(path, "", Some(&key.secret)).await.status, 200);
    }
    for path in [ADMIN_USAGE, ADMIN_CSV] {
        for (credential, status, message) in [
            (None, 401, "the Authorization header must be `Bearer rm_adm_…`"),
            (Some(unknown_admin.as_str()), 401, "the admin token is not known, or it has been revoked"),
            (Some(revoked_admin.as_str()), 401, "the admin token is not known"),
            (Some(key.public.as_str()), 403, "this endpoint needs an admin token"),
            (Some(key.secret.as_str()), 403, "this endpoint needs an admin token"),
        ] {
            let answer = server.get(path, "", credential).await;
            assert_eq!(answer.status, status, "{path} {credential:?}: {}", answer.text);
            assert!(answer.json()["error"].as_str().unwrap().starts_with(message), "{path}: {}", answer.text);
        }
        assert_eq!(server.get(path, "", Some(&admin)).await.status, 200);
    }
    // An admin token on the track endpoints.
    let (status, json) = server.post(GET_USAGE, json!({"apiKey": admin})).await;
    assert_eq!(status, 403, "{json}");
    let (status, json) = server.register(event_with_api_key(json!(admin), "https://a.com", true)).await;
    assert_eq!(status, 403, "{json}");
    // The wrong method is named.
    let (status, json) = server.post(BREAKDOWN, json!({})).await;
    assert_eq!(status, 405);
    assert!(json["error"].as_str().unwrap().ends_with("use GET"), "{json}");
}

#[tokio::test]
async fn admin_tokens_created_or_revoked_on_a_running_server_take_effect() {
    let db = TestDb::sqlite();
    let first = create_admin_token(&db.url, "first");
    let server = TestServer::start(&db.url);
    // The server now remembers the active tokens' hashes for a moment…
    assert_eq!(server.get(ADMIN_USAGE, "", Some(&first)).await.status, 200);
    // …yet a token created since is looked for again at once.
    let second = create_admin_token(&db.url, "second");
    assert_eq!(server.get(ADMIN_USAGE, "", Some(&second)).await.status, 200);
    // A revoked token stops working within the cache's lifetime (2 s).
    assert!(cli(&db.url, &["admin", "revoke", "first"]).0);
    let revoked_at = Instant::now();
    let mut status = 200;
    while status == 200 && revoked_at.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = server.get(ADMIN_USAGE, "", Some(&first)).await.status;
    }
    assert_eq!(status, 401, "still accepted {:?} after its revocation", revoked_at.elapsed());
    assert!(revoked_at.elapsed() < Duration::from_secs(3), "refused only after {:?}", revoked_at.elapsed());
    assert_eq!(server.get(ADMIN_USAGE, "", Some(&second)).await.status, 200);
}

#[tokio::test]
async fn range_rules_are_400_with_the_rule() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let admin = create_admin_token(&db.url, "vendor");
    let server = TestServer::start(&db.url);
    let now = now_ms();
    for (query, message) in [
        (format!("since={}", now - 91 * DAY_MS), "since must be within the last 90 days"),
        ("since=abc".to_owned(), "since must be a whole number of milliseconds since 1970 (got `abc`)"),
        (format!("until={}", now + DAY_MS), "until must not be in the future"),
        (format!("since={}&until={}", now - DAY_MS, now - 2 * DAY_MS), "until must be after since"),
        (format!("since={}&granularity=hour", now - 8 * DAY_MS), "granularity `hour` is for ranges up to 7 days"),
        ("granularity=minute".to_owned(), "granularity must be `day` or `hour` (got `minute`)"),
    ] {
        for (path, credential) in [(BREAKDOWN, &key.secret), (USAGE_CSV, &key.secret), (ADMIN_USAGE, &admin)] {
            let answer = server.get(path, &query, Some(credential)).await;
            assert_eq!(answer.status, 400, "{path}?{query}: {}", answer.text);
            assert!(answer.json()["error"].as_str().unwrap().starts_with(message), "{path}?{query}: {}", answer.text);
        }
    }
    let answer =
        server.get_ok(BREAKDOWN, &format!("since={}&granularity=hour", now - 7 * DAY_MS + 60_000), &key.secret).await;
    assert!((168..=169).contains(&answer["series"].as_array().unwrap().len()));
}

#[test]
fn limits_and_admin_tokens_are_managed_from_the_command_line() {
    let db = TestDb::sqlite();
    create_key_with(&db.url, "acme", &["--monthly-limit", "1000"]);
    create_key(&db.url, "beta");
    let limit_of = |name: &str| {
        let (ok, stdout, _) = cli(&db.url, &["keys", "list"]);
        assert!(ok);
        let line = stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|l| l["name"] == name);
        line.unwrap()["monthlyLimit"].clone()
    };
    assert_eq!((limit_of("acme"), limit_of("beta")), (json!(1000), Value::Null));
    assert!(cli(&db.url, &["keys", "set-limit", "beta", "50"]).0);
    assert!(cli(&db.url, &["keys", "set-limit", "acme", "none"]).0);
    assert_eq!((limit_of("acme"), limit_of("beta")), (Value::Null, json!(50)));
    let (ok, _, stderr) = cli(&db.url, &["keys", "set-limit", "beta", "lots"]);
    assert!(!ok && stderr.contains("a monthly limit is a whole number of billable events, or `none`"), "{stderr}");
    let (ok, _, stderr) = cli(&db.url, &["keys", "set-limit", "nobody", "5"]);
    assert!(!ok && stderr.contains("no active key is named `nobody`"), "{stderr}");

    let token = create_admin_token(&db.url, "vendor");
    assert!(token.starts_with("rm_adm_") && token.len() == 7 + 64, "256 bits: {token}");
    let (ok, _, stderr) = cli(&db.url, &["admin", "create-token", "--name", "vendor"]);
    assert!(!ok && stderr.contains("an admin token named `vendor` already exists"), "{stderr}");
    assert!(cli(&db.url, &["admin", "revoke", "vendor"]).0);
    let (ok, _, stderr) = cli(&db.url, &["admin", "revoke", "vendor"]);
    assert!(!ok && stderr.contains("no active admin token is named `vendor`"), "{stderr}");
    let (ok, stdout, _) = cli(&db.url, &["admin", "list"]);
    assert!(ok && !stdout.contains("rm_adm_") && !stdout.contains(token.trim_start_matches("rm_adm_")), "{stdout}");
    let listed: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(listed["name"], "vendor");
    assert!(listed["revokedAtMs"].as_i64().unwrap() > 0);
    // Stored only hashed.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains(token.trim_start_matches("rm_adm_")));
    assert!(stored.contains(&usage_server::keys::hash_credential(&token)));
}
