//! Count rows: what a count answers, read from the engines' rows and merged
//! (the parts of a range meet in the same buckets).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use usage_core::{Classification, EventKind};

use super::storage::CountsRow;
use super::{Account, KeyId, StoreError};

/// Events of one account, time bucket, origin, kind and classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// Whose usage; `None` for every account's, summed (the vendor's timeline).
    pub account: Option<Account>,
    /// The start of the time bucket (a UTC midnight or hour).
    pub bucket_start: i64,
    /// The normalised origin, if the events carried one; shared, so that the
    /// rows of sealed sums kept in memory are copied into each answer cheaply.
    pub origin: Option<Arc<str>>,
    /// What happened.
    pub kind: EventKind,
    /// How it counts.
    pub classification: Classification,
    /// How many events.
    pub count: u64,
}

/// Count rows of the classifications that have events, buckets mapped by `bucket_of`.
pub fn count_rows(rows: Vec<CountsRow>, bucket_of: impl Fn(i64) -> i64) -> Result<Vec<CountRow>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = EventKind::from_str(&row.event_kind).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let account = row.key_id.map(Account::from_stored_id);
        let bucket_start = bucket_of(row.bucket_start);
        let origin: Option<Arc<str>> = (!row.origin.is_empty()).then(|| row.origin.into());
        for (classification, count) in Classification::ALL.into_iter().zip(row.counts) {
            if count > 0 {
                out.push(CountRow {
                    account,
                    bucket_start,
                    origin: origin.clone(),
                    kind,
                    classification,
                    count: u64::try_from(count).unwrap_or(0),
                });
            }
        }
    }
    Ok(out)
}

/// The order rows are merged in: the order of the rollup tables' keys on SQLite
/// (bucket, account, origin, kind), then classification. Rows read from one bucket
/// arrive sorted, so merging the newest hour into the sealed sums is linear.
fn row_order(a: &CountRow, b: &CountRow) -> Ordering {
    (a.bucket_start, a.account.map(Account::stored_id))
        .cmp(&(b.bucket_start, b.account.map(Account::stored_id)))
        .then_with(|| match (&a.origin, &b.origin) {
            // The classifications of one stored row share their origin.
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => Ordering::Equal,
            (a, b) => a.cmp(b),
        })
        .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
        .then_with(|| (a.classification as u8).cmp(&(b.classification as u8)))
}

/// Adds up rows that share account, bucket, origin, kind and classification (the
/// parts of a range meet in the same buckets); sorted by [`row_order`], nothing cloned.
pub fn merge(mut rows: Vec<CountRow>) -> Vec<CountRow> {
    // Stable sort: the parts arrive as sorted runs (sealed sums are kept merged),
    // which it merges in linear time.
    rows.sort_by(row_order);
    let mut merged: Vec<CountRow> = Vec::with_capacity(rows.len());
    for row in rows {
        match merged.last_mut() {
            Some(last) if row_order(last, &row) == Ordering::Equal => last.count += row.count,
            _ => merged.push(row),
        }
    }
    merged
}

/// `rows` less `minus` (both merged), dropping rows that reach zero.
pub fn subtract(mut rows: Vec<CountRow>, minus: &[CountRow]) -> Vec<CountRow> {
    if minus.is_empty() {
        return rows;
    }
    let mut minus = minus.iter().peekable();
    for row in &mut rows {
        while minus.next_if(|taken| row_order(taken, row) == Ordering::Less).is_some() {}
        if let Some(taken) = minus.next_if(|taken| row_order(taken, row) == Ordering::Equal) {
            row.count = row.count.saturating_sub(taken.count);
        }
    }
    rows.retain(|row| row.count > 0);
    rows
}

/// The classification a stored name stands for.
pub(crate) fn classification_named(name: &str) -> Result<Classification, StoreError> {
    Classification::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("unknown classification `{name}`")))
}

/// Billable events per key, from [`Shape::Totals`] rows.
pub fn billable_per_key(rows: &[CountRow]) -> HashMap<KeyId, u64> {
    let mut per_key = HashMap::new();
    for row in rows {
        if let (Some(Account::Key(id)), Classification::Billable) = (row.account, row.classification) {
            *per_key.entry(id).or_insert(0) += row.count;
        }
    }
    per_key
}
