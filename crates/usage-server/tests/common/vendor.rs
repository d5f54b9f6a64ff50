//! The vendor's questions, end to end on a real server: run on SQLite
//! (`vendor_api.rs`) and on PostgreSQL (`postgres.rs`) alike.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// Records events with chosen timestamps through the store's own write path
/// (events and rollups in one transaction), as if they had been registered then:
/// `(created_at_ms, origin, kind, classification)`.
pub async fn insert_events(database_url: &str, key_name: &str, events: &[(i64, Option<&str>, &str, &str)]) {
    use usage_server::store::{Account, NewEvent, Store};
    let store = Store::open(database_url).await.unwrap();
    let key = store.list_keys().await.unwrap().into_iter().find(|key| key.name == key_name).unwrap();
    let events: Vec<NewEvent> = events
        .iter()
        .map(|(created_at_ms, origin, kind, classification)| NewEvent {
            account: Account::Key(key.id),
            event_id: usage_core::EventId::parse(&uuid()),
            kind: kind.parse().unwrap(),
            classification: usage_core::Classification::from_name(classification).unwrap(),
            origin: origin.map(str::to_owned),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: *created_at_ms,
        })
        .collect();
    store.record_events(events).await.unwrap();
    store.close().await;
}

/// Sums a CSV export's `count` column per classification.
pub fn csv_sums(rows: &[Vec<String>]) -> HashMap<String, u64> {
    let header = &rows[0];
    let classification = header.iter().position(|c| c == "classification").unwrap();
    let count = header.iter().position(|c| c == "count").unwrap();
    let mut sums = HashMap::new();
    for row in &rows[1..] {
        *sums.entry(row[classification].clone()).or_insert(0) += row[count].parse::<u64>().unwrap();
    }
    sums
}

/// Sums `series[*].webcodecConversions` (or another kind).
pub fn series_sum(answer: &Value, kind: &str) -> Value {
    let mut sum = [0u64; 3];
    for bucket in answer["series"].as_array().unwrap() {
        for (i, class) in ["billable", "development", "failed"].iter().enumerate() {
            sum[i] += bucket[kind][class].as_u64().unwrap();
        }
    }
    counts(sum[0], sum[1], sum[2])
}

/// Keyless and free-license events, monthly limits, the breakdown, the vendor's
/// view and both exports, checked against each other.
pub async fn vendor_questions(database_url: &str) {
    let acme = create_key_with(database_url, "acme", &["--monthly-limit", "2"]);
    let beta = create_key(database_url, "beta");
    let admin = create_admin_token(database_url, "vendor");
    let server = TestServer::start(database_url);

    // Keyless: absent and null; the Origin header still outranks the claim.
    let mut absent = event_with_api_key(Value::Null, "https://pirate-converter.com", true);
    absent.as_object_mut().unwrap().remove("apiKey");
    assert_eq!(server.register_ok(absent).await, "billable");
    let (status, json) = server
        .post_raw(
            REGISTER,
            Some("text/plain"),
            Some("https://pirate-converter.com"),
            event_with_api_key(Value::Null, "http://localhost", true).to_string(),
        )
        .await;
    assert_eq!((status, json["classification"].as_str()), (200, Some("billable")), "{json}");
    assert_eq!(server.register_ok(event_with_api_key(Value::Null, "http://localhost:8080", true)).await, "development");
    assert_eq!(
        server.register_ok(event_with_api_key(Value::Null, "https://pirate-converter.com", false)).await,
        "failed"
    );
    // Free license.
    assert_eq!(
        server.register_ok(event_with_api_key(json!("free-license"), "https://hobby.dev", true)).await,
        "billable"
    );
    assert_eq!(
        server.register_ok(event_with_api_key(json!("free-license"), "http://localhost:3000", true)).await,
        "development"
    );
    // One eventId is unique within each bucket and each key, not across them.
    let shared_id = uuid();
    for api_key in [Value::Null, Value::Null, json!("free-license"), json!("free-license"), json!(acme.public)] {
        let mut body = event_with_api_key(api_key, "https://shared-id.com", true);
        body["eventId"] = json!(shared_id);
        let (status, json) = server.register(body).await;
        assert_eq!(status, 200, "{json}");
        assert!(json.get("overLimit").is_none(), "the first billable event of a limit of 2: {json}");
    }

    // Monthly limit of 2 billable events: the 3rd billable is over, still counted.
    let (_, json) = server.register(event(&acme, "web-render", "https://acme.com", true)).await;
    assert!(json.get("overLimit").is_none(), "{json}");
    let mut third = event(&acme, "cloud-render", "https://acme.com", true);
    third["eventId"] = json!(uuid());
    let (status, json) = server.register(third.clone()).await;
    assert_eq!((status, &json["overLimit"]), (200, &json!(true)), "{json}");
    let (_, json) = server.register(third).await; // a retry of it: still over, counted once
    assert_eq!(json["overLimit"], true);
    let (_, json) = server.register(event(&acme, "webcodec-conversion", "http://localhost", true)).await;
    assert!(json.get("overLimit").is_none(), "development events are never over: {json}");
    let (_, json) = server.register(event(&acme, "webcodec-conversion", "https://acme.com", false)).await;
    assert!(json.get("overLimit").is_none(), "failed events are never over: {json}");

    // get-usage: the key's own events only, and its limit.
    let usage = server.usage(&acme.secret, None).await;
    assert_eq!(usage["webcodecConversions"], counts(2, 1, 1), "{usage}");
    assert_eq!(usage["cloudRenders"], counts(1, 0, 0));
    let limit = &usage["limit"];
    assert_eq!(
        (limit["monthlyBillable"].as_u64(), limit["used"].as_u64(), limit["remaining"].as_u64()),
        (Some(2), Some(3), Some(0))
    );
    let period_start = limit["periodStart"].as_i64().unwrap();
    let period_end = limit["periodEnd"].as_i64().unwrap();
    assert!(period_start <= now_ms() && now_ms() < period_end && period_start % DAY_MS == 0);
    let beta_usage = server.usage(&beta.secret, None).await;
    assert_eq!(beta_usage["webcodecConversions"], counts(0, 0, 0));
    assert!(beta_usage.get("limit").is_none(), "{beta_usage}");

    // The licensee's breakdown agrees with get-usage and lists only its origins.
    let breakdown = server.get_ok(BREAKDOWN, "", &acme.secret).await;
    for kind in ["webcodecConversions", "cloudRenders", "webRenders"] {
        assert_eq!(breakdown["totals"][kind], usage[kind], "{kind}");
        assert_eq!(series_sum(&breakdown, kind), usage[kind], "{kind}");
    }
    assert_eq!(breakdown["limit"], usage["limit"]);
    assert_eq!(breakdown["granularity"], "day");
    let origins: Vec<&str> =
        breakdown["origins"].as_array().unwrap().iter().map(|o| o["origin"].as_str().unwrap()).collect();
    assert_eq!(origins, ["https://acme.com", "http://localhost", "https://shared-id.com"]);
    assert_eq!(
        breakdown["origins"][0],
        json!({"origin": "https://acme.com", "billable": 2, "development": 0, "failed": 1})
    );
    assert_eq!(breakdown["otherOrigins"], counts(0, 0, 0));

    // The vendor's view: every licence, and the unlicensed and free-license sites.
    let view = server.get_ok(ADMIN_USAGE, "", &admin).await;
    let licenses = view["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 2);
    assert_eq!(
        (licenses[0]["name"].as_str(), licenses[0]["publicKey"].as_str()),
        (Some("acme"), Some(acme.public.as_str()))
    );
    assert_eq!(licenses[0]["revoked"], false);
    assert_eq!(licenses[0]["totals"]["webcodecConversions"], usage["webcodecConversions"]);
    assert_eq!(licenses[0]["limit"], usage["limit"]);
    assert!(licenses[1].get("limit").is_none());
    assert_eq!(view["unlicensed"]["totals"]["webcodecConversions"], counts(3, 1, 1), "{view}");
    assert_eq!(
        view["unlicensed"]["origins"][0],
        json!({"origin": "https://pirate-converter.com", "billable": 2, "development": 0, "failed": 1})
    );
    assert_eq!(view["freeLicense"]["totals"]["webcodecConversions"], counts(2, 1, 0));
    let pairs: Vec<(Option<&str>, Option<&str>, u64)> = view["origins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["origin"].as_str(), o["license"].as_str(), o["billable"].as_u64().unwrap()))
        .collect();
    // Both have 3 events; ties go by origin.
    assert_eq!(pairs[0], (Some("https://acme.com"), Some("acme"), 2));
    assert_eq!(pairs[1], (Some("https://pirate-converter.com"), None, 2));
    assert!(pairs.contains(&(Some("https://hobby.dev"), Some("free-license"), 1)), "{pairs:?}");
    assert!(pairs.contains(&(Some("https://shared-id.com"), None, 1)), "{pairs:?}");
    let all = [8u64, 3, 2]; // every event of every account: billable, development, failed
    assert_eq!(series_sum(&view, "webcodecConversions"), counts(all[0] - 1, all[1], all[2]), "{view}");
    assert_eq!(series_sum(&view, "cloudRenders"), counts(1, 0, 0));

    // Both exports, parsed back and summed, agree with the JSON views.
    let export = server.get(USAGE_CSV, "", Some(&acme.secret)).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(export.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let disposition = export.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"usage-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let rows = csv_rows(&export.text);
    assert_eq!(rows[0], ["day", "origin", "event", "classification", "count"]);
    let sums = csv_sums(&rows);
    assert_eq!((sums.get("billable"), sums.get("development"), sums.get("failed")), (Some(&3), Some(&1), Some(&1)));
    assert!(rows[1..].iter().all(|row| row[0].len() == 10 && !row[1].contains("pirate")), "{rows:?}");
    let export = server.get(ADMIN_CSV, "granularity=hour&since=".to_owned().as_str(), Some(&admin)).await;
    assert_eq!(export.status, 400, "since= is not a number: {}", export.text);
    let export = server.get(ADMIN_CSV, "", Some(&admin)).await;
    let rows = csv_rows(&export.text);
    assert_eq!(rows[0], ["day", "license", "origin", "event", "classification", "count"]);
    let sums = csv_sums(&rows);
    assert_eq!((sums["billable"], sums["development"], sums["failed"]), (all[0], all[1], all[2]));
    assert!(rows.iter().any(|row| row[1].is_empty() && row[2] == "https://pirate-converter.com"));
    assert!(rows.iter().any(|row| row[1] == "free-license" && row[2] == "https://hobby.dev"));
    assert!(rows.iter().any(|row| row[1] == "acme" && row[2] == "https://acme.com"));
}

/// Day and hour buckets around UTC midnights, hours and the month's start,
/// empty buckets included, summing to get-usage.
pub async fn breakdown_buckets(database_url: &str) {
    let key = create_key(database_url, "acme");
    let monthly = create_key_with(database_url, "monthly", &["--monthly-limit", "1"]);
    let server = TestServer::start(database_url);
    let today = now_ms() / DAY_MS * DAY_MS;
    let midnight = today - 2 * DAY_MS; // two UTC midnights ago
    let shop = Some("https://shop.com");
    insert_events(
        database_url,
        "acme",
        &[
            (midnight - 1, shop, "webcodec-conversion", "billable"),
            (midnight, shop, "webcodec-conversion", "billable"),
            (midnight + HOUR_MS - 1, None, "cloud-render", "failed"),
            (midnight + HOUR_MS, shop, "web-render", "development"),
            (midnight + 5 * HOUR_MS, Some("https://other.com"), "webcodec-conversion", "billable"),
        ],
    )
    .await;

    let since = midnight - DAY_MS;
    let day = server.get_ok(BREAKDOWN, &format!("since={since}&granularity=day"), &key.secret).await;
    let starts: Vec<i64> = day["series"].as_array().unwrap().iter().map(|b| b["start"].as_i64().unwrap()).collect();
    assert_eq!(starts, [midnight - DAY_MS, midnight, midnight + DAY_MS, today]);
    assert_eq!(day["series"][0]["webcodecConversions"], counts(1, 0, 0));
    assert_eq!(day["series"][1]["webcodecConversions"], counts(2, 1, 0));
    assert_eq!(day["series"][1]["webRenders"], counts(2, 1, 0));
    assert_eq!(day["series"][1]["cloudRenders"], counts(0, 0, 1));
    assert_eq!(day["series"][2]["webcodecConversions"], counts(0, 0, 0), "an empty day is listed");
    assert_eq!((day["since"].as_i64(), day["until"].as_i64().unwrap() <= now_ms()), (Some(since), true));
    let usage = server.usage(&key.secret, Some(since)).await;
    for kind in ["webcodecConversions", "cloudRenders", "webRenders"] {
        assert_eq!(day["totals"][kind], usage[kind], "{kind}");
    }
    assert_eq!(
        day["origins"],
        json!([
            {"origin": "https://shop.com", "billable": 2, "development": 1, "failed": 0},
            {"origin": null, "billable": 0, "development": 0, "failed": 1},
            {"origin": "https://other.com", "billable": 1, "development": 0, "failed": 0},
        ])
    );

    let hour = server
        .get_ok(
            BREAKDOWN,
            &format!("since={}&until={}&granularity=hour", midnight - HOUR_MS, midnight + 6 * HOUR_MS),
            &key.secret,
        )
        .await;
    let series = hour["series"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    let per_hour: Vec<u64> = series
        .iter()
        .map(|b| {
            ["webcodecConversions", "cloudRenders"]
                .iter()
                .map(|kind| {
                    ["billable", "development", "failed"].iter().map(|c| b[kind][c].as_u64().unwrap()).sum::<u64>()
                })
                .sum()
        })
        .collect();
    assert_eq!(per_hour, [1, 2, 1, 0, 0, 0, 1]);
    assert_eq!(series[1]["start"].as_i64(), Some(midnight));
    // An until before the 5 o'clock event leaves it out of series, origins and totals.
    let cut = server
        .get_ok(
            BREAKDOWN,
            &format!("since={}&until={}&granularity=hour", midnight, midnight + 5 * HOUR_MS),
            &key.secret,
        )
        .await;
    assert_eq!(cut["totals"]["webcodecConversions"], counts(1, 1, 0));
    assert_eq!(cut["series"].as_array().unwrap().len(), 5);

    // The month's start (UTC): events just before it are last month's.
    let month_start = usage_core::month_period_utc_ms(now_ms()).0;
    insert_events(
        database_url,
        "monthly",
        &[
            (month_start - 1, shop, "webcodec-conversion", "billable"),
            (month_start, shop, "webcodec-conversion", "billable"),
            (month_start + 1, shop, "cloud-render", "billable"),
        ],
    )
    .await;
    let usage = server.usage(&monthly.secret, None).await;
    assert_eq!(
        (usage["webcodecConversions"].clone(), usage["cloudRenders"].clone()),
        (counts(1, 0, 0), counts(1, 0, 0))
    );
    assert_eq!((usage["limit"]["used"].as_u64(), usage["limit"]["remaining"].as_u64()), (Some(2), Some(0)));
    assert_eq!(usage["limit"]["periodStart"].as_i64(), Some(month_start));
    let month = server.get_ok(BREAKDOWN, "", &monthly.secret).await;
    assert_eq!(month["series"][0]["start"].as_i64(), Some(month_start));
    assert_eq!(month["series"][0]["webcodecConversions"], counts(1, 0, 0));
    assert_eq!(month["totals"]["cloudRenders"], counts(1, 0, 0));
}
