//! A webhook receiver on loopback that verifies signatures with the reference
//! Standard Webhooks implementation (`tests/webhook-receiver.mjs`, npm
//! `standardwebhooks`), and the webhook scenarios both engines run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// The receiver process; killed when dropped.
pub struct Receiver {
    child: Child,
    pub port: u16,
    lines: mpsc::Receiver<Value>,
    client: reqwest::Client,
}

impl Receiver {
    /// Starts a receiver on `port` (0: any free one).
    pub fn start(port: u16) -> Receiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhook-receiver.mjs");
        let mut child = Command::new("node")
            .args([script, &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the webhook receiver");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[receiver] {line}");
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        let first: Value = lines.recv_timeout(Duration::from_secs(20)).expect("the receiver announces its port");
        let port = u16::try_from(first["port"].as_u64().unwrap()).unwrap();
        Receiver { child, port, lines, client: reqwest::Client::new() }
    }

    /// Where the server should send.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Sets the secret it verifies with and how it answers (`ok`, `fail`, `hold`).
    pub async fn set(&self, secret: Option<&str>, mode: &str) {
        let mut control = json!({ "mode": mode });
        if let Some(secret) = secret {
            control["secret"] = json!(secret);
        }
        let url = format!("http://127.0.0.1:{}/control", self.port);
        let status = self.client.put(url).json(&control).send().await.unwrap().status();
        assert_eq!(status, 204);
    }

    /// The next request it got (waiting up to `timeout`): `{id, verified, body, mode}`.
    pub fn next(&self, timeout: Duration) -> Value {
        self.lines.recv_timeout(timeout).unwrap_or_else(|err| panic!("no webhook arrived within {timeout:?}: {err}"))
    }

    /// The next verified message of `event_type`, skipping others.
    pub fn next_of(&self, event_type: &str, timeout: Duration) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.next(left);
            if line["body"]["type"] == event_type {
                assert_eq!(line["verified"], true, "the reference implementation refused it: {line}");
                return line;
            }
        }
    }

    /// The next verified message of each of `event_types`, in whatever order they
    /// come (others are skipped), in the order asked.
    pub fn next_of_each(&self, event_types: &[&str], timeout: Duration) -> Vec<Value> {
        let deadline = std::time::Instant::now() + timeout;
        let mut found: Vec<Option<Value>> = vec![None; event_types.len()];
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.next(left);
            if let Some(index) = event_types.iter().position(|kind| line["body"]["type"] == *kind) {
                assert_eq!(line["verified"], true, "the reference implementation refused it: {line}");
                assert!(found[index].is_none(), "{} arrived twice: {line}", event_types[index]);
                found[index] = Some(line);
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Every request that arrived so far, without waiting.
    pub fn so_far(&self) -> Vec<Value> {
        self.lines.try_iter().collect()
    }

    /// Stops it: its port refuses connections until a receiver starts on it again.
    pub fn kill(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds an endpoint for `event_types` (empty: all) over HTTP; its id and secret.
pub async fn add_endpoint(server: &TestServer, admin: &str, url: &str, event_types: &[&str]) -> (String, String) {
    let body = json!({ "url": url, "description": "tests", "eventTypes": event_types });
    let (status, answer) = server.call("POST", "/api/admin/webhooks", admin, Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    let secret = answer["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (answer["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(server: &TestServer, admin: &str, endpoint: &str) -> Vec<Value> {
    let answer = server.get_ok(&format!("/api/admin/webhooks/{endpoint}/deliveries"), "limit=500", admin).await;
    answer["deliveries"].as_array().unwrap().clone()
}

/// Waits (polling the API, bounded) until `done` holds for an endpoint's deliveries.
pub async fn wait_for_deliveries(
    server: &TestServer,
    admin: &str,
    endpoint: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = deliveries(server, admin, endpoint).await;
        if done(&found) {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries never showed {what}: {found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a licence over HTTP; its id and keys.
pub async fn create_licence(server: &TestServer, admin: &str, body: Value) -> (i64, Keys) {
    let (status, answer) = server.call("POST", "/api/admin/licenses", admin, Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    let keys = Keys {
        name: answer["license"]["name"].as_str().unwrap().to_owned(),
        public: answer["publicKey"].as_str().unwrap().to_owned(),
        secret: answer["secretKey"].as_str().unwrap().to_owned(),
    };
    (answer["license"]["id"].as_i64().unwrap(), keys)
}

/// How many of `deliveries` carry `event_type`.
pub fn count_of(deliveries: &[Value], event_type: &str) -> usize {
    deliveries.iter().filter(|delivery| delivery["eventType"] == event_type).count()
}

const WAIT: Duration = Duration::from_secs(30);

/// Licence events reach an endpoint that wants them, signed as the reference
/// implementation verifies, and not one that does not; the API shows each delivery.
pub async fn licence_events_are_signed_and_filtered(database_url: &str) {
    let admin = create_admin_token(database_url, "vendor");
    let server = TestServer::start(database_url);
    let receiver = Receiver::start(0);
    let (everything, secret) = add_endpoint(&server, &admin, &receiver.url(), &[]).await;
    receiver.set(Some(&secret), "ok").await;
    let (origins_only, _) = add_endpoint(&server, &admin, &receiver.url(), &["origin.unlicensed"]).await;

    let (id, _) = create_licence(&server, &admin, json!({ "name": "acme", "monthlyLimit": 100 })).await;
    let created = receiver.next_of("license.created", WAIT);
    assert_eq!(created["body"]["data"]["licenseId"], id);
    assert_eq!(created["body"]["data"]["name"], "acme");
    assert_eq!(created["body"]["data"]["monthlyLimit"], 100);
    assert!(created["id"].as_str().unwrap().starts_with("msg_"));

    let (status, _) =
        server.call("PATCH", &format!("/api/admin/licenses/{id}"), &admin, Some(json!({"monthlyLimit": 5}))).await;
    assert_eq!(status, 200);
    let changed = receiver.next_of("license.changed", WAIT);
    assert_eq!(
        (changed["body"]["data"]["monthlyLimit"].clone(), changed["body"]["data"]["changed"].clone()),
        (json!(5), json!(["monthlyLimit"]))
    );
    let (status, rotated) = server.call("POST", &format!("/api/admin/licenses/{id}/rotate"), &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(receiver.next_of("license.rotated", WAIT)["body"]["data"]["publicKey"], rotated["publicKey"]);
    let (status, _) = server.call("POST", &format!("/api/admin/licenses/{id}/revoke"), &admin, None).await;
    assert_eq!(status, 200);
    let revoked = receiver.next_of("license.revoked", WAIT);
    assert_eq!(revoked["body"]["data"]["licenseId"], id);

    let shown = wait_for_deliveries(&server, &admin, &everything, "four delivered", |found| {
        found.len() == 4 && found.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(shown[0]["messageId"], revoked["id"], "newest first, by the message's webhook-id");
    assert!(shown.iter().all(|d| d["attempts"] == 1 && d["lastStatusCode"] == 204), "{shown:?}");
    assert!(deliveries(&server, &admin, &origins_only).await.is_empty(), "the filter let licence events through");
    assert!(receiver.so_far().is_empty(), "only the first endpoint was sent anything");
}

/// Concurrent registrations cross 80 % and 100 % of a monthly limit: one message
/// each. Every registration is acknowledged only once its transaction (and so its
/// messages) committed, so the deliveries the API lists are all there are.
pub async fn thresholds_are_sent_once(servers: &[&TestServer], admin: &str, endpoint: &str, receiver: &Receiver) {
    let (id, key) = create_licence(servers[0], admin, json!({ "name": "metered", "monthlyLimit": 10 })).await;
    let sends: Vec<_> = (0..24)
        .map(|i| {
            let server = servers[i % servers.len()];
            let request = server.client.post(format!("{}{REGISTER}", server.url)).json(&event(
                &key,
                "webcodec-conversion",
                "https://shop.example.com",
                true,
            ));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }
    let crossed = receiver.next_of_each(&["license.limit_approaching", "license.limit_reached"], WAIT);
    let (approaching, reached) = (&crossed[0], &crossed[1]);
    assert_eq!(approaching["body"]["data"]["licenseId"], id);
    assert_eq!(approaching["body"]["data"]["thresholdPercent"], 80);
    assert!(approaching["body"]["data"]["billableThisMonth"].as_u64().unwrap() >= 8);
    assert!(reached["body"]["data"]["billableThisMonth"].as_u64().unwrap() >= 10);
    let found = deliveries(servers[0], admin, endpoint).await;
    assert_eq!(count_of(&found, "license.limit_approaching"), 1, "{found:?}");
    assert_eq!(count_of(&found, "license.limit_reached"), 1, "{found:?}");
}

/// A new unlicensed origin is told once per origin; a key on an origin it is not
/// allowed on, once per key and origin.
pub async fn origin_events_are_sent_once_each(database_url: &str) {
    let admin = create_admin_token(database_url, "vendor");
    let server = TestServer::start(database_url);
    let receiver = Receiver::start(0);
    let (endpoint, secret) =
        add_endpoint(&server, &admin, &receiver.url(), &["origin.unlicensed", "license.origin_not_allowed"]).await;
    receiver.set(Some(&secret), "ok").await;
    let (id, key) =
        create_licence(&server, &admin, json!({ "name": "pinned", "allowedOrigins": ["https://good.example.com"] }))
            .await;
    for host in ["https://a.example.com", "https://a.example.com", "https://b.example.com"] {
        assert_eq!(server.register(event_with_api_key(Value::Null, host, true)).await.0, 200);
    }
    for _ in 0..2 {
        for host in ["https://bad.example.com", "https://good.example.com"] {
            assert_eq!(server.register(event(&key, "webcodec-conversion", host, true)).await.0, 200);
        }
    }
    let found = wait_for_deliveries(&server, &admin, &endpoint, "three delivered", |found| {
        found.len() == 3 && found.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(count_of(&found, "origin.unlicensed"), 2, "{found:?}");
    assert_eq!(count_of(&found, "license.origin_not_allowed"), 1, "{found:?}");
    let mut seen: Vec<Value> = (0..3).map(|_| receiver.next(WAIT)).collect();
    assert!(seen.iter().all(|line| line["verified"] == true), "{seen:?}");
    seen.sort_by_key(|line| line["body"]["data"]["origin"].as_str().unwrap().to_owned());
    let origins: Vec<_> = seen.iter().map(|line| line["body"]["data"]["origin"].clone()).collect();
    assert_eq!(
        origins,
        [json!("https://a.example.com"), json!("https://b.example.com"), json!("https://bad.example.com")]
    );
    assert_eq!(seen[2]["body"]["data"]["licenseId"], id);
    assert_eq!(seen[0]["body"]["data"]["apiKey"], Value::Null);
}
