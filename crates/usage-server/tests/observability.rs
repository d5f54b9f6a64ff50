//! Operating the server: JSON logs with request ids and no secrets or client
//! addresses, and Prometheus metrics on their own listener, scraped by a real
//! Prometheus (Debian's package) whose HTTP API must count what the test sent.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secret_or_address() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let admin = create_admin_token(&db.url, "vendor");
    let mut server = TestServer::start_with(&db.url, &["--log-format", "json", "--rate-limit-per-address", "2"]);
    // A client on another loopback address, so that its address is one no other line has.
    let client = TestServer::client_from("127.0.0.3");
    let register = format!("{}{REGISTER}", server.url);
    let ours = client
        .post(&register)
        .header("x-request-id", "test-7f3a")
        .json(&event(&key, "webcodec-conversion", "https://customer.com", true))
        .send()
        .await
        .unwrap();
    assert_eq!(ours.headers()["x-request-id"], "test-7f3a", "the id given is answered back");
    // An id a client could use to write into the logs is replaced by a fresh one.
    let forged = client
        .get(format!("{}/api/usage/breakdown", server.url))
        .header("x-request-id", "x\"}, {\"level\":\"ERROR")
        .bearer_auth(&key.secret)
        .send()
        .await
        .unwrap();
    let fresh = forged.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(fresh.len(), 36, "a UUID: {fresh}");
    client.get(format!("{}/api/admin/licenses", server.url)).bearer_auth(&admin).send().await.unwrap();
    client.get(format!("{}/api/admin/licenses", server.url)).bearer_auth("rm_adm_not-a-token").send().await.unwrap();
    // Unpaid events past the per-address limit: 429, which logs nothing of the address.
    for _ in 0..3 {
        client
            .post(&register)
            .json(&event_with_api_key(Value::Null, "https://elsewhere.com", true))
            .send()
            .await
            .unwrap();
    }
    server.terminate();
    let lines = server.remaining_log_lines();

    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}")))
        .collect();
    let access: Vec<&Value> =
        parsed.iter().filter(|line| line["target"] == "usage_server::access" && line["message"] == "request").collect();
    assert_eq!(access.len(), 7, "one access line per request: {access:#?}");
    let line = access.iter().find(|line| line["request_id"] == "test-7f3a").expect("the access line with our id");
    assert_eq!(
        (&line["level"], &line["method"], &line["route"], &line["status"], &line["span"]["request_id"]),
        (&json!("INFO"), &json!("POST"), &json!(REGISTER), &json!(200), &json!("test-7f3a"))
    );
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(access.iter().any(|line| line["request_id"] == fresh.as_str() && line["route"] == BREAKDOWN));
    let statuses: Vec<u64> = access.iter().map(|line| line["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 200, 200, 401, 200, 200, 429]);
    for line in &lines {
        for secret in [&key.public, &key.secret, &admin, "rm_adm_not-a-token", "127.0.0.3", "customer.com"] {
            assert!(!line.contains(secret), "a log line holds {secret}: {line}");
        }
    }
    assert!(parsed.iter().any(|line| line["message"] == "usage-server stopped; every acknowledged event is stored"));
}

#[tokio::test]
async fn prometheus_scrapes_what_was_stored() {
    let Some(prometheus) = which("prometheus") else {
        assert!(
            std::env::var_os("USAGE_TEST_REQUIRE_PROMETHEUS").is_none(),
            "Prometheus is required but not installed: run scripts/setup.sh"
        );
        eprintln!("prometheus not installed; skipping (scripts/setup.sh installs it)");
        return;
    };
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let mut server = TestServer::start_with(&db.url, &["--metrics-addr", "127.0.0.1:0"]);
    let metrics_url =
        server.stdout_line().strip_prefix("usage-server metrics on ").expect("the metrics line").to_owned();
    let metrics_addr = metrics_url.trim_start_matches("http://").trim_end_matches("/metrics").to_owned();
    // The public port does not serve metrics.
    assert_eq!(server.get("/metrics", "", None).await.status, 404);

    // 12 billable, 5 development, 3 failed for the licence; 4 unlicensed; one repeat.
    let mut sent = 0;
    for (host, succeeded, times) in
        [("https://customer.com", true, 12), ("http://localhost:3000", true, 5), ("https://customer.com", false, 3)]
    {
        for _ in 0..times {
            server.register_ok(event(&key, "webcodec-conversion", host, succeeded)).await;
            sent += 1;
        }
    }
    for _ in 0..4 {
        server.register_ok(event_with_api_key(Value::Null, "https://unlicensed.com", true)).await;
        sent += 1;
    }
    let repeat = json!({"event": "webcodec-conversion", "apiKey": key.public, "host": "https://customer.com",
        "succeeded": true, "eventId": "0f0e0d0c-0b0a-4908-8706-050403020100"});
    server.register_ok(repeat.clone()).await;
    server.register_ok(repeat).await; // the same eventId: not stored again
    sent += 1;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: usage-server\n    static_configs:\n      - targets: ['{metrics_addr}']\n"
        ),
    )
    .unwrap();
    let _prometheus = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{port}/api/v1/query");
    let stored = query_until(&api, "sum(usage_events_stored_total)", f64::from(sent)).await;
    assert_eq!(stored, f64::from(sent), "Prometheus counts every event stored, once");
    let by = |labels: &str| format!("sum by ({labels}) (usage_events_stored_total)");
    let kinds = query_vector(&api, &by("account, classification")).await;
    let expected = [
        (("licence", "billable"), 13.0),
        (("licence", "development"), 5.0),
        (("licence", "failed"), 3.0),
        (("unlicensed", "billable"), 4.0),
    ];
    for ((account, classification), count) in expected {
        let found =
            kinds.iter().find(|(labels, _)| labels["account"] == account && labels["classification"] == classification);
        assert_eq!(found.map(|(_, value)| *value), Some(count), "{account} {classification}: {kinds:?}");
    }
    let requests = query_vector(&api, "sum by (route, status) (usage_http_requests_total)").await;
    let registered = requests.iter().find(|(labels, _)| labels["route"] == REGISTER && labels["status"] == "200");
    assert_eq!(registered.map(|(_, value)| *value), Some(f64::from(sent) + 1.0), "{requests:?}");
    let up = query_vector(&api, "usage_build_info").await;
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 1.0);
    let batches = query_vector(&api, "usage_writer_batch_events_count").await;
    assert!(batches[0].1 >= 1.0, "{batches:?}");
    let free = query_vector(&api, "usage_database_disk_free_bytes").await;
    assert!(free[0].1 > 1e6, "the SQLite disk's free space is measured: {free:?}");
    server.stop();
}

/// A child process killed when the test ends, whichever way.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|path| path.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `query`'s single value, asked again each half second until it is `expected`
/// or 30 s have passed (Prometheus scrapes every second); the last value.
async fn query_until(api: &str, query: &str, expected: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = query_vector(api, query).await.first().map(|(_, value)| *value);
        if value == Some(expected) || Instant::now() > deadline {
            return value.unwrap_or(f64::NAN);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An instant query's series: labels and value. Empty while Prometheus starts.
async fn query_vector(api: &str, query: &str) -> Vec<(Value, f64)> {
    let Ok(response) = reqwest::Client::new().get(api).query(&[("query", query)]).send().await else {
        return Vec::new();
    };
    let Ok(body) = response.json::<Value>().await else { return Vec::new() };
    body["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .map(|one| (one["metric"].clone(), one["value"][1].as_str().unwrap().parse::<f64>().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}
