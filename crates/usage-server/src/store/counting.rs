//! Counting events exactly once, and reading the counts back: the store carries
//! out each count's [`Plan`], reading what memory holds from the sealed sums and
//! the rest in one trip to the database, then merges the rows.

use std::collections::HashMap;
use std::sync::Arc;

use usage_core::{Granularity, UsageRange};

use super::event::{write_order, NewEvent, Recorded};
use super::plan::{rollup_pieces, Bounds, Edge, Plan, NO_END_MS};
use super::rows::{billable_per_key, count_rows, merge, subtract, CountRow};
use super::sealed::SealedKey;
use super::shape::{CountRequest, Shape};
use super::sql;
use super::storage::{Counts, CountsQuery};
use super::{now_ms, Account, KeyId, Store, StoreError};

/// Rows a prune deletes per statement, so that writers are never blocked for long.
const PRUNE_CHUNK: i64 = 10_000;

impl Store {
    /// Counts `events` in one transaction: each is stored once per account and
    /// event id (a repeat adds nothing and reports the original classification),
    /// and the rollups are updated in the same transaction, so a crash leaves
    /// either all of the batch or none of it.
    ///
    /// # Errors
    /// A database failure; nothing of the batch is stored then.
    pub async fn record_events(&self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, StoreError> {
        // Written in (account, eventId) order: concurrent transactions (several
        // servers on one PostgreSQL, given the same eventIds) then take the unique
        // index's locks in the same order and cannot deadlock.
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|&a, &b| write_order(&events[a]).cmp(&write_order(&events[b])));
        let mut slots: Vec<Option<NewEvent>> = events.into_iter().map(Some).collect();
        let sorted: Vec<NewEvent> = order.iter().filter_map(|&i| slots[i].take()).collect();
        let recorded_sorted = self.storage.record_events(sorted, self.max_new_origins_per_day).await?;
        let mut recorded = vec![None; order.len()];
        for (position, &index) in order.iter().enumerate() {
            recorded[index] = recorded_sorted.get(position).copied();
        }
        recorded.into_iter().map(|r| r.ok_or_else(|| StoreError::Corrupt("an event was not answered".into()))).collect()
    }

    /// Billable events (all kinds) of one key in `[start_ms, end_ms)`, two UTC
    /// midnights (a calendar month): what a monthly limit counts.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_billable(&self, key: KeyId, start_ms: i64, end_ms: i64) -> Result<u64, StoreError> {
        let per_key = self.billable_per_key(Some(key), start_ms, end_ms).await?;
        Ok(per_key.get(&key).copied().unwrap_or(0))
    }

    /// [`Store::count_billable`] for every key with events in `[start_ms, end_ms)`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_billable_per_key(&self, start_ms: i64, end_ms: i64) -> Result<HashMap<KeyId, u64>, StoreError> {
        self.billable_per_key(None, start_ms, end_ms).await
    }

    /// Billable events per key from every account's totals: their sealed days
    /// come from memory, so a view asking for every key's month reads only the
    /// newest hours.
    async fn billable_per_key(
        &self,
        key: Option<KeyId>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<HashMap<KeyId, u64>, StoreError> {
        let month = month_range(start_ms, end_ms);
        Ok(billable_per_key(&self.count_shaped(key.map(Account::Key), &month, Shape::Totals).await?))
    }

    /// What a usage view shows, counted together (see [`Store::count_together`]):
    /// [`Store::count_series`] of `account` (or [`Store::count_timeline`] of
    /// everyone's, when `None`), [`Store::count_origins`], and, when a calendar
    /// month is given, [`Store::count_billable_per_key`] of it (only `account`'s).
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_view(
        &self,
        account: Option<Account>,
        range: &UsageRange,
        month: Option<(i64, i64)>,
    ) -> Result<ViewCounts, StoreError> {
        let by_time = if account.is_some() { Shape::Series } else { Shape::Timeline };
        let month = month.map(|(start_ms, end_ms)| month_range(start_ms, end_ms));
        let mut requests = vec![
            CountRequest { account, range, shape: by_time },
            CountRequest { account, range, shape: Shape::Origins },
        ];
        requests.extend(month.as_ref().map(|month| CountRequest { account, range: month, shape: Shape::Totals }));
        // A licence's view also shows where its key was used without being allowed.
        let not_allowed = match account {
            Some(Account::Key(id)) => Some(Account::NotAllowed(id)),
            _ => None,
        };
        requests.extend(not_allowed.map(|account| CountRequest {
            account: Some(account),
            range,
            shape: Shape::Origins,
        }));
        let mut counted = self.count_together(&requests).await?.into_iter();
        let (by_time, by_origin) = (counted.next().unwrap_or_default(), counted.next().unwrap_or_default());
        let billable_this_month =
            if month.is_some() { billable_per_key(&counted.next().unwrap_or_default()) } else { HashMap::new() };
        let not_allowed_origins = counted.next().unwrap_or_default();
        Ok(ViewCounts { by_time, by_origin, billable_this_month, not_allowed_origins })
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
    /// Whole months, days and hours come from the rollups; only the partial hours
    /// at the range's ends are counted from raw events (none at the end of a range
    /// that reaches now). The result equals [`Store::count_rows_raw`] for any range
    /// whose events are all retained.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_rows(&self, account: Option<Account>, range: &UsageRange) -> Result<Vec<CountRow>, StoreError> {
        self.count_shaped(account, range, Shape::Detail).await
    }

    /// [`Store::count_rows`] summed over origins (every row's origin is `None`):
    /// what series and totals need, read from the rollups without origins.
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

    /// Every account's events in `range` per bucket, origins and accounts summed
    /// (every row's account is `None`): the vendor's series.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_timeline(&self, range: &UsageRange) -> Result<Vec<CountRow>, StoreError> {
        self.count_shaped(None, range, Shape::Timeline).await
    }

    async fn count_shaped(
        &self,
        account: Option<Account>,
        range: &UsageRange,
        shape: Shape,
    ) -> Result<Vec<CountRow>, StoreError> {
        let mut counted = self.count_together(&[CountRequest { account, range, shape }]).await?;
        Ok(counted.pop().unwrap_or_default())
    }

    /// The answers to several count requests (one view's), in their order:
    /// everything the sealed sums in memory do not hold is read in one trip to
    /// the database.
    ///
    /// The sums in memory are taken to be current, and the trip checks it: it
    /// reads the rollup generation before anything else, and when a backfill has
    /// changed it, the requests are counted once more at the new generation (the
    /// sums computed anew).
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_together(&self, requests: &[CountRequest<'_>]) -> Result<Vec<Vec<CountRow>>, StoreError> {
        let mut generation = match self.sealed.generation() {
            Some(generation) => generation,
            None => self.storage.rollup_generation().await?,
        };
        let mut checked = false;
        loop {
            let mut trip = Trip::default();
            let mut counted = Vec::with_capacity(requests.len());
            for (index, request) in requests.iter().enumerate() {
                counted.push(self.gather(index, request, generation, &mut trip).await?);
            }
            let Trip { since_end, rows } = trip;
            let parts: Vec<(usize, bool)> = since_end
                .iter()
                .map(|(owner, _)| (*owner, true))
                .chain(rows.iter().map(|(owner, _)| (*owner, false)))
                .collect();
            // The reads of what was stored after a range ended come first: an event
            // stored while the trip runs is then counted (as if the range had ended a
            // moment later), never taken away uncounted.
            let queries = since_end.into_iter().chain(rows).map(|(_, query)| query).collect();
            let Counts { generation: current, answers } = self.storage.counts(queries).await?;
            if current != generation && !checked {
                (generation, checked) = (current, true);
                continue;
            }
            let mut taken: Vec<Vec<CountRow>> = vec![Vec::new(); requests.len()];
            for ((owner, is_since_end), found) in parts.into_iter().zip(answers) {
                let CountRequest { range, shape, .. } = requests[owner];
                let shaped =
                    count_rows(found, |start| range.bucket_of(start))?.into_iter().map(|row| shape.apply(row, range));
                if is_since_end {
                    taken[owner].extend(shaped);
                } else {
                    counted[owner].extend(shaped);
                }
            }
            return Ok(counted
                .into_iter()
                .zip(taken)
                .map(|(rows, taken)| subtract(merge(rows), &merge(taken)))
                .collect());
        }
    }

    /// Carries out `request`'s [`Plan`]: adds to `trip` what it needs from the
    /// database and returns what memory already holds of it (the sealed sums),
    /// shaped.
    async fn gather(
        &self,
        owner: usize,
        request: &CountRequest<'_>,
        generation: i64,
        trip: &mut Trip,
    ) -> Result<Vec<CountRow>, StoreError> {
        let CountRequest { account, range, shape } = *request;
        let Plan::Pieces { edges, sealed, rollups, read_as, since_end } = Plan::of(request, now_ms()) else {
            trip.rows.extend(sql::count_events(account, range).map(|query| (owner, query)));
            return Ok(Vec::new());
        };
        if let Some(tail) = since_end {
            trip.since_end.extend(sql::count_events(account, &tail).map(|query| (owner, query)));
        }
        let mut rows = Vec::new();
        for Edge { bounds, sealed } in edges {
            if sealed {
                let sums = self.sealed_raw(account, range.granularity, bounds, generation).await?;
                rows.extend(sums.iter().map(|row| shape.apply(row.clone(), range)));
            } else {
                let part = UsageRange { since_ms: bounds.0, until_ms: bounds.1, ..*range };
                trip.rows.extend(sql::count_events(account, &part).map(|query| (owner, query)));
            }
        }
        if let Some((start_ms, end_ms)) = sealed {
            let sums = self.sealed_sums(shape, account, range.granularity, start_ms, end_ms, generation).await?;
            rows.extend(sums.iter().map(|row| shape.apply(row.clone(), range)));
        }
        // What is not sealed is the newest hour or two: few rows, summed by
        // [`merge`] (faster than SQLite's GROUP BY for a few hundred rows).
        let pieces = rollup_queries(shape, read_as, account, range.granularity, rollups);
        trip.rows.extend(pieces.into_iter().map(|query| (owner, query)));
        Ok(rows)
    }

    /// The sum of the sealed hours `[start_ms, end_ms)`, from memory if it was
    /// computed at `generation` (read before the rows, so that a change after it
    /// makes the sum stale).
    async fn sealed_sums(
        &self,
        shape: Shape,
        account: Option<Account>,
        granularity: Granularity,
        start_ms: i64,
        end_ms: i64,
        generation: i64,
    ) -> Result<Arc<Vec<CountRow>>, StoreError> {
        let key = SealedKey { shape, account, granularity, start_ms, end_ms };
        if let Some(rows) = self.sealed.get(&key, generation) {
            return Ok(rows);
        }
        let range = UsageRange { since_ms: start_ms, until_ms: end_ms, granularity };
        let queries = rollup_queries(shape, shape, account, granularity, (start_ms, end_ms));
        let found = self.storage.counts(queries).await?.answers.into_iter().flatten().collect();
        let rows = count_rows(found, |start| range.bucket_of(start))?;
        let rows = Arc::new(merge(rows.into_iter().map(|row| shape.apply(row, &range)).collect()));
        self.sealed.insert(key, generation, rows.clone());
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
        let Some(query) = sql::count_events(account, range) else { return Ok(Vec::new()) };
        let found = self.storage.counts(vec![query]).await?.answers.into_iter().flatten().collect();
        count_rows(found, |start| start)
    }

    /// Deletes raw events received before `cutoff_ms` (rollups stay), a chunk at a
    /// time so writers are never blocked for long; returns how many went.
    ///
    /// # Errors
    /// A database failure (what was deleted before it stays deleted).
    pub async fn prune_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let deleted = self.storage.prune_events_before(cutoff_ms, PRUNE_CHUNK).await?;
            pruned += deleted;
            if deleted == 0 {
                return Ok(pruned);
            }
        }
    }
}

/// A view's counts: see [`Store::count_view`].
#[derive(Debug, Clone, Default)]
pub struct ViewCounts {
    /// Events per bucket ([`Shape::Series`], or everyone's [`Shape::Timeline`]).
    pub by_time: Vec<CountRow>,
    /// Events per account and origin, buckets summed ([`Shape::Origins`]).
    pub by_origin: Vec<CountRow>,
    /// Each key's billable events in the month asked for (none if none was).
    pub billable_this_month: HashMap<KeyId, u64>,
    /// For one licence's view: its key's events on origins it is not allowed on,
    /// per origin ([`Shape::Origins`]); everyone's view has them in `by_origin`.
    pub not_allowed_origins: Vec<CountRow>,
}

/// `[start_ms, end_ms)` in days: how a monthly limit is counted.
fn month_range(start_ms: i64, end_ms: i64) -> UsageRange {
    UsageRange { since_ms: start_ms, until_ms: end_ms, granularity: Granularity::Day }
}

/// The queries of one trip to the database, each with the request it answers.
#[derive(Debug, Default)]
struct Trip {
    /// Events stored after a range ended, to take away from its counts.
    since_end: Vec<(usize, CountsQuery)>,
    /// Raw edges and rollup pieces, to add to them.
    rows: Vec<(usize, CountsQuery)>,
}

impl Store {
    /// The raw events of the sealed edge `[since_ms, until_ms)` in buckets of
    /// `granularity`, per detail, from memory when a range started at the same
    /// moment before (as a dashboard's does between reloads).
    async fn sealed_raw(
        &self,
        account: Option<Account>,
        granularity: Granularity,
        (since_ms, until_ms): Bounds,
        generation: i64,
    ) -> Result<Arc<Vec<CountRow>>, StoreError> {
        let key = SealedKey { shape: Shape::Detail, account, granularity, start_ms: since_ms, end_ms: until_ms };
        if let Some(rows) = self.sealed.get(&key, generation) {
            return Ok(rows);
        }
        let part = UsageRange { since_ms, until_ms, granularity };
        let rows = Arc::new(self.count_rows_raw(account, &part).await?);
        self.sealed.insert(key, generation, rows.clone());
        Ok(rows)
    }
}

/// The queries for the rollup rows of `bounds` (whole hours), each piece read
/// from the coarsest rollup that fits `shape` and `granularity`, summed by the
/// database as `read_as` asks.
fn rollup_queries(
    shape: Shape,
    read_as: Shape,
    account: Option<Account>,
    granularity: Granularity,
    bounds: Bounds,
) -> Vec<CountsQuery> {
    rollup_pieces(shape, granularity, bounds)
        .into_iter()
        .map(|(rollup, (start_ms, end_ms))| sql::count_rollup(rollup, read_as, account, start_ms, end_ms))
        .collect()
}
