//! Counting events exactly once, and reading the counts back.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::Row;
use usage_core::{Classification, EventId, EventKind, UsageRange};

use super::{now_ms, Account, KeyId, Store, StoreError};

/// One event to count.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// Whose usage it is.
    pub account: Account,
    /// The idempotency id, if the client sent one.
    pub event_id: Option<&'a EventId>,
    /// What happened.
    pub kind: EventKind,
    /// How it counts.
    pub classification: Classification,
    /// The normalised origin used for classification.
    pub origin: Option<String>,
    /// Whether the body's host claim disagreed with the browser's `Origin` header.
    pub origin_claim_differed: bool,
    /// Still-image render.
    pub is_still: Option<bool>,
}

/// The outcome of [`Store::record_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The classification stored for this event (the original one for a repeat).
    pub classification: Classification,
    /// Whether the event id had been seen before, so nothing new was counted.
    pub repeat: bool,
}

/// Events of one account, time bucket, origin, kind and classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// Whose usage.
    pub account: Account,
    /// The start of the time bucket (a UTC midnight or hour).
    pub bucket_start: i64,
    /// The normalised origin, if the events carried one.
    pub origin: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// How it counts.
    pub classification: Classification,
    /// How many events.
    pub count: u64,
}

impl Store {
    /// Counts an event once: a repeat of an event id already stored for this
    /// account adds nothing and reports the original classification.
    ///
    /// # Errors
    /// A database failure.
    pub async fn record_event(&self, event: NewEvent<'_>) -> Result<Recorded, StoreError> {
        let account = event.account.stored_id();
        let inserted = sqlx::query(
            "INSERT INTO usage_events \
               (key_id, event_id, event_kind, classification, origin, origin_claim_differed, is_still, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (key_id, event_id) DO NOTHING",
        )
        .bind(account)
        .bind(event.event_id.map(EventId::as_str))
        .bind(event.kind.as_str())
        .bind(event.classification.as_str())
        .bind(event.origin.as_deref())
        .bind(event.origin_claim_differed)
        .bind(event.is_still)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Recorded { classification: event.classification, repeat: false });
        }
        let event_id = event.event_id.map(EventId::as_str).unwrap_or_default();
        let row = sqlx::query("SELECT classification FROM usage_events WHERE key_id = $1 AND event_id = $2")
            .bind(account)
            .bind(event_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Recorded { classification: classification(&row)?, repeat: true })
    }

    /// Event counts per kind and classification at or after `since_ms`.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_usage(
        &self,
        account: Account,
        since_ms: i64,
    ) -> Result<Vec<(EventKind, Classification, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_kind, classification, COUNT(*) AS n FROM usage_events \
             WHERE key_id = $1 AND created_at_ms >= $2 GROUP BY event_kind, classification",
        )
        .bind(account.stored_id())
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((event_kind(row)?, classification(row)?, count(row)?))).collect()
    }

    /// Billable events (all kinds) of one key in `[start_ms, end_ms)`: what a
    /// monthly limit counts.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_billable(&self, key: KeyId, start_ms: i64, end_ms: i64) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM usage_events \
             WHERE key_id = $1 AND classification = 'billable' AND created_at_ms >= $2 AND created_at_ms < $3",
        )
        .bind(key.0)
        .bind(start_ms)
        .bind(end_ms)
        .fetch_one(&self.pool)
        .await?;
        count(&row)
    }

    /// [`Store::count_billable`] for every key with events in `[start_ms, end_ms)`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_billable_per_key(&self, start_ms: i64, end_ms: i64) -> Result<HashMap<KeyId, u64>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, COUNT(*) AS n FROM usage_events \
             WHERE key_id > 0 AND classification = 'billable' AND created_at_ms >= $1 AND created_at_ms < $2 \
             GROUP BY key_id",
        )
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((KeyId(row.try_get("key_id")?), count(row)?))).collect()
    }

    /// The events in `range`, counted per account, time bucket, origin, kind and
    /// classification; only `account`'s when given, every account's otherwise.
    /// Breakdowns, exports and the vendor's view are all folded from these rows,
    /// so their series, origins and totals always agree.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_rows(&self, account: Option<Account>, range: &UsageRange) -> Result<Vec<CountRow>, StoreError> {
        let bucket_ms = range.granularity.bucket_ms();
        let filter = if account.is_some() { "AND key_id = $5" } else { "" };
        let sql = format!(
            "SELECT key_id, (created_at_ms / $1) * $2 AS bucket_start, origin, event_kind, classification, \
                    COUNT(*) AS n \
             FROM usage_events WHERE created_at_ms >= $3 AND created_at_ms < $4 {filter} \
             GROUP BY key_id, bucket_start, origin, event_kind, classification"
        );
        let mut query = sqlx::query(&sql).bind(bucket_ms).bind(bucket_ms).bind(range.since_ms).bind(range.until_ms);
        if let Some(account) = account {
            query = query.bind(account.stored_id());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(CountRow {
                    account: Account::from_stored_id(row.try_get("key_id")?),
                    bucket_start: row.try_get("bucket_start")?,
                    origin: row.try_get("origin")?,
                    kind: event_kind(row)?,
                    classification: classification(row)?,
                    count: count(row)?,
                })
            })
            .collect()
    }
}

fn event_kind(row: &AnyRow) -> Result<EventKind, StoreError> {
    let kind: String = row.try_get("event_kind")?;
    EventKind::from_str(&kind).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn classification(row: &AnyRow) -> Result<Classification, StoreError> {
    let name: String = row.try_get("classification")?;
    Classification::from_name(&name).ok_or_else(|| StoreError::Corrupt(format!("unknown classification `{name}`")))
}

fn count(row: &AnyRow) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
}
