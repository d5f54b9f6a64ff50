//! The vendor's admin tokens: stored only hashed, listed without the token.

use sqlx::Row;

use super::{now_ms, one_row_or, unique_or, Store, StoreError};

/// An admin token as `admin list` shows it: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminTokenInfo {
    /// The unique name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

impl Store {
    /// Stores a new admin token's hash.
    ///
    /// # Errors
    /// [`StoreError::DuplicateTokenName`] when the name is taken.
    pub async fn create_admin_token(&self, name: &str, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO admin_tokens (name, token_hash, created_at_ms) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|err| unique_or(err, StoreError::DuplicateTokenName(name.to_owned())))?;
        Ok(())
    }

    /// Every admin token, oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        let rows = sqlx::query("SELECT name, created_at_ms, revoked_at_ms FROM admin_tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AdminTokenInfo {
                    name: row.try_get("name")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    revoked_at_ms: row.try_get("revoked_at_ms")?,
                })
            })
            .collect()
    }

    /// Revokes the active admin token named `name`.
    ///
    /// # Errors
    /// [`StoreError::NoSuchToken`] when there is none.
    pub async fn revoke_admin_token(&self, name: &str) -> Result<(), StoreError> {
        let result =
            sqlx::query("UPDATE admin_tokens SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL")
                .bind(now_ms())
                .bind(name)
                .execute(&self.pool)
                .await?;
        one_row_or(result, StoreError::NoSuchToken(name.to_owned()))
    }

    /// The hashes of every active admin token (a vendor has a handful), so that a
    /// presented token can be compared against each in constant time.
    ///
    /// # Errors
    /// A database failure.
    pub async fn active_admin_token_hashes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT token_hash FROM admin_tokens WHERE revoked_at_ms IS NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("token_hash")?)).collect()
    }
}
