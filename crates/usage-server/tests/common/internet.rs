//! Issue 22's attacks that both engines must hold against, over HTTP.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

/// 3,500 events from origins never seen, with a cap of 100 new origins a day:
/// every event counted, 100 origins listed per account, the rest told as folded.
pub async fn invented_origins_fold(url: &str) {
    let key = create_key(url, "acme");
    let admin = create_admin_token(url, "vendor");
    let flags = ["--max-new-origins-per-day", "100", "--rate-limit-per-address", "0", "--rate-limit-per-key", "0"];
    let server = TestServer::start_with(url, &flags);
    // 3,000 unlicensed events and 500 with the key, each from an origin never seen.
    for batch in 0..35 {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                let host = format!("https://invented-{batch}-{i}.example.com");
                if batch < 30 {
                    event_with_api_key(Value::Null, &host, true)
                } else {
                    event(&key, "webcodec-conversion", &host, true)
                }
            })
            .collect();
        let (status, json) = server.post(REGISTER_MANY, Value::Array(events)).await;
        assert_eq!(status, 200, "{json}");
        assert!(json["results"].as_array().unwrap().iter().all(|r| r["classification"] == "billable"), "{json}");
    }
    // A known origin stays itself once the cap is reached.
    server.register_ok(event(&key, "webcodec-conversion", "https://invented-30-0.example.com", true)).await;

    let view = server.get_ok(ADMIN_USAGE, "", &admin).await;
    assert_eq!(view["unlicensed"]["totals"]["webcodecConversions"], counts(3000, 0, 0), "nothing lost");
    assert_eq!(view["unlicensed"]["foldedOrigins"], counts(2900, 0, 0));
    assert_eq!(view["unlicensed"]["origins"].as_array().unwrap().len(), 100);
    assert_eq!(view["licenses"][0]["foldedOrigins"], counts(400, 0, 0));
    assert!(view["origins"].as_array().unwrap().iter().all(|o| o["origin"] != "(other origins)"));
    let breakdown = server.get_ok(BREAKDOWN, "", &key.secret).await;
    assert_eq!(breakdown["foldedOrigins"], counts(400, 0, 0));
    assert_eq!(breakdown["totals"]["webcodecConversions"], counts(501, 0, 0));
    let first = &breakdown["origins"][0];
    assert_eq!(
        (first["origin"].as_str(), first["billable"].as_u64()),
        (Some("https://invented-30-0.example.com"), Some(2))
    );
    server.stop();
}

/// A licence whose key is allowed on its own site only, its key copied onto
/// another: that site's events are stored, shown, never billed, limited as
/// unpaid use of their address; the licensee's own events and limit are its own.
pub async fn copied_key_on_another_site(url: &str) {
    let allowed = ["--allowed-origin", "https://victim-customer.com", "--monthly-limit", "5"];
    let key = create_key_with(url, "victim", &allowed);
    let admin = create_admin_token(url, "vendor");
    let server = TestServer::start_with(url, &["--rate-limit-per-address", "300"]);
    let (attacker, licensee) = (TestServer::client_from("127.0.0.2"), TestServer::client_from("127.0.0.3"));
    let post = |client: &reqwest::Client, path: &str, origin: &str, body: Value| {
        client.post(format!("{}{path}", server.url)).header("origin", origin).json(&body).send()
    };
    let copied = event(&key, "webcodec-conversion", "https://pirate.com", true);

    // The copied key, flooded from another site's pages: stored, never billed, and
    // limited as unpaid use of that address (300 a minute), not the licence's.
    let mut stored_elsewhere = 0;
    for _ in 0..4 {
        let batch = Value::Array(vec![copied.clone(); 100]);
        let json: Value =
            post(&attacker, REGISTER_MANY, "https://pirate.com", batch).await.unwrap().json().await.unwrap();
        for result in json["results"].as_array().unwrap() {
            if result["status"] == 429 {
                continue;
            }
            assert_eq!(result["billable"], false, "{result}");
            assert_eq!(result["allowedOrigin"], false, "{result}");
            assert!(result.get("overLimit").is_none(), "overLimit is not told to other sites: {result}");
            stored_elsewhere += 1;
        }
    }
    assert_eq!(stored_elsewhere, 300);
    let single: Value =
        post(&attacker, REGISTER, "https://pirate.com", copied.clone()).await.unwrap().json().await.unwrap();
    assert!(single["error"].as_str().unwrap().starts_with("too many events from this client address"), "{single}");

    // Meanwhile the licensee's own site counts, and its limit is its own.
    let own = event(&key, "webcodec-conversion", "https://victim-customer.com", true);
    for i in 1..=8 {
        let response = post(&licensee, REGISTER, "https://victim-customer.com", own.clone()).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let json: Value = response.json().await.unwrap();
        assert_eq!((json["billable"].as_bool(), json.get("allowedOrigin")), (Some(true), None), "{json}");
        assert_eq!(json["overLimit"].as_bool(), (i > 5).then_some(true), "after {i}: {json}");
    }
    // Development with the key stays the licensee's.
    let local =
        post(&licensee, REGISTER, "http://localhost:5173", event(&key, "cloud-render", "http://localhost:5173", true));
    assert_eq!(local.await.unwrap().json::<Value>().await.unwrap()["classification"], "development");

    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(8, 0, 0), "only the licensee's own events are billed");
    assert_eq!(usage["cloudRenders"], counts(0, 1, 0));
    assert_eq!(usage["limit"]["used"], 8);
    let breakdown = server.get_ok(BREAKDOWN, "", &key.secret).await;
    assert_eq!(
        breakdown["notAllowedOrigins"],
        json!([{"origin": "https://pirate.com", "billable": 300, "development": 0, "failed": 0}])
    );
    assert!(breakdown["origins"].as_array().unwrap().iter().all(|o| o["origin"] != "https://pirate.com"));
    let view = server.get_ok(ADMIN_USAGE, "", &admin).await;
    assert_eq!(view["licenses"][0]["notAllowedOrigins"][0]["origin"], "https://pirate.com");
    assert_eq!(view["licenses"][0]["totals"]["webcodecConversions"], counts(8, 0, 0));
    let pair = view["origins"].as_array().unwrap().iter().find(|o| o["origin"] == "https://pirate.com").unwrap();
    assert_eq!(
        (pair["license"].as_str(), pair["notAllowed"].as_bool()),
        (Some("victim (origin not allowed)"), Some(true))
    );

    // What allowed origins cannot stop: a script outside a browser that forges the
    // licensee's origin is counted as the licensee (docs/SECURITY.md says so).
    let forged = attacker.post(format!("{}{REGISTER}", server.url)).json(&own).send().await.unwrap();
    assert_eq!(forged.json::<Value>().await.unwrap()["billable"], true);

    // Allowing the other site too takes effect on a running server within the key cache's 2 s.
    let (ok, _, stderr) =
        cli(url, &["keys", "set-allowed-origins", "victim", "https://victim-customer.com", "https://pirate.com"]);
    assert!(ok, "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let json: Value =
            post(&licensee, REGISTER, "https://pirate.com", copied.clone()).await.unwrap().json().await.unwrap();
        if json["billable"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "still not allowed: {json}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
}
