//! PostgreSQL through sqlx: for deployments that outgrow one machine. Several
//! servers may share one database; a batch is one multi-row INSERT per 500 events
//! and one upsert per rollup, in one transaction.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use super::rollup::rollup_deltas;
use super::rows::classification_named;
use super::sealed::writes_sealed_buckets;
use super::storage::{
    ActiveAdminToken, ActiveKey, AdminTokenInfo, AuditEntry, ClaimedDelivery, Counts, CountsQuery, CountsRow,
    DeliveryInfo, KeyInfo, KeyLookup, KeyPairInfo, ScriptStatement, SqlValue, Storage, WebhookEndpoint, WebhookQueue,
};
use super::{audit_entry, limit_from_db, now_ms, Engine, KeyId, NewEvent, Recorded, StoreError};
use super::{origin_cap, outbox, sql, DeliveryStatus};
use crate::allowed_origins::AllowedOrigins;
use crate::webhooks::{EventTypes, Threshold};

static MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Events per multi-row INSERT (8 parameters each, far under PostgreSQL's 65,535).
const EVENTS_PER_STATEMENT: usize = 500;
/// Rollup rows per multi-row upsert.
const ROLLUPS_PER_STATEMENT: usize = 500;

/// Connections per server: reads and the writer's batches share them.
const MAX_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before it is answered as busy.
const ACQUIRE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a PostgreSQL error means the database cannot be used right now (no
/// connection free or reachable, a full disk, a read-only standby, a shutdown,
/// a serialization failure), not a bug.
pub(super) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exceptions, 53: insufficient resources (53100 disk
            // full), 57: operator intervention (shutdown), 25006: read-only
            // transaction, 40001/40P01: serialization failure, deadlock.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || matches!(&*code, "25006" | "40001" | "40P01")
        }),
        _ => false,
    }
}

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// Connects and applies pending migrations.
    ///
    /// # Errors
    /// A connection failure or a failed migration.
    pub async fn open(url: &str) -> Result<PostgresStorage, StoreError> {
        // A full pool answers busy (503) after ACQUIRE_WAIT rather than queueing without end.
        let pool =
            PgPoolOptions::new().max_connections(MAX_CONNECTIONS).acquire_timeout(ACQUIRE_WAIT).connect(url).await?;
        MIGRATIONS.run(&pool).await?;
        Ok(PostgresStorage { pool })
    }
}

/// Maps a unique violation to `duplicate`, anything else to a database error.
fn unique_or(err: sqlx::Error, duplicate: StoreError) -> StoreError {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => duplicate,
        err => err.into(),
    }
}

type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// Runs one statement of a script inside `tx`; how many rows it changed.
async fn execute(tx: &mut Transaction, statement: ScriptStatement) -> Result<u64, StoreError> {
    let mut query = sqlx::query(statement.sql);
    for value in statement.params {
        query = match value {
            SqlValue::Int(value) => query.bind(value),
            SqlValue::Text(value) => query.bind(value),
            SqlValue::Bool(value) => query.bind(value),
        };
    }
    let changed = query
        .execute(&mut **tx)
        .await
        .map_err(|err| match statement.duplicate {
            Some(duplicate) => unique_or(err, duplicate),
            None => err.into(),
        })?
        .rows_affected();
    match statement.none_changed {
        Some(err) if changed == 0 => Err(err),
        _ => Ok(changed),
    }
}

/// The (account, origin) pairs of `events` that are neither known nor admitted
/// as new today (none when `max_new_origins` is 0: no cap), and those admitted
/// as new, each in sorted order.
async fn admit_origins(
    tx: &mut Transaction,
    events: &[NewEvent],
    max_new_origins: u32,
) -> Result<origin_cap::Admission, StoreError> {
    let mut admission = origin_cap::Admission::default();
    for ((account, origin), day) in origin_cap::pairs(events) {
        let known = sqlx::query(sql::KNOWN_ORIGIN).bind(account).bind(&origin).fetch_optional(&mut **tx).await?;
        if known.is_some() {
            continue;
        }
        let has_place = max_new_origins == 0
            || sqlx::query(sql::TAKE_NEW_ORIGIN_PLACE)
                .bind(account)
                .bind(day)
                .bind(i64::from(max_new_origins))
                .fetch_optional(&mut **tx)
                .await?
                .is_some();
        if has_place {
            sqlx::query(sql::INSERT_KNOWN_ORIGIN).bind(account).bind(&origin).bind(day).execute(&mut **tx).await?;
            admission.new.push((account, origin));
        } else {
            admission.refused.push((account, origin));
        }
    }
    Ok(admission)
}

/// The webhook messages a batch causes, in its transaction: its new unlicensed
/// and not-allowed origins, and the monthly-limit thresholds it crossed. Each
/// threshold's mark waits for a concurrent batch that marks the same one, and
/// then changes nothing: one message per crossing, however many servers count.
async fn write_webhook_messages(
    tx: &mut Transaction,
    events: &[NewEvent],
    recorded: &[Recorded],
    new_pairs: &[(i64, String)],
) -> Result<(), StoreError> {
    let now = now_ms();
    for statement in outbox::new_origin_messages(new_pairs, now)? {
        execute(tx, statement).await?;
    }
    for month in outbox::billable_months(events, recorded) {
        let found = sqlx::query(sql::LICENCE_MONTH_BILLABLE)
            .bind(month.licence_id)
            .bind(month.start_ms)
            .bind(month.end_ms)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = found else { continue };
        let name: String = row.try_get("name")?;
        let limit = u64::try_from(row.try_get::<i64, _>("monthly_limit")?).unwrap_or(0);
        let billable = u64::try_from(row.try_get::<i64, _>("billable")?).unwrap_or(0);
        for threshold in Threshold::reached(limit, billable) {
            if execute(tx, outbox::mark_crossed(month, threshold)).await? == 1 {
                for statement in outbox::crossing_message(month, &name, limit, billable, threshold, now)? {
                    execute(tx, statement).await?;
                }
            }
        }
    }
    Ok(())
}

fn key_info(row: &PgRow) -> Result<KeyInfo, sqlx::Error> {
    Ok(KeyInfo {
        id: KeyId(row.try_get("id")?),
        name: row.try_get("name")?,
        public_key: row.try_get("public_key")?,
        keys: Vec::new(),
        monthly_limit: limit_from_db(row.try_get("monthly_limit")?),
        allowed_origins: AllowedOrigins::from_stored(row.try_get::<Option<String>, _>("allowed_origins")?.as_deref()),
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
    })
}

#[async_trait]
impl Storage for PostgresStorage {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(sql::TOUCH_ROLLUP_GENERATION).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn run_script(&self, script: Vec<ScriptStatement>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for statement in script {
            execute(&mut tx, statement).await?; // on failure, dropping `tx` rolls it back
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows = sqlx::query(sql::LIST_KEYS).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(key_info).collect::<Result<_, _>>()?)
    }

    async fn list_key_pairs(&self, now_ms: i64) -> Result<Vec<KeyPairInfo>, StoreError> {
        let rows = sqlx::query(sql::LIST_KEY_PAIRS).bind(now_ms).fetch_all(&self.pool).await?;
        let pair = |row: &PgRow| -> Result<KeyPairInfo, sqlx::Error> {
            Ok(KeyPairInfo {
                licence_id: KeyId(row.try_get("licence_id")?),
                public_key: row.try_get("public_key")?,
                created_at_ms: row.try_get("created_at_ms")?,
                expires_at_ms: row.try_get("expires_at_ms")?,
            })
        };
        Ok(rows.iter().map(pair).collect::<Result<_, _>>()?)
    }

    async fn find_active_key(&self, lookup: KeyLookup<'_>, now_ms: i64) -> Result<Option<ActiveKey>, StoreError> {
        let (column, value) = lookup.column_and_value();
        let statement = sql::find_active_key(column);
        let Some(row) = sqlx::query(&statement).bind(value).bind(now_ms).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(ActiveKey {
            id: KeyId(row.try_get("id")?),
            monthly_limit: limit_from_db(row.try_get("monthly_limit")?),
            allowed_origins: Arc::new(AllowedOrigins::from_stored(
                row.try_get::<Option<String>, _>("allowed_origins")?.as_deref(),
            )),
        }))
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        let rows = sqlx::query(sql::LIST_ADMIN_TOKENS).fetch_all(&self.pool).await?;
        let token = |row: &PgRow| -> Result<AdminTokenInfo, sqlx::Error> {
            Ok(AdminTokenInfo {
                name: row.try_get("name")?,
                created_at_ms: row.try_get("created_at_ms")?,
                revoked_at_ms: row.try_get("revoked_at_ms")?,
                read_only: row.try_get("read_only")?,
            })
        };
        Ok(rows.iter().map(token).collect::<Result<_, _>>()?)
    }

    async fn active_admin_tokens(&self) -> Result<Vec<ActiveAdminToken>, StoreError> {
        let rows = sqlx::query(sql::ACTIVE_ADMIN_TOKENS).fetch_all(&self.pool).await?;
        let token = |row: &PgRow| -> Result<ActiveAdminToken, sqlx::Error> {
            Ok(ActiveAdminToken {
                name: row.try_get("name")?,
                token_hash: row.try_get("token_hash")?,
                read_only: row.try_get("read_only")?,
            })
        };
        Ok(rows.iter().map(token).collect::<Result<_, _>>()?)
    }

    async fn audit_log(&self, before_id: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(sql::LIST_AUDIT).bind(before_id).bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                audit_entry((
                    row.try_get("id")?,
                    row.try_get("at_ms")?,
                    row.try_get("actor")?,
                    row.try_get("action")?,
                    row.try_get("subject")?,
                    row.try_get("details")?,
                ))
            })
            .collect()
    }

    async fn record_events(
        &self,
        mut events: Vec<NewEvent>,
        max_new_origins: u32,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let admission = admit_origins(&mut tx, &events, max_new_origins).await?;
        origin_cap::fold(&mut events, &admission.refused);
        let mut recorded = Vec::with_capacity(events.len());
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            // RETURNING names the rows that were new; with ids sorted, the first of
            // an id in the statement is the one stored.
            let statement = sql::insert_events(chunk.len(), "RETURNING key_id, event_id");
            let mut query = sqlx::query(&statement);
            for event in chunk {
                query = query
                    .bind(event.account.stored_id())
                    .bind(event.event_id.as_ref().map(|id| id.as_str()))
                    .bind(event.kind.as_str())
                    .bind(event.classification.as_str())
                    .bind(event.origin.as_deref())
                    .bind(event.origin_claim_differed)
                    .bind(event.is_still)
                    .bind(event.created_at_ms);
            }
            let mut new_ids = std::collections::HashSet::new();
            for row in query.fetch_all(&mut *tx).await? {
                if let Some(id) = row.try_get::<Option<String>, _>("event_id")? {
                    new_ids.insert((row.try_get::<i64, _>("key_id")?, id));
                }
            }
            for event in chunk {
                let is_new = match &event.event_id {
                    None => true,
                    Some(id) => new_ids.remove(&(event.account.stored_id(), id.as_str().to_owned())),
                };
                let classification = if is_new {
                    event.classification
                } else {
                    let row = sqlx::query(sql::STORED_CLASSIFICATION)
                        .bind(event.account.stored_id())
                        .bind(event.event_id.as_ref().map(|id| id.as_str()))
                        .fetch_one(&mut *tx)
                        .await?;
                    classification_named(&row.try_get::<String, _>("classification")?)?
                };
                recorded.push(Recorded { classification, repeat: !is_new });
            }
        }
        for (rollup, deltas) in rollup_deltas(&events, &recorded) {
            let deltas: Vec<_> = deltas.into_iter().collect();
            for chunk in deltas.chunks(ROLLUPS_PER_STATEMENT) {
                let statement = sql::upsert_rollup(&rollup, chunk.len());
                let mut query = sqlx::query(&statement);
                for ((account, start, origin, kind), [billable, development, failed]) in chunk {
                    query = query.bind(*account).bind(*start);
                    if rollup.by_origin {
                        query = query.bind(origin.as_str());
                    }
                    query = query.bind(*kind).bind(*billable).bind(*development).bind(*failed);
                }
                query.execute(&mut *tx).await?;
            }
        }
        if writes_sealed_buckets(&events, now_ms()) {
            sqlx::query(sql::BUMP_ROLLUP_GENERATION).execute(&mut *tx).await?;
        }
        if sqlx::query(sql::ANY_WEBHOOK_ENDPOINT).fetch_optional(&mut *tx).await?.is_some() {
            write_webhook_messages(&mut tx, &events, &recorded, &admission.new).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query(sql::LIST_WEBHOOK_ENDPOINTS).fetch_all(&self.pool).await?;
        let endpoint = |row: &PgRow| -> Result<WebhookEndpoint, sqlx::Error> {
            Ok(WebhookEndpoint {
                id: row.try_get("public_id")?,
                url: row.try_get("url")?,
                description: row.try_get("description")?,
                event_types: EventTypes::from_stored(row.try_get("event_types")?),
                disabled: row.try_get("disabled")?,
                created_at_ms: row.try_get("created_at_ms")?,
            })
        };
        Ok(rows.iter().map(endpoint).collect::<Result<_, _>>()?)
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError> {
        let rows = sqlx::query(sql::LIST_WEBHOOK_DELIVERIES)
            .bind(endpoint_id)
            .bind(before_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryInfo {
                    id: row.try_get("id")?,
                    message_id: row.try_get("message_id")?,
                    event_type: row.try_get("event_type")?,
                    status: DeliveryStatus::parse(row.try_get("status")?)?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
                    last_attempt_at_ms: row.try_get("last_attempt_at_ms")?,
                    last_status_code: row.try_get("last_status_code")?,
                    last_error: row.try_get("last_error")?,
                    delivered_at_ms: row.try_get("delivered_at_ms")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        leased_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: a delivery another server is taking right now is left to it.
        let claim = sql::claim_webhook_deliveries("FOR UPDATE OF d SKIP LOCKED");
        let ids: Vec<i64> =
            sqlx::query_scalar(&claim).bind(now_ms).bind(limit).bind(leased_until_ms).fetch_all(&mut *tx).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&sql::claimed_webhook_deliveries(&ids)).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let claimed = |row: &PgRow| -> Result<ClaimedDelivery, sqlx::Error> {
            Ok(ClaimedDelivery {
                id: row.try_get("id")?,
                attempts: row.try_get("attempts")?,
                leased_until_ms: row.try_get("leased_until_ms")?,
                message_id: row.try_get("message_id")?,
                event_type: row.try_get("event_type")?,
                licence_id: row.try_get("licence_id")?,
                data: row.try_get("data")?,
                created_at_ms: row.try_get("created_at_ms")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
            })
        };
        Ok(rows.iter().map(claimed).collect::<Result<_, _>>()?)
    }

    async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError> {
        let row = sqlx::query(sql::WEBHOOK_QUEUE).fetch_one(&self.pool).await?;
        Ok(WebhookQueue { next_due_ms: row.try_get("due")?, pending: row.try_get("pending")? })
    }

    async fn rollup_generation(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query(sql::ROLLUP_GENERATION).fetch_one(&self.pool).await?.try_get("generation")?)
    }

    async fn counts(&self, queries: Vec<CountsQuery>) -> Result<Counts, StoreError> {
        // One connection for all of them, as SQLite's read does.
        let mut connection = self.pool.acquire().await?;
        let generation = sqlx::query_scalar(sql::ROLLUP_GENERATION).fetch_one(&mut *connection).await?;
        let mut answers = Vec::with_capacity(queries.len());
        for query in &queries {
            let mut statement = sqlx::query(&query.sql);
            for param in &query.params {
                statement = statement.bind(*param);
            }
            let mut rows = Vec::new();
            for row in statement.fetch_all(&mut *connection).await? {
                rows.push(CountsRow {
                    key_id: row.try_get("key_id")?,
                    bucket_start: row.try_get("bucket_start")?,
                    origin: row.try_get("origin")?,
                    event_kind: row.try_get("event_kind")?,
                    counts: [row.try_get("billable")?, row.try_get("development")?, row.try_get("failed")?],
                });
            }
            answers.push(rows);
        }
        Ok(Counts { generation, answers })
    }

    async fn prune_events_before(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError> {
        let result = sqlx::query(sql::PRUNE_EVENTS).bind(cutoff_ms).bind(limit).execute(&self.pool).await?;
        Ok(result.rows_affected())
    }
}
