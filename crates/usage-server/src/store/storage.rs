//! The one interface both engines implement, and the records it deals in.
//!
//! An engine stores and finds; everything that is the same on both (how a range
//! is split over the rollups, how a batch's rollup deltas are summed, the order
//! in which a batch is written) lives above it, in [`super::Store`].

use std::sync::Arc;

use async_trait::async_trait;

use super::{Engine, KeyId, NewEvent, Recorded, StoreError};
use crate::allowed_origins::AllowedOrigins;

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
    /// The origins it counts toward its licence from; empty: any.
    #[serde(serialize_with = "serialize_patterns")]
    pub allowed_origins: AllowedOrigins,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
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

/// A new key pair: the secret only as its hash.
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

    /// Stores a new key pair. [`StoreError::DuplicateKeyName`] when the name is taken.
    async fn create_key(&self, key: NewKey) -> Result<(), StoreError>;

    /// Every key pair, oldest first.
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError>;

    /// Revokes the active key pair `name`. [`StoreError::NoSuchKey`] when there is none.
    async fn revoke_key(&self, name: &str) -> Result<(), StoreError>;

    /// Sets (or with `None` removes) the monthly limit of the active key pair `name`.
    /// [`StoreError::NoSuchKey`] when there is none.
    async fn set_monthly_limit(&self, name: &str, monthly_limit: Option<u64>) -> Result<(), StoreError>;

    /// Sets the origins the active key pair `name` counts toward its licence
    /// from (empty: any). [`StoreError::NoSuchKey`] when there is none.
    async fn set_allowed_origins(&self, name: &str, allowed: &AllowedOrigins) -> Result<(), StoreError>;

    /// The active key pair a request names, if any.
    async fn find_active_key(&self, lookup: KeyLookup<'_>) -> Result<Option<ActiveKey>, StoreError>;

    /// Stores a new admin token's hash. [`StoreError::DuplicateTokenName`] when the name is taken.
    async fn create_admin_token(&self, name: &str, token_hash: &str) -> Result<(), StoreError>;

    /// Every admin token, oldest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError>;

    /// Revokes the active admin token `name`. [`StoreError::NoSuchToken`] when there is none.
    async fn revoke_admin_token(&self, name: &str) -> Result<(), StoreError>;

    /// The hashes of every active admin token (a vendor has a handful), so that a
    /// presented token can be compared against each in constant time.
    async fn active_admin_token_hashes(&self) -> Result<Vec<String>, StoreError>;

    /// Stores `events` (already in `(account, eventId)` order) in one durable
    /// transaction with their rollup deltas: each once per account and event id,
    /// a repeat adding nothing and answering with the stored classification;
    /// the rollup generation bumped when it writes into sealed buckets.
    /// Each account may add at most `max_new_origins_per_day` origins it was
    /// never counted from per UTC day (0: no cap); past it, events are counted
    /// under [`super::FOLDED_ORIGIN`] (see `origin_cap`).
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
