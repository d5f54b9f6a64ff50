//! `usage-server backup` of a live SQLite database under a 16-client load, and
//! `usage-server restore`: the copy passes `integrity_check`, restores, and
//! counts every event acknowledged before the backup began and nothing that was
//! never sent; a database in use is never replaced.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::*;
use serde_json::{json, Value};
use tokio::sync::Notify;

const CLIENTS: u64 = 16;

/// Registers events with fresh ids until `stop`; counts what it sent and when
/// each acknowledgement came.
struct Load {
    stop: AtomicBool,
    sent: AtomicU64,
    acknowledged: AtomicU64,
    /// Woken at each acknowledgement, for whoever waits for a count.
    progress: Notify,
}

impl Load {
    async fn until_acknowledged(&self, at_least: u64) {
        loop {
            let notified = self.progress.notified();
            if self.acknowledged.load(Ordering::SeqCst) >= at_least {
                return;
            }
            notified.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_keeps_every_acknowledged_event() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-key", "0"]);
    let load = Arc::new(Load {
        stop: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        acknowledged: AtomicU64::new(0),
        progress: Notify::new(),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (load, url, public) = (load.clone(), format!("{}{REGISTER}", server.url), key.public.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut acknowledged_at = Vec::new();
                for n in 0u64.. {
                    if load.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let body = json!({"event": "webcodec-conversion", "apiKey": public, "host": "https://customer.com",
                        "succeeded": true, "eventId": format!("{client:08x}-0000-4000-8000-{n:012x}")});
                    load.sent.fetch_add(1, Ordering::SeqCst);
                    let answer = http.post(&url).json(&body).send().await.unwrap();
                    if answer.status() == 200 {
                        acknowledged_at.push(Instant::now());
                        load.acknowledged.fetch_add(1, Ordering::SeqCst);
                        load.progress.notify_waiters();
                    }
                }
                acknowledged_at
            })
        })
        .collect();

    load.until_acknowledged(300).await;
    let backup_started = Instant::now();
    let copy = db.path().with_file_name("backup.db");
    let (ok, stdout, stderr) = cli(&db.url, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(ok, "backup failed: {stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["integrity"], "ok");
    assert!(report["bytes"].as_u64().unwrap() > 0);
    // The load goes on past the backup, then stops.
    let after_backup = load.acknowledged.load(Ordering::SeqCst);
    load.until_acknowledged(after_backup + 200).await;
    load.stop.store(true, Ordering::SeqCst);
    let mut acknowledged_before_backup = 0;
    for client in clients {
        acknowledged_before_backup += client.await.unwrap().iter().filter(|at| **at < backup_started).count() as u64;
    }
    let sent = load.sent.load(Ordering::SeqCst);

    // A backup never overwrites; a restore never replaces a database in use.
    let (ok, _, stderr) = cli(&db.url, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(!ok && stderr.contains("the file exists"), "{stderr}");
    let (ok, _, stderr) = cli(&db.url, &["restore", copy.to_str().unwrap()]);
    assert!(!ok && stderr.contains("in use by a running server"), "{stderr}");
    let original = server.usage(&key.secret, None).await["webcodecConversions"]["billable"].as_u64().unwrap();
    server.stop();

    let restored = TestDb::sqlite();
    let (ok, stdout, stderr) = cli(&restored.url, &["restore", copy.to_str().unwrap()]);
    assert!(ok, "restore failed: {stderr}");
    assert_eq!(serde_json::from_str::<Value>(stdout.trim()).unwrap()["integrity"], "ok");
    let server = TestServer::start(&restored.url);
    let counted = server.usage(&key.secret, None).await["webcodecConversions"]["billable"].as_u64().unwrap();
    server.stop();
    eprintln!(
        "backup under load: {acknowledged_before_backup} acknowledged before it began, {counted} in the copy, \
         {sent} sent, {original} in the original at the end"
    );
    assert!(
        acknowledged_before_backup <= counted && counted <= sent && counted <= original,
        "acknowledged before the backup {acknowledged_before_backup} ≤ in the copy {counted} ≤ sent {sent}, \
         and the original went on to {original}"
    );
    assert!(original > counted, "the load went on after the copy was taken");

    // The restored database goes back into service over the old one.
    let (ok, _, stderr) = cli(&db.url, &["restore", copy.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let server = TestServer::start(&db.url);
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"]["billable"], json!(counted));
    server.stop();
}

#[test]
fn a_postgres_database_is_pointed_to_pg_dump() {
    let (ok, _, stderr) = cli("postgres://usage@127.0.0.1:1/usage", &["backup", "--to", "/tmp/never-written.db"]);
    assert!(!ok);
    assert!(stderr.contains("pg_dump"), "{stderr}");
}
