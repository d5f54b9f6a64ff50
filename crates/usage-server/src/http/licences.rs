//! Managing licences over HTTP, with an admin token: create, list, read, change,
//! rotate, revoke, and the audit log. A read-only token reads; a change needs a
//! full token. The CLI's `keys` commands run the same store code.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use usage_core::wire::parse_object;

use super::auth::{self, Admin};
use super::body::{JsonBody, OptionalJsonBody};
use super::error::ApiError;
use super::AppState;
use crate::allowed_origins::AllowedOrigins;
use crate::keys::{hash_credential, NewKeyPair};
use crate::store::{AuditEntry, KeyId, KeyInfo, LicenceChange, NewKey};

/// The default grace time of a rotation: a day for every page and backend to
/// pick up the new keys.
const DEFAULT_GRACE_SECS: u64 = 86_400;

/// The most audit entries one request reads.
const MAX_AUDIT_ENTRIES: i64 = 500;

/// The licence routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/licenses", get(list).post(create))
        .route("/api/admin/licenses/{id}", get(read).patch(change))
        .route("/api/admin/licenses/{id}/rotate", post(rotate))
        .route("/api/admin/licenses/{id}/revoke", post(revoke))
        .route("/api/admin/audit", get(audit))
}

/// `POST /api/admin/licenses`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateLicence {
    name: String,
    #[serde(default)]
    monthly_limit: Option<u64>,
    #[serde(default)]
    allowed_origins: Vec<String>,
}

/// `PATCH /api/admin/licenses/{id}`: each field given replaces the current one;
/// `monthlyLimit: null` removes the limit, `allowedOrigins: []` allows any origin.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeLicence {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    monthly_limit: Option<Option<u64>>,
    #[serde(default)]
    allowed_origins: Option<Vec<String>>,
}

/// `POST /api/admin/licenses/{id}/rotate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rotate {
    #[serde(default = "default_grace_secs")]
    grace_seconds: u64,
}

fn default_grace_secs() -> u64 {
    DEFAULT_GRACE_SECS
}

/// A field that was given, `null` included (`Some(None)`), told apart from one
/// that was not (`None`, through `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// One licence.
#[derive(Debug, Serialize)]
struct LicenceAnswer {
    success: bool,
    license: KeyInfo,
}

/// A licence with a key pair just made: the only time the secret key is shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NewKeysAnswer {
    success: bool,
    license: KeyInfo,
    public_key: String,
    secret_key: String,
}

/// Every licence.
#[derive(Debug, Serialize)]
struct LicencesAnswer {
    success: bool,
    licenses: Vec<KeyInfo>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditAnswer {
    success: bool,
    entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Every licence (revoked ones too) with its accepted key pairs.
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<LicencesAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    Ok(Json(LicencesAnswer { success: true, licenses: state.store.licences().await? }))
}

/// Creates a licence and its first key pair; the secret key is in this answer only.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<NewKeysAnswer>), ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let request: CreateLicence = parse_object(&body)?;
    let allowed_origins = allowed_origins(&request.allowed_origins)?;
    let pair = new_key_pair()?;
    let licence = NewKey {
        name: request.name,
        public_key: pair.public_key.clone(),
        secret_key_hash: hash_credential(&pair.secret_key),
        monthly_limit: request.monthly_limit,
        allowed_origins,
    };
    let license = state.store.create_licence(licence, &actor).await?;
    let answer = NewKeysAnswer { success: true, license, public_key: pair.public_key, secret_key: pair.secret_key };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// One licence by id.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<LicenceAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let license = state.store.licence(licence_id(&id)?).await.map_err(|err| not_found(err, &id))?;
    Ok(Json(LicenceAnswer { success: true, license }))
}

/// Changes a licence's name, monthly limit or allowed origins.
async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<LicenceAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let licence = licence_id(&id)?;
    let request: ChangeLicence = parse_object(&body)?;
    let change = LicenceChange {
        name: request.name,
        monthly_limit: request.monthly_limit,
        allowed_origins: request.allowed_origins.as_deref().map(allowed_origins).transpose()?,
    };
    let license = state.store.change_licence(licence, change, &actor).await?;
    Ok(Json(LicenceAnswer { success: true, license }))
}

/// Gives a licence a new key pair; the previous ones are accepted for
/// `graceSeconds` more (default a day), then refused.
async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<NewKeysAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let licence = licence_id(&id)?;
    let request = match body {
        Some(body) => parse_object::<Rotate>(&body)?,
        None => Rotate { grace_seconds: DEFAULT_GRACE_SECS },
    };
    let pair = new_key_pair()?;
    let hash = hash_credential(&pair.secret_key);
    let license = state.store.rotate_licence(licence, &pair.public_key, &hash, request.grace_seconds, &actor).await?;
    Ok(Json(NewKeysAnswer { success: true, license, public_key: pair.public_key, secret_key: pair.secret_key }))
}

/// Revokes a licence: its keys are refused from now on; its counts stay.
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<LicenceAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let license = state.store.revoke_licence(licence_id(&id)?, &actor).await?;
    Ok(Json(LicenceAnswer { success: true, license }))
}

/// The audit log, newest first: `?limit=` (1 to 500, default 100) entries with
/// ids below `?before=`.
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let (mut before, mut limit) = (i64::MAX, 100);
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let number = |field: &str, min: i64, max: i64| {
            value.parse::<i64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| ApiError::InvalidField {
                field: field.to_owned(),
                rule: format!("must be a whole number from {min} to {max} (got `{value}`)"),
            })
        };
        match name.as_ref() {
            "before" => before = number("before", 1, i64::MAX)?,
            "limit" => limit = number("limit", 1, MAX_AUDIT_ENTRIES)?,
            other => {
                return Err(ApiError::InvalidField {
                    field: other.to_owned(),
                    rule: "is not a parameter of the audit log; use before and limit".to_owned(),
                })
            }
        }
    }
    let entries = state.store.audit_log(before, limit).await?;
    let next_before = entries.last().filter(|_| entries.len() as i64 == limit).map(|entry| entry.id);
    Ok(Json(AuditAnswer { success: true, entries, next_before }))
}

/// A licence id from the path.
fn licence_id(text: &str) -> Result<KeyId, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).map(KeyId).ok_or_else(|| ApiError::InvalidField {
        field: "id".to_owned(),
        rule: format!("must be a license's id, a whole number from 1 (got `{text}`)"),
    })
}

/// Reading a licence that does not exist is a 404, not a store failure.
fn not_found(err: crate::store::StoreError, id: &str) -> ApiError {
    match err {
        crate::store::StoreError::NoSuchLicence(_) => ApiError::NoSuchLicence(id.to_owned()),
        err => err.into(),
    }
}

fn allowed_origins(patterns: &[String]) -> Result<AllowedOrigins, ApiError> {
    AllowedOrigins::parse(patterns)
        .map_err(|err| ApiError::InvalidField { field: "allowedOrigins".to_owned(), rule: err.to_string() })
}

fn new_key_pair() -> Result<NewKeyPair, ApiError> {
    NewKeyPair::generate().map_err(|err| ApiError::Internal(anyhow::anyhow!("no randomness: {err}")))
}
