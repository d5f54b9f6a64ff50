//! The OpenAPI 3.1 document, generated from the handlers (`utoipa`): every route
//! is registered through `utoipa_axum`, so what is served is what is documented.
//! `GET /api/openapi.json` answers it.

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use usage_core::wire::ErrorResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::{IntoResponses, Modify, OpenApi as _, ToSchema};

use crate::webhooks::{
    EventType, LicenseChangedData, LicenseCreatedData, LicenseRevokedData, LicenseRotatedData, LimitThresholdData,
    OriginNotAllowedData, UnlicensedOriginData,
};

/// The security schemes: a licensee's secret key and the vendor's admin token,
/// both as `Authorization: Bearer`.
pub const SECRET_KEY: &str = "secretKey";
/// See [`SECRET_KEY`].
pub const ADMIN_TOKEN: &str = "adminToken";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "usage-telemetry server",
        description = "Counts conversions of in-browser media tools once each, classifies them \
                       (billable, development, failed) and answers licensees and the vendor. \
                       Wire-compatible with the documented @remotion/licensing API. Every error \
                       is `{\"success\":false,\"error\":\"…\"}` with a message that names the field \
                       and the rule.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "track", description = "Registering usage and reading it back: the documented client's endpoints"),
        (name = "usage", description = "A licensee's breakdown and export, with its secret key"),
        (name = "admin", description = "The vendor's view and export, with an admin token"),
        (name = "licenses", description = "Managing licences and reading the audit log, with an admin token"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks): endpoints, their deliveries, \
                                           and the messages sent (see `webhooks`)"),
        (name = "health", description = "Liveness and readiness")
    )
)]
struct Base;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description.to_owned())).build(),
            )
        };
        components.add_security_scheme(SECRET_KEY, bearer("A licence's secret key, `rm_sec_…`"));
        components.add_security_scheme(
            ADMIN_TOKEN,
            bearer("An admin token, `rm_adm_…`; read-only ones cannot change anything"),
        );
    }
}

/// The whole document: the base above with every registered route, and the
/// webhooks the server sends.
pub fn document(routes: OpenApi) -> OpenApi {
    let mut document = Base::openapi();
    document.merge(routes);
    add_webhooks(&mut document);
    document
}

/// Each event type's `data` schema: its name and schema.
fn webhook_data(event_type: EventType) -> (String, RefOr<Schema>) {
    fn of<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    match event_type {
        EventType::LicenseCreated => of::<LicenseCreatedData>(),
        EventType::LicenseChanged => of::<LicenseChangedData>(),
        EventType::LicenseRotated => of::<LicenseRotatedData>(),
        EventType::LicenseRevoked => of::<LicenseRevokedData>(),
        EventType::LimitApproaching | EventType::LimitReached => of::<LimitThresholdData>(),
        EventType::OriginNotAllowed => of::<OriginNotAllowedData>(),
        EventType::UnlicensedOrigin => of::<UnlicensedOriginData>(),
    }
}

/// OpenAPI 3.1's `webhooks`: one POST per event type, with the Standard Webhooks
/// headers and the body's schema.
fn add_webhooks(document: &mut OpenApi) {
    let header = |name: &str, description: &str| {
        json!({ "name": name, "in": "header", "required": true, "description": description,
                "schema": { "type": "string" } })
    };
    let headers = [
        header("webhook-id", "The message's id, `msg_…`: the same on every attempt; deduplicate by it"),
        header("webhook-timestamp", "When this attempt was signed, in seconds since the epoch"),
        header(
            "webhook-signature",
            "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with the \
             endpoint's `whsec_` secret (Standard Webhooks)",
        ),
    ];
    let components = document.components.get_or_insert_with(Default::default);
    let mut webhooks = serde_json::Map::new();
    for event_type in EventType::ALL {
        let (name, schema) = webhook_data(event_type);
        components.schemas.insert(name.clone(), schema);
        let body = json!({
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": { "type": "string", "enum": [event_type.as_str()] },
                "timestamp": { "type": "string", "format": "date-time", "description": "When it happened (UTC)" },
                "data": { "$ref": format!("#/components/schemas/{name}") }
            }
        });
        let operation = json!({
            "operationId": format!("webhook:{event_type}"),
            "summary": event_type.description(),
            "tags": ["webhooks"],
            "parameters": headers,
            "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
            "responses": { "2XX": { "description": "Delivered. Anything else, or no answer within the timeout \
                                                    (`--webhook-timeout-secs`), is retried with backoff for more \
                                                    than a day" } }
        });
        webhooks.insert(event_type.as_str().to_owned(), json!({ "post": operation }));
    }
    // Built as JSON: the shape is OpenAPI's own, and reads back into utoipa's types.
    match serde_json::from_value(serde_json::Value::Object(webhooks)) {
        Ok(webhooks) => document.webhooks = Some(webhooks),
        Err(err) => panic!("the webhooks section does not read back: {err}"),
    }
}

/// `GET /api/openapi.json`: the document, as JSON.
#[derive(Debug, Clone)]
pub struct Served(pub axum::body::Bytes);

impl IntoResponse for Served {
    fn into_response(self) -> axum::response::Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// The body of `POST /api/track/register-usage-points`: 1 to 100 registrations,
/// each read and answered on its own (a registration that breaks a rule gets its
/// own error in the answer, and the others still count), so the batch takes any
/// values; each should be a `RegisterUsagePointRequest`.
pub struct RegistrationBatch;

impl utoipa::PartialSchema for RegistrationBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some("A registration (see RegisterUsagePointRequest), answered on its own")),
            )
            .min_items(Some(1))
            .max_items(Some(100))
            .description(Some("1 to 100 registrations, at most 64 KiB in all, each answered on its own"))
            .into()
    }
}

impl utoipa::ToSchema for RegistrationBatch {}

/// The refusals of a request with a JSON body (the credential in a header, or in
/// the body as get-usage's documented client sends it). Operations add what is
/// theirs: 429 for registrations, 404 and 409 for changes to a licence.
#[derive(IntoResponses)]
#[allow(dead_code)] // documentation only: `ApiError` is what is answered
pub enum BodyRefused {
    /// The body breaks a rule: named with the field.
    #[response(status = 400)]
    Invalid(ErrorResponse),
    /// A missing, malformed, unknown or revoked credential.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// A credential of the wrong kind (a secret key to register, a public key to
    /// read, a licence key for an admin route), or a read-only admin token for a change.
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// The body did not arrive in time.
    #[response(status = 408)]
    Timeout(ErrorResponse),
    /// The body is too large.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// Neither JSON nor plain text.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorResponse),
    /// The database cannot be used now; nothing was stored.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}

/// The refusals of a request without a body.
#[derive(IntoResponses)]
#[allow(dead_code)] // documentation only
pub enum ReadRefused {
    /// A query parameter breaks a rule: named with the field.
    #[response(status = 400)]
    Invalid(ErrorResponse),
    /// A missing, malformed, unknown or revoked credential.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// A credential of the wrong kind, or a read-only admin token for a change.
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// The database cannot be used now.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}
