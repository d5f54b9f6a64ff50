//! Storage on SQLite (the embedded default) or PostgreSQL.
//!
//! One implementation serves both engines: the statements are plain SQL that both
//! understand (`$1` placeholders, `ON CONFLICT … DO NOTHING`), run through sqlx's
//! `Any` driver. Only the migrations differ per engine (`migrations/sqlite`,
//! `migrations/postgres`); released migrations are never edited.
//!
//! `keys`: licence key pairs and their limits; `admin_tokens`: the vendor's
//! tokens; `events`: counting events once (with rollups) and reading counts back;
//! `writer`: group commit of concurrent registrations.

mod admin_tokens;
mod events;
mod keys;
mod writer;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use admin_tokens::AdminTokenInfo;
pub use events::{CountRow, NewEvent, Recorded};
pub use keys::{ActiveKey, KeyInfo};
pub use writer::{BatchOptions, EventWriter};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

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
    /// An admin token with that name exists already.
    #[error("an admin token named `{0}` already exists")]
    DuplicateTokenName(String),
    /// No active admin token has that name.
    #[error("no active admin token is named `{0}`")]
    NoSuchToken(String),
    /// A row holds something this version does not know (a newer server wrote it?).
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    /// The database said no.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The transaction holding this event failed; nothing of it was stored.
    #[error("the batch holding this event could not be stored: {0}")]
    BatchFailed(String),
    /// The writer task is gone (the server is stopping).
    #[error("the event writer has stopped")]
    WriterStopped,
}

/// The row id of a licence key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub i64);

/// Whose usage an event counts toward: a licence key, or one of the two buckets
/// for events that no licence pays for. Stored in `usage_events.key_id`: the
/// key's id, `0` for unlicensed and `-1` for free-license events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// A licence key pair.
    Key(KeyId),
    /// Sent without an `apiKey`.
    Unlicensed,
    /// Sent with `apiKey: "free-license"`.
    FreeLicense,
}

impl Account {
    /// The value stored in `usage_events.key_id`.
    pub fn stored_id(self) -> i64 {
        match self {
            Account::Key(KeyId(id)) => id,
            Account::Unlicensed => 0,
            Account::FreeLicense => -1,
        }
    }

    /// The inverse of [`Account::stored_id`].
    pub fn from_stored_id(id: i64) -> Account {
        match id {
            0 => Account::Unlicensed,
            -1 => Account::FreeLicense,
            id => Account::Key(KeyId(id)),
        }
    }
}

/// The database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    ///
    /// # Errors
    /// An unsupported URL, a connection failure or a failed migration.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (engine, url) = engine_and_url(url)?;
        let options = AnyPoolOptions::new()
            // WAL readers run beside the writer's connection; PostgreSQL takes many.
            .max_connections(16)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes every
                        // acknowledged event durable across a crash or power cut.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;")
                            .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await?;
        match engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store { pool, engine })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A connection of the pool, held until dropped.
    ///
    /// # Errors
    /// When none can be had.
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Picks the engine and, for SQLite, asks for the file to be created if missing.
fn engine_and_url(url: &str) -> Result<(Engine, String), StoreError> {
    if url.starts_with("sqlite:") {
        let creates = url.contains("mode=") || url.contains(":memory:");
        let url = match (creates, url.contains('?')) {
            (true, _) => url.to_owned(),
            (false, true) => format!("{url}&mode=rwc"),
            (false, false) => format!("{url}?mode=rwc"),
        };
        Ok((Engine::Sqlite, url))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok((Engine::Postgres, url.to_owned()))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// `Ok` when an update touched a row, `missing` when nothing matched.
fn one_row_or(result: sqlx::any::AnyQueryResult, missing: StoreError) -> Result<(), StoreError> {
    if result.rows_affected() == 0 {
        Err(missing)
    } else {
        Ok(())
    }
}

/// Maps a unique violation to `duplicate`, anything else to a database error.
fn unique_or(err: sqlx::Error, duplicate: StoreError) -> StoreError {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => duplicate,
        err => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_through_their_stored_id() {
        for account in [Account::Key(KeyId(1)), Account::Key(KeyId(42)), Account::Unlicensed, Account::FreeLicense] {
            assert_eq!(Account::from_stored_id(account.stored_id()), account);
        }
    }

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(engine_and_url("sqlite://usage.db").unwrap(), (Engine::Sqlite, "sqlite://usage.db?mode=rwc".into()));
        assert_eq!(engine_and_url("sqlite://u.db?cache=shared").unwrap().1, "sqlite://u.db?cache=shared&mode=rwc");
        assert_eq!(engine_and_url("sqlite://u.db?mode=ro").unwrap().1, "sqlite://u.db?mode=ro");
        assert_eq!(engine_and_url("postgres://u@h/db").unwrap().0, Engine::Postgres);
        assert!(matches!(engine_and_url("mysql://x"), Err(StoreError::UnsupportedUrl(_))));
    }
}
