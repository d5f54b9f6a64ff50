//! The rollups answer exactly what counting raw events answers: randomised events
//! (crowded around UTC month, day and hour boundaries, with repeated eventIds)
//! written through the store's real write path, then random ranges compared, on
//! SQLite and on PostgreSQL.

mod common;

use std::collections::HashMap;

use common::postgres::TestPostgres;
use common::TestDb;
use usage_core::{
    month_period_utc_ms, Classification, EventId, EventKind, Granularity, UsageRange, MS_PER_DAY, MS_PER_HOUR,
};
use usage_server::store::{Account, Actor, CountRow, KeyId, NewEvent, NewKey, Store};

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What a count row counts: account (`None`: every account's), bucket, origin,
/// kind, classification.
type RowKey = (Option<i64>, i64, Option<std::sync::Arc<str>>, &'static str, &'static str);
/// A count row as a sortable tuple: account, bucket, origin, kind, classification, count.
type Flat = (Option<i64>, i64, Option<std::sync::Arc<str>>, &'static str, &'static str, u64);

fn sorted(mut rows: Vec<CountRow>) -> Vec<Flat> {
    rows.retain(|row| row.count > 0);
    let mut keys: Vec<_> = rows
        .into_iter()
        .map(|r| {
            (
                r.account.map(Account::stored_id),
                r.bucket_start,
                r.origin,
                r.kind.as_str(),
                r.classification.as_str(),
                r.count,
            )
        })
        .collect();
    keys.sort();
    keys
}

/// Rows added up where everything but the count agrees, sorted.
fn merged(rows: Vec<CountRow>) -> Vec<Flat> {
    let mut sums: std::collections::BTreeMap<RowKey, u64> = std::collections::BTreeMap::new();
    for (account, bucket, origin, kind, class, count) in sorted(rows) {
        *sums.entry((account, bucket, origin, kind, class)).or_default() += count;
    }
    sums.into_iter().map(|((a, b, o, k, c), n)| (a, b, o, k, c, n)).collect()
}

/// A fresh random event id.
fn random_event_id(rng: &mut Rng) -> EventId {
    let mut bytes = [0u8; 16];
    bytes.iter_mut().for_each(|b| *b = rng.below(256) as u8);
    EventId::from_random_bytes(bytes)
}

/// A timestamp within the last 85 days, often within a few ms of a boundary.
fn timestamp(rng: &mut Rng, now: i64) -> i64 {
    let month_start = month_period_utc_ms(now).0;
    let earliest = now - 85 * MS_PER_DAY;
    let raw = earliest + rng.below((now - earliest) as u64) as i64;
    let near = |boundary: i64, rng: &mut Rng| boundary + rng.below(5) as i64 - 2;
    let t = match rng.below(6) {
        0 => near(month_start, rng),
        1 => near(raw.div_euclid(MS_PER_DAY) * MS_PER_DAY, rng),
        2 => near(raw.div_euclid(MS_PER_HOUR) * MS_PER_HOUR, rng),
        _ => raw,
    };
    t.clamp(earliest, now - 1)
}

/// Randomised events through the real write path; returns the accounts used, the
/// time they were written at, and the generator to go on with.
async fn fill(store: &Store, seed: u64) -> ([Account; 4], i64, Rng) {
    for name in ["a", "b"] {
        let key = NewKey {
            name: name.into(),
            public_key: format!("rm_pub_{name}"),
            secret_key_hash: format!("hash-{name}"),
            monthly_limit: None,
            allowed_origins: Default::default(),
        };
        store.create_licence(key, &Actor::Cli).await.unwrap();
    }
    let keys = store.list_keys().await.unwrap();
    let accounts = [Account::Key(keys[0].id), Account::Key(keys[1].id), Account::Unlicensed, Account::FreeLicense];
    let origins =
        [None, Some("https://a.com"), Some("https://b.com"), Some("http://localhost:3000"), Some("https://c.io")];
    let now = usage_server::store::now_ms();
    let mut rng = Rng(seed);
    let mut ids: Vec<EventId> = Vec::new();
    for _ in 0..40 {
        let batch: Vec<NewEvent> = (0..1 + rng.below(60))
            .map(|_| {
                let event_id = match rng.below(10) {
                    0 => None,
                    1 if !ids.is_empty() => Some(ids[rng.below(ids.len() as u64) as usize].clone()),
                    _ => {
                        let id = random_event_id(&mut rng);
                        ids.push(id.clone());
                        Some(id)
                    }
                };
                NewEvent {
                    account: rng.pick(&accounts),
                    event_id,
                    kind: rng.pick(&EventKind::ALL),
                    classification: rng.pick(&Classification::ALL),
                    origin: rng.pick(&origins).map(str::to_owned),
                    origin_claim_differed: false,
                    is_still: None,
                    created_at_ms: timestamp(&mut rng, now),
                }
            })
            .collect();
        store.record_events(batch).await.unwrap();
    }

    (accounts, now, rng)
}

async fn rollups_equal_raw_counts(url: &str, seed: u64) {
    let store = Store::open(url).await.unwrap();
    let (accounts, now, rng) = fill(&store, seed).await;
    compare_with_raw_counts(&store, accounts, now, rng, seed).await;
    store.close().await;
}

/// Random ranges and shapes, read from the rollups and from raw events.
async fn compare_with_raw_counts(store: &Store, accounts: [Account; 4], now: i64, mut rng: Rng, seed: u64) {
    let month = month_period_utc_ms(now);
    let boundary = |rng: &mut Rng| match rng.below(4) {
        0 => month.0 + rng.below(3) as i64 - 1,
        1 => timestamp(rng, now).div_euclid(MS_PER_DAY) * MS_PER_DAY,
        2 => timestamp(rng, now).div_euclid(MS_PER_HOUR) * MS_PER_HOUR + 1,
        _ => timestamp(rng, now),
    };
    for case in 0..60 {
        let a = boundary(&mut rng);
        let b = if rng.below(3) == 0 { now } else { boundary(&mut rng) };
        let (since, until) = (a.min(b), a.max(b).min(now));
        if until <= since {
            continue;
        }
        let granularity =
            if until - since <= 7 * MS_PER_DAY && rng.below(2) == 0 { Granularity::Hour } else { Granularity::Day };
        let range = UsageRange { since_ms: since, until_ms: until, granularity };
        let account = if rng.below(3) == 0 { None } else { Some(rng.pick(&accounts)) };
        check_range(store, &range, account, &format!("seed {seed}, case {case}")).await;
    }
    // get-usage's "since, no end" and the monthly limit's count agree too.
    for account in accounts {
        let since = now - 30 * MS_PER_DAY - 1234;
        let raw = UsageRange { since_ms: since, until_ms: now + 1, granularity: Granularity::Day };
        let raw_rows = store.count_rows_raw(Some(account), &raw).await.unwrap();
        let expected = merged(raw_rows.into_iter().map(|row| CountRow { origin: None, ..row }).collect());
        assert_eq!(sorted(store.count_since(account, since).await.unwrap()), expected);
        if let Account::Key(KeyId(id)) = account {
            let month_raw = UsageRange { since_ms: month.0, until_ms: month.1, granularity: Granularity::Day };
            let billable: u64 = store
                .count_rows_raw(Some(account), &month_raw)
                .await
                .unwrap()
                .iter()
                .filter(|row| row.classification == Classification::Billable)
                .map(|row| row.count)
                .sum();
            assert_eq!(store.count_billable(KeyId(id), month.0, month.1).await.unwrap(), billable);
        }
    }
}

/// Every shape of `range` read from the rollups equals what raw events count.
async fn check_range(store: &Store, range: &UsageRange, account: Option<Account>, context: &str) {
    let raw = store.count_rows_raw(account, range).await.unwrap();
    let from_rollups = sorted(store.count_rows(account, range).await.unwrap());
    assert_eq!(from_rollups, sorted(raw.clone()), "{context}: {range:?} {account:?}");
    // The shapes the views read: origins summed, and buckets summed.
    let series = sorted(store.count_series(account, range).await.unwrap());
    let by_time = raw.iter().map(|row| CountRow { origin: None, ..row.clone() }).collect();
    assert_eq!(series, merged(by_time), "series, {context}: {range:?} {account:?}");
    let origins = sorted(store.count_origins(account, range).await.unwrap());
    let by_origin = raw.into_iter().map(|row| CountRow { bucket_start: range.since_ms, ..row }).collect();
    assert_eq!(origins, merged(by_origin), "origins, {context}: {range:?} {account:?}");
    // The vendor's series sums accounts too.
    let timeline = sorted(store.count_timeline(range).await.unwrap());
    let everyone = store.count_rows_raw(None, range).await.unwrap();
    // Every key's billable events, as the vendor's limit column counts them.
    let mut billable_per_key = HashMap::new();
    for row in &everyone {
        if let (Some(Account::Key(id)), Classification::Billable) = (row.account, row.classification) {
            *billable_per_key.entry(id).or_insert(0) += row.count;
        }
    }
    assert_eq!(
        store.count_billable_per_key(range.since_ms, range.until_ms).await.unwrap(),
        billable_per_key,
        "billable per key, {context}: {range:?}"
    );
    let by_time_only = everyone.into_iter().map(|row| CountRow { origin: None, account: None, ..row }).collect();
    assert_eq!(timeline, merged(by_time_only), "timeline, {context}: {range:?}");
    // A view reads them together (the vendor's view reads the timeline instead
    // of the series).
    let by_time = if account.is_some() { series } else { timeline };
    let view = store.count_view(account, range, None).await.unwrap();
    assert_eq!((sorted(view.by_time), sorted(view.by_origin)), (by_time.clone(), origins.clone()), "view, {context}");
    assert!(view.billable_this_month.is_empty(), "no month asked for, {context}");
    // With a "month" (the range itself here): its billable events per key too
    // (only the account's), all in one trip.
    let view = store.count_view(account, range, Some((range.since_ms, range.until_ms))).await.unwrap();
    let mut billable = billable_per_key;
    billable.retain(|id, _| account.is_none() || account == Some(Account::Key(*id)));
    assert_eq!(
        (sorted(view.by_time), sorted(view.by_origin), view.billable_this_month),
        (by_time, origins, billable),
        "view with a month, {context}: {range:?} {account:?}"
    );
}

/// A range that ended a moment ago (a request's `until` defaults to its arrival)
/// counts nothing stored after it, though it is read from the rollups of the
/// buckets holding now.
async fn a_range_ended_moments_ago_counts_nothing_after_it(url: &str) {
    let store = Store::open(url).await.unwrap();
    let (accounts, _, mut rng) = fill(&store, 0x7a11).await;
    let until = usage_server::store::now_ms() - 1_000;
    let events: Vec<NewEvent> = (0..60)
        .map(|i| NewEvent {
            account: rng.pick(&accounts),
            event_id: Some(random_event_id(&mut rng)),
            kind: rng.pick(&EventKind::ALL),
            classification: rng.pick(&Classification::ALL),
            origin: rng.pick(&[None, Some("https://a.com"), Some("https://late.com")]).map(str::to_owned),
            origin_claim_differed: false,
            is_still: None,
            // Half in the last minute before `until`, half after it.
            created_at_ms: if i % 2 == 0 {
                until - 1 - rng.below(60_000) as i64
            } else {
                until + rng.below(900) as i64
            },
        })
        .collect();
    store.record_events(events).await.unwrap();
    for (since, granularity) in [
        (until - 3 * MS_PER_DAY, Granularity::Day),
        (until.div_euclid(MS_PER_DAY) * MS_PER_DAY - 10 * MS_PER_DAY, Granularity::Day),
        (until - 30 * MS_PER_HOUR, Granularity::Hour),
        (until.div_euclid(MS_PER_HOUR) * MS_PER_HOUR - 5 * MS_PER_HOUR, Granularity::Hour),
    ] {
        let range = UsageRange { since_ms: since, until_ms: until, granularity };
        for account in [None, Some(accounts[0]), Some(accounts[2])] {
            check_range(&store, &range, account, "ended moments ago").await;
        }
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_a_range_ended_moments_ago_counts_nothing_after_it() {
    let db = TestDb::sqlite();
    a_range_ended_moments_ago_counts_nothing_after_it(&db.url).await;
}

#[tokio::test]
async fn postgres_a_range_ended_moments_ago_counts_nothing_after_it() {
    let Some(pg) = TestPostgres::start() else { return };
    a_range_ended_moments_ago_counts_nothing_after_it(&pg.url).await;
}

#[tokio::test]
async fn sqlite_rollups_equal_raw_counts() {
    for seed in [1, 0x5eed, 0xdead_beef] {
        let db = TestDb::sqlite();
        rollups_equal_raw_counts(&db.url, seed).await;
    }
}

#[tokio::test]
async fn postgres_rollups_equal_raw_counts() {
    let Some(pg) = TestPostgres::start() else { return };
    rollups_equal_raw_counts(&pg.url, 0x9e37_79b9).await;
}

/// Takes a database back to what the previous release (migrations 1 to 3) made.
async fn undo_migration_4(url: &str) {
    let statements = [
        "DROP TABLE totals_hourly",
        "DROP TABLE totals_daily",
        "DROP TABLE rollup_monthly",
        "DROP TABLE rollup_generation",
        "DROP INDEX usage_events_by_key_and_time",
        "DROP INDEX usage_events_by_time",
        "CREATE INDEX usage_events_by_key_and_time ON usage_events (key_id, created_at_ms)",
        "CREATE INDEX usage_events_by_time ON usage_events (created_at_ms)",
        "DELETE FROM _sqlx_migrations WHERE version = 4",
    ];
    if let Some(path) = url.strip_prefix("sqlite://") {
        let connection = rusqlite::Connection::open(path).unwrap();
        for statement in statements {
            connection.execute(statement, []).unwrap();
        }
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for statement in statements {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

/// A database of the previous release, opened by this one: migration 4 fills the
/// new rollups from 0003's, and every shape still equals the raw counts.
async fn migration_4_counts_what_3_counted(url: &str) {
    let store = Store::open(url).await.unwrap();
    let (accounts, now, rng) = fill(&store, 0xface).await;
    store.close().await;
    drop(store);
    undo_migration_4(url).await;
    let store = Store::open(url).await.unwrap();
    compare_with_raw_counts(&store, accounts, now, rng, 0xface).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_migration_4_counts_what_3_counted() {
    let db = TestDb::sqlite();
    migration_4_counts_what_3_counted(&db.url).await;
}

#[tokio::test]
async fn postgres_migration_4_counts_what_3_counted() {
    let Some(pg) = TestPostgres::start() else { return };
    migration_4_counts_what_3_counted(&pg.url).await;
}

/// A SQLite database of the release before migration 5: its rollups back in
/// rowid tables keyed by licence first, with indexes on time.
fn undo_sqlite_migration_5(path: &str) {
    let connection = rusqlite::Connection::open(path).unwrap();
    for (table, bucket, by_origin) in [
        ("rollup_hourly", "hour_ms", true),
        ("rollup_daily", "day_ms", true),
        ("rollup_monthly", "month_ms", true),
        ("totals_hourly", "hour_ms", false),
        ("totals_daily", "day_ms", false),
    ] {
        let keys = if by_origin {
            format!("key_id, {bucket}, origin, event_kind")
        } else {
            format!("key_id, {bucket}, event_kind")
        };
        let origin = if by_origin { "origin TEXT NOT NULL," } else { "" };
        connection
            .execute_batch(&format!(
                "CREATE TABLE old_layout (key_id BIGINT NOT NULL, {bucket} BIGINT NOT NULL, {origin} \
                   event_kind TEXT NOT NULL, billable BIGINT NOT NULL, development BIGINT NOT NULL, \
                   failed BIGINT NOT NULL, PRIMARY KEY ({keys}));
                 INSERT INTO old_layout SELECT {keys}, billable, development, failed FROM {table};
                 DROP TABLE {table};
                 ALTER TABLE old_layout RENAME TO {table};
                 CREATE INDEX {table}_by_time ON {table} ({bucket});"
            ))
            .unwrap();
    }
    connection.execute("DELETE FROM _sqlx_migrations WHERE version = 5", []).unwrap();
}

/// Migration 5 moves the rollups into tables keyed by time; every shape still
/// equals the raw counts.
#[tokio::test]
async fn sqlite_migration_5_counts_what_4_counted() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let (accounts, now, rng) = fill(&store, 0x5555).await;
    store.close().await;
    drop(store);
    undo_sqlite_migration_5(db.url.strip_prefix("sqlite://").unwrap());
    let store = Store::open(&db.url).await.unwrap();
    compare_with_raw_counts(&store, accounts, now, rng, 0x5555).await;
    store.close().await;
    let connection = rusqlite::Connection::open(db.url.strip_prefix("sqlite://").unwrap()).unwrap();
    let layout: String = connection
        .query_row("SELECT sql FROM sqlite_master WHERE name = 'rollup_hourly'", [], |row| row.get(0))
        .unwrap();
    assert!(layout.contains("PRIMARY KEY (hour_ms, key_id, origin, event_kind)") && layout.ends_with("WITHOUT ROWID"));
}

#[tokio::test]
async fn pruning_keeps_the_rollups() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let now = usage_server::store::now_ms();
    let old = now - 200 * MS_PER_DAY;
    let event = |created_at_ms| NewEvent {
        account: Account::Unlicensed,
        event_id: None,
        kind: EventKind::WebcodecConversion,
        classification: Classification::Billable,
        origin: Some("https://old.com".into()),
        origin_claim_differed: false,
        is_still: None,
        created_at_ms,
    };
    store.record_events(vec![event(old), event(old + 1), event(now - 1)]).await.unwrap();
    assert_eq!(store.prune_events_before(now - 91 * MS_PER_DAY).await.unwrap(), 2);
    let all = UsageRange { since_ms: old - MS_PER_DAY, until_ms: now, granularity: Granularity::Day };
    let raw: u64 = store.count_rows_raw(None, &all).await.unwrap().iter().map(|r| r.count).sum();
    let rolled: u64 = store.count_rows(None, &all).await.unwrap().iter().map(|r| r.count).sum();
    assert_eq!((raw, rolled), (1, 3), "raw events went, the rollups still count them");
}

/// Sums of sealed hours are kept in memory; a write into them by another process
/// (a backfill, `bench-load`, another server) must be seen by the next read.
async fn sealed_sums_follow_writes_by_others(url: &str) {
    let reader = Store::open(url).await.unwrap();
    let writer = Store::open(url).await.unwrap();
    let now = usage_server::store::now_ms();
    let event = |created_at_ms, origin: &str| NewEvent {
        account: Account::Unlicensed,
        event_id: None,
        kind: EventKind::WebcodecConversion,
        classification: Classification::Billable,
        origin: Some(origin.into()),
        origin_claim_differed: false,
        is_still: None,
        created_at_ms,
    };
    // Starting within an hour: that hour's raw events are kept in memory too.
    let since_ms = (now - 40 * MS_PER_DAY).div_euclid(MS_PER_HOUR) * MS_PER_HOUR + 1234;
    let range = UsageRange { since_ms, until_ms: now, granularity: Granularity::Day };
    let total = |rows: Vec<CountRow>| rows.iter().map(|r| r.count).sum::<u64>();
    writer.record_events(vec![event(now - 30 * MS_PER_DAY, "https://a.com")]).await.unwrap();
    for _ in 0..2 {
        assert_eq!(total(reader.count_series(None, &range).await.unwrap()), 1);
        assert_eq!(total(reader.count_origins(None, &range).await.unwrap()), 1);
    }
    writer.record_events(vec![event(now - 20 * MS_PER_DAY, "https://b.com")]).await.unwrap();
    assert_eq!(total(reader.count_series(None, &range).await.unwrap()), 2);
    let origins = reader.count_origins(None, &range).await.unwrap();
    assert_eq!(
        origins.iter().filter_map(|r| r.origin.as_deref()).collect::<Vec<_>>(),
        ["https://a.com", "https://b.com"]
    );
    assert_eq!(total(reader.count_timeline(&range).await.unwrap()), 2);
    writer.record_events(vec![event(since_ms + 1, "https://edge.com")]).await.unwrap();
    assert_eq!(total(reader.count_series(None, &range).await.unwrap()), 3, "in the partial first hour");
    assert_eq!(total(reader.count_timeline(&range).await.unwrap()), 3, "in the partial first hour");
    let view = reader.count_view(None, &range, None).await.unwrap();
    assert_eq!((total(view.by_time), total(view.by_origin)), (3, 3), "in the partial first hour");
    // A write into the current hour changes no sealed sum and is seen at once.
    writer.record_events(vec![event(usage_server::store::now_ms(), "https://c.com")]).await.unwrap();
    assert_eq!(total(reader.count_series(None, &range).await.unwrap()), 3, "after until");
    let to_now = UsageRange { until_ms: usage_server::store::now_ms() + 1, ..range };
    assert_eq!(total(reader.count_series(None, &to_now).await.unwrap()), 4);
    reader.close().await;
    writer.close().await;
}

#[tokio::test]
async fn sqlite_sealed_sums_follow_writes_by_others() {
    let db = TestDb::sqlite();
    sealed_sums_follow_writes_by_others(&db.url).await;
}

#[tokio::test]
async fn postgres_sealed_sums_follow_writes_by_others() {
    let Some(pg) = TestPostgres::start() else { return };
    sealed_sums_follow_writes_by_others(&pg.url).await;
}
