//! Counting events exactly once, and reading the counts back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::Row;
use usage_core::{Classification, EventId, EventKind, Granularity, UsageRange, MS_PER_DAY, MS_PER_HOUR};

use super::{Account, Engine, KeyId, Store, StoreError};

/// One event to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Whose usage it is.
    pub account: Account,
    /// The idempotency id, if the client sent one.
    pub event_id: Option<EventId>,
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
    /// When it was received, ms since the epoch; it decides the event's buckets.
    pub created_at_ms: i64,
}

/// The outcome of recording one event.
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

/// The key of a rollup row: account, bucket start, origin (`""` for none), kind.
type RollupKey = (i64, i64, String, &'static str);

/// Counts per classification, as rollup rows hold them.
#[derive(Debug, Clone, Copy, Default)]
struct ClassCounts([i64; 3]);

impl ClassCounts {
    fn add(&mut self, classification: Classification) {
        self.0[class_index(classification)] += 1;
    }
}

fn class_index(classification: Classification) -> usize {
    match classification {
        Classification::Billable => 0,
        Classification::Development => 1,
        Classification::Failed => 2,
    }
}

/// How much detail a count query keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Per bucket and origin.
    Detail,
    /// Per bucket, origins summed.
    Series,
    /// Per origin, buckets summed.
    Origins,
}

impl Shape {
    /// Drops what this shape sums over from a detailed row.
    fn apply(self, row: CountRow, range: &UsageRange) -> CountRow {
        match self {
            Shape::Detail => row,
            Shape::Series => CountRow { origin: None, ..row },
            Shape::Origins => CountRow { bucket_start: range.since_ms, ..row },
        }
    }
}

/// A rollup table and its bucket column.
#[derive(Debug, Clone, Copy)]
struct Rollup {
    table: &'static str,
    bucket: &'static str,
}

impl Rollup {
    const HOURLY: Rollup = Rollup { table: "rollup_hourly", bucket: "hour_ms" };
    const DAILY: Rollup = Rollup { table: "rollup_daily", bucket: "day_ms" };
}

/// Rows per multi-row INSERT (8 parameters each, well under SQLite's 32,766).
const EVENTS_PER_STATEMENT: usize = 500;
/// Rollup rows per multi-row upsert (7 parameters each).
const ROLLUPS_PER_STATEMENT: usize = 500;

/// Appends `rows` groups of `columns` placeholders: `($1, $2), ($3, $4)` for
/// PostgreSQL, `(?, ?), (?, ?)` for SQLite, whose binding by name (`$n`) costs a
/// scan of every parameter name per parameter (quadratic in a multi-row INSERT).
fn push_placeholders(sql: &mut String, engine: Engine, rows: usize, columns: usize) {
    use std::fmt::Write;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            sql.push_str(if column == 0 { "" } else { ", " });
            match engine {
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => {
                    let _ = write!(sql, "${}", row * columns + column + 1);
                }
            }
        }
        sql.push(')');
    }
}

/// Far enough ahead to cover every stored event ("since, with no end").
const NO_END_MS: i64 = i64::MAX / 4;

impl Store {
    /// Counts `events` in one transaction: each is stored once per account and
    /// event id (a repeat adds nothing and reports the original classification),
    /// and the rollups are updated in the same transaction, so a crash leaves
    /// either all of the batch or none of it.
    ///
    /// # Errors
    /// A database failure; nothing of the batch is stored then.
    pub async fn record_events(&self, events: &[NewEvent]) -> Result<Vec<Recorded>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        self.record_events_on(&mut connection, events).await
    }

    /// [`Store::record_events`] on a connection the caller holds (the writer task
    /// keeps one, so a batch does not wait for the pool).
    ///
    /// # Errors
    /// A database failure; nothing of the batch is stored then.
    pub async fn record_events_on(
        &self,
        connection: &mut sqlx::pool::PoolConnection<sqlx::Any>,
        events: &[NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        // Inserted in (account, eventId) order: concurrent transactions (several
        // servers on one PostgreSQL, given the same eventIds) then take the unique
        // index's locks in the same order and cannot deadlock.
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (events[i].account.stored_id(), events[i].event_id.as_ref().map(EventId::as_str)));
        let mut tx = sqlx::Connection::begin(&mut **connection).await?;
        let mut recorded = vec![None; events.len()];
        let mut repeats = Vec::new();
        let mut hourly: BTreeMap<RollupKey, ClassCounts> = BTreeMap::new();
        for chunk in order.chunks(EVENTS_PER_STATEMENT) {
            // One multi-row INSERT per chunk; RETURNING names the rows that were new.
            let mut sql = String::from(
                "INSERT INTO usage_events (key_id, event_id, event_kind, classification, origin, \
                   origin_claim_differed, is_still, created_at_ms) VALUES ",
            );
            push_placeholders(&mut sql, self.engine, chunk.len(), 8);
            sql.push_str(" ON CONFLICT (key_id, event_id) DO NOTHING RETURNING key_id, event_id");
            let mut query = sqlx::query(&sql);
            for &index in chunk {
                let event = &events[index];
                query = query
                    .bind(event.account.stored_id())
                    .bind(event.event_id.as_ref().map(EventId::as_str))
                    .bind(event.kind.as_str())
                    .bind(event.classification.as_str())
                    .bind(event.origin.as_deref())
                    .bind(event.origin_claim_differed)
                    .bind(event.is_still)
                    .bind(event.created_at_ms);
            }
            let mut new_ids: HashSet<(i64, String)> = HashSet::new();
            for row in query.fetch_all(&mut *tx).await? {
                if let Some(id) = row.try_get::<Option<String>, _>("event_id")? {
                    new_ids.insert((row.try_get("key_id")?, id));
                }
            }
            for &index in chunk {
                let event = &events[index];
                let account = event.account.stored_id();
                // The first of an id in this statement was stored; any other is a repeat.
                let is_new = match &event.event_id {
                    None => true,
                    Some(id) => new_ids.remove(&(account, id.as_str().to_owned())),
                };
                if is_new {
                    let hour = event.created_at_ms.div_euclid(MS_PER_HOUR) * MS_PER_HOUR;
                    let key = (account, hour, event.origin.clone().unwrap_or_default(), event.kind.as_str());
                    hourly.entry(key).or_default().add(event.classification);
                    recorded[index] = Some(Recorded { classification: event.classification, repeat: false });
                } else {
                    repeats.push(index);
                }
            }
        }
        for index in repeats {
            let event = &events[index];
            let row = sqlx::query("SELECT classification FROM usage_events WHERE key_id = $1 AND event_id = $2")
                .bind(event.account.stored_id())
                .bind(event.event_id.as_ref().map(EventId::as_str).unwrap_or_default())
                .fetch_one(&mut *tx)
                .await?;
            recorded[index] = Some(Recorded { classification: classification(&row)?, repeat: true });
        }
        let mut daily: BTreeMap<RollupKey, ClassCounts> = BTreeMap::new();
        for ((account, hour, origin, kind), counts) in &hourly {
            let day = hour.div_euclid(MS_PER_DAY) * MS_PER_DAY;
            let entry = daily.entry((*account, day, origin.clone(), kind)).or_default();
            for (sum, add) in entry.0.iter_mut().zip(counts.0) {
                *sum += add;
            }
        }
        // Sorted keys, for the same reason as above.
        for (table, bucket, rows) in [("rollup_hourly", "hour_ms", &hourly), ("rollup_daily", "day_ms", &daily)] {
            let rows: Vec<_> = rows.iter().collect();
            for chunk in rows.chunks(ROLLUPS_PER_STATEMENT) {
                let mut sql = format!(
                    "INSERT INTO {table} (key_id, {bucket}, origin, event_kind, billable, development, failed) VALUES "
                );
                push_placeholders(&mut sql, self.engine, chunk.len(), 7);
                sql.push_str(&format!(
                    " ON CONFLICT (key_id, {bucket}, origin, event_kind) DO UPDATE SET \
                       billable = {table}.billable + excluded.billable, \
                       development = {table}.development + excluded.development, \
                       failed = {table}.failed + excluded.failed"
                ));
                let mut query = sqlx::query(&sql);
                for ((account, start, origin, kind), counts) in chunk {
                    let [billable, development, failed] = counts.0;
                    query = query
                        .bind(*account)
                        .bind(*start)
                        .bind(origin.as_str())
                        .bind(*kind)
                        .bind(billable)
                        .bind(development)
                        .bind(failed);
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(recorded.into_iter().flatten().collect())
    }

    /// Billable events (all kinds) of one key in `[start_ms, end_ms)`, two UTC
    /// midnights (a calendar month): what a monthly limit counts.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_billable(&self, key: KeyId, start_ms: i64, end_ms: i64) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(billable), 0) AS BIGINT) AS n FROM rollup_daily \
             WHERE key_id = $1 AND day_ms >= $2 AND day_ms < $3",
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
            "SELECT key_id, CAST(SUM(billable) AS BIGINT) AS n FROM rollup_daily \
             WHERE key_id > 0 AND day_ms >= $1 AND day_ms < $2 GROUP BY key_id",
        )
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((KeyId(row.try_get("key_id")?), count(row)?))).collect()
    }

    /// Every event of `account` at or after `since_ms`: get-usage's counts.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_since(&self, account: Account, since_ms: i64) -> Result<Vec<CountRow>, StoreError> {
        let range = UsageRange { since_ms, until_ms: NO_END_MS, granularity: Granularity::Day };
        self.count_series(Some(account), &range).await
    }

    /// The events in `range`, counted per account, time bucket, origin, kind and
    /// classification; only `account`'s when given, every account's otherwise.
    ///
    /// Whole hours and days come from the rollups; only the partial hours at the
    /// range's two ends are counted from raw events, so the cost follows the range
    /// and its origins, not the number of events. The result equals
    /// [`Store::count_rows_raw`] for any range whose events are all retained.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_rows(&self, account: Option<Account>, range: &UsageRange) -> Result<Vec<CountRow>, StoreError> {
        self.count_shaped(account, range, Shape::Detail).await
    }

    /// [`Store::count_rows`] summed over origins (every row's origin is `None`):
    /// what series and totals need, with the summing done by the database.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_series(
        &self,
        account: Option<Account>,
        range: &UsageRange,
    ) -> Result<Vec<CountRow>, StoreError> {
        self.count_shaped(account, range, Shape::Series).await
    }

    /// [`Store::count_rows`] summed over the whole range (every row's bucket is
    /// `range.since_ms`): what the origin rankings need.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_origins(
        &self,
        account: Option<Account>,
        range: &UsageRange,
    ) -> Result<Vec<CountRow>, StoreError> {
        self.count_shaped(account, range, Shape::Origins).await
    }

    async fn count_shaped(
        &self,
        account: Option<Account>,
        range: &UsageRange,
        shape: Shape,
    ) -> Result<Vec<CountRow>, StoreError> {
        let first_hour = ceil_to(range.since_ms, MS_PER_HOUR);
        let last_hour = range.until_ms.div_euclid(MS_PER_HOUR) * MS_PER_HOUR;
        if first_hour >= last_hour {
            let rows = self.count_rows_raw(account, range).await?;
            return Ok(merge(rows.into_iter().map(|row| shape.apply(row, range)).collect()));
        }
        let part = |since_ms, until_ms| UsageRange { since_ms, until_ms, granularity: range.granularity };
        let mut rows = self.count_rows_raw(account, &part(range.since_ms, first_hour)).await?;
        rows.extend(self.count_rows_raw(account, &part(last_hour, range.until_ms)).await?);
        let mut rows: Vec<CountRow> = rows.into_iter().map(|row| shape.apply(row, range)).collect();
        let first_day = ceil_to(first_hour, MS_PER_DAY);
        let last_day = last_hour.div_euclid(MS_PER_DAY) * MS_PER_DAY;
        let (hourly, daily) = (Rollup::HOURLY, Rollup::DAILY);
        if range.granularity == Granularity::Day && first_day < last_day {
            rows.extend(self.rollup_rows(hourly, shape, account, range, first_hour, first_day).await?);
            rows.extend(self.rollup_rows(daily, shape, account, range, first_day, last_day).await?);
            rows.extend(self.rollup_rows(hourly, shape, account, range, last_day, last_hour).await?);
        } else {
            rows.extend(self.rollup_rows(hourly, shape, account, range, first_hour, last_hour).await?);
        }
        Ok(merge(rows))
    }

    /// Rollup rows with their bucket in `[start_ms, end_ms)`, summed by the
    /// database as `shape` asks, as count rows in `range`'s buckets.
    async fn rollup_rows(
        &self,
        rollup: Rollup,
        shape: Shape,
        account: Option<Account>,
        range: &UsageRange,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<CountRow>, StoreError> {
        if start_ms >= end_ms {
            return Ok(Vec::new());
        }
        let Rollup { table, bucket } = rollup;
        let filter = if account.is_some() { "AND key_id = $3" } else { "" };
        let (bucket_column, origin_column, group) = match shape {
            Shape::Detail => (bucket, "origin", ""),
            Shape::Series => (bucket, "''", "GROUP BY key_id, bucket_start, event_kind"),
            Shape::Origins => ("CAST(0 AS BIGINT)", "origin", "GROUP BY key_id, origin, event_kind"),
        };
        let sums = if shape == Shape::Detail {
            "billable, development, failed".to_owned()
        } else {
            Classification::ALL.map(|c| format!("CAST(SUM({0}) AS BIGINT) AS {0}", c.as_str())).join(", ")
        };
        let sql = format!(
            "SELECT key_id, {bucket_column} AS bucket_start, {origin_column} AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} {group}"
        );
        let mut query = sqlx::query(&sql).bind(start_ms).bind(end_ms);
        if let Some(account) = account {
            query = query.bind(account.stored_id());
        }
        let mut rows = Vec::new();
        for row in query.fetch_all(&self.pool).await? {
            let account = Account::from_stored_id(row.try_get("key_id")?);
            let bucket_start = match shape {
                Shape::Origins => range.since_ms,
                _ => range.bucket_of(row.try_get("bucket_start")?),
            };
            let origin: String = row.try_get("origin")?;
            let kind = event_kind(&row)?;
            for classification in Classification::ALL {
                let count: i64 = row.try_get(classification.as_str())?;
                if count > 0 {
                    rows.push(CountRow {
                        account,
                        bucket_start,
                        origin: (!origin.is_empty()).then(|| origin.clone()),
                        kind,
                        classification,
                        count: u64::try_from(count).unwrap_or(0),
                    });
                }
            }
        }
        Ok(rows)
    }

    /// [`Store::count_rows`] from the raw events alone: the reference the rollups
    /// are checked against, and how the partial hours at a range's ends are read.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_rows_raw(
        &self,
        account: Option<Account>,
        range: &UsageRange,
    ) -> Result<Vec<CountRow>, StoreError> {
        if range.since_ms >= range.until_ms {
            return Ok(Vec::new());
        }
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

    /// Deletes raw events received before `cutoff_ms` (rollups stay), a chunk at a
    /// time so writers are never blocked for long; returns how many went.
    ///
    /// # Errors
    /// A database failure (what was deleted before it stays deleted).
    pub async fn prune_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM usage_events WHERE id IN \
                   (SELECT id FROM usage_events WHERE created_at_ms < $1 LIMIT 10000)",
            )
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
            pruned += deleted;
            if deleted == 0 {
                return Ok(pruned);
            }
        }
    }
}

/// The smallest multiple of `step` at or after `ms`.
fn ceil_to(ms: i64, step: i64) -> i64 {
    -((-ms).div_euclid(step)) * step
}

/// Adds up rows that share account, bucket, origin, kind and classification (the
/// parts of a range meet in the same buckets).
fn merge(rows: Vec<CountRow>) -> Vec<CountRow> {
    let mut merged: BTreeMap<(Account, i64, Option<String>, &'static str, &'static str), CountRow> = BTreeMap::new();
    for row in rows {
        let key = (row.account, row.bucket_start, row.origin.clone(), row.kind.as_str(), row.classification.as_str());
        merged.entry(key).and_modify(|existing| existing.count += row.count).or_insert(row);
    }
    merged.into_values().collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_by_row_and_column() {
        let mut sql = String::new();
        push_placeholders(&mut sql, Engine::Postgres, 2, 3);
        assert_eq!(sql, "($1, $2, $3), ($4, $5, $6)");
        let mut sql = String::new();
        push_placeholders(&mut sql, Engine::Sqlite, 2, 2);
        assert_eq!(sql, "(?, ?), (?, ?)");
        assert_eq!(ceil_to(3_600_001, MS_PER_HOUR), 7_200_000);
        assert_eq!(ceil_to(3_600_000, MS_PER_HOUR), 3_600_000);
        assert_eq!(ceil_to(-1, MS_PER_HOUR), 0);
    }
}
