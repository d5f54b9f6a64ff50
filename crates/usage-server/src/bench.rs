//! `usage-server bench-load`: synthetic events for the read benchmarks, written
//! through [`Store::record_events`] (events and rollups, as registrations are).

use std::time::Instant;

use anyhow::Context;
use usage_core::{Classification, EventId, EventKind, MS_PER_DAY};

use crate::config::BenchLoadArgs;
use crate::store::{now_ms, Account, NewEvent, Store};

/// A fast, good-enough generator for synthetic data (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Adds `args.events` events over every active key, `args.origins` origins per key
/// and the last `args.days` days: 80 % billable, 12 % development, 8 % failed.
///
/// # Errors
/// No active key, or a database failure.
pub async fn load(store: &Store, args: &BenchLoadArgs) -> anyhow::Result<()> {
    let keys: Vec<_> = store.list_keys().await?.into_iter().filter(|key| key.revoked_at_ms.is_none()).collect();
    anyhow::ensure!(!keys.is_empty(), "bench-load spreads events over the active licence keys: create one first");
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).context("no randomness")?;
    let mut rng = SplitMix(u64::from_le_bytes(seed));
    let origins: Vec<String> = (0..args.origins.max(1)).map(|i| format!("https://bench-site-{i}.com")).collect();
    let now = now_ms();
    let span = i64::from(args.days) * MS_PER_DAY;
    let started = Instant::now();
    let mut written = 0u64;
    while written < args.events {
        let size = (args.events - written).min(args.batch.max(1) as u64) as usize;
        let batch: Vec<NewEvent> = (0..size)
            .map(|_| {
                let roll = rng.next();
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&rng.next().to_le_bytes());
                id[8..].copy_from_slice(&rng.next().to_le_bytes());
                let classification = match roll % 100 {
                    0..=79 => Classification::Billable,
                    80..=91 => Classification::Development,
                    _ => Classification::Failed,
                };
                NewEvent {
                    account: Account::Key(keys[(roll >> 8) as usize % keys.len()].id),
                    event_id: Some(EventId::from_random_bytes(id)),
                    kind: EventKind::ALL[(roll >> 16) as usize % 3],
                    classification,
                    origin: Some(origins[(roll >> 24) as usize % origins.len()].clone()),
                    origin_claim_differed: false,
                    is_still: None,
                    created_at_ms: now - 1 - (rng.next() % span as u64) as i64,
                }
            })
            .collect();
        store.record_events(batch).await?;
        written += size as u64;
        let rate = written as f64 / started.elapsed().as_secs_f64();
        eprintln!("bench-load: {written} of {} events ({rate:.0}/s)", args.events);
    }
    println!(
        "{}",
        serde_json::json!({"events": written, "keys": keys.len(), "origins": origins.len(), "days": args.days, "seconds": started.elapsed().as_secs_f64()})
    );
    Ok(())
}
