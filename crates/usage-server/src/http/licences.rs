//! Managing licences over HTTP, with an admin token: create, list, read, change,
//! rotate, revoke, and the audit log. A read-only token reads; a change needs a
//! full token. The CLI's `keys` commands run the same store code.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use usage_core::wire::{parse_object, whole, ErrorResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{self, Admin};
use super::body::{JsonBody, OptionalJsonBody};
use super::error::ApiError;
use super::openapi::{BodyRefused, ReadRefused};
use super::paging::Page;
use super::AppState;
use crate::allowed_origins::AllowedOrigins;
use crate::keys::{hash_credential, NewKeyPair};
use crate::store::{AuditEntry, KeyId, KeyInfo, LicenceChange, NewKey, MAX_GRACE_SECS};

/// The default grace time of a rotation: a day for every page and backend to
/// pick up the new keys.
const DEFAULT_GRACE_SECS: i64 = 86_400;

/// The most audit entries one request reads.
const MAX_AUDIT_ENTRIES: i64 = 500;

/// The licence routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, change))
        .routes(routes!(rotate))
        .routes(routes!(revoke))
        .routes(routes!(audit))
}

/// `POST /api/admin/licenses`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateLicence {
    /// Unique, 1 to 100 characters without control characters, not only spaces.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// Billable events per calendar month (UTC); absent or `null`: no limit.
    #[serde(default, deserialize_with = "whole::option_i64")]
    #[schema(minimum = 0)]
    monthly_limit: Option<i64>,
    /// Exact origins or `https://*.example.com`, at most 100; empty: any origin.
    #[serde(default)]
    #[schema(max_items = 100)]
    allowed_origins: Vec<String>,
}

/// `PATCH /api/admin/licenses/{id}`: each field given replaces the current one;
/// `monthlyLimit: null` removes the limit, `allowedOrigins: []` allows any origin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeLicence {
    /// A new unique name: 1 to 100 characters without control characters, not only spaces.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: Option<String>,
    /// A new monthly limit; `null` removes it.
    #[serde(default, deserialize_with = "present_whole")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    monthly_limit: Option<Option<i64>>,
    /// The origins it counts from (replacing the ones it had); `[]`: any origin.
    #[serde(default)]
    #[schema(max_items = 100)]
    allowed_origins: Option<Vec<String>>,
}

/// `POST /api/admin/licenses/{id}/rotate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rotate {
    /// How long the previous keys stay accepted: 0 to 2,592,000 seconds (30 days); default a day.
    #[serde(default = "default_grace_secs", deserialize_with = "whole::i64")]
    #[schema(minimum = 0, maximum = 2_592_000)]
    grace_seconds: i64,
}

fn default_grace_secs() -> i64 {
    DEFAULT_GRACE_SECS
}

/// A whole number or `null` that was given (`Some(…)`), told apart from one that
/// was not (`None`, through `#[serde(default)]`).
fn present_whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<i64>>, D::Error> {
    whole::option_i64(deserializer).map(Some)
}

/// One licence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LicenceAnswer {
    success: bool,
    license: KeyInfo,
}

/// A licence with a key pair just made: the only time the secret key is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewKeysAnswer {
    success: bool,
    license: KeyInfo,
    public_key: String,
    secret_key: String,
}

/// Every licence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LicencesAnswer {
    success: bool,
    licenses: Vec<KeyInfo>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuditAnswer {
    success: bool,
    entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Every licence (revoked ones too) with its accepted key pairs.
#[utoipa::path(
    get,
    path = "/api/admin/licenses", operation_id = "listLicenses",
    tag = "licenses",
    security(("adminToken" = [])),
    responses((status = 200, description = "Every licence", body = LicencesAnswer), ReadRefused)
)]
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<LicencesAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    Ok(Json(LicencesAnswer { success: true, licenses: state.store.licences().await? }))
}

/// Creates a licence and its first key pair; the secret key is in this answer only.
#[utoipa::path(
    post,
    path = "/api/admin/licenses", operation_id = "createLicense",
    tag = "licenses",
    request_body = CreateLicence,
    security(("adminToken" = [])),
    responses(
        (
            status = 201,
            description = "Created; the secret key is shown this once",
            body = NewKeysAnswer,
            links(
                ("GetLicense" = (operation_id = "getLicense", parameters(("id" = "$response.body#/license/id")))),
                ("ChangeLicense" = (operation_id = "changeLicense", parameters(("id" = "$response.body#/license/id")))),
                ("RotateLicense" = (operation_id = "rotateLicense", parameters(("id" = "$response.body#/license/id")))),
                ("RevokeLicense" = (operation_id = "revokeLicense", parameters(("id" = "$response.body#/license/id"))))
            )
        ),
        BodyRefused, (status = 409, description = "The name is taken", body = ErrorResponse)
    )
)]
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
        monthly_limit: monthly_limit(request.monthly_limit)?,
        allowed_origins,
    };
    let license = state.store.create_licence(licence, &actor).await?;
    let answer = NewKeysAnswer { success: true, license, public_key: pair.public_key, secret_key: pair.secret_key };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// One licence by id.
#[utoipa::path(
    get,
    path = "/api/admin/licenses/{id}", operation_id = "getLicense",
    tag = "licenses",
    params(("id" = i64, Path, minimum = 1, description = "The licence's id")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The licence", body = LicenceAnswer),
        (status = 404, description = "No licence has this id", body = ErrorResponse),
        ReadRefused
    )
)]
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<LicenceAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let license = state.store.licence(licence_id(&id)?).await?;
    Ok(Json(LicenceAnswer { success: true, license }))
}

/// Changes a licence's name, monthly limit or allowed origins.
#[utoipa::path(
    patch,
    path = "/api/admin/licenses/{id}", operation_id = "changeLicense",
    tag = "licenses",
    params(("id" = i64, Path, minimum = 1, description = "The licence's id")),
    request_body = ChangeLicence,
    security(("adminToken" = [])),
    responses((status = 200, description = "The licence as changed", body = LicenceAnswer), BodyRefused, (status = 404, description = "No licence has this id", body = ErrorResponse), (status = 409, description = "The name is taken, or the licence is revoked", body = ErrorResponse))
)]
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
        monthly_limit: request.monthly_limit.map(monthly_limit).transpose()?,
        allowed_origins: request.allowed_origins.as_deref().map(allowed_origins).transpose()?,
    };
    let license = state.store.change_licence(licence, change, &actor).await?;
    Ok(Json(LicenceAnswer { success: true, license }))
}

/// Gives a licence a new key pair; the previous ones are accepted for
/// `graceSeconds` more (default a day), then refused.
#[utoipa::path(
    post,
    path = "/api/admin/licenses/{id}/rotate", operation_id = "rotateLicense",
    tag = "licenses",
    params(("id" = i64, Path, minimum = 1, description = "The licence's id")),
    request_body(content = Option<Rotate>, description = "Optional"),
    security(("adminToken" = [])),
    responses((status = 200, description = "The new key pair, shown this once", body = NewKeysAnswer), BodyRefused, (status = 404, description = "No licence has this id", body = ErrorResponse), (status = 409, description = "The name is taken, or the licence is revoked", body = ErrorResponse))
)]
async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<NewKeysAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let licence = licence_id(&id)?;
    let request = match body {
        // `null` is no options, as an absent body is.
        Some(body) if body.trim_ascii() != b"null" => parse_object::<Rotate>(&body)?,
        _ => Rotate { grace_seconds: DEFAULT_GRACE_SECS },
    };
    let pair = new_key_pair()?;
    let hash = hash_credential(&pair.secret_key);
    let grace_secs = u64::try_from(request.grace_seconds).map_err(|_| ApiError::InvalidField {
        field: "graceSeconds".to_owned(),
        rule: format!("must be from 0 to {MAX_GRACE_SECS} (30 days) (got {})", request.grace_seconds),
    })?;
    let license = state.store.rotate_licence(licence, &pair.public_key, &hash, grace_secs, &actor).await?;
    Ok(Json(NewKeysAnswer { success: true, license, public_key: pair.public_key, secret_key: pair.secret_key }))
}

/// Revokes a licence: its keys are refused from now on; its counts stay.
#[utoipa::path(
    post,
    path = "/api/admin/licenses/{id}/revoke", operation_id = "revokeLicense",
    tag = "licenses",
    params(("id" = i64, Path, minimum = 1, description = "The licence's id")),
    security(("adminToken" = [])),
    responses((status = 200, description = "The licence, revoked", body = LicenceAnswer), ReadRefused, (status = 404, description = "No licence has this id", body = ErrorResponse), (status = 409, description = "The licence is revoked already", body = ErrorResponse))
)]
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
#[utoipa::path(
    get,
    path = "/api/admin/audit", operation_id = "getAuditLog",
    tag = "licenses",
    params(
        ("before" = Option<i64>, Query, minimum = 1, description = "Entries with ids below this (a page's `nextBefore`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "How many, default 100")
    ),
    security(("adminToken" = [])),
    responses((status = 200, description = "A page of the audit log", body = AuditAnswer), ReadRefused)
)]
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let page = Page::parse(query.as_deref(), 100, MAX_AUDIT_ENTRIES, "the audit log")?;
    let entries = state.store.audit_log(page.before, page.limit).await?;
    let next_before = page.next_before(entries.iter().map(|entry| entry.id));
    Ok(Json(AuditAnswer { success: true, entries, next_before }))
}

/// A licence id from the path.
fn licence_id(text: &str) -> Result<KeyId, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).map(KeyId).ok_or_else(|| ApiError::InvalidField {
        field: "id".to_owned(),
        rule: format!("must be a license's id, a whole number from 1 (got `{text}`)"),
    })
}

/// A monthly limit as stored: none, or 0 and up.
fn monthly_limit(limit: Option<i64>) -> Result<Option<u64>, ApiError> {
    limit
        .map(|limit| {
            u64::try_from(limit).map_err(|_| ApiError::InvalidField {
                field: "monthlyLimit".to_owned(),
                rule: format!("must be 0 or more, or null for no limit (got {limit})"),
            })
        })
        .transpose()
}

fn allowed_origins(patterns: &[String]) -> Result<AllowedOrigins, ApiError> {
    AllowedOrigins::parse(patterns)
        .map_err(|err| ApiError::InvalidField { field: "allowedOrigins".to_owned(), rule: err.to_string() })
}

fn new_key_pair() -> Result<NewKeyPair, ApiError> {
    NewKeyPair::generate().map_err(|err| ApiError::Internal(anyhow::anyhow!("no randomness: {err}")))
}
