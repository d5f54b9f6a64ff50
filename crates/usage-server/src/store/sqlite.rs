//! SQLite, the embedded default, through rusqlite on Tokio's blocking threads.
//!
//! One writer connection (WAL, `synchronous = FULL`: an acknowledged event survives
//! a crash or power cut) takes every write; a batch is one prepared statement per
//! event and per rollup row in one transaction, which is where SQLite is fastest.
//! Reads run on pooled connections beside it, as WAL allows. Migrations are sqlx's
//! files and bookkeeping table (`_sqlx_migrations`), so databases created by
//! earlier versions open unchanged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use sqlx::migrate::Migrator;

use super::rollup::{rollup_deltas, Rollup};
use super::rows::classification_named;
use super::sealed::writes_sealed_buckets;
use super::storage::{
    ActiveAdminToken, ActiveKey, AdminTokenInfo, AuditEntry, ClaimedDelivery, Counts, CountsQuery, CountsRow,
    DeliveryInfo, KeyInfo, KeyLookup, KeyPairInfo, ScriptStatement, SqlValue, Storage, WebhookEndpoint, WebhookQueue,
};
use super::{audit_entry, limit_from_db, now_ms, Engine, KeyId, NewEvent, Recorded, StoreError};
use super::{origin_cap, outbox, sql, DeliveryStatus};
use crate::allowed_origins::AllowedOrigins;
use crate::telemetry::LogThrottle;
use crate::webhooks::{EventTypes, Threshold};

static MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

/// A batch's statements, in SQLite's placeholders, made once: inserting one
/// event, and adding one row's deltas to each rollup (in [`Rollup::ALL`] order).
static WRITE_STATEMENTS: LazyLock<(String, Vec<String>)> = LazyLock::new(|| {
    let insert = numbered(&sql::insert_events(1, ""));
    (insert, Rollup::ALL.iter().map(|rollup| numbered(&sql::upsert_rollup(rollup, 1))).collect())
});

/// The most read connections, open at once and kept while idle: enough for a
/// busy dashboard's concurrent reads (a connection opened for a burst and closed
/// after it starts with a cold page cache, which on a large database made the
/// slowest reads ten times slower), and few enough that a flood of reads cannot
/// run the process out of threads or file descriptors.
const MAX_READERS: usize = 16;
/// How long a read waits for a connection before it is answered as busy (503).
const READ_WAIT: Duration = Duration::from_secs(2);
/// How often the checkpointer looks for new commits to copy into the file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL pages past which a commit checkpoints itself (256 MiB of 4 KiB pages):
/// only if the checkpointer cannot keep up, so the WAL stays bounded.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 65_536;

/// Where the database is and how it may be opened, from a `sqlite:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    path: String,
    flags: OpenFlags,
    read_only: bool,
    /// `:memory:` (or `mode=memory`): one connection, or readers would see
    /// databases of their own.
    in_memory: bool,
}

/// The file of the SQLite database `url` names; `None` for an in-memory one.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`] for a URL that is not SQLite's.
pub fn database_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    let location = Location::parse(url)?;
    Ok((!location.in_memory).then(|| location.path.into()))
}

impl Location {
    /// `sqlite://path`, `sqlite:path` or `sqlite::memory:`, with an optional
    /// `?mode=ro|rw|rwc|memory` (default `rwc`: created if missing), as sqlx reads them.
    fn parse(url: &str) -> Result<Location, StoreError> {
        let rest = url.strip_prefix("sqlite:").ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mode = query.split('&').find_map(|pair| pair.strip_prefix("mode=")).unwrap_or("rwc");
        let in_memory = path == ":memory:" || mode == "memory";
        let base = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let (flags, read_only) = match mode {
            "ro" => (base | OpenFlags::SQLITE_OPEN_READ_ONLY, true),
            "rw" => (base | OpenFlags::SQLITE_OPEN_READ_WRITE, false),
            "rwc" | "memory" => (base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE, false),
            other => {
                return Err(StoreError::UnsupportedUrl(format!(
                    "{url} (mode must be ro, rw, rwc or memory, got {other})"
                )))
            }
        };
        let path = if in_memory { ":memory:".to_owned() } else { path.to_owned() };
        Ok(Location { path, flags, read_only, in_memory })
    }

    fn connect(&self, cache_kib: u32) -> Result<Connection, StoreError> {
        let connection = Connection::open_with_flags(&self.path, self.flags)?;
        connection.set_prepared_statement_cache_capacity(64);
        // FULL makes every acknowledged event durable across a crash or power cut.
        connection.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = 1073741824;"
        ))?;
        Ok(connection)
    }
}

/// Read connections, opened on demand and kept while idle; at most
/// [`MAX_READERS`] in use at once.
#[derive(Debug)]
struct Readers {
    location: Location,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match idle {
            Some(connection) => Ok(connection),
            None => self.location.connect(16 * 1024),
        }
    }

    fn give_back(&self, connection: Connection) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(connection);
    }
}

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    writer: Arc<Mutex<Connection>>,
    /// `None` for an in-memory database: everything runs on the writer.
    readers: Option<Arc<Readers>>,
    closed: Arc<AtomicBool>,
    /// Writes run, for the checkpointer (which stops once every clone of this
    /// storage is gone).
    commits: Arc<AtomicU64>,
}

impl SqliteStorage {
    /// Opens (creating the file unless `mode` says otherwise) and migrates.
    ///
    /// # Errors
    /// A bad URL, a file that cannot be opened, or a failed migration.
    pub async fn open(url: &str) -> Result<SqliteStorage, StoreError> {
        let location = Location::parse(url)?;
        if !location.in_memory && !location.read_only {
            keep_private(&location.path, location.flags.contains(OpenFlags::SQLITE_OPEN_CREATE))?;
        }
        let opened = location.clone();
        let writer = blocking(move || {
            let mut connection = opened.connect(64 * 1024)?;
            if !opened.read_only {
                // WAL lets readers run beside the writer (and is kept by the file).
                connection.pragma_update(None, "journal_mode", "WAL")?;
                migrate(&mut connection)?;
                // Checkpoints (copying the WAL into the file, with an fsync of
                // the file) run on the checkpointer's thread; one inside a commit
                // held its events' answers up for tens of milliseconds.
                connection.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
            }
            Ok(connection)
        })
        .await?;
        let writer = Arc::new(Mutex::new(writer));
        let closed = Arc::<AtomicBool>::default();
        let commits = Arc::<AtomicU64>::default();
        if !location.in_memory && !location.read_only {
            spawn_checkpointer(location.clone(), Arc::downgrade(&commits))?;
        }
        let readers = (!location.in_memory).then(|| {
            let permits = Arc::new(tokio::sync::Semaphore::new(MAX_READERS));
            Arc::new(Readers { location, idle: Mutex::default(), permits })
        });
        Ok(SqliteStorage { writer, readers, closed, commits })
    }

    /// Runs `work` on the writer connection, on a blocking thread, and counts it
    /// for the checkpointer.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let writer = self.writer.clone();
        let result = blocking(move || work(&mut writer.lock().unwrap_or_else(PoisonError::into_inner))).await;
        self.commits.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Runs `work` on a read connection, on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let Some(readers) = self.readers.clone() else { return self.write(|connection| work(connection)).await };
        let permit = tokio::time::timeout(READ_WAIT, readers.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Busy)?
            .map_err(|_| StoreError::Closed)?;
        blocking(move || {
            let _permit = permit;
            let connection = readers.take()?;
            let result = work(&connection);
            readers.give_back(connection);
            result
        })
        .await
    }
}

/// Copies committed WAL pages into the database file, beside the writer
/// (`PASSIVE`: never waits for it or for readers), whenever commits happened since
/// the last look.
fn spawn_checkpointer(location: Location, commits: Weak<AtomicU64>) -> Result<(), StoreError> {
    let connection = location.connect(1024)?;
    std::thread::Builder::new()
        .name("sqlite-checkpointer".into())
        .spawn(move || {
            let mut seen = 0;
            loop {
                std::thread::sleep(CHECKPOINT_INTERVAL);
                let Some(commits) = commits.upgrade() else { return };
                let now = commits.load(Ordering::Relaxed);
                if now == seen {
                    continue;
                }
                seen = now;
                if let Err(err) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    if let Some(held_back) = CHECKPOINT_FAILURES.admit() {
                        tracing::warn!(error = %err, held_back, "background checkpoint failed; will try again");
                    }
                }
            }
        })
        .map_err(|err| StoreError::TaskFailed(err.to_string()))?;
    Ok(())
}

/// Free space below which the database is not ready for events: a batch of
/// hundreds of events and its rollups write a few hundred KiB of WAL, which a
/// tiny test write would not notice missing.
const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Bytes an unprivileged process may still write on the database's filesystem.
pub fn free_bytes(path: &str) -> Result<u64, StoreError> {
    let stat = rustix::fs::statvfs(path).map_err(|err| StoreError::Io(format!("{path}: {err}")))?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// A full disk fails every checkpoint: one line a minute says so.
static CHECKPOINT_FAILURES: LogThrottle = LogThrottle::per_minute();

/// Creates the database file readable by its owner only (SQLite gives its WAL
/// and shared-memory files the same mode), and takes read access from group and
/// others on files an earlier version left open: they hold every licensee's usage.
fn keep_private(path: &str, create: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |err: std::io::Error| StoreError::Io(format!("{path}: {err}"));
    if create && !std::path::Path::new(path).exists() {
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map_err(io)?;
    }
    for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
        let Ok(metadata) = std::fs::metadata(&file) else { continue };
        if metadata.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    Ok(())
}

/// Whether a SQLite error means the database cannot be used right now (a full
/// disk, a read-only or vanished file, a lock held too long), not a bug.
pub(super) fn is_unavailable(err: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as Code;
    err.sqlite_error_code().is_some_and(|code| {
        matches!(
            code,
            Code::DiskFull
                | Code::ReadOnly
                | Code::CannotOpen
                | Code::DatabaseBusy
                | Code::DatabaseLocked
                | Code::SystemIoFailure
                | Code::PermissionDenied
                | Code::OutOfMemory
        )
    })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| StoreError::TaskFailed(err.to_string()))?
}

/// SQLite binds `?n` by number; the shared statements say `$n`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let is_placeholder = c == '$' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if is_placeholder { '?' } else { c });
    }
    out
}

/// Maps a unique violation to `duplicate`, anything else to a database error.
fn unique_or(err: rusqlite::Error, duplicate: StoreError) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            duplicate
        }
        err => err.into(),
    }
}

/// Applies the migrations not yet recorded in `_sqlx_migrations`, each in a
/// transaction of its own, refusing a database whose applied ones were changed.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
             version BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
             success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL,
             execution_time BIGINT NOT NULL
         );",
    )?;
    for migration in MIGRATIONS.iter().filter(|m| !m.migration_type.is_down_migration()) {
        let applied: Option<Vec<u8>> = connection
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = ?1 AND success",
                [migration.version],
                |row| row.get(0),
            )
            .optional()?;
        match applied {
            Some(checksum) if checksum == *migration.checksum => continue,
            Some(_) => return Err(StoreError::MigrationChanged(migration.version)),
            None => {}
        }
        let started = std::time::Instant::now();
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(&migration.sql)?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            params![
                migration.version,
                &*migration.description,
                &*migration.checksum,
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX)
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Stores a batch: one prepared statement per event and per rollup row, after
/// admitting its new origins (see `origin_cap`).
fn record(
    connection: &mut Connection,
    mut events: Vec<NewEvent>,
    max_new_origins: u32,
) -> Result<Vec<Recorded>, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let admission = admit_origins(&tx, &events, max_new_origins)?;
    origin_cap::fold(&mut events, &admission.refused);
    let events = &events[..];
    let mut recorded = Vec::with_capacity(events.len());
    {
        let (insert_event, _) = &*WRITE_STATEMENTS;
        let mut insert = tx.prepare_cached(insert_event)?;
        let mut stored = tx.prepare_cached(&numbered(sql::STORED_CLASSIFICATION))?;
        for event in events {
            let event_id = event.event_id.as_ref().map(|id| id.as_str());
            let inserted = insert.execute(params![
                event.account.stored_id(),
                event_id,
                event.kind.as_str(),
                event.classification.as_str(),
                event.origin.as_deref(),
                event.origin_claim_differed,
                event.is_still,
                event.created_at_ms,
            ])?;
            recorded.push(if inserted == 1 {
                Recorded { classification: event.classification, repeat: false }
            } else {
                let name: String = stored.query_row(params![event.account.stored_id(), event_id], |row| row.get(0))?;
                Recorded { classification: classification_named(&name)?, repeat: true }
            });
        }
    }
    for ((rollup, deltas), statement) in rollup_deltas(events, &recorded).into_iter().zip(&WRITE_STATEMENTS.1) {
        let mut upsert = tx.prepare_cached(statement)?;
        for ((account, start, origin, kind), [billable, development, failed]) in deltas {
            if rollup.by_origin {
                upsert.execute(params![account, start, origin, kind, billable, development, failed])?;
            } else {
                upsert.execute(params![account, start, kind, billable, development, failed])?;
            }
        }
    }
    if writes_sealed_buckets(events, now_ms()) {
        tx.execute(sql::BUMP_ROLLUP_GENERATION, [])?;
    }
    if tx.prepare_cached(sql::ANY_WEBHOOK_ENDPOINT)?.exists([])? {
        write_webhook_messages(&tx, events, &recorded, &admission.new)?;
    }
    tx.commit()?;
    Ok(recorded)
}

/// The webhook messages a batch causes, in its transaction: its new unlicensed
/// and not-allowed origins, and the monthly-limit thresholds it crossed.
fn write_webhook_messages(
    tx: &rusqlite::Transaction<'_>,
    events: &[NewEvent],
    recorded: &[Recorded],
    new_pairs: &[(i64, String)],
) -> Result<(), StoreError> {
    let now = now_ms();
    for statement in outbox::new_origin_messages(new_pairs, now)? {
        execute(tx, statement)?;
    }
    let mut month_billable = tx.prepare_cached(&numbered(sql::LICENCE_MONTH_BILLABLE))?;
    for month in outbox::billable_months(events, recorded) {
        let found = month_billable
            .query_row(params![month.licence_id, month.start_ms, month.end_ms], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .optional()?;
        let Some((name, limit, billable)) = found else { continue };
        let (limit, billable) = (u64::try_from(limit).unwrap_or(0), u64::try_from(billable).unwrap_or(0));
        for threshold in Threshold::reached(limit, billable) {
            if execute(tx, outbox::mark_crossed(month, threshold))? == 1 {
                for statement in outbox::crossing_message(month, &name, limit, billable, threshold, now)? {
                    execute(tx, statement)?;
                }
            }
        }
    }
    Ok(())
}

/// Runs one statement of a script inside `tx`; how many rows it changed.
fn execute(tx: &rusqlite::Transaction<'_>, statement: ScriptStatement) -> Result<usize, StoreError> {
    let changed = tx
        .prepare_cached(&numbered(statement.sql))?
        .execute(params_from_iter(statement.params.iter().map(SqliteValue)))
        .map_err(|err| match statement.duplicate {
            Some(duplicate) => unique_or(err, duplicate),
            None => err.into(),
        })?;
    match statement.none_changed {
        Some(err) if changed == 0 => Err(err),
        _ => Ok(changed),
    }
}

/// The (account, origin) pairs of `events` that are neither known nor admitted
/// as new today (none when `max_new_origins` is 0: no cap), and those admitted
/// as new, each in sorted order.
fn admit_origins(
    tx: &rusqlite::Transaction<'_>,
    events: &[NewEvent],
    max_new_origins: u32,
) -> Result<origin_cap::Admission, StoreError> {
    let mut known = tx.prepare_cached(&numbered(sql::KNOWN_ORIGIN))?;
    let mut take_place = tx.prepare_cached(&numbered(sql::TAKE_NEW_ORIGIN_PLACE))?;
    let mut remember = tx.prepare_cached(&numbered(sql::INSERT_KNOWN_ORIGIN))?;
    let mut admission = origin_cap::Admission::default();
    for ((account, origin), day) in origin_cap::pairs(events) {
        if known.exists(params![account, origin])? {
            continue;
        }
        let has_place = max_new_origins == 0
            || take_place.query_row(params![account, day, max_new_origins], |_| Ok(())).optional()?.is_some();
        if has_place {
            remember.execute(params![account, origin, day])?;
            admission.new.push((account, origin));
        } else {
            admission.refused.push((account, origin));
        }
    }
    Ok(admission)
}

/// A script's value as rusqlite binds it.
struct SqliteValue<'a>(&'a SqlValue);

impl rusqlite::ToSql for SqliteValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self.0 {
            SqlValue::Int(value) => value.to_sql(),
            SqlValue::Text(value) => value.to_sql(),
            SqlValue::Bool(value) => value.to_sql(),
        }
    }
}

fn key_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyInfo> {
    Ok(KeyInfo {
        id: KeyId(row.get("id")?),
        name: row.get("name")?,
        public_key: row.get("public_key")?,
        keys: Vec::new(),
        monthly_limit: limit_from_db(row.get("monthly_limit")?),
        allowed_origins: AllowedOrigins::from_stored(row.get::<_, Option<String>>("allowed_origins")?.as_deref()),
        created_at_ms: row.get("created_at_ms")?,
        revoked_at_ms: row.get("revoked_at_ms")?,
    })
}

#[async_trait]
impl Storage for SqliteStorage {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        if let Some(readers) = &self.readers {
            let free = free_bytes(&readers.location.path)?;
            if free < MIN_FREE_BYTES {
                return Err(StoreError::DiskFull { free, needed: MIN_FREE_BYTES });
            }
        }
        self.write(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(sql::TOUCH_ROLLUP_GENERATION, [])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        // Best effort: leave the file whole and the WAL empty for whoever opens it next.
        let checkpoint =
            self.write(|connection| Ok(connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?));
        if let Err(err) = checkpoint.await {
            tracing::debug!(error = %err, "no checkpoint on close");
        }
        self.closed.store(true, Ordering::Release);
        if let Some(readers) = &self.readers {
            readers.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    async fn run_script(&self, script: Vec<ScriptStatement>) -> Result<(), StoreError> {
        self.write(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for statement in script {
                execute(&tx, statement)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::LIST_KEYS)?;
            let keys = statement.query_map([], key_info)?.collect::<Result<_, _>>()?;
            Ok(keys)
        })
        .await
    }

    async fn list_key_pairs(&self, now_ms: i64) -> Result<Vec<KeyPairInfo>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&numbered(sql::LIST_KEY_PAIRS))?;
            let pairs = statement
                .query_map([now_ms], |row| {
                    Ok(KeyPairInfo {
                        licence_id: KeyId(row.get("licence_id")?),
                        public_key: row.get("public_key")?,
                        created_at_ms: row.get("created_at_ms")?,
                        expires_at_ms: row.get("expires_at_ms")?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(pairs)
        })
        .await
    }

    async fn find_active_key(&self, lookup: KeyLookup<'_>, now_ms: i64) -> Result<Option<ActiveKey>, StoreError> {
        let (column, value) = lookup.column_and_value();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&numbered(&sql::find_active_key(column)))?;
            let found = statement
                .query_row(params![value, now_ms], |row| {
                    Ok(ActiveKey {
                        id: KeyId(row.get("id")?),
                        monthly_limit: limit_from_db(row.get("monthly_limit")?),
                        allowed_origins: Arc::new(AllowedOrigins::from_stored(
                            row.get::<_, Option<String>>("allowed_origins")?.as_deref(),
                        )),
                    })
                })
                .optional()?;
            Ok(found)
        })
        .await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::LIST_ADMIN_TOKENS)?;
            let tokens = statement
                .query_map([], |row| {
                    Ok(AdminTokenInfo {
                        name: row.get("name")?,
                        created_at_ms: row.get("created_at_ms")?,
                        revoked_at_ms: row.get("revoked_at_ms")?,
                        read_only: row.get("read_only")?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(tokens)
        })
        .await
    }

    async fn active_admin_tokens(&self) -> Result<Vec<ActiveAdminToken>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::ACTIVE_ADMIN_TOKENS)?;
            let tokens = statement
                .query_map([], |row| {
                    Ok(ActiveAdminToken {
                        name: row.get("name")?,
                        token_hash: row.get("token_hash")?,
                        read_only: row.get("read_only")?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(tokens)
        })
        .await
    }

    async fn audit_log(&self, before_id: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&numbered(sql::LIST_AUDIT))?;
            let rows = statement
                .query_map([before_id, limit], |row| {
                    Ok((
                        row.get("id")?,
                        row.get("at_ms")?,
                        row.get("actor")?,
                        row.get("action")?,
                        row.get("subject")?,
                        row.get::<_, String>("details")?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(audit_entry).collect()
        })
        .await
    }

    async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::LIST_WEBHOOK_ENDPOINTS)?;
            let endpoints = statement
                .query_map([], |row| {
                    Ok(WebhookEndpoint {
                        id: row.get("public_id")?,
                        url: row.get("url")?,
                        description: row.get("description")?,
                        event_types: EventTypes::from_stored(&row.get::<_, String>("event_types")?),
                        disabled: row.get("disabled")?,
                        created_at_ms: row.get("created_at_ms")?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(endpoints)
        })
        .await
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError> {
        let endpoint_id = endpoint_id.to_owned();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&numbered(sql::LIST_WEBHOOK_DELIVERIES))?;
            let rows = statement
                .query_map(params![endpoint_id, before_id, limit], |row| {
                    Ok((
                        row.get::<_, String>("status")?,
                        DeliveryInfo {
                            id: row.get("id")?,
                            message_id: row.get("message_id")?,
                            event_type: row.get("event_type")?,
                            status: DeliveryStatus::Pending,
                            attempts: row.get("attempts")?,
                            next_attempt_at_ms: row.get("next_attempt_at_ms")?,
                            last_attempt_at_ms: row.get("last_attempt_at_ms")?,
                            last_status_code: row.get("last_status_code")?,
                            last_error: row.get("last_error")?,
                            delivered_at_ms: row.get("delivered_at_ms")?,
                            created_at_ms: row.get("created_at_ms")?,
                        },
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(status, delivery)| Ok(DeliveryInfo { status: DeliveryStatus::parse(&status)?, ..delivery }))
                .collect()
        })
        .await
    }

    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        leased_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.write(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids: Vec<i64> = tx
                .prepare_cached(&numbered(&sql::claim_webhook_deliveries("")))?
                .query_map(params![now_ms, limit, leased_until_ms], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let claimed = tx
                .prepare(&sql::claimed_webhook_deliveries(&ids))?
                .query_map([], |row| {
                    Ok(ClaimedDelivery {
                        id: row.get("id")?,
                        attempts: row.get("attempts")?,
                        leased_until_ms: row.get("leased_until_ms")?,
                        message_id: row.get("message_id")?,
                        event_type: row.get("event_type")?,
                        licence_id: row.get("licence_id")?,
                        data: row.get("data")?,
                        created_at_ms: row.get("created_at_ms")?,
                        url: row.get("url")?,
                        secret: row.get("secret")?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError> {
        self.read(|connection| {
            Ok(connection
                .prepare_cached(sql::WEBHOOK_QUEUE)?
                .query_row([], |row| Ok(WebhookQueue { next_due_ms: row.get(0)?, pending: row.get(1)? }))?)
        })
        .await
    }

    async fn record_events(&self, events: Vec<NewEvent>, max_new_origins: u32) -> Result<Vec<Recorded>, StoreError> {
        self.write(move |connection| record(connection, events, max_new_origins)).await
    }

    async fn rollup_generation(&self) -> Result<i64, StoreError> {
        self.read(|connection| {
            Ok(connection.prepare_cached(sql::ROLLUP_GENERATION)?.query_row([], |row| row.get(0))?)
        })
        .await
    }

    async fn counts(&self, queries: Vec<CountsQuery>) -> Result<Counts, StoreError> {
        self.read(move |connection| {
            let generation = connection.prepare_cached(sql::ROLLUP_GENERATION)?.query_row([], |row| row.get(0))?;
            let mut answers = Vec::with_capacity(queries.len());
            for query in &queries {
                let mut statement = connection.prepare_cached(&numbered(&query.sql))?;
                let found = statement.query_map(params_from_iter(&query.params), |row| {
                    Ok(CountsRow {
                        key_id: row.get(0)?,
                        bucket_start: row.get(1)?,
                        origin: row.get(2)?,
                        event_kind: row.get(3)?,
                        counts: [row.get(4)?, row.get(5)?, row.get(6)?],
                    })
                })?;
                answers.push(found.collect::<Result<Vec<_>, _>>()?);
            }
            Ok(Counts { generation, answers })
        })
        .await
    }

    async fn prune_events_before(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError> {
        self.write(move |connection| Ok(connection.execute(&numbered(sql::PRUNE_EVENTS), [cutoff_ms, limit])? as u64))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_sqlx_reads_them() {
        let location = Location::parse("sqlite://usage.db").unwrap();
        assert_eq!((location.path.as_str(), location.read_only, location.in_memory), ("usage.db", false, false));
        assert!(location.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        assert_eq!(Location::parse("sqlite:///var/u.db?cache=shared").unwrap().path, "/var/u.db");
        let read_only = Location::parse("sqlite://u.db?mode=ro").unwrap();
        assert!(read_only.read_only && !read_only.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        assert!(Location::parse("sqlite::memory:").unwrap().in_memory);
        assert!(matches!(Location::parse("sqlite://u.db?mode=fast"), Err(StoreError::UnsupportedUrl(_))));
    }

    #[test]
    fn placeholders_become_numbered() {
        assert_eq!(numbered("a = $1 AND b < $12 AND c = '$x'"), "a = ?1 AND b < ?12 AND c = '$x'");
    }

    /// Commits are copied into the database file by the checkpointer's thread,
    /// not left in the WAL until one of them outgrows it.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_checkpointer_copies_commits_into_the_file() {
        use usage_core::{Classification, EventKind};

        use crate::store::Account;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        let storage = SqliteStorage::open(&format!("sqlite://{}", path.display())).await.unwrap();
        let event = |i: i64| NewEvent {
            account: Account::Unlicensed,
            event_id: None,
            kind: EventKind::WebcodecConversion,
            classification: Classification::Billable,
            origin: Some("https://a.com".into()),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: now_ms() + i,
        };
        storage.record_events((0..50).map(event).collect(), 0).await.unwrap();
        // The file alone, WAL ignored: what has been checkpointed.
        let in_file = || {
            let url = format!("file:{}?immutable=1", path.display());
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            let connection = Connection::open_with_flags(url, flags).unwrap();
            connection.query_row("SELECT COUNT(*) FROM usage_events", [], |row| row.get::<_, i64>(0)).unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while in_file() < 50 && std::time::Instant::now() < deadline {
            std::thread::sleep(CHECKPOINT_INTERVAL);
        }
        assert_eq!(in_file(), 50, "the WAL was not checkpointed within 5 s");
    }
}
