//! Managing webhook endpoints over HTTP, with an admin token: add (the signing
//! secret is answered once), list, read, change (URL, description, event types,
//! disabled), delete, and each endpoint's recent deliveries. A read-only token
//! reads; a change needs a full token. The CLI's `webhooks` commands run the same
//! store code.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use usage_core::wire::{parse_object, ErrorResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{self, Admin};
use super::body::JsonBody;
use super::error::ApiError;
use super::openapi::{BodyRefused, ReadRefused};
use super::paging::Page;
use super::AppState;
use crate::store::{DeliveryInfo, EndpointChange, NewEndpoint, WebhookEndpoint};
use crate::webhooks::{new_endpoint_id, new_secret, EndpointUrl, EventType, EventTypes};

/// The most deliveries one request reads.
const MAX_DELIVERIES: i64 = 500;

/// The webhook routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(read, change, delete)).routes(routes!(deliveries))
}

/// `POST /api/admin/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateEndpoint {
    /// An absolute `http` or `https` URL without a fragment, at most 2,000 characters.
    #[schema(max_length = 2000, pattern = "^https?://[^#\\s\\u0000-\\u001f\\u007f]+$")]
    url: String,
    /// What it is for: at most 500 characters without control characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    description: String,
    /// The event types it wants; absent or empty: every type, new ones included.
    #[serde(default)]
    #[schema(value_type = Vec<EventType>)]
    event_types: Vec<String>,
}

/// `PATCH /api/admin/webhooks/{id}`: each field given replaces the current one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeEndpoint {
    /// A new URL.
    #[serde(default)]
    #[schema(max_length = 2000, pattern = "^https?://[^#\\s\\u0000-\\u001f\\u007f]+$")]
    url: Option<String>,
    /// A new description.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    description: Option<String>,
    /// New event types; empty: every type.
    #[serde(default)]
    #[schema(value_type = Option<Vec<EventType>>)]
    event_types: Option<Vec<String>>,
    /// `true` pauses attempts (messages wait), `false` resumes them.
    #[serde(default)]
    disabled: Option<bool>,
}

/// One endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EndpointAnswer {
    success: bool,
    endpoint: WebhookEndpoint,
}

/// A new endpoint and its signing secret: the only time it is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct NewEndpointAnswer {
    success: bool,
    endpoint: WebhookEndpoint,
    /// `whsec_…`: verify each message's `webhook-signature` with it (Standard Webhooks).
    secret: String,
}

/// Every endpoint, and every event type one can ask for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndpointsAnswer {
    success: bool,
    endpoints: Vec<WebhookEndpoint>,
    event_types: Vec<EventType>,
}

/// An endpoint deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeletedAnswer {
    success: bool,
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeliveriesAnswer {
    success: bool,
    deliveries: Vec<DeliveryInfo>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Every webhook endpoint (not deleted), oldest first.
#[utoipa::path(
    get,
    path = "/api/admin/webhooks", operation_id = "listWebhookEndpoints",
    tag = "webhooks",
    security(("adminToken" = [])),
    responses((status = 200, description = "Every endpoint", body = EndpointsAnswer), ReadRefused)
)]
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<EndpointsAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let endpoints = state.store.webhook_endpoints().await?;
    Ok(Json(EndpointsAnswer { success: true, endpoints, event_types: EventType::ALL.to_vec() }))
}

/// Adds an endpoint: messages made from now on that it wants are signed and sent
/// to it. The signing secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/admin/webhooks", operation_id = "createWebhookEndpoint",
    tag = "webhooks",
    request_body = CreateEndpoint,
    security(("adminToken" = [])),
    responses(
        (
            status = 201,
            description = "Added; the secret is shown this once",
            body = NewEndpointAnswer,
            links(
                ("GetWebhookEndpoint" = (operation_id = "getWebhookEndpoint", parameters(("id" = "$response.body#/endpoint/id")))),
                ("ChangeWebhookEndpoint" = (operation_id = "changeWebhookEndpoint", parameters(("id" = "$response.body#/endpoint/id")))),
                ("ListWebhookDeliveries" = (operation_id = "listWebhookDeliveries", parameters(("id" = "$response.body#/endpoint/id")))),
                ("DeleteWebhookEndpoint" = (operation_id = "deleteWebhookEndpoint", parameters(("id" = "$response.body#/endpoint/id"))))
            )
        ),
        BodyRefused
    )
)]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<NewEndpointAnswer>), ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let request: CreateEndpoint = parse_object(&body)?;
    let secret = new_secret().map_err(|err| ApiError::Internal(err.into()))?;
    let endpoint = NewEndpoint {
        id: new_endpoint_id().map_err(|err| ApiError::Internal(err.into()))?,
        url: endpoint_url(&request.url)?,
        description: request.description,
        event_types: event_types(&request.event_types)?,
        secret: secret.clone(),
    };
    let endpoint = state.store.create_webhook_endpoint(endpoint, &actor).await?;
    Ok((StatusCode::CREATED, Json(NewEndpointAnswer { success: true, endpoint, secret })))
}

/// One endpoint by id.
#[utoipa::path(
    get,
    path = "/api/admin/webhooks/{id}", operation_id = "getWebhookEndpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id, `ep_…`")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The endpoint", body = EndpointAnswer),
        (status = 404, description = "No endpoint has this id", body = ErrorResponse),
        ReadRefused
    )
)]
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<EndpointAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    Ok(Json(EndpointAnswer { success: true, endpoint: state.store.webhook_endpoint(&id).await? }))
}

/// Changes an endpoint's URL, description, event types, or pauses and resumes it.
#[utoipa::path(
    patch,
    path = "/api/admin/webhooks/{id}", operation_id = "changeWebhookEndpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id, `ep_…`")),
    request_body = ChangeEndpoint,
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The endpoint as changed", body = EndpointAnswer),
        BodyRefused,
        (status = 404, description = "No endpoint has this id", body = ErrorResponse)
    )
)]
async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<EndpointAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    let request: ChangeEndpoint = parse_object(&body)?;
    let change = EndpointChange {
        url: request.url.as_deref().map(endpoint_url).transpose()?,
        description: request.description,
        event_types: request.event_types.as_deref().map(event_types).transpose()?,
        disabled: request.disabled,
    };
    let endpoint = state.store.change_webhook_endpoint(&id, change, &actor).await?;
    Ok(Json(EndpointAnswer { success: true, endpoint }))
}

/// Deletes an endpoint: nothing more is sent to it, including messages waiting.
#[utoipa::path(
    delete,
    path = "/api/admin/webhooks/{id}", operation_id = "deleteWebhookEndpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id, `ep_…`")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Deleted", body = DeletedAnswer),
        ReadRefused,
        (status = 404, description = "No endpoint has this id", body = ErrorResponse)
    )
)]
async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<DeletedAnswer>, ApiError> {
    let Admin { actor, .. } = auth::admin_that_may_change(&state, &headers).await?;
    state.store.delete_webhook_endpoint(&id, &actor).await?;
    Ok(Json(DeletedAnswer { success: true }))
}

/// An endpoint's deliveries, newest first: status, attempts, the last answer and
/// the next attempt. `?limit=` (1 to 500, default 50) with ids below `?before=`.
#[utoipa::path(
    get,
    path = "/api/admin/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id, `ep_…`"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Deliveries with ids below this (a page's `nextBefore`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "How many, default 50")
    ),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveriesAnswer),
        ReadRefused,
        (status = 404, description = "No endpoint has this id", body = ErrorResponse)
    )
)]
async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeliveriesAnswer>, ApiError> {
    auth::admin(&state, &headers).await?;
    let page = Page::parse(query.as_deref(), 50, MAX_DELIVERIES, "an endpoint's deliveries")?;
    state.store.webhook_endpoint(&id).await?;
    let deliveries = state.store.list_webhook_deliveries(&id, page.before, page.limit).await?;
    let next_before = page.next_before(deliveries.iter().map(|delivery| delivery.id));
    Ok(Json(DeliveriesAnswer { success: true, deliveries, next_before }))
}

fn endpoint_url(url: &str) -> Result<EndpointUrl, ApiError> {
    EndpointUrl::parse(url).map_err(|rule| ApiError::InvalidField { field: "url".to_owned(), rule })
}

fn event_types(names: &[String]) -> Result<EventTypes, ApiError> {
    EventTypes::parse(names).map_err(|rule| ApiError::InvalidField { field: "eventTypes".to_owned(), rule })
}
