//! Managing licences and admin tokens: the one place the CLI and the HTTP API
//! change them. Each change is one transaction (a script the engine runs) that
//! also writes its audit entry: who, what, when.
//!
//! A licence's usage is counted under its id, whatever its keys: rotating gives it
//! a new key pair, and the older pairs stay accepted until the grace time the
//! caller chose, then are refused.

use std::collections::HashMap;
use std::fmt;

use serde_json::json;

use super::outbox::{self, About};
use super::storage::{KeyInfo, KeyPairInfo, NewKey, ScriptStatement, SqlValue};
use super::{limit_to_db, now_ms, sql, KeyId, Store, StoreError};
use crate::allowed_origins::AllowedOrigins;
use crate::webhooks::{EventType, LicenseChangedData, LicenseCreatedData, LicenseRevokedData, LicenseRotatedData};

/// The longest licence or admin token name.
pub const MAX_NAME_LEN: usize = 100;

/// The longest grace time of a rotation: 30 days.
pub const MAX_GRACE_SECS: u64 = 30 * 86_400;

/// Who made a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The command line on the server's machine.
    Cli,
    /// An admin token, by name.
    Token(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Cli => f.write_str("cli"),
            Actor::Token(name) => write!(f, "token:{name}"),
        }
    }
}

/// A change to a licence: each given field replaces the current one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenceChange {
    /// A new unique name.
    pub name: Option<String>,
    /// A new monthly limit; `Some(None)` removes it.
    pub monthly_limit: Option<Option<u64>>,
    /// The origins it counts from; empty: any.
    pub allowed_origins: Option<AllowedOrigins>,
}

/// Checks a licence's or token's name.
///
/// # Errors
/// [`StoreError::InvalidField`] naming `field`.
pub fn check_name(field: &'static str, name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(StoreError::InvalidField {
            field,
            rule: format!("must be 1 to {MAX_NAME_LEN} characters without control characters"),
        });
    }
    Ok(())
}

fn int(value: i64) -> SqlValue {
    SqlValue::Int(Some(value))
}

fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(Some(value.into()))
}

/// A statement that may change no row and breaks no unique constraint.
pub(super) fn statement(sql: &'static str, params: Vec<SqlValue>) -> ScriptStatement {
    ScriptStatement { sql, params, none_changed: None, duplicate: None }
}

/// A statement that must change a row, else `missing`.
pub(super) fn must_change(sql: &'static str, params: Vec<SqlValue>, missing: StoreError) -> ScriptStatement {
    ScriptStatement { none_changed: Some(missing), ..statement(sql, params) }
}

impl Store {
    /// Every licence (revoked ones too), oldest first, each with its key pairs
    /// still accepted now.
    ///
    /// # Errors
    /// A database failure.
    pub async fn licences(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let (mut licences, pairs) = tokio::try_join!(self.list_keys(), self.list_key_pairs(now_ms()))?;
        let mut by_licence: HashMap<KeyId, Vec<KeyPairInfo>> = HashMap::new();
        for pair in pairs {
            by_licence.entry(pair.licence_id).or_default().push(pair);
        }
        for licence in &mut licences {
            licence.keys = by_licence.remove(&licence.id).unwrap_or_default();
            if let Some(newest) = licence.keys.last() {
                licence.public_key.clone_from(&newest.public_key);
            }
        }
        Ok(licences)
    }

    /// One licence (revoked or not) by id.
    ///
    /// # Errors
    /// [`StoreError::NoSuchLicence`], or a database failure.
    pub async fn licence(&self, id: KeyId) -> Result<KeyInfo, StoreError> {
        let licences = self.licences().await?;
        licences.into_iter().find(|licence| licence.id == id).ok_or(StoreError::NoSuchLicence(id.0))
    }

    /// The active licence named `name`.
    ///
    /// # Errors
    /// [`StoreError::NoSuchKey`], or a database failure.
    pub async fn active_licence_named(&self, name: &str) -> Result<KeyInfo, StoreError> {
        let licences = self.licences().await?;
        licences
            .into_iter()
            .find(|licence| licence.name == name && licence.revoked_at_ms.is_none())
            .ok_or_else(|| StoreError::NoSuchKey(name.to_owned()))
    }

    /// Creates a licence with its first key pair (the secret only as its hash).
    ///
    /// # Errors
    /// An invalid or taken name ([`StoreError::DuplicateKeyName`]), or a database failure.
    pub async fn create_licence(&self, licence: NewKey, actor: &Actor) -> Result<KeyInfo, StoreError> {
        check_name("name", &licence.name)?;
        let now = now_ms();
        let details = json!({
            "monthlyLimit": licence.monthly_limit,
            "allowedOrigins": licence.allowed_origins.patterns(),
            "publicKey": licence.public_key,
        });
        let mut script = vec![
            ScriptStatement {
                duplicate: Some(StoreError::DuplicateKeyName(licence.name.clone())),
                ..statement(
                    sql::INSERT_KEY,
                    vec![
                        text(&licence.name),
                        text(&licence.public_key),
                        text(&licence.secret_key_hash),
                        SqlValue::Int(limit_to_db(licence.monthly_limit)),
                        SqlValue::Text(licence.allowed_origins.to_stored()),
                        int(now),
                    ],
                )
            },
            statement(
                sql::INSERT_KEY_PAIR,
                vec![text(&licence.name), text(&licence.public_key), text(&licence.secret_key_hash), int(now)],
            ),
            audit(now, actor, "license.created", &licence.name, &details),
        ];
        let data = LicenseCreatedData {
            license_id: 0, // the new row's id, put in when the message is sent
            name: licence.name.clone(),
            public_key: licence.public_key.clone(),
            monthly_limit: licence.monthly_limit,
            allowed_origins: licence.allowed_origins.patterns().to_vec(),
        };
        script.extend(outbox::message(EventType::LicenseCreated, About::LicenceNamed(&licence.name), &data, now)?);
        self.run_script(script).await?;
        self.active_licence_named(&licence.name).await
    }

    /// Changes an active licence's name, limit or allowed origins (those given).
    ///
    /// # Errors
    /// [`StoreError::NoSuchLicence`], an invalid or taken name, or a database failure.
    pub async fn change_licence(&self, id: KeyId, change: LicenceChange, actor: &Actor) -> Result<KeyInfo, StoreError> {
        let missing = || StoreError::NoSuchLicence(id.0);
        let mut script = Vec::new();
        let mut details = serde_json::Map::new();
        if let Some(name) = &change.name {
            check_name("name", name)?;
            script.push(ScriptStatement {
                duplicate: Some(StoreError::DuplicateKeyName(name.clone())),
                ..must_change(sql::RENAME_KEY, vec![text(name), int(id.0)], missing())
            });
            details.insert("name".into(), json!(name));
        }
        if let Some(limit) = change.monthly_limit {
            script.push(must_change(
                sql::SET_MONTHLY_LIMIT,
                vec![SqlValue::Int(limit_to_db(limit)), int(id.0)],
                missing(),
            ));
            details.insert("monthlyLimit".into(), json!(limit));
        }
        if let Some(allowed) = &change.allowed_origins {
            script.push(must_change(
                sql::SET_ALLOWED_ORIGINS,
                vec![SqlValue::Text(allowed.to_stored()), int(id.0)],
                missing(),
            ));
            details.insert("allowedOrigins".into(), json!(allowed.patterns()));
        }
        if script.is_empty() {
            // Nothing to change: the licence as it is, if it is active.
            let licence = self.licence(id).await?;
            return if licence.revoked_at_ms.is_none() { Ok(licence) } else { Err(StoreError::LicenceRevoked(id.0)) };
        }
        let now = now_ms();
        let before = self.licence(id).await?;
        let data = LicenseChangedData {
            license_id: id.0,
            name: change.name.unwrap_or(before.name),
            monthly_limit: change.monthly_limit.unwrap_or(before.monthly_limit),
            allowed_origins: change.allowed_origins.unwrap_or(before.allowed_origins).patterns().to_vec(),
            changed: details.keys().cloned().collect(),
        };
        script.push(licence_audit(now, actor, "license.changed", id, &details.into()));
        script.extend(outbox::message(EventType::LicenseChanged, About::Licence(id.0), &data, now)?);
        self.run_licence_script(id, script).await?;
        self.licence(id).await
    }

    /// Gives an active licence a new key pair. Its other pairs stay accepted for
    /// `grace_secs` more seconds (0: refused at once), then are refused.
    ///
    /// # Errors
    /// [`StoreError::NoSuchLicence`], a grace time over [`MAX_GRACE_SECS`], or a
    /// database failure.
    pub async fn rotate_licence(
        &self,
        id: KeyId,
        public_key: &str,
        secret_key_hash: &str,
        grace_secs: u64,
        actor: &Actor,
    ) -> Result<KeyInfo, StoreError> {
        if grace_secs > MAX_GRACE_SECS {
            return Err(StoreError::InvalidField {
                field: "graceSeconds",
                rule: format!("must be from 0 to {MAX_GRACE_SECS} (30 days)"),
            });
        }
        let now = now_ms();
        let grace_ms = i64::try_from(grace_secs).unwrap_or(i64::MAX / 2_000) * 1000;
        let details = json!({ "publicKey": public_key, "previousKeysExpireAt": now + grace_ms });
        let data = LicenseRotatedData {
            license_id: id.0,
            name: self.licence(id).await?.name,
            public_key: public_key.to_owned(),
            previous_keys_expire_at_ms: now + grace_ms,
        };
        let message = outbox::message(EventType::LicenseRotated, About::Licence(id.0), &data, now)?;
        let mut script = vec![
            statement(sql::EXPIRE_KEY_PAIRS, vec![int(now), int(id.0), int(grace_ms)]),
            must_change(
                sql::INSERT_KEY_PAIR_FOR_ID,
                vec![int(id.0), text(public_key), text(secret_key_hash), int(now)],
                StoreError::NoSuchLicence(id.0),
            ),
            licence_audit(now, actor, "license.rotated", id, &details),
        ];
        script.extend(message);
        self.run_licence_script(id, script).await?;
        self.licence(id).await
    }

    /// Revokes an active licence: every key pair of it is refused from now on; its
    /// counts stay.
    ///
    /// # Errors
    /// [`StoreError::NoSuchLicence`], or a database failure.
    pub async fn revoke_licence(&self, id: KeyId, actor: &Actor) -> Result<KeyInfo, StoreError> {
        let now = now_ms();
        let data = LicenseRevokedData { license_id: id.0, name: self.licence(id).await?.name, revoked_at_ms: now };
        let mut script = vec![
            must_change(sql::REVOKE_KEY, vec![int(now), int(id.0)], StoreError::NoSuchLicence(id.0)),
            licence_audit(now, actor, "license.revoked", id, &json!({})),
        ];
        script.extend(outbox::message(EventType::LicenseRevoked, About::Licence(id.0), &data, now)?);
        self.run_licence_script(id, script).await?;
        self.licence(id).await
    }

    /// Runs a change to licence `id`; when it found no active licence, says
    /// whether there is none or it is revoked.
    async fn run_licence_script(&self, id: KeyId, script: Vec<ScriptStatement>) -> Result<(), StoreError> {
        match self.run_script(script).await {
            Err(StoreError::NoSuchLicence(_)) => match self.licence(id).await {
                Ok(licence) if licence.revoked_at_ms.is_some() => Err(StoreError::LicenceRevoked(id.0)),
                Ok(_) | Err(StoreError::NoSuchLicence(_)) => Err(StoreError::NoSuchLicence(id.0)),
                Err(err) => Err(err),
            },
            result => result,
        }
    }

    /// Stores a new admin token's hash.
    ///
    /// # Errors
    /// An invalid or taken name ([`StoreError::DuplicateTokenName`]), or a database failure.
    pub async fn create_admin_token(
        &self,
        name: &str,
        token_hash: &str,
        read_only: bool,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_name("name", name)?;
        let now = now_ms();
        let script = vec![
            ScriptStatement {
                duplicate: Some(StoreError::DuplicateTokenName(name.to_owned())),
                ..statement(
                    sql::INSERT_ADMIN_TOKEN,
                    vec![text(name), text(token_hash), int(now), SqlValue::Bool(read_only)],
                )
            },
            audit(now, actor, "admin-token.created", name, &json!({ "readOnly": read_only })),
        ];
        self.run_script(script).await
    }

    /// Revokes the active admin token `name`.
    ///
    /// # Errors
    /// [`StoreError::NoSuchToken`], or a database failure.
    pub async fn revoke_admin_token(&self, name: &str, actor: &Actor) -> Result<(), StoreError> {
        let now = now_ms();
        let script = vec![
            must_change(sql::REVOKE_ADMIN_TOKEN, vec![int(now), text(name)], StoreError::NoSuchToken(name.to_owned())),
            audit(now, actor, "admin-token.revoked", name, &json!({})),
        ];
        self.run_script(script).await
    }
}

/// The audit entry of a change to `subject`, named.
pub(super) fn audit(
    now: i64,
    actor: &Actor,
    action: &str,
    subject: &str,
    details: &serde_json::Value,
) -> ScriptStatement {
    statement(
        sql::INSERT_AUDIT,
        vec![int(now), text(actor.to_string()), text(action), text(subject), text(details.to_string())],
    )
}

/// The audit entry of a change to licence `id` (named as it is after the change).
fn licence_audit(now: i64, actor: &Actor, action: &str, id: KeyId, details: &serde_json::Value) -> ScriptStatement {
    statement(
        sql::INSERT_LICENCE_AUDIT,
        vec![int(now), text(actor.to_string()), text(action), int(id.0), text(details.to_string())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("name", "acme").is_ok());
        for bad in ["", "   ", "a\nb", &"x".repeat(MAX_NAME_LEN + 1)] {
            let err = check_name("name", bad).unwrap_err();
            assert!(err.to_string().starts_with("name: must be 1 to 100 characters"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn actors_are_named_as_the_audit_log_shows_them() {
        assert_eq!(Actor::Cli.to_string(), "cli");
        assert_eq!(Actor::Token("dashboard".into()).to_string(), "token:dashboard");
    }
}
