//! Sums of sealed buckets, kept in memory.
//!
//! Events are stamped when the server receives them, so buckets older than
//! [`SEAL_MARGIN_MS`] no longer change. The sum of a range's sealed part is kept
//! per shape, account and bounds, and reused until the rollup generation (a row
//! every batch that writes into sealed buckets bumps, in its own transaction)
//! changes: a backfill or `bench-load`, by this process or any other, clears it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use usage_core::Granularity;

use super::event::NewEvent;
use super::rows::CountRow;
use super::shape::Shape;
use super::Account;

/// How old a bucket must be to be sealed: far more than a commit takes, or the
/// clocks of several servers on one PostgreSQL differ.
pub const SEAL_MARGIN_MS: i64 = 60_000;

/// Entries kept before the oldest are dropped: a few per dashboard and range.
const CAPACITY: usize = 1024;

/// Whether a batch counts events into buckets that readers may have sealed.
pub fn writes_sealed_buckets(events: &[NewEvent], now_ms: i64) -> bool {
    events.iter().any(|event| event.created_at_ms < now_ms - SEAL_MARGIN_MS)
}

/// What a sealed sum is the sum of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SealedKey {
    /// Series, timeline, origins or totals; [`Shape::Detail`] for the raw events of a
    /// sealed partial hour at a range's start.
    pub shape: Shape,
    /// Whose; everyone's when `None`.
    pub account: Option<Account>,
    /// The bucket size of the series.
    pub granularity: Granularity,
    /// The sealed part: `[start_ms, end_ms)`, whole hours but for a partial hour's raw events.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
}

#[derive(Debug, Default)]
struct Entries {
    /// The generation the sums were computed at; `None` before the first.
    generation: Option<i64>,
    sums: HashMap<SealedKey, (u64, Arc<Vec<CountRow>>)>,
    uses: u64,
}

/// The cache; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SealedSums {
    entries: Arc<Mutex<Entries>>,
}

impl SealedSums {
    /// The generation the sums kept were computed at, if any were.
    pub fn generation(&self) -> Option<i64> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).generation
    }

    /// The sum under `key`, if computed at `generation`. Asking at another
    /// generation drops every sum kept.
    pub fn get(&self, key: &SealedKey, generation: i64) -> Option<Arc<Vec<CountRow>>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != Some(generation) {
            entries.sums.clear();
            entries.generation = Some(generation);
            return None;
        }
        entries.uses += 1;
        let uses = entries.uses;
        let (last_use, rows) = entries.sums.get_mut(key)?;
        *last_use = uses;
        Some(rows.clone())
    }

    /// Keeps `rows` as the sum under `key`, computed from what the database held
    /// at `generation` (read before the rows were).
    pub fn insert(&self, key: SealedKey, generation: i64, rows: Arc<Vec<CountRow>>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if *entries.generation.get_or_insert(generation) != generation {
            return;
        }
        if entries.sums.len() >= CAPACITY {
            // Drop the least recently used half: sliding ranges leave old bounds behind.
            let mut uses: Vec<u64> = entries.sums.values().map(|(used, _)| *used).collect();
            uses.sort_unstable();
            let cutoff = uses[uses.len() / 2];
            entries.sums.retain(|_, (used, _)| *used > cutoff);
        }
        entries.uses += 1;
        let uses = entries.uses;
        entries.sums.insert(key, (uses, rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(start_ms: i64) -> SealedKey {
        SealedKey { shape: Shape::Series, account: None, granularity: Granularity::Day, start_ms, end_ms: start_ms + 1 }
    }

    #[test]
    fn a_new_generation_drops_every_sum() {
        let sums = SealedSums::default();
        assert_eq!(sums.generation(), None);
        sums.insert(key(0), 0, Arc::new(Vec::new()));
        assert_eq!(sums.generation(), Some(0));
        assert!(sums.get(&key(0), 0).is_some());
        assert!(sums.get(&key(0), 1).is_none());
        assert_eq!(sums.generation(), Some(1));
        // A sum computed under the old generation is not kept.
        sums.insert(key(0), 0, Arc::new(Vec::new()));
        assert!(sums.get(&key(0), 1).is_none());
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let sums = SealedSums::default();
        for start in 0..CAPACITY as i64 {
            sums.insert(key(start), 0, Arc::new(Vec::new()));
        }
        assert!(sums.get(&key(0), 0).is_some());
        sums.insert(key(-1), 0, Arc::new(Vec::new()));
        assert!(sums.get(&key(0), 0).is_some(), "used recently");
        assert!(sums.get(&key(1), 0).is_none(), "least recently used");
        assert!(sums.get(&key(-1), 0).is_some());
    }
}
