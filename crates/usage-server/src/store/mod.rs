//! Storage on SQLite (the embedded default) or PostgreSQL, behind one trait.
//!
//! [`Storage`] is what an engine does: `sqlite` (rusqlite: one writer connection
//! on blocking threads, readers beside it in WAL mode) and `postgres` (sqlx).
//! [`Store`] is what the rest of the server holds: the engine plus the rules both
//! share: `rollup` (the rollup tables, time grains, what a batch adds), `shape`
//! and `plan` (what a count asks for, and which part of its range is read from
//! where), `counting` (carrying plans out), `rows` (merging what they read),
//! `sealed` (sums kept in memory), `origin_cap` and `writer` (group commit). The
//! statements are in `sql` and the same for both engines; only the migrations
//! differ (`migrations/sqlite`, `migrations/postgres`); released migrations are
//! never edited.

mod counting;
mod event;
mod licences;
mod origin_cap;
mod outbox;
mod plan;
mod postgres;
mod rollup;
mod rows;
mod sealed;
mod shape;
mod sql;
mod sqlite;
mod storage;
mod webhooks;
mod writer;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use counting::ViewCounts;
pub use event::{NewEvent, Recorded};
pub use licences::{Actor, LicenceChange, MAX_GRACE_SECS, MAX_NAME_LEN};
pub use origin_cap::{DEFAULT_MAX_NEW_ORIGINS_PER_DAY, FOLDED_ORIGIN};
pub use rows::CountRow;
pub use shape::{CountRequest, Shape};
pub use sqlite::{database_file as sqlite_database_file, free_bytes};
pub use storage::{
    ActiveAdminToken, ActiveKey, AdminTokenInfo, AuditEntry, ClaimedDelivery, Counts, CountsQuery, CountsRow,
    DeliveryInfo, DeliveryStatus, KeyInfo, KeyLookup, KeyPairInfo, NewKey, ScriptStatement, SqlValue, Storage,
    WebhookEndpoint, WebhookQueue,
};
pub use webhooks::{AttemptOutcome, EndpointChange, NewEndpoint, WEBHOOK_RETENTION_DAYS};
pub use writer::{BatchOptions, EventWriter};

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs.
    Postgres,
}

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported engine.
    #[error("USAGE_DATABASE_URL must start with sqlite: or postgres: (got `{0}`)")]
    UnsupportedUrl(String),
    /// A key with that name exists already.
    #[error("a key named `{0}` already exists")]
    DuplicateKeyName(String),
    /// No active key has that name.
    #[error("no active key is named `{0}`")]
    NoSuchKey(String),
    /// No licence has this id.
    #[error("no licence has id {0}")]
    NoSuchLicence(i64),
    /// The licence is revoked: it can be read, not changed.
    #[error("licence {0} is revoked: it cannot be changed")]
    LicenceRevoked(i64),
    /// A name or other field of a licence or token breaks its rule.
    #[error("{field}: {rule}")]
    InvalidField {
        /// The field, as the API names it.
        field: &'static str,
        /// What it must be.
        rule: String,
    },
    /// An admin token with that name exists already.
    #[error("an admin token named `{0}` already exists")]
    DuplicateTokenName(String),
    /// No webhook endpoint (not deleted) has this id.
    #[error("no webhook endpoint has id `{0}`")]
    NoSuchEndpoint(String),
    /// No active admin token has that name.
    #[error("no active admin token is named `{0}`")]
    NoSuchToken(String),
    /// Too little room left on the database's disk for a batch of events.
    #[error("only {free} bytes are free on the database's disk; at least {needed} are needed")]
    DiskFull {
        /// Bytes free.
        free: u64,
        /// Bytes needed.
        needed: u64,
    },
    /// A file of the database could not be prepared.
    #[error("{0}")]
    Io(String),
    /// A row holds something this version does not know (a newer server wrote it?).
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    /// PostgreSQL said no.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// SQLite said no.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A migration applied earlier differs from the one this version carries.
    #[error("migration {0} was changed after it was applied to this database")]
    MigrationChanged(i64),
    /// The transaction holding this event failed; nothing of it was stored.
    #[error("the batch holding this event could not be stored: {0}")]
    BatchFailed(Arc<StoreError>),
    /// Every read connection is in use and none came free in time.
    #[error("every database connection is busy")]
    Busy,
    /// The store was closed; nothing more is read or written.
    #[error("the database is closed")]
    Closed,
    /// A blocking storage task panicked or was cancelled.
    #[error("a storage task failed: {0}")]
    TaskFailed(String),
    /// The writer task is gone (the server is stopping).
    #[error("the event writer has stopped")]
    WriterStopped,
}

impl StoreError {
    /// Whether the database is unavailable (full, read-only, unreachable, busy,
    /// closing) rather than the request or the server being wrong: the same
    /// request may succeed later, so it is answered 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Busy | StoreError::Closed | StoreError::WriterStopped | StoreError::DiskFull { .. } => true,
            StoreError::BatchFailed(cause) => cause.is_unavailable(),
            StoreError::Sqlite(err) => sqlite::is_unavailable(err),
            StoreError::Database(err) => postgres::is_unavailable(err),
            _ => false,
        }
    }
}

/// The row id of a licence key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub i64);

/// Whose usage an event counts toward: a licence key, one of the two buckets
/// for events that no licence pays for, or a key's use on an origin it is not
/// allowed on. Stored in `usage_events.key_id` (and the rollups'): the key's id,
/// `0` for unlicensed, `-1` for free-license events, `-1 - id` for key `id`
/// used where it is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// A licence key pair.
    Key(KeyId),
    /// Sent without an `apiKey`.
    Unlicensed,
    /// Sent with `apiKey: "free-license"`.
    FreeLicense,
    /// Sent with this key from an origin the key is not allowed on: shown to the
    /// vendor and the licensee, never billed (see `allowed_origins`).
    NotAllowed(KeyId),
}

impl Account {
    /// The value stored in `usage_events.key_id`.
    pub fn stored_id(self) -> i64 {
        match self {
            Account::Key(KeyId(id)) => id,
            Account::Unlicensed => 0,
            Account::FreeLicense => -1,
            Account::NotAllowed(KeyId(id)) => -1 - id,
        }
    }

    /// What kind of account it is, as metrics label it: never which one.
    pub fn kind_name(self) -> &'static str {
        match self {
            Account::Key(_) => "licence",
            Account::Unlicensed => "unlicensed",
            Account::FreeLicense => "free-license",
            Account::NotAllowed(_) => "not-allowed",
        }
    }

    /// The inverse of [`Account::stored_id`].
    pub fn from_stored_id(id: i64) -> Account {
        match id {
            0 => Account::Unlicensed,
            -1 => Account::FreeLicense,
            id if id < -1 => Account::NotAllowed(KeyId(-1 - id)),
            id => Account::Key(KeyId(id)),
        }
    }
}

/// The database handle; cheap to clone. It dereferences to the engine's
/// [`Storage`] and adds what both engines share (see `counting`).
#[derive(Debug, Clone)]
pub struct Store {
    storage: Arc<dyn Storage>,
    sealed: sealed::SealedSums,
    /// New origins each account may add per UTC day (0: no cap).
    max_new_origins_per_day: u32,
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    ///
    /// # Errors
    /// An unsupported URL, a connection failure or a failed migration.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let storage: Arc<dyn Storage> = match Engine::of_url(url)? {
            Engine::Sqlite => Arc::new(sqlite::SqliteStorage::open(url).await?),
            Engine::Postgres => Arc::new(postgres::PostgresStorage::open(url).await?),
        };
        Ok(Store {
            storage,
            sealed: sealed::SealedSums::default(),
            max_new_origins_per_day: DEFAULT_MAX_NEW_ORIGINS_PER_DAY,
        })
    }

    /// This store with another cap on the new origins each account may add per
    /// UTC day (`serve --max-new-origins-per-day`; 0: no cap).
    pub fn with_max_new_origins_per_day(mut self, max: u32) -> Store {
        self.max_new_origins_per_day = max;
        self
    }

    /// The active key pair whose public key this is.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_public_key(&self, public_key: &str) -> Result<Option<ActiveKey>, StoreError> {
        self.storage.find_active_key(KeyLookup::PublicKey(public_key), now_ms()).await
    }

    /// The active key pair whose secret key hashes to `secret_key_hash`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_secret_key_hash(&self, secret_key_hash: &str) -> Result<Option<ActiveKey>, StoreError> {
        self.storage.find_active_key(KeyLookup::SecretKeyHash(secret_key_hash), now_ms()).await
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Storage;

    fn deref(&self) -> &Self::Target {
        &*self.storage
    }
}

impl Engine {
    /// The engine a database URL names.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for anything but `sqlite:` and `postgres:` URLs.
    pub fn of_url(url: &str) -> Result<Engine, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// An audit row as an engine read it: id, time, actor, action, subject, details (JSON text).
type AuditRow = (i64, i64, String, String, String, String);

fn audit_entry((id, at_ms, actor, action, subject, details): AuditRow) -> Result<AuditEntry, StoreError> {
    let details = serde_json::from_str(&details)
        .map_err(|err| StoreError::Corrupt(format!("audit entry {id} has details that are not JSON: {err}")))?;
    Ok(AuditEntry { id, at_ms, actor, action, subject, details })
}

/// Limits are stored as BIGINT; anything above `i64::MAX` is no limit in practice.
fn limit_to_db(limit: Option<u64>) -> Option<i64> {
    limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

fn limit_from_db(limit: Option<i64>) -> Option<u64> {
    limit.map(|limit| u64::try_from(limit).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_through_their_stored_id() {
        for account in [
            Account::Key(KeyId(1)),
            Account::Key(KeyId(42)),
            Account::Unlicensed,
            Account::FreeLicense,
            Account::NotAllowed(KeyId(1)),
            Account::NotAllowed(KeyId(42)),
        ] {
            assert_eq!(Account::from_stored_id(account.stored_id()), account);
        }
    }

    #[test]
    fn urls_name_their_engine() {
        assert_eq!(Engine::of_url("sqlite://usage.db").unwrap(), Engine::Sqlite);
        assert_eq!(Engine::of_url("postgres://u@h/db").unwrap(), Engine::Postgres);
        assert_eq!(Engine::of_url("postgresql://u@h/db").unwrap(), Engine::Postgres);
        assert!(matches!(Engine::of_url("mysql://x"), Err(StoreError::UnsupportedUrl(_))));
    }
}
