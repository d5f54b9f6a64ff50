//! Managing licences over HTTP and the CLI, end to end on a real server: run on
//! SQLite (`licences_api.rs`) and on PostgreSQL (`postgres.rs`) alike.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

pub const LICENSES: &str = "/api/admin/licenses";
pub const AUDIT: &str = "/api/admin/audit";

/// The licence named `name` as `keys list` prints it.
pub fn cli_licence(database_url: &str, name: &str) -> Value {
    let (ok, stdout, stderr) = cli(database_url, &["keys", "list"]);
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|licence| licence["name"] == name)
        .unwrap_or_else(|| panic!("no licence {name} in {stdout}"))
}

/// Registers an event with `public_key` from `https://a.com`: its status.
async fn register_with(server: &TestServer, public_key: &str) -> u16 {
    let body =
        json!({"event": "webcodec-conversion", "apiKey": public_key, "host": "https://a.com", "succeeded": true});
    server.register(body).await.0
}

/// Create → register with the new key → rotate → both keys count toward the one
/// licence until the grace time, then the old one is refused → revoke; the CLI
/// and HTTP agree at every step.
pub async fn lifecycle(database_url: &str) {
    let admin = create_admin_token(database_url, "vendor");
    let server = TestServer::start(database_url);

    let (status, created) = server
        .call("POST", LICENSES, &admin, Some(json!({"name": "acme", "monthlyLimit": 100, "allowedOrigins": []})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["license"]["id"].as_i64().unwrap();
    let (first_public, first_secret) =
        (created["publicKey"].as_str().unwrap().to_owned(), created["secretKey"].as_str().unwrap().to_owned());
    assert!(first_public.starts_with("rm_pub_") && first_secret.starts_with("rm_sec_"));
    assert_eq!(created["license"]["publicKey"], first_public.as_str());
    assert_eq!(created["license"]["monthlyLimit"], 100);
    assert!(!created["license"].to_string().contains("rm_sec_"), "the licence never shows a secret");
    assert_eq!(register_with(&server, &first_public).await, 200);
    let listed = cli_licence(database_url, "acme");
    assert_eq!((listed["id"].as_i64(), &listed["publicKey"]), (Some(id), &json!(first_public)));

    // Rotate with a grace time: both pairs are accepted, and counted as one licence.
    let grace_secs = 3;
    let rotated_at = Instant::now();
    let (status, rotated) = server
        .call("POST", &format!("{LICENSES}/{id}/rotate"), &admin, Some(json!({"graceSeconds": grace_secs})))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let (new_public, new_secret) =
        (rotated["publicKey"].as_str().unwrap().to_owned(), rotated["secretKey"].as_str().unwrap().to_owned());
    assert_ne!(new_public, first_public);
    let keys = rotated["license"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "both pairs are visible during the grace time: {rotated}");
    assert_eq!(keys[0]["publicKey"], first_public.as_str());
    assert!(keys[0]["expiresAtMs"].as_i64().is_some() && keys[1]["expiresAtMs"].is_null());
    assert_eq!(rotated["license"]["publicKey"], new_public.as_str());
    assert_eq!(register_with(&server, &new_public).await, 200);
    if rotated_at.elapsed() < Duration::from_secs(grace_secs) {
        assert_eq!(register_with(&server, &first_public).await, 200, "the old key works until the grace time");
    }
    let usage = server.usage(&new_secret, None).await;
    assert!(usage["webcodecConversions"]["billable"].as_u64().unwrap() >= 2, "one licence, one count: {usage}");
    assert_eq!(server.usage(&first_secret, None).await["webcodecConversions"], usage["webcodecConversions"]);
    assert_eq!(cli_licence(database_url, "acme")["publicKey"], new_public.as_str(), "the CLI sees the rotation");

    // After the grace time (and the server's 2-second key cache) the old key is refused.
    let deadline = Instant::now() + Duration::from_secs(grace_secs + 10);
    loop {
        let status = register_with(&server, &first_public).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "the old key was still accepted long after its grace time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rotated_at.elapsed() >= Duration::from_secs(grace_secs), "refused before the grace time ended");
    let (status, _) = server.post(GET_USAGE, json!({"apiKey": first_secret})).await;
    assert_eq!(status, 401, "the old secret key is refused too");
    assert_eq!(register_with(&server, &new_public).await, 200);
    let (_, read) = server.call("GET", &format!("{LICENSES}/{id}"), &admin, None).await;
    assert_eq!(read["license"]["keys"].as_array().unwrap().len(), 1, "the expired pair is no longer listed");

    // Revoke: every key refused, the licence kept (revoked) with its counts.
    let (status, revoked) = server.call("POST", &format!("{LICENSES}/{id}/revoke"), &admin, None).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["license"]["revokedAtMs"].as_i64().is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    while register_with(&server, &new_public).await != 401 {
        assert!(Instant::now() < deadline, "the revoked key was still accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, again) = server.call("POST", &format!("{LICENSES}/{id}/revoke"), &admin, None).await;
    let revoked_message = format!("license {id} is revoked: it can be read, not changed");
    assert_eq!((status, again["error"].as_str()), (409, Some(revoked_message.as_str())));
    for (method, path) in [("PATCH", format!("{LICENSES}/{id}")), ("POST", format!("{LICENSES}/{id}/rotate"))] {
        let (status, answer) = server.call(method, &path, &admin, Some(json!({}))).await;
        assert_eq!(status, 409, "a revoked licence cannot be changed: {method} {path}: {answer}");
    }
    assert_eq!(server.call("GET", &format!("{LICENSES}/{id}"), &admin, None).await.0, 200, "but it can be read");
    assert!(cli_licence(database_url, "acme")["revokedAtMs"].as_i64().is_some(), "the CLI sees the revocation");

    // The CLI runs the same store code: a licence made there is managed over HTTP.
    let cli_made = create_key(database_url, "beta");
    let beta = cli_licence(database_url, "beta")["id"].as_i64().unwrap();
    let (status, changed) = server
        .call(
            "PATCH",
            &format!("{LICENSES}/{beta}"),
            &admin,
            Some(json!({"name": "beta-2", "monthlyLimit": null, "allowedOrigins": ["https://*.beta.com"]})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["license"]["allowedOrigins"], json!(["https://*.beta.com"]));
    assert_eq!(cli_licence(database_url, "beta-2")["allowedOrigins"], json!(["https://*.beta.com"]));
    let (ok, _, _) = cli(database_url, &["keys", "rotate", "beta-2", "--grace-secs", "0"]);
    assert!(ok);
    let deadline = Instant::now() + Duration::from_secs(10);
    while register_with(&server, &cli_made.public).await != 401 {
        assert!(Instant::now() < deadline, "a key rotated away with no grace was still accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
}

/// A read-only token reads everything and changes nothing: 403 on every change,
/// and nothing stored.
pub async fn read_only_tokens(database_url: &str) {
    let admin = create_admin_token(database_url, "vendor");
    let reader = create_read_only_token(database_url, "dashboard");
    let server = TestServer::start(database_url);
    // Each token says what it is, so a dashboard offers changes only to a full one.
    let (status, answer) = server.call("GET", "/api/admin/token", &reader, None).await;
    assert_eq!((status, answer), (200, json!({"success": true, "name": "dashboard", "readOnly": true})));
    let (status, answer) = server.call("GET", "/api/admin/token", &admin, None).await;
    assert_eq!((status, answer), (200, json!({"success": true, "name": "vendor", "readOnly": false})));
    let (_, created) = server.call("POST", LICENSES, &admin, Some(json!({"name": "acme"}))).await;
    let id = created["license"]["id"].as_i64().unwrap();
    let (status, answer) = server.call("GET", "/api/admin/token", created["secretKey"].as_str().unwrap(), None).await;
    assert_eq!(status, 403, "a licence's secret key is no admin token: {answer}");
    let (status, listed) = server.call("GET", LICENSES, &reader, None).await;
    assert_eq!((status, listed["licenses"].as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(server.call("GET", &format!("{LICENSES}/{id}"), &reader, None).await.0, 200);
    assert_eq!(server.call("GET", AUDIT, &reader, None).await.0, 200);
    assert_eq!(server.get(ADMIN_USAGE, "", Some(&reader)).await.status, 200);
    let audit_before = server.call("GET", AUDIT, &admin, None).await.1;
    for (method, path, body) in [
        ("POST", LICENSES.to_owned(), Some(json!({"name": "sneaky"}))),
        ("PATCH", format!("{LICENSES}/{id}"), Some(json!({"monthlyLimit": 1}))),
        ("POST", format!("{LICENSES}/{id}/rotate"), None),
        ("POST", format!("{LICENSES}/{id}/revoke"), None),
    ] {
        let (status, answer) = server.call(method, &path, &reader, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("read-only"), "{answer}");
    }
    let (_, after) = server.call("GET", LICENSES, &admin, None).await;
    assert_eq!(after["licenses"], listed["licenses"], "nothing changed");
    assert_eq!(server.call("GET", AUDIT, &admin, None).await.1, audit_before, "nothing recorded");
    server.stop();
}

/// Every change is recorded, from the CLI and over HTTP: who, what, when; newest
/// first, a page at a time; the CLI prints the same log.
pub async fn audit_trail(database_url: &str) {
    let started = now_ms();
    let admin = create_admin_token(database_url, "vendor");
    create_key_with(database_url, "from-cli", &["--monthly-limit", "7"]);
    let server = TestServer::start(database_url);
    let (_, created) = server.call("POST", LICENSES, &admin, Some(json!({"name": "from-http"}))).await;
    let id = created["license"]["id"].as_i64().unwrap();
    // Whole numbers may come with a zero fraction, as some JSON writers send them.
    let (status, _) =
        server.call("PATCH", &format!("{LICENSES}/{id}"), &admin, Some(json!({"monthlyLimit": 10.0}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        server.call("POST", &format!("{LICENSES}/{id}/rotate"), &admin, Some(json!({"graceSeconds": 60.0}))).await;
    assert_eq!(status, 200);
    server.call("POST", &format!("{LICENSES}/{id}/revoke"), &admin, None).await;

    let (status, log) = server.call("GET", AUDIT, &admin, None).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap(), e["subject"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("token:vendor", "license.revoked", "from-http"),
            ("token:vendor", "license.rotated", "from-http"),
            ("token:vendor", "license.changed", "from-http"),
            ("token:vendor", "license.created", "from-http"),
            ("cli", "license.created", "from-cli"),
            ("cli", "admin-token.created", "vendor"),
        ]
    );
    assert_eq!(entries[2]["details"], json!({"monthlyLimit": 10}));
    assert_eq!(entries[4]["details"]["monthlyLimit"], 7);
    assert_eq!(entries[5]["details"], json!({"readOnly": false}));
    let rotated_key = &entries[1]["details"]["publicKey"];
    assert!(rotated_key.as_str().unwrap().starts_with("rm_pub_"));
    assert!(!log.to_string().contains("rm_sec_") && !log.to_string().contains("rm_adm_"), "no secret is recorded");
    assert!(entries.iter().all(|e| e["atMs"].as_i64().unwrap() >= started));
    assert!(entries.windows(2).all(|pair| pair[0]["id"].as_i64() > pair[1]["id"].as_i64()), "newest first");

    // A page at a time.
    let (_, first) = server.call("GET", &format!("{AUDIT}?limit=4"), &admin, None).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 4);
    let before = first["nextBefore"].as_i64().unwrap();
    let (_, rest) = server.call("GET", &format!("{AUDIT}?limit=4&before={before}"), &admin, None).await;
    assert_eq!(rest["entries"].as_array().unwrap(), &entries[4..]);
    assert!(rest.get("nextBefore").is_none(), "the last page says so");
    let (status, bad) = server.call("GET", &format!("{AUDIT}?limit=0"), &admin, None).await;
    assert_eq!((status, bad["error"].as_str()), (400, Some("limit: must be a whole number from 1 to 500 (got `0`)")));

    let (ok, stdout, _) = cli(database_url, &["admin", "audit"]);
    assert!(ok);
    let printed: Vec<Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(printed.as_slice(), entries.as_slice(), "the CLI prints the same log");
    server.stop();
}

/// Bad requests get an error that names the field and the rule, and change nothing.
pub async fn refused_changes(database_url: &str) {
    let admin = create_admin_token(database_url, "vendor");
    let server = TestServer::start(database_url);
    let (_, created) = server.call("POST", LICENSES, &admin, Some(json!({"name": "acme"}))).await;
    let id = created["license"]["id"].as_i64().unwrap();
    server.call("POST", LICENSES, &admin, Some(json!({"name": "other"}))).await;
    let audit = server.call("GET", AUDIT, &admin, None).await.1;
    let licences = server.call("GET", LICENSES, &admin, None).await.1;
    let one = format!("{LICENSES}/{id}");
    for (method, path, body, status, error) in [
        ("POST", LICENSES.to_owned(), json!({"name": ""}), 400, "name: must be 1 to 100 characters"),
        ("POST", LICENSES.to_owned(), json!({"name": "acme"}), 409, "name: `acme` is taken"),
        ("POST", LICENSES.to_owned(), json!({"nme": "x"}), 400, "nme: unknown field `nme`, expected one of"),
        ("POST", LICENSES.to_owned(), json!({"name": "x", "monthlyLimit": -1}), 400, "monthlyLimit: must be 0 or more"),
        ("POST", LICENSES.to_owned(), json!({"name": "x", "allowedOrigins": ["ftp://x"]}), 400, "allowedOrigins:"),
        ("PATCH", one.clone(), json!({"name": "other"}), 409, "name: `other` is taken"),
        ("PATCH", one.clone(), json!({"monthlyLimit": "lots"}), 400, "monthlyLimit: invalid type"),
        ("PATCH", format!("{LICENSES}/999999"), json!({"monthlyLimit": 1}), 404, "no license has id 999999"),
        ("PATCH", format!("{LICENSES}/abc"), json!({}), 400, "id: must be a license's id"),
        ("POST", format!("{one}/rotate"), json!({"graceSeconds": 2_592_001}), 400, "graceSeconds: must be from 0"),
    ] {
        let (got, answer) = server.call(method, &path, &admin, Some(body.clone())).await;
        let message = answer["error"].as_str().unwrap_or_default();
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        assert!(message.starts_with(error), "{method} {path} {body}\n  got: {message}\n want: {error}");
    }
    let (status, _) = server.call("GET", &format!("{LICENSES}/999999"), &admin, None).await;
    assert_eq!(status, 404);
    assert_eq!(server.call("GET", LICENSES, &admin, None).await.1, licences, "nothing changed");
    assert_eq!(server.call("GET", AUDIT, &admin, None).await.1, audit, "nothing recorded");
    let (status, _) = server.call("DELETE", &one, &admin, None).await;
    assert_eq!(status, 405);
    server.stop();
}
