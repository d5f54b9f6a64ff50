//! Exactly once under crashes and across servers: 32 concurrent clients, the
//! server killed with SIGKILL mid-load, unacknowledged events re-sent to the
//! restarted server; and three servers on one PostgreSQL receiving the same
//! eventIds at once. Events and rollups both count each event once.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::postgres::TestPostgres;
use common::*;
use serde_json::{json, Value};
use usage_core::{Granularity, UsageRange, MS_PER_DAY};
use usage_server::store::Store;

const CLIENTS: usize = 32;
const EVENTS_PER_CLIENT: usize = 50;

fn body(key: &Keys, event_id: &str) -> Value {
    json!({"event": "webcodec-conversion", "apiKey": key.public, "host": "https://customer.com",
           "succeeded": true, "eventId": event_id})
}

/// Raw events and rollup counts of everything stored.
async fn stored_counts(url: &str) -> (u64, u64) {
    let store = Store::open(url).await.unwrap();
    let now = now_ms();
    let range = UsageRange { since_ms: now - 2 * MS_PER_DAY, until_ms: now + 1, granularity: Granularity::Day };
    let raw = store.count_rows_raw(None, &range).await.unwrap().iter().map(|r| r.count).sum();
    let rolled = store.count_rows(None, &range).await.unwrap().iter().map(|r| r.count).sum();
    store.close().await;
    (raw, rolled)
}

async fn crash_mid_load_then_resend(url: &str) {
    let key = create_key(url, "acme");
    let server = TestServer::start_with(url, &["--rate-limit-per-key", "0"]);
    let endpoint = format!("{}{REGISTER}", server.url);
    let ids: Vec<Vec<String>> = (0..CLIENTS).map(|_| (0..EVENTS_PER_CLIENT).map(|_| uuid()).collect()).collect();
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let acks = Arc::new(AtomicUsize::new(0));
    let reached_half = Arc::new(tokio::sync::Notify::new());
    let clients: Vec<_> = ids
        .iter()
        .cloned()
        .map(|ids| {
            let (client, endpoint, key) = (server.client.clone(), endpoint.clone(), key.clone());
            let (acknowledged, acks, reached_half) = (acknowledged.clone(), acks.clone(), reached_half.clone());
            tokio::spawn(async move {
                for id in ids {
                    let sent = client.post(&endpoint).json(&body(&key, &id)).send().await;
                    if sent.is_ok_and(|response| response.status() == 200) {
                        acknowledged.lock().unwrap().insert(id);
                        if acks.fetch_add(1, Ordering::SeqCst) + 1 == CLIENTS * EVENTS_PER_CLIENT / 2 {
                            reached_half.notify_one();
                        }
                    }
                }
            })
        })
        .collect();
    // Kill the server while half the events are acknowledged and the rest in flight.
    reached_half.notified().await;
    server.crash();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let all: Vec<String> = ids.into_iter().flatten().collect();
    assert!(
        acknowledged.len() >= all.len() / 2 && acknowledged.len() < all.len(),
        "{} acknowledged",
        acknowledged.len()
    );

    // Every acknowledged event survived; the unacknowledged are re-sent (some were
    // stored but not answered: they must not count twice).
    let server = TestServer::start_with(url, &["--rate-limit-per-key", "0"]);
    for id in all.iter().filter(|id| !acknowledged.contains(*id)) {
        assert_eq!(server.register(body(&key, id)).await.0, 200);
    }
    let usage = server.usage(&key.secret, None).await;
    assert_eq!(usage["webcodecConversions"]["billable"], all.len() as u64, "none lost, none doubled");
    server.stop();
    assert_eq!(stored_counts(url).await, (all.len() as u64, all.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill_9_mid_load_loses_and_doubles_nothing() {
    let db = TestDb::sqlite();
    crash_mid_load_then_resend(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill_9_mid_load_loses_and_doubles_nothing() {
    let Some(pg) = TestPostgres::start() else { return };
    crash_mid_load_then_resend(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_on_one_postgres_count_each_event_once() {
    let Some(pg) = TestPostgres::start() else { return };
    let key = create_key(&pg.url, "acme");
    // 300 connections at once to each, all from 127.0.0.1: over the default per-address cap.
    let flags = ["--rate-limit-per-key", "0", "--max-connections-per-address", "400"];
    let servers: Vec<TestServer> = (0..3).map(|_| TestServer::start_with(&pg.url, &flags)).collect();
    let ids: Vec<String> = (0..300).map(|_| uuid()).collect();
    let mut sends = Vec::new();
    for id in &ids {
        for server in &servers {
            let request = server.client.post(format!("{}{REGISTER}", server.url)).json(&body(&key, id));
            sends.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }));
        }
    }
    for send in sends {
        let (status, json) = send.await.unwrap();
        assert_eq!((status, json["classification"].as_str()), (200, Some("billable")), "{json}");
    }
    for server in &servers {
        assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"]["billable"], 300);
    }
    assert_eq!(stored_counts(&pg.url).await, (300, 300));
}
