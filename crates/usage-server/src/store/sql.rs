//! Statements both engines run as they are: `$n` placeholders, each first used in
//! ascending order (SQLite binds `$n` by position of first use; the SQLite engine
//! rewrites them to `?n` anyway), `ON CONFLICT` upserts and `RETURNING`.

use usage_core::{Classification, UsageRange};

use super::rollup::Rollup;
use super::shape::Shape;
use super::storage::CountsQuery;
use super::Account;

pub const INSERT_KEY: &str = "INSERT INTO api_keys \
     (name, public_key, secret_key_hash, monthly_limit, allowed_origins, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
/// A key pair `$2`/`$3` made at `$4` for the licence named `$1`.
pub const INSERT_KEY_PAIR: &str = "INSERT INTO key_pairs (licence_id, public_key, secret_key_hash, created_at_ms) \
     SELECT id, $2, $3, $4 FROM api_keys WHERE name = $1 AND revoked_at_ms IS NULL";
/// A key pair `$2`/`$3` made at `$4` for the active licence with id `$1`.
pub const INSERT_KEY_PAIR_FOR_ID: &str =
    "INSERT INTO key_pairs (licence_id, public_key, secret_key_hash, created_at_ms) \
     SELECT id, $2, $3, $4 FROM api_keys WHERE id = $1 AND revoked_at_ms IS NULL";
/// Licence `$2`'s pairs still accepted at `$1` stop being accepted at `$1 + $3`;
/// run before the new pair is added.
pub const EXPIRE_KEY_PAIRS: &str = "UPDATE key_pairs SET expires_at_ms = $1 + $3 \
     WHERE licence_id = $2 AND (expires_at_ms IS NULL OR expires_at_ms > $1 + $3)";
pub const LIST_KEYS: &str =
    "SELECT id, name, public_key, monthly_limit, allowed_origins, created_at_ms, revoked_at_ms \
                             FROM api_keys ORDER BY id";
/// The key pairs accepted at `$1`, by licence, oldest first.
pub const LIST_KEY_PAIRS: &str = "SELECT licence_id, public_key, created_at_ms, expires_at_ms FROM key_pairs \
     WHERE expires_at_ms IS NULL OR expires_at_ms > $1 ORDER BY licence_id, id";
pub const REVOKE_KEY: &str = "UPDATE api_keys SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL";
pub const RENAME_KEY: &str = "UPDATE api_keys SET name = $1 WHERE id = $2 AND revoked_at_ms IS NULL";
pub const SET_MONTHLY_LIMIT: &str = "UPDATE api_keys SET monthly_limit = $1 WHERE id = $2 AND revoked_at_ms IS NULL";
pub const SET_ALLOWED_ORIGINS: &str =
    "UPDATE api_keys SET allowed_origins = $1 WHERE id = $2 AND revoked_at_ms IS NULL";

/// The active licence whose pair's `column` (`public_key` or `secret_key_hash`)
/// is `$1`, when that pair is still accepted at `$2`.
pub fn find_active_key(column: &str) -> String {
    format!(
        "SELECT l.id, l.monthly_limit, l.allowed_origins FROM key_pairs p JOIN api_keys l ON l.id = p.licence_id \
         WHERE p.{column} = $1 AND l.revoked_at_ms IS NULL AND (p.expires_at_ms IS NULL OR p.expires_at_ms > $2)"
    )
}

pub const INSERT_ADMIN_TOKEN: &str =
    "INSERT INTO admin_tokens (name, token_hash, created_at_ms, read_only) VALUES ($1, $2, $3, $4)";
pub const LIST_ADMIN_TOKENS: &str =
    "SELECT name, created_at_ms, revoked_at_ms, read_only FROM admin_tokens ORDER BY id";
pub const REVOKE_ADMIN_TOKEN: &str =
    "UPDATE admin_tokens SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL";
pub const ACTIVE_ADMIN_TOKENS: &str =
    "SELECT name, token_hash, read_only FROM admin_tokens WHERE revoked_at_ms IS NULL";

/// An audit entry: at `$1`, actor `$2`, action `$3`, subject `$4`, details `$5` (JSON).
pub const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at_ms, actor, action, subject, details) VALUES ($1, $2, $3, $4, $5)";
/// An audit entry about licence `$4`, named by its id: as [`INSERT_AUDIT`].
pub const INSERT_LICENCE_AUDIT: &str = "INSERT INTO audit_log (at_ms, actor, action, subject, details) \
     SELECT $1, $2, $3, name, $5 FROM api_keys WHERE id = $4";
/// Up to `$2` audit entries with ids below `$1`, newest first.
pub const LIST_AUDIT: &str =
    "SELECT id, at_ms, actor, action, subject, details FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2";

/// Whether account `$1` has been counted from origin `$2` before.
pub const KNOWN_ORIGIN: &str = "SELECT 1 FROM known_origins WHERE key_id = $1 AND origin = $2";
/// Takes one of account `$1`'s `$3` new-origin places for UTC day `$2`; returns
/// a row only when one was free.
pub const TAKE_NEW_ORIGIN_PLACE: &str = "INSERT INTO new_origins_per_day (key_id, day_ms, added) VALUES ($1, $2, 1) \
     ON CONFLICT (key_id, day_ms) DO UPDATE SET added = new_origins_per_day.added + 1 \
     WHERE new_origins_per_day.added < $3 RETURNING added";
/// Remembers that account `$1` is counted from origin `$2` (first on day `$3`).
pub const INSERT_KNOWN_ORIGIN: &str =
    "INSERT INTO known_origins (key_id, origin, first_day_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// A webhook endpoint: public id `$1`, url `$2`, description `$3`, event types
/// `$4` (as `EventTypes::to_stored`), secret `$5`, made at `$6`.
pub const INSERT_WEBHOOK_ENDPOINT: &str = "INSERT INTO webhook_endpoints \
     (public_id, url, description, event_types, secret, disabled, created_at_ms) \
     VALUES ($1, $2, $3, $4, $5, FALSE, $6)";
pub const SET_WEBHOOK_URL: &str =
    "UPDATE webhook_endpoints SET url = $1 WHERE public_id = $2 AND deleted_at_ms IS NULL";
pub const SET_WEBHOOK_DESCRIPTION: &str =
    "UPDATE webhook_endpoints SET description = $1 WHERE public_id = $2 AND deleted_at_ms IS NULL";
pub const SET_WEBHOOK_EVENT_TYPES: &str =
    "UPDATE webhook_endpoints SET event_types = $1 WHERE public_id = $2 AND deleted_at_ms IS NULL";
pub const SET_WEBHOOK_DISABLED: &str =
    "UPDATE webhook_endpoints SET disabled = $1 WHERE public_id = $2 AND deleted_at_ms IS NULL";
pub const DELETE_WEBHOOK_ENDPOINT: &str =
    "UPDATE webhook_endpoints SET deleted_at_ms = $1 WHERE public_id = $2 AND deleted_at_ms IS NULL";
/// The endpoints not deleted, oldest first.
pub const LIST_WEBHOOK_ENDPOINTS: &str = "SELECT public_id, url, description, event_types, disabled, created_at_ms \
     FROM webhook_endpoints WHERE deleted_at_ms IS NULL ORDER BY id";
/// Whether any endpoint is not deleted: a batch of events writes no message otherwise.
pub const ANY_WEBHOOK_ENDPOINT: &str = "SELECT 1 FROM webhook_endpoints WHERE deleted_at_ms IS NULL LIMIT 1";

/// Whether endpoint `e` wants messages of type `type`. The names are fixed (see
/// `webhooks::EventType`) and none differs from another only where `LIKE`'s `_`
/// stands, so `LIKE` finds exactly the endpoints that asked for the type.
macro_rules! endpoint_wants {
    ($type:literal) => {
        concat!("e.deleted_at_ms IS NULL AND (e.event_types = '' OR e.event_types LIKE '%,' || ", $type, " || ',%')")
    };
}

/// A message `$1` of type `$2` about licence `$3` (or none), data `$4`, made at
/// `$5`; written only when an endpoint wants its type.
pub const INSERT_WEBHOOK_MESSAGE: &str = concat!(
    "INSERT INTO webhook_messages (message_id, event_type, licence_id, data, created_at_ms) \
     SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE ",
    endpoint_wants!("$2"),
    ")"
);
/// As [`INSERT_WEBHOOK_MESSAGE`], about the active licence named `$3`.
pub const INSERT_WEBHOOK_MESSAGE_FOR_NAMED: &str = concat!(
    "INSERT INTO webhook_messages (message_id, event_type, licence_id, data, created_at_ms) \
     SELECT $1, $2, id, $4, $5 FROM api_keys WHERE name = $3 AND revoked_at_ms IS NULL \
     AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE ",
    endpoint_wants!("$2"),
    ")"
);
/// Message `$1`'s deliveries, one per endpoint that wants it (disabled ones too:
/// they keep their messages), due at `$2`.
pub const INSERT_WEBHOOK_DELIVERIES: &str = concat!(
    "INSERT INTO webhook_deliveries (message_id, endpoint_id, status, attempts, next_attempt_at_ms, created_at_ms) \
     SELECT m.id, e.id, 'pending', 0, $2, $2 FROM webhook_messages m JOIN webhook_endpoints e ON ",
    endpoint_wants!("m.event_type"),
    " WHERE m.message_id = $1"
);

/// The deliveries an attempt may start at `$1`: pending, due, not leased, to an
/// enabled endpoint; at most `$2`, the longest due first.
const DUE_WEBHOOK_DELIVERIES: &str = "SELECT d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $1 \
     AND (d.leased_until_ms IS NULL OR d.leased_until_ms <= $1) \
     AND e.disabled = FALSE AND e.deleted_at_ms IS NULL \
     ORDER BY d.next_attempt_at_ms LIMIT $2";

/// Takes up to `$2` deliveries due at `$1` until `$3` and counts their attempt;
/// `lock` is appended to the choice (PostgreSQL: `FOR UPDATE OF d SKIP LOCKED`,
/// so that servers sharing the database never take the same one).
pub fn claim_webhook_deliveries(lock: &str) -> String {
    format!(
        "UPDATE webhook_deliveries SET leased_until_ms = $3, attempts = attempts + 1 \
         WHERE id IN ({DUE_WEBHOOK_DELIVERIES} {lock}) RETURNING id"
    )
}

/// What an attempt needs of claimed deliveries `ids`.
pub fn claimed_webhook_deliveries(ids: &[i64]) -> String {
    let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT d.id, d.attempts, d.leased_until_ms, m.message_id, m.event_type, m.licence_id, m.data, \
         m.created_at_ms, e.url, e.secret FROM webhook_deliveries d \
         JOIN webhook_messages m ON m.id = d.message_id JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.id IN ({ids}) ORDER BY d.id"
    )
}

/// When the next attempt is due (a lease that runs out counts as due then), and
/// how many deliveries to enabled endpoints are pending.
pub const WEBHOOK_QUEUE: &str = "SELECT MIN(CASE WHEN d.leased_until_ms > d.next_attempt_at_ms \
     THEN d.leased_until_ms ELSE d.next_attempt_at_ms END) AS due, COUNT(*) AS pending FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.status = 'pending' AND e.disabled = FALSE AND e.deleted_at_ms IS NULL";

/// An attempt's outcome for delivery `$7`, recorded only while lease `$8` holds:
/// status `$1`, next attempt `$2`, attempted at `$3`, HTTP status `$4`, error `$5`,
/// delivered at `$6`.
pub const FINISH_WEBHOOK_DELIVERY: &str = "UPDATE webhook_deliveries SET status = $1, next_attempt_at_ms = $2, \
     leased_until_ms = NULL, last_attempt_at_ms = $3, last_status_code = $4, last_error = $5, delivered_at_ms = $6 \
     WHERE id = $7 AND leased_until_ms = $8";

/// Endpoint `$1`'s deliveries with ids below `$2`, newest first, at most `$3`.
pub const LIST_WEBHOOK_DELIVERIES: &str = "SELECT d.id, m.message_id, m.event_type, d.status, d.attempts, \
     d.next_attempt_at_ms, d.last_attempt_at_ms, d.last_status_code, d.last_error, d.delivered_at_ms, \
     d.created_at_ms FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE e.public_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3";

/// Deliveries settled (delivered or failed) before `$1`.
pub const PRUNE_WEBHOOK_DELIVERIES: &str =
    "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at_ms < $1";
/// Messages made before `$1` with no delivery left.
pub const PRUNE_WEBHOOK_MESSAGES: &str = "DELETE FROM webhook_messages WHERE created_at_ms < $1 \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)";

/// Licence `$1`'s name, monthly limit and billable events in `[$2, $3)` (whole
/// days), if it has a limit.
pub const LICENCE_MONTH_BILLABLE: &str = "SELECT k.name, k.monthly_limit, CAST(COALESCE((SELECT SUM(t.billable) \
     FROM totals_daily t WHERE t.key_id = k.id AND t.day_ms >= $2 AND t.day_ms < $3), 0) AS BIGINT) AS billable \
     FROM api_keys k WHERE k.id = $1 AND k.monthly_limit IS NOT NULL";
/// Marks threshold `$3` % of licence `$1`'s month `$2` crossed; changes a row only the first time.
pub const INSERT_THRESHOLD_CROSSED: &str =
    "INSERT INTO usage_thresholds_crossed (licence_id, month_ms, percent) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// The columns of `usage_events` a new event fills, in binding order.
pub const EVENT_COLUMNS: &str =
    "key_id, event_id, event_kind, classification, origin, origin_claim_differed, is_still, created_at_ms";
/// How many values [`EVENT_COLUMNS`] takes.
pub const EVENT_COLUMN_COUNT: usize = 8;

/// What an event id stored earlier was classified as: a repeat's answer.
pub const STORED_CLASSIFICATION: &str = "SELECT classification FROM usage_events WHERE key_id = $1 AND event_id = $2";

/// Tells readers that sealed buckets changed (see `sealed`).
pub const BUMP_ROLLUP_GENERATION: &str = "UPDATE rollup_generation SET generation = generation + 1 WHERE id = 1";
/// A write that changes nothing: whether the database can be written now.
pub const TOUCH_ROLLUP_GENERATION: &str = "UPDATE rollup_generation SET generation = generation WHERE id = 1";
/// What readers compare their sealed sums against.
pub const ROLLUP_GENERATION: &str = "SELECT generation FROM rollup_generation WHERE id = 1";

/// Deletes up to `$2` raw events received before `$1`.
pub const PRUNE_EVENTS: &str =
    "DELETE FROM usage_events WHERE id IN (SELECT id FROM usage_events WHERE created_at_ms < $1 LIMIT $2)";

/// `INSERT INTO usage_events … VALUES ($1, …), … ON CONFLICT DO NOTHING` for
/// `rows` events, with `returning` appended (e.g. `RETURNING key_id, event_id`).
pub fn insert_events(rows: usize, returning: &str) -> String {
    let mut sql = format!("INSERT INTO usage_events ({EVENT_COLUMNS}) VALUES ");
    push_placeholders(&mut sql, rows, EVENT_COLUMN_COUNT);
    sql.push_str(" ON CONFLICT (key_id, event_id) DO NOTHING ");
    sql.push_str(returning);
    sql
}

/// Adds `rows` deltas to `rollup`: its key columns, then billable, development
/// and failed, per row.
pub fn upsert_rollup(rollup: &Rollup, rows: usize) -> String {
    let Rollup { table, bucket, .. } = rollup;
    let keys = if rollup.by_origin {
        format!("key_id, {bucket}, origin, event_kind")
    } else {
        format!("key_id, {bucket}, event_kind")
    };
    let mut sql = format!("INSERT INTO {table} ({keys}, billable, development, failed) VALUES ");
    push_placeholders(&mut sql, rows, rollup.columns());
    sql.push_str(&format!(
        " ON CONFLICT ({keys}) DO UPDATE SET \
           billable = {table}.billable + excluded.billable, \
           development = {table}.development + excluded.development, \
           failed = {table}.failed + excluded.failed"
    ));
    sql
}

/// Appends `rows` groups of `columns` placeholders: `($1, $2), ($3, $4)`.
fn push_placeholders(sql: &mut String, rows: usize, columns: usize) {
    use std::fmt::Write;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let _ = write!(sql, "{}${}", if column == 0 { "" } else { ", " }, row * columns + column + 1);
        }
        sql.push(')');
    }
}

/// Counts the raw events of `range` in its buckets (only `account`'s when
/// given); `None` for an empty range.
pub fn count_events(account: Option<Account>, range: &UsageRange) -> Option<CountsQuery> {
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

/// Reads `rollup`'s rows with their bucket in `[start_ms, end_ms)`, summed by the
/// database as `shape` asks.
pub fn count_rollup(rollup: Rollup, shape: Shape, account: Option<Account>, start_ms: i64, end_ms: i64) -> CountsQuery {
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
            "SELECT CAST(NULL AS BIGINT) AS key_id, {bucket} AS bucket_start, '' AS origin, event_kind, {sums} \
             FROM {table} WHERE {bucket} >= $1 AND {bucket} < $2 {filter} GROUP BY {bucket}, event_kind"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_by_row_and_column() {
        let mut sql = String::new();
        push_placeholders(&mut sql, 2, 3);
        assert_eq!(sql, "($1, $2, $3), ($4, $5, $6)");
    }

    #[test]
    fn rollups_without_origins_leave_the_column_out() {
        let sql = upsert_rollup(&Rollup::TOTALS_DAILY, 1);
        assert!(sql.starts_with("INSERT INTO totals_daily (key_id, day_ms, event_kind, billable"), "{sql}");
        assert!(sql.contains("VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id, day_ms, event_kind)"), "{sql}");
    }
}
