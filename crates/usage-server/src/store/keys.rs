//! Licence key pairs: creation, listing, revocation, monthly limits, and looking
//! an active key up by its public key or its secret key's hash.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, one_row_or, unique_or, KeyId, Store, StoreError};

/// A key pair as listed by `keys list`: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// The row id.
    #[serde(skip)]
    pub id: KeyId,
    /// The unique name.
    pub name: String,
    /// The public key.
    pub public_key: String,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

/// An active (not revoked) key pair, as a request needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveKey {
    /// The row id.
    pub id: KeyId,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
}

/// Limits are stored as BIGINT; anything above `i64::MAX` is no limit in practice.
fn limit_to_db(limit: Option<u64>) -> Option<i64> {
    limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

fn limit_from_db(row: &AnyRow) -> Result<Option<u64>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>("monthly_limit")?.map(|limit| u64::try_from(limit).unwrap_or(0)))
}

impl Store {
    /// Stores a new key pair (the secret only as its hash).
    ///
    /// # Errors
    /// [`StoreError::DuplicateKeyName`] when the name is taken.
    pub async fn create_key(
        &self,
        name: &str,
        public_key: &str,
        secret_key_hash: &str,
        monthly_limit: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (name, public_key, secret_key_hash, monthly_limit, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(public_key)
        .bind(secret_key_hash)
        .bind(limit_to_db(monthly_limit))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|err| unique_or(err, StoreError::DuplicateKeyName(name.to_owned())))?;
        Ok(())
    }

    /// Every key pair, oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, public_key, monthly_limit, created_at_ms, revoked_at_ms FROM api_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyInfo {
                    id: KeyId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    public_key: row.try_get("public_key")?,
                    monthly_limit: limit_from_db(row)?,
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
        one_row_or(result, StoreError::NoSuchKey(name.to_owned()))
    }

    /// Sets (or, with `None`, removes) the monthly limit of the active key pair `name`.
    ///
    /// # Errors
    /// [`StoreError::NoSuchKey`] when there is none.
    pub async fn set_monthly_limit(&self, name: &str, monthly_limit: Option<u64>) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE api_keys SET monthly_limit = $1 WHERE name = $2 AND revoked_at_ms IS NULL")
            .bind(limit_to_db(monthly_limit))
            .bind(name)
            .execute(&self.pool)
            .await?;
        one_row_or(result, StoreError::NoSuchKey(name.to_owned()))
    }

    /// The active key pair whose public key this is.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_public_key(&self, public_key: &str) -> Result<Option<ActiveKey>, StoreError> {
        self.find_active_key("public_key", public_key).await
    }

    /// The active key pair whose secret key hashes to `secret_key_hash`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_by_secret_key_hash(&self, secret_key_hash: &str) -> Result<Option<ActiveKey>, StoreError> {
        self.find_active_key("secret_key_hash", secret_key_hash).await
    }

    async fn find_active_key(&self, column: &'static str, value: &str) -> Result<Option<ActiveKey>, StoreError> {
        let sql = format!("SELECT id, monthly_limit FROM api_keys WHERE {column} = $1 AND revoked_at_ms IS NULL");
        let Some(row) = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await? else { return Ok(None) };
        Ok(Some(ActiveKey { id: KeyId(row.try_get("id")?), monthly_limit: limit_from_db(&row)? }))
    }
}
