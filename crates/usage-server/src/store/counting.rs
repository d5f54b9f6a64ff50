//! Counting events exactly once, and reading the counts back from the rollups.
//!
//! Rollups (updated in the same transaction as the events they count):
//! per origin by hour, day and month (`rollup_hourly`, `rollup_daily`,
//! `rollup_monthly`), and without origins by hour and day (`totals_hourly`,
//! `totals_daily`). A range is cut into whole months, days and hours and each
//! piece read from the coarsest rollup that fits, so a query reads about one row
//! per bucket (and origin) it answers with, whatever the number of events.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use usage_core::{
    month_period_utc_ms, Classification, EventId, EventKind, Granularity, UsageRange, MS_PER_DAY, MS_PER_HOUR,
};

use super::sealed::{SealedKey, SEAL_MARGIN_MS};
use super::storage::Counts;
use super::{now_ms, Account, KeyId, Store, StoreError};

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

/// A count query both engines run: SQL with `$n` placeholders, all integers,
/// whose rows are `key_id, bucket_start, origin, event_kind, billable,
/// development, failed` (origin `''` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsQuery {
    /// The statement.
    pub sql: String,
    /// `$1`, `$2`, … in order.
    pub params: Vec<i64>,
}

/// One row of a [`CountsQuery`], as the database returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsRow {
    /// `usage_events.key_id`.
    pub key_id: i64,
    /// A bucket start.
    pub bucket_start: i64,
    /// The origin, `""` for none.
    pub origin: String,
    /// The event kind's name.
    pub event_kind: String,
    /// Billable, development and failed events.
    pub counts: [i64; 3],
}

/// A time grain of the rollups, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// UTC hours.
    Hour,
    /// UTC days.
    Day,
    /// UTC calendar months.
    Month,
}

impl Level {
    /// The start of the bucket holding `ms`.
    pub fn floor(self, ms: i64) -> i64 {
        match self {
            Level::Hour => ms.div_euclid(MS_PER_HOUR) * MS_PER_HOUR,
            Level::Day => ms.div_euclid(MS_PER_DAY) * MS_PER_DAY,
            Level::Month => month_period_utc_ms(ms).0,
        }
    }

    /// The first bucket start at or after `ms`.
    fn ceil(self, ms: i64) -> i64 {
        let start = self.floor(ms);
        match (start == ms, self) {
            (true, _) => ms,
            (false, Level::Hour) => start + MS_PER_HOUR,
            (false, Level::Day) => start + MS_PER_DAY,
            (false, Level::Month) => month_period_utc_ms(start).1,
        }
    }

    fn finer(self) -> Option<Level> {
        match self {
            Level::Hour => None,
            Level::Day => Some(Level::Hour),
            Level::Month => Some(Level::Day),
        }
    }

    fn of(granularity: Granularity) -> Level {
        match granularity {
            Granularity::Hour => Level::Hour,
            Granularity::Day => Level::Day,
        }
    }
}

/// Cuts `[start, end)` (whole hours) into pieces of whole months, days and hours,
/// each as coarse as `coarsest` allows and the range's ends permit.
fn decompose(start: i64, end: i64, coarsest: Level, pieces: &mut Vec<(Level, i64, i64)>) {
    if start >= end {
        return;
    }
    let Some(finer) = coarsest.finer() else {
        pieces.push((coarsest, start, end));
        return;
    };
    let (first, last) = (coarsest.ceil(start), coarsest.floor(end));
    if first < last {
        decompose(start, first, finer, pieces);
        pieces.push((coarsest, first, last));
        decompose(last, end, finer, pieces);
    } else {
        decompose(start, end, finer, pieces);
    }
}

/// A rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    /// Its name.
    pub table: &'static str,
    /// Its bucket column.
    pub bucket: &'static str,
    /// Its time grain.
    pub level: Level,
    /// Whether it counts per origin.
    pub by_origin: bool,
}

impl Rollup {
    pub const HOURLY: Rollup =
        Rollup { table: "rollup_hourly", bucket: "hour_ms", level: Level::Hour, by_origin: true };
    pub const DAILY: Rollup = Rollup { table: "rollup_daily", bucket: "day_ms", level: Level::Day, by_origin: true };
    pub const MONTHLY: Rollup =
        Rollup { table: "rollup_monthly", bucket: "month_ms", level: Level::Month, by_origin: true };
    pub const TOTALS_HOURLY: Rollup =
        Rollup { table: "totals_hourly", bucket: "hour_ms", level: Level::Hour, by_origin: false };
    pub const TOTALS_DAILY: Rollup =
        Rollup { table: "totals_daily", bucket: "day_ms", level: Level::Day, by_origin: false };
    /// Every rollup a new event is added to.
    pub const ALL: [Rollup; 5] =
        [Rollup::HOURLY, Rollup::DAILY, Rollup::MONTHLY, Rollup::TOTALS_HOURLY, Rollup::TOTALS_DAILY];

    fn at(level: Level, by_origin: bool) -> Rollup {
        Rollup::ALL.into_iter().find(|r| r.level == level && r.by_origin == by_origin).unwrap_or(Rollup::HOURLY)
    }

    /// Values per row of an upsert: the key columns and three counts.
    pub fn columns(&self) -> usize {
        if self.by_origin {
            7
        } else {
            6
        }
    }
}

/// The key of a rollup row: account, bucket start, origin (`""` for none or a
/// rollup without origins), kind.
pub type RollupKey = (i64, i64, String, &'static str);

/// What one batch adds to one rollup, in key order (so that concurrent batches
/// on PostgreSQL take row locks in the same order and cannot deadlock).
pub type RollupDeltas = BTreeMap<RollupKey, [i64; 3]>;

/// Sums the new (not repeated) events of a batch into each rollup's deltas.
pub fn rollup_deltas(events: &[NewEvent], recorded: &[Recorded]) -> Vec<(Rollup, RollupDeltas)> {
    Rollup::ALL
        .into_iter()
        .map(|rollup| {
            let mut deltas = RollupDeltas::new();
            for (event, _) in events.iter().zip(recorded).filter(|(_, r)| !r.repeat) {
                let origin = if rollup.by_origin { event.origin.clone().unwrap_or_default() } else { String::new() };
                let key =
                    (event.account.stored_id(), rollup.level.floor(event.created_at_ms), origin, event.kind.as_str());
                deltas.entry(key).or_default()[class_index(event.classification)] += 1;
            }
            (rollup, deltas)
        })
        .collect()
}

fn class_index(classification: Classification) -> usize {
    match classification {
        Classification::Billable => 0,
        Classification::Development => 1,
        Classification::Failed => 2,
    }
}

/// How much detail a count query keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Per bucket and origin.
    Detail,
    /// Per bucket, origins summed.
    Series,
    /// Per bucket, origins and accounts summed: the vendor's series of
    /// everything. Every row's account is [`Shape::TIMELINE_ACCOUNT`] (a
    /// placeholder, as [`Shape::Origins`] puts every row in the range's first bucket).
    Timeline,
    /// Per origin, buckets summed.
    Origins,
    /// Per account, buckets and origins summed: what a monthly limit counts.
    Totals,
}

impl Shape {
    /// The account of every [`Shape::Timeline`] row.
    pub const TIMELINE_ACCOUNT: Account = Account::Unlicensed;

    /// Drops what this shape sums over from a detailed row.
    fn apply(self, row: CountRow, range: &UsageRange) -> CountRow {
        match self {
            Shape::Detail => row,
            Shape::Series => CountRow { origin: None, ..row },
            Shape::Timeline => CountRow { origin: None, account: Shape::TIMELINE_ACCOUNT, ..row },
            Shape::Origins => CountRow { bucket_start: range.since_ms, ..row },
            Shape::Totals => CountRow { bucket_start: range.since_ms, origin: None, ..row },
        }
    }

    /// The coarsest rollup grain this shape may read for `granularity`.
    fn coarsest(self, granularity: Granularity) -> Level {
        match self {
            Shape::Origins => Level::Month,
            // There is no monthly rollup without origins.
            Shape::Totals => Level::Day,
            Shape::Detail | Shape::Series | Shape::Timeline => Level::of(granularity),
        }
    }

    /// Whether its rows keep origins (so only the rollups with origins answer it).
    fn by_origin(self) -> bool {
        matches!(self, Shape::Detail | Shape::Origins)
    }
}

/// Far enough ahead to cover every stored event ("since, with no end").
const NO_END_MS: i64 = i64::MAX / 4;

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
    /// (every row's account is [`Shape::TIMELINE_ACCOUNT`]): the vendor's series.
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
                counted.push(self.plan(index, request, generation, &mut trip).await?);
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

    /// Adds to `trip` what `request` needs from the database and returns what
    /// memory already holds of it (the sealed sums), shaped.
    async fn plan(
        &self,
        owner: usize,
        request: &CountRequest<'_>,
        generation: i64,
        trip: &mut Trip,
    ) -> Result<Vec<CountRow>, StoreError> {
        let CountRequest { account, range, shape } = *request;
        let coarsest = shape.coarsest(range.granularity);
        let first_hour = Level::Hour.ceil(range.since_ms);
        // Nothing is stored after now, so a range reaching now may read the
        // buckets holding now whole (down to the coarsest grain the shape allows)
        // instead of the raw events and finer rollups of its last hours and days.
        // A range that ended a moment ago (a request's `until` defaults to its
        // arrival) is read the same way, less the few events stored since it
        // ended: the raw events of its last partial hour would grow with traffic.
        let now = now_ms();
        let ended_moments_ago =
            range.until_ms < now && now - range.until_ms < range.until_ms - Level::Hour.floor(range.until_ms);
        let reaches_now = range.until_ms >= now || ended_moments_ago;
        let last_hour = if reaches_now { coarsest.ceil(now) } else { Level::Hour.floor(range.until_ms) };
        if first_hour >= last_hour {
            trip.rows.extend(raw_query(account, range).map(|query| (owner, query)));
            return Ok(Vec::new());
        }
        if ended_moments_ago {
            let tail = UsageRange { since_ms: range.until_ms, until_ms: NO_END_MS, ..*range };
            trip.since_end.extend(raw_query(account, &tail).map(|query| (owner, query)));
        }
        // The sealed parts come from memory when they can (series and origins:
        // what pages ask for again and again; exports are read whole).
        let cached = shape != Shape::Detail;
        let end_ms = if reaches_now { last_hour } else { range.until_ms };
        let mut rows = Vec::new();
        for edge in [(range.since_ms, first_hour), (last_hour, end_ms)] {
            match self.sealed_raw(account, range, edge, cached, generation).await? {
                Some(sealed) => rows.extend(sealed.iter().map(|row| shape.apply(row.clone(), range))),
                None => {
                    let part = UsageRange { since_ms: edge.0, until_ms: edge.1, ..*range };
                    trip.rows.extend(raw_query(account, &part).map(|query| (owner, query)));
                }
            }
        }
        let sealed_until =
            if cached { Level::Hour.floor(now - SEAL_MARGIN_MS).clamp(first_hour, last_hour) } else { first_hour };
        if sealed_until > first_hour {
            let sums =
                self.sealed_sums(shape, account, range.granularity, first_hour, sealed_until, generation).await?;
            rows.extend(sums.iter().map(|row| shape.apply(row.clone(), range)));
        }
        // What is not sealed is the newest hour or two: few rows, summed by
        // [`merge`] (faster than SQLite's GROUP BY for a few hundred rows).
        let read_as = if cached { Shape::Detail } else { shape };
        let pieces = rollup_queries(shape, read_as, account, range.granularity, (sealed_until, last_hour));
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
        let Some(query) = raw_query(account, range) else { return Ok(Vec::new()) };
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

/// Billable events per key, from [`Shape::Totals`] rows.
fn billable_per_key(rows: &[CountRow]) -> HashMap<KeyId, u64> {
    let mut per_key = HashMap::new();
    for row in rows {
        if let (Account::Key(id), Classification::Billable) = (row.account, row.classification) {
            *per_key.entry(id).or_insert(0) += row.count;
        }
    }
    per_key
}

/// One count a view needs: whose events (everyone's when `None`), over which
/// range, summed how.
#[derive(Debug, Clone, Copy)]
pub struct CountRequest<'a> {
    /// Whose events.
    pub account: Option<Account>,
    /// Which events, in which buckets.
    pub range: &'a UsageRange,
    /// What is summed over.
    pub shape: Shape,
}

/// `[since_ms, until_ms)`.
type Bounds = (i64, i64);

/// The queries of one trip to the database, each with the request it answers.
#[derive(Debug, Default)]
struct Trip {
    /// Events stored after a range ended, to take away from its counts.
    since_end: Vec<(usize, CountsQuery)>,
    /// Raw edges and rollup pieces, to add to them.
    rows: Vec<(usize, CountsQuery)>,
}

impl Store {
    /// The raw events of the sealed edge `[since_ms, until_ms)` in `range`'s
    /// buckets, per detail, from the sealed sums (a range that starts at the same
    /// moment again, as a dashboard's does between reloads); `None` when the edge
    /// is not sealed or not `cached`, so it must be read with the rest.
    async fn sealed_raw(
        &self,
        account: Option<Account>,
        range: &UsageRange,
        (since_ms, until_ms): Bounds,
        cached: bool,
        generation: i64,
    ) -> Result<Option<Arc<Vec<CountRow>>>, StoreError> {
        if since_ms >= until_ms {
            return Ok(Some(Arc::default()));
        }
        if !cached || until_ms > now_ms() - SEAL_MARGIN_MS {
            return Ok(None);
        }
        let key = SealedKey {
            shape: Shape::Detail,
            account,
            granularity: range.granularity,
            start_ms: since_ms,
            end_ms: until_ms,
        };
        if let Some(rows) = self.sealed.get(&key, generation) {
            return Ok(Some(rows));
        }
        let part = UsageRange { since_ms, until_ms, granularity: range.granularity };
        let rows = Arc::new(self.count_rows_raw(account, &part).await?);
        self.sealed.insert(key, generation, rows.clone());
        Ok(Some(rows))
    }
}

/// Counts the raw events of `range` in its buckets; `None` for an empty range.
fn raw_query(account: Option<Account>, range: &UsageRange) -> Option<CountsQuery> {
    if range.since_ms >= range.until_ms {
        return None;
    }
    let filter = if account.is_some() { "AND key_id = $4" } else { "" };
    let sums = Classification::ALL
        .map(|c| format!("CAST(SUM(CASE WHEN classification = '{0}' THEN 1 ELSE 0 END) AS BIGINT) AS {0}", c.as_str()))
        .join(", ");
    let sql = format!(
        "SELECT key_id, (created_at_ms / $1) * $1 AS bucket_start, COALESCE(origin, '') AS origin, event_kind, {sums} \
         FROM usage_events WHERE created_at_ms >= $2 AND created_at_ms < $3 {filter} \
         GROUP BY key_id, (created_at_ms / $1) * $1, COALESCE(origin, ''), event_kind"
    );
    let mut params = vec![range.granularity.bucket_ms(), range.since_ms, range.until_ms];
    params.extend(account.map(Account::stored_id));
    Some(CountsQuery { sql, params })
}

/// The queries for the rollup rows of `[start_ms, end_ms)` (whole hours), each
/// piece read from the coarsest rollup that fits `shape` and `granularity`,
/// summed by the database as `read_as` asks.
fn rollup_queries(
    shape: Shape,
    read_as: Shape,
    account: Option<Account>,
    granularity: Granularity,
    (start_ms, end_ms): Bounds,
) -> Vec<CountsQuery> {
    let mut pieces = Vec::new();
    decompose(start_ms, end_ms, shape.coarsest(granularity), &mut pieces);
    pieces
        .into_iter()
        .map(|(level, start_ms, end_ms)| {
            rollup_query(Rollup::at(level, shape.by_origin()), read_as, account, start_ms, end_ms)
        })
        .collect()
}

/// The order a batch is written in: account, then eventId (borrowed, so sorting
/// allocates nothing).
fn write_order(event: &NewEvent) -> (i64, Option<&str>) {
    (event.account.stored_id(), event.event_id.as_ref().map(EventId::as_str))
}

/// Reads `rollup`'s rows with their bucket in `[start_ms, end_ms)`, summed by the
/// database as `shape` asks.
fn rollup_query(rollup: Rollup, shape: Shape, account: Option<Account>, start_ms: i64, end_ms: i64) -> CountsQuery {
    let Rollup { table, bucket, .. } = rollup;
    let filter = if account.is_some() { "AND key_id = $3" } else { "" };
    let origin = if rollup.by_origin { "origin" } else { "''" };
    let sums = Classification::ALL.map(|c| format!("CAST(SUM({0}) AS BIGINT) AS {0}", c.as_str())).join(", ");
    let sql = match shape {
        // Rows are unique per bucket here already: nothing to sum.
        Shape::Detail => format!(
            "SELECT key_id, {bucket} AS bucket_start, {origin} AS origin, event_kind, billable, development, failed \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter}"
        ),
        Shape::Series => format!(
            "SELECT key_id, {bucket} AS bucket_start, '' AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} GROUP BY key_id, {bucket}, event_kind"
        ),
        Shape::Timeline => format!(
            "SELECT CAST({placeholder} AS BIGINT) AS key_id, {bucket} AS bucket_start, '' AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} GROUP BY {bucket}, event_kind",
            placeholder = Shape::TIMELINE_ACCOUNT.stored_id()
        ),
        Shape::Origins => format!(
            "SELECT key_id, CAST(0 AS BIGINT) AS bucket_start, {origin} AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} GROUP BY key_id, {origin}, event_kind"
        ),
        Shape::Totals => format!(
            "SELECT key_id, CAST(0 AS BIGINT) AS bucket_start, '' AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} GROUP BY key_id, event_kind"
        ),
    };
    let mut params = vec![start_ms, end_ms];
    params.extend(account.map(Account::stored_id));
    CountsQuery { sql, params }
}

/// Count rows of the classifications that have events, buckets mapped by `bucket_of`.
fn count_rows(rows: Vec<CountsRow>, bucket_of: impl Fn(i64) -> i64) -> Result<Vec<CountRow>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = EventKind::from_str(&row.event_kind).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let account = Account::from_stored_id(row.key_id);
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
    (a.bucket_start, a.account.stored_id())
        .cmp(&(b.bucket_start, b.account.stored_id()))
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
fn merge(mut rows: Vec<CountRow>) -> Vec<CountRow> {
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
fn subtract(mut rows: Vec<CountRow>, minus: &[CountRow]) -> Vec<CountRow> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T19:00:00Z and 2026-11-01T00:00:00Z.
    const NOV_22_19H: i64 = 1_795_374_000_000;
    const NOV_1: i64 = 1_793_491_200_000;

    #[test]
    fn levels_round_to_their_buckets() {
        assert_eq!(Level::Hour.ceil(3_600_001), 7_200_000);
        assert_eq!(Level::Hour.ceil(3_600_000), 3_600_000);
        assert_eq!(Level::Hour.ceil(-1), 0);
        assert_eq!(Level::Month.floor(NOV_22_19H), NOV_1);
        assert_eq!(Level::Month.ceil(NOV_1 + 1), NOV_1 + 30 * MS_PER_DAY);
        assert_eq!(Level::Day.ceil(NOV_22_19H), NOV_1 + 22 * MS_PER_DAY);
    }

    #[test]
    fn ranges_are_cut_into_the_coarsest_whole_buckets() {
        // 2026-09-29T05:00 to 2026-11-22T19:00.
        let start = NOV_1 - 33 * MS_PER_DAY + 5 * MS_PER_HOUR;
        let mut pieces = Vec::new();
        decompose(start, NOV_22_19H, Level::Month, &mut pieces);
        let oct_1 = NOV_1 - 31 * MS_PER_DAY;
        let nov_22 = NOV_1 + 21 * MS_PER_DAY;
        assert_eq!(
            pieces,
            vec![
                (Level::Hour, start, start + 19 * MS_PER_HOUR),
                (Level::Day, start + 19 * MS_PER_HOUR, oct_1),
                (Level::Month, oct_1, NOV_1),
                (Level::Day, NOV_1, nov_22),
                (Level::Hour, nov_22, NOV_22_19H),
            ]
        );
        // Contiguous, whatever the grain allowed.
        for coarsest in [Level::Hour, Level::Day, Level::Month] {
            let mut pieces = Vec::new();
            decompose(start, NOV_22_19H, coarsest, &mut pieces);
            assert!(pieces.iter().all(|(level, _, _)| *level <= coarsest));
            assert_eq!(pieces.first().unwrap().1, start);
            assert_eq!(pieces.last().unwrap().2, NOV_22_19H);
            assert!(pieces.windows(2).all(|w| w[0].2 == w[1].1));
        }
    }

    #[test]
    fn repeats_add_nothing_to_the_rollups() {
        let event = |origin: Option<&str>, classification| NewEvent {
            account: Account::Unlicensed,
            event_id: None,
            kind: EventKind::WebcodecConversion,
            classification,
            origin: origin.map(str::to_owned),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: NOV_22_19H + 5,
        };
        let events = [
            event(Some("https://a.com"), Classification::Billable),
            event(Some("https://a.com"), Classification::Billable),
            event(None, Classification::Failed),
        ];
        let fresh = |classification| Recorded { classification, repeat: false };
        let recorded = [
            fresh(Classification::Billable),
            Recorded { classification: Classification::Billable, repeat: true },
            fresh(Classification::Failed),
        ];
        let deltas: HashMap<_, _> = rollup_deltas(&events, &recorded).into_iter().map(|(r, d)| (r.table, d)).collect();
        let hourly = &deltas["rollup_hourly"];
        assert_eq!(hourly[&(0, NOV_22_19H, "https://a.com".to_owned(), "webcodec-conversion")], [1, 0, 0]);
        assert_eq!(hourly[&(0, NOV_22_19H, String::new(), "webcodec-conversion")], [0, 0, 1]);
        assert_eq!(
            deltas["totals_daily"][&(0, NOV_1 + 21 * MS_PER_DAY, String::new(), "webcodec-conversion")],
            [1, 0, 1]
        );
        assert_eq!(deltas["rollup_monthly"].len(), 2);
    }
}
