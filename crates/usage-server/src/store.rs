//! Storage on SQLite (the embedded default) or PostgreSQL.
//!
//! One implementation serves both engines: the statements are plain SQL that both
//! understand (`$1` placeholders, `ON CONFLICT … DO NOTHING`), run through sqlx's
//! `Any` driver. Only the migrations differ per engine (`migrations/sqlite`,
//! `migrations/postgres`); released migrations are never edited.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};
use usage_core::{Classification, EventId, EventKind};

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
    /// A row holds something this version does not know (a newer server wrote it?).
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    /// The database said no.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// A key pair as listed by `keys list`: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// The unique name.
    pub name: String,
    /// The public key.
    pub public_key: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

/// The row id of an active key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId(i64);

/// One event to count.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The key pair it belongs to.
    pub key: KeyId,
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
            .max_connections(if engine == Engine::Sqlite { 4 } else { 16 })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes every
                        // acknowledged event durable across a crash or power cut.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
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

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Stores a new key pair (the secret only as its hash).
    ///
    /// # Errors
    /// [`StoreError::DuplicateKeyName`] when the name is taken.
    pub async fn create_key(&self, name: &str, public_key: &str, secret_key_hash: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO api_keys (name, public_key, secret_key_hash, created_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(public_key)
        .bind(secret_key_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                Err(StoreError::DuplicateKeyName(name.to_owned()))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Every key pair, oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows = sqlx::query("SELECT name, public_key, created_at_ms, revoked_at_ms FROM api_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyInfo {
                    name: row.try_get("name")?,
                    public_key: row.try_get("public_key")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    revoked_at_ms: row.try_get("revoked_at_ms")?,
                })
            })
            .collect()
    }

    /// Revokes the active key pair named `name`.
    ///
    /// # Errors
    /// [`StoreError::NoSuchKey`] when there is none.
    pub async fn revoke_key(&self, name: &str) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE api_keys SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL")
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NoSuchKey(name.to_owned()));
        }
        Ok(())
    }

    /// The active key pair whose public key this is.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_public_key(&self, public_key: &str) -> Result<Option<KeyId>, StoreError> {
        self.find_active_key("public_key", public_key).await
    }

    /// The active key pair whose secret key hashes to `secret_key_hash`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_secret_key_hash(&self, secret_key_hash: &str) -> Result<Option<KeyId>, StoreError> {
        self.find_active_key("secret_key_hash", secret_key_hash).await
    }

    async fn find_active_key(&self, column: &'static str, value: &str) -> Result<Option<KeyId>, StoreError> {
        let sql = format!("SELECT id FROM api_keys WHERE {column} = $1 AND revoked_at_ms IS NULL");
        let row = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await?;
        Ok(row.map(|row| row.try_get::<i64, _>("id")).transpose()?.map(KeyId))
    }

    /// Counts an event once: a repeat of an event id already stored for this key
    /// adds nothing and reports the original classification.
    ///
    /// # Errors
    /// A database failure.
    pub async fn record_event(&self, event: NewEvent<'_>) -> Result<Recorded, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO usage_events \
               (key_id, event_id, event_kind, classification, origin, origin_claim_differed, is_still, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (key_id, event_id) DO NOTHING",
        )
        .bind(event.key.0)
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
            .bind(event.key.0)
            .bind(event_id)
            .fetch_one(&self.pool)
            .await?;
        let name: String = row.try_get("classification")?;
        let classification = Classification::from_name(&name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown classification `{name}`")))?;
        Ok(Recorded { classification, repeat: true })
    }

    /// Event counts per kind and classification at or after `since_ms`.
    ///
    /// # Errors
    /// A database failure, or a stored kind this version does not know.
    pub async fn count_usage(
        &self,
        key: KeyId,
        since_ms: i64,
    ) -> Result<Vec<(EventKind, Classification, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_kind, classification, COUNT(*) AS n FROM usage_events \
             WHERE key_id = $1 AND created_at_ms >= $2 GROUP BY event_kind, classification",
        )
        .bind(key.0)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("event_kind")?;
                let classification: String = row.try_get("classification")?;
                let count: i64 = row.try_get("n")?;
                let kind = EventKind::from_str(&kind).map_err(|err| StoreError::Corrupt(err.to_string()))?;
                let classification = Classification::from_name(&classification)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown classification `{classification}`")))?;
                Ok((kind, classification, u64::try_from(count).unwrap_or(0)))
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(engine_and_url("sqlite://usage.db").unwrap(), (Engine::Sqlite, "sqlite://usage.db?mode=rwc".into()));
        assert_eq!(engine_and_url("sqlite://u.db?cache=shared").unwrap().1, "sqlite://u.db?cache=shared&mode=rwc");
        assert_eq!(engine_and_url("sqlite://u.db?mode=ro").unwrap().1, "sqlite://u.db?mode=ro");
        assert_eq!(engine_and_url("postgres://u@h/db").unwrap().0, Engine::Postgres);
        assert!(matches!(engine_and_url("mysql://x"), Err(StoreError::UnsupportedUrl(_))));
    }
}
