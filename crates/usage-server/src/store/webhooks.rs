//! Managing webhook endpoints, and the bookkeeping of deliveries. Like licences,
//! each change to an endpoint is one transaction with its audit entry; attempts
//! themselves are made by `webhook_sender`.

use serde_json::json;

use super::licences::{audit, must_change, statement};
use super::storage::{ScriptStatement, SqlValue, WebhookEndpoint};
use super::{now_ms, sql, Actor, DeliveryStatus, Store, StoreError};
use crate::webhooks::{EndpointUrl, EventTypes, MAX_DESCRIPTION_LEN};

/// Settled deliveries and their messages are kept this long, then pruned.
pub const WEBHOOK_RETENTION_DAYS: i64 = 30;

/// A new endpoint; its secret is made by the caller and shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// `ep_…`.
    pub id: String,
    /// Where messages go.
    pub url: EndpointUrl,
    /// What it is for.
    pub description: String,
    /// The event types it wants; empty: all.
    pub event_types: EventTypes,
    /// `whsec_…`.
    pub secret: String,
}

/// A change to an endpoint: each given field replaces the current one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    /// A new URL.
    pub url: Option<EndpointUrl>,
    /// A new description.
    pub description: Option<String>,
    /// New event types; empty: all.
    pub event_types: Option<EventTypes>,
    /// Pause (`true`) or resume (`false`) its attempts.
    pub disabled: Option<bool>,
}

/// How an attempt ended, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The delivery.
    pub delivery_id: i64,
    /// The lease it was attempted under.
    pub leased_until_ms: i64,
    /// When it was made.
    pub attempted_at_ms: i64,
    /// The HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// Why it failed, in words; `None`: delivered.
    pub error: Option<String>,
    /// When to try again; `None` after a success or the last attempt.
    pub next_attempt_at_ms: Option<i64>,
}

/// Checks an endpoint's description.
fn check_description(description: &str) -> Result<(), StoreError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN || description.chars().any(char::is_control) {
        return Err(StoreError::InvalidField {
            field: "description",
            rule: format!("must be at most {MAX_DESCRIPTION_LEN} characters without control characters"),
        });
    }
    Ok(())
}

fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(Some(value.into()))
}

impl Store {
    /// The webhook endpoints (not deleted), oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.list_webhook_endpoints().await
    }

    /// One endpoint by id.
    ///
    /// # Errors
    /// [`StoreError::NoSuchEndpoint`], or a database failure.
    pub async fn webhook_endpoint(&self, id: &str) -> Result<WebhookEndpoint, StoreError> {
        let endpoints = self.list_webhook_endpoints().await?;
        endpoints.into_iter().find(|endpoint| endpoint.id == id).ok_or_else(|| StoreError::NoSuchEndpoint(id.into()))
    }

    /// Adds an endpoint; messages made from now on that it wants are sent to it.
    ///
    /// # Errors
    /// An invalid description, or a database failure.
    pub async fn create_webhook_endpoint(
        &self,
        endpoint: NewEndpoint,
        actor: &Actor,
    ) -> Result<WebhookEndpoint, StoreError> {
        check_description(&endpoint.description)?;
        let now = now_ms();
        let details = json!({ "url": endpoint.url.as_str(), "eventTypes": endpoint.event_types.types() });
        let script = vec![
            statement(
                sql::INSERT_WEBHOOK_ENDPOINT,
                vec![
                    text(&endpoint.id),
                    text(endpoint.url.as_str()),
                    text(&endpoint.description),
                    text(endpoint.event_types.to_stored()),
                    text(&endpoint.secret),
                    SqlValue::Int(Some(now)),
                ],
            ),
            audit(now, actor, "webhook.created", &endpoint.id, &details),
        ];
        self.run_script(script).await?;
        self.webhook_endpoint(&endpoint.id).await
    }

    /// Changes an endpoint's URL, description, event types or whether it is disabled.
    ///
    /// # Errors
    /// [`StoreError::NoSuchEndpoint`], an invalid description, or a database failure.
    pub async fn change_webhook_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
        actor: &Actor,
    ) -> Result<WebhookEndpoint, StoreError> {
        let missing = || StoreError::NoSuchEndpoint(id.to_owned());
        let mut script: Vec<ScriptStatement> = Vec::new();
        let mut details = serde_json::Map::new();
        if let Some(url) = &change.url {
            script.push(must_change(sql::SET_WEBHOOK_URL, vec![text(url.as_str()), text(id)], missing()));
            details.insert("url".into(), json!(url.as_str()));
        }
        if let Some(description) = &change.description {
            check_description(description)?;
            script.push(must_change(sql::SET_WEBHOOK_DESCRIPTION, vec![text(description), text(id)], missing()));
            details.insert("description".into(), json!(description));
        }
        if let Some(types) = &change.event_types {
            script.push(must_change(sql::SET_WEBHOOK_EVENT_TYPES, vec![text(types.to_stored()), text(id)], missing()));
            details.insert("eventTypes".into(), json!(types.types()));
        }
        if let Some(disabled) = change.disabled {
            script.push(must_change(sql::SET_WEBHOOK_DISABLED, vec![SqlValue::Bool(disabled), text(id)], missing()));
            details.insert("disabled".into(), json!(disabled));
        }
        if script.is_empty() {
            return self.webhook_endpoint(id).await;
        }
        script.push(audit(now_ms(), actor, "webhook.changed", id, &details.into()));
        self.run_script(script).await?;
        self.webhook_endpoint(id).await
    }

    /// Deletes an endpoint: nothing more is sent to it.
    ///
    /// # Errors
    /// [`StoreError::NoSuchEndpoint`], or a database failure.
    pub async fn delete_webhook_endpoint(&self, id: &str, actor: &Actor) -> Result<(), StoreError> {
        let now = now_ms();
        let script = vec![
            must_change(
                sql::DELETE_WEBHOOK_ENDPOINT,
                vec![SqlValue::Int(Some(now)), text(id)],
                StoreError::NoSuchEndpoint(id.to_owned()),
            ),
            audit(now, actor, "webhook.deleted", id, &json!({})),
        ];
        self.run_script(script).await
    }

    /// Records an attempt's outcome, if the lease it was made under still holds
    /// (otherwise another server has taken the delivery over, and records its own).
    ///
    /// # Errors
    /// A database failure.
    pub async fn finish_webhook_attempt(&self, outcome: &AttemptOutcome) -> Result<(), StoreError> {
        let status = match (&outcome.error, outcome.next_attempt_at_ms) {
            (None, _) => DeliveryStatus::Delivered,
            (Some(_), Some(_)) => DeliveryStatus::Pending,
            (Some(_), None) => DeliveryStatus::Failed,
        };
        let delivered_at = (status == DeliveryStatus::Delivered).then_some(outcome.attempted_at_ms);
        let script = vec![statement(
            sql::FINISH_WEBHOOK_DELIVERY,
            vec![
                text(status.as_str()),
                SqlValue::Int(outcome.next_attempt_at_ms),
                SqlValue::Int(Some(outcome.attempted_at_ms)),
                SqlValue::Int(outcome.status_code.map(i64::from)),
                SqlValue::Text(outcome.error.clone()),
                SqlValue::Int(delivered_at),
                SqlValue::Int(Some(outcome.delivery_id)),
                SqlValue::Int(Some(outcome.leased_until_ms)),
            ],
        )];
        self.run_script(script).await
    }

    /// Deletes settled deliveries and their messages made before `cutoff_ms`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn prune_webhooks_before(&self, cutoff_ms: i64) -> Result<(), StoreError> {
        let cutoff = || vec![SqlValue::Int(Some(cutoff_ms))];
        self.run_script(vec![
            statement(sql::PRUNE_WEBHOOK_DELIVERIES, cutoff()),
            statement(sql::PRUNE_WEBHOOK_MESSAGES, cutoff()),
        ])
        .await
    }
}
