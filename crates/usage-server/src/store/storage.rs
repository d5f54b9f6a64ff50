//! The one interface both engines implement, and the records it deals in.
//!
//! An engine stores and finds; everything that is the same on both (how a range
//! is split over the rollups, how a batch's rollup deltas are summed, the order
//! in which a batch is written) lives above it, in [`super::Store`].

use std::sync::Arc;

use async_trait::async_trait;

use super::{Engine, KeyId, NewEvent, Recorded, StoreError};
use crate::allowed_origins::AllowedOrigins;
use crate::webhooks::{EventType, EventTypes};

/// A count query both engines run: SQL with `$n` placeholders, all integers,
/// whose rows are `key_id, bucket_start, origin, event_kind, billable,
/// development, failed` (origin `''` for none, key_id `NULL` for every account's).
/// Built in `sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsQuery {
    /// The statement.
    pub sql: String,
    /// `$1`, `$2`, … in order.
    pub params: Vec<i64>,
}

/// One row of a [`CountsQuery`], as the database returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsRow {
    /// `usage_events.key_id`; `None` for every account's, summed.
    pub key_id: Option<i64>,
    /// A bucket start.
    pub bucket_start: i64,
    /// The origin, `""` for none.
    pub origin: String,
    /// The event kind's name.
    pub event_kind: String,
    /// Billable, development and failed events.
    pub counts: [i64; 3],
}

/// A licence as `keys list` and `GET /api/admin/licenses` show it: never a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = License)]
pub struct KeyInfo {
    /// The licence's id: its usage is counted under it, whatever its keys.
    #[serde(serialize_with = "serialize_key_id")]
    #[schema(value_type = i64)]
    pub id: KeyId,
    /// The unique name.
    pub name: String,
    /// The public key of its newest key pair.
    pub public_key: String,
    /// Its key pairs that are still accepted, oldest first: one, or two during a
    /// rotation's grace time.
    pub keys: Vec<KeyPairInfo>,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// The origins it counts toward its licence from; empty: any.
    #[serde(serialize_with = "serialize_patterns")]
    #[schema(value_type = Vec<String>)]
    pub allowed_origins: AllowedOrigins,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

/// A licence's key pair, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = LicenseKey)]
#[serde(rename_all = "camelCase")]
pub struct KeyPairInfo {
    /// The licence it belongs to.
    #[serde(skip)]
    pub licence_id: KeyId,
    /// The public key.
    pub public_key: String,
    /// When it was made, ms since the epoch.
    pub created_at_ms: i64,
    /// When it stops being accepted (the end of a rotation's grace time); `None`: no end.
    pub expires_at_ms: Option<i64>,
}

fn serialize_key_id<S: serde::Serializer>(id: &KeyId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(id.0)
}

fn serialize_patterns<S: serde::Serializer>(allowed: &AllowedOrigins, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(allowed.patterns())
}

/// An active (not revoked) key pair, as a request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveKey {
    /// The row id.
    pub id: KeyId,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// The origins it counts toward its licence from; empty: any.
    pub allowed_origins: Arc<AllowedOrigins>,
}

/// A new licence and its first key pair: the secret only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The unique name.
    pub name: String,
    /// The public key.
    pub public_key: String,
    /// The secret key's hash (see `keys::hash_credential`).
    pub secret_key_hash: String,
    /// Billable events per calendar month (UTC), if limited.
    pub monthly_limit: Option<u64>,
    /// The origins it counts toward its licence from; empty: any.
    pub allowed_origins: AllowedOrigins,
}

/// How a request names its key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup<'a> {
    /// By the public key (registrations).
    PublicKey(&'a str),
    /// By the secret key's hash (reading usage).
    SecretKeyHash(&'a str),
}

impl KeyLookup<'_> {
    /// The column searched and the value sought.
    pub(crate) fn column_and_value(self) -> (&'static str, String) {
        match self {
            KeyLookup::PublicKey(key) => ("public_key", key.to_owned()),
            KeyLookup::SecretKeyHash(hash) => ("secret_key_hash", hash.to_owned()),
        }
    }
}

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
    /// Whether it may only read (dashboards, reporting).
    pub read_only: bool,
}

/// An active admin token as a request is checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAdminToken {
    /// Its name: who a change is recorded as.
    pub name: String,
    /// The SHA-256 hash of the token.
    pub token_hash: String,
    /// Whether it may only read.
    pub read_only: bool,
}

/// One recorded change to licences or admin tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its place in the log: later entries have larger ids.
    pub id: i64,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Who: `cli`, or `token:NAME` for an admin token.
    pub actor: String,
    /// What: `license.created`, `license.changed`, `license.rotated`,
    /// `license.revoked`, `admin-token.created`, `admin-token.revoked`.
    pub action: String,
    /// The licence's or token's name.
    pub subject: String,
    /// The change's particulars (the new limit, the new public key…).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A webhook endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// Its id: `ep_` and 128 random bits in hex.
    pub id: String,
    /// Where messages are POSTed.
    pub url: String,
    /// What it is for, in the vendor's words.
    pub description: String,
    /// The event types it wants; empty: every type.
    #[serde(serialize_with = "serialize_event_types")]
    #[schema(value_type = Vec<EventType>)]
    pub event_types: EventTypes,
    /// Whether attempts are paused: its messages wait, and are sent once it is enabled.
    pub disabled: bool,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
}

fn serialize_event_types<S: serde::Serializer>(types: &EventTypes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(types.types())
}

/// The deliveries still to make (to enabled endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookQueue {
    /// When the next attempt is due, ms since the epoch; `None` when none is pending.
    pub next_due_ms: Option<i64>,
    /// How many are pending.
    pub pending: i64,
}

/// Where a message stands with one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = WebhookDeliveryStatus)]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due at `nextAttemptAtMs`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed (the last more than a day after the first).
    Failed,
}

impl DeliveryStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The inverse of [`DeliveryStatus::as_str`].
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a name this version does not know.
    pub fn parse(name: &str) -> Result<DeliveryStatus, StoreError> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown webhook delivery status `{name}`")))
    }
}

/// One message's delivery to one endpoint, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryInfo {
    /// Its place in the endpoint's list: later deliveries have larger ids.
    pub id: i64,
    /// The message's `webhook-id`: the same on every attempt.
    pub message_id: String,
    /// The message's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts started so far.
    pub attempts: i64,
    /// When the next attempt is due, ms since the epoch (pending only).
    pub next_attempt_at_ms: Option<i64>,
    /// When the last attempt was made.
    pub last_attempt_at_ms: Option<i64>,
    /// The HTTP status the last attempt got, if it got an answer.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed, in words.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at_ms: Option<i64>,
    /// When the message was made.
    pub created_at_ms: i64,
}

/// A delivery a server has taken (leased) for one attempt, with what the attempt needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery's row id.
    pub id: i64,
    /// Attempts started, this one included.
    pub attempts: i64,
    /// The lease: the outcome is recorded only if it still holds.
    pub leased_until_ms: i64,
    /// `webhook-id`.
    pub message_id: String,
    /// The message's type.
    pub event_type: String,
    /// The licence it is about, if any.
    pub licence_id: Option<i64>,
    /// The message's data (JSON).
    pub data: String,
    /// When the message was made.
    pub created_at_ms: i64,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
}

/// A value bound to a statement of a transaction script (see [`Storage::run_script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// An integer, or NULL.
    Int(Option<i64>),
    /// A text, or NULL.
    Text(Option<String>),
    /// A boolean.
    Bool(bool),
}

/// One statement of a transaction script.
#[derive(Debug)]
pub struct ScriptStatement {
    /// The statement (`$n` placeholders), from `sql`.
    pub sql: &'static str,
    /// `$1`, `$2`, … in order.
    pub params: Vec<SqlValue>,
    /// The error to fail with, rolling everything back, when it changes no row;
    /// `None`: no row is fine.
    pub none_changed: Option<StoreError>,
    /// The error to fail with when it breaks a unique constraint.
    pub duplicate: Option<StoreError>,
}

/// What [`Storage::counts`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The rollup generation, read before the queries ran.
    pub generation: i64,
    /// Each query's rows, in the order of the queries.
    pub answers: Vec<Vec<CountsRow>>,
}

/// What a storage engine does. Handlers never see which one runs: they hold a
/// [`super::Store`], which reaches the engine through this trait.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Which engine this is (for logs and the benchmarks).
    fn engine(&self) -> Engine;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Checks that the database can be written now: a transaction that changes
    /// nothing, committed (a full disk, a read-only file or a lost connection fail it).
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// Lets go of idle connections; what is running finishes.
    async fn close(&self);

    /// Runs `script` in one transaction: each statement in order; the first that
    /// fails (or changes no row when it must) rolls all of it back. Every change
    /// to licences and admin tokens goes through here, with its audit entry in the
    /// same transaction (see `licences`).
    async fn run_script(&self, script: Vec<ScriptStatement>) -> Result<(), StoreError>;

    /// Every licence, oldest first, with `keys` empty and `public_key` its first
    /// pair's (see `Store::licences`, which completes them).
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError>;

    /// The key pairs still accepted at `now_ms`, by licence, oldest first.
    async fn list_key_pairs(&self, now_ms: i64) -> Result<Vec<KeyPairInfo>, StoreError>;

    /// The active licence a request's key names, if its pair is still accepted at `now_ms`.
    async fn find_active_key(&self, lookup: KeyLookup<'_>, now_ms: i64) -> Result<Option<ActiveKey>, StoreError>;

    /// Every admin token, oldest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError>;

    /// Every active admin token (a vendor has a handful), so that a presented
    /// token can be compared against each hash in constant time.
    async fn active_admin_tokens(&self) -> Result<Vec<ActiveAdminToken>, StoreError>;

    /// Up to `limit` audit entries with ids below `before_id`, newest first.
    async fn audit_log(&self, before_id: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    /// The webhook endpoints not deleted, oldest first.
    async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Up to `limit` of endpoint `endpoint_id`'s deliveries with ids below `before_id`, newest first.
    async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>, StoreError>;

    /// Takes up to `limit` deliveries due at `now_ms` for one attempt each, leased
    /// until `leased_until_ms`: no other server takes them before then.
    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        leased_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// The pending deliveries to enabled endpoints: how many, and when the next is due.
    async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError>;

    /// Stores `events` (already in `(account, eventId)` order) in one durable
    /// transaction with their rollup deltas: each once per account and event id,
    /// a repeat adding nothing and answering with the stored classification;
    /// the rollup generation bumped when it writes into sealed buckets.
    /// Each account may add at most `max_new_origins_per_day` origins it was
    /// never counted from per UTC day (0: no cap); past it, events are counted
    /// under [`super::FOLDED_ORIGIN`] (see `origin_cap`).
    /// The webhook messages the batch causes (new unlicensed and not-allowed
    /// origins, monthly-limit thresholds crossed) are written in its transaction.
    /// Nothing of the batch is stored when it fails.
    async fn record_events(
        &self,
        events: Vec<NewEvent>,
        max_new_origins_per_day: u32,
    ) -> Result<Vec<Recorded>, StoreError>;

    /// The rollup generation: bumped by every batch that writes into sealed
    /// buckets (see `sealed`), in that batch's transaction.
    async fn rollup_generation(&self) -> Result<i64, StoreError>;

    /// Reads the rollup generation, then runs count queries (SQL both engines
    /// understand) one after another, on one connection: one trip to the database
    /// for everything a view does not find in memory.
    async fn counts(&self, queries: Vec<CountsQuery>) -> Result<Counts, StoreError>;

    /// Deletes up to `limit` raw events received before `cutoff_ms`; returns how many went.
    async fn prune_events_before(&self, cutoff_ms: i64, limit: i64) -> Result<u64, StoreError>;
}
