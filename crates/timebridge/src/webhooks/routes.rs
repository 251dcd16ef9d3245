//! `/api/v1/integration/webhooks`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    WebhookView,
    catalog::{self, CatalogEntry},
    deliveries::{self, DeliveryView},
    endpoints::{self, EndpointChanges, NewEndpoint},
    entity::{DeliveryStatus, RetryPolicy},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
        outbox::EventType,
        pagination::{PageParams, PageRequest, Pagination},
        time,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(event_catalog))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(recover))
        .routes(routes!(test_webhook))
        .routes(routes!(rotate_secret))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "Slack bridge",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    /// An absolute `https://` URL (trimmed) of at most 2048 bytes (UTF-8), without
    /// credentials (`user:pass@`); `http://` only when the server runs with `TIMEBRIDGE_ENV=development`.
    /// Its host must resolve, and private, loopback and link-local addresses are refused
    /// unless `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`.
    #[schema(
        example = "https://example.com/webhooks/timebridge",
        min_length = 9,
        max_length = 2048,
        pattern = "^\\s*[Hh][Tt][Tt][Pp][Ss]://[^/?#@\\s]+([/?#]\\S*)?\\s*$"
    )]
    pub url: String,
    /// `whsec_` + standard base64 (padding optional) of 24 to 64 random bytes; omit, `null`
    /// or empty to have one generated.
    #[schema(
        pattern = "^\\s*(whsec_[A-Za-z0-9+/]{32,86}={0,2})?\\s*$",
        example = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10aGUtZG9jcw=="
    )]
    pub secret: Option<String>,
    #[schema(schema_with = events_schema)]
    pub events: Value,
    /// Default `EXPONENTIAL` (any case accepted).
    #[schema(value_type = Option<RetryPolicy>)]
    pub retry_policy: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhook {
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Slack bridge (ops)",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// An absolute `https://` URL (trimmed) of at most 2048 bytes (UTF-8), without credentials;
    /// `http://` only when `TIMEBRIDGE_ENV=development`. Its host must resolve to a public
    /// address unless `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`. `null` or left out: unchanged.
    #[schema(
        example = "https://example.com/webhooks/timebridge-v2",
        min_length = 9,
        max_length = 2048,
        pattern = "^\\s*[Hh][Tt][Tt][Pp][Ss]://[^/?#@\\s]+([/?#]\\S*)?\\s*$"
    )]
    pub url: Option<String>,
    #[schema(schema_with = events_schema_or_null)]
    pub events: Option<Value>,
    /// Any case accepted. `null` or left out: unchanged.
    #[schema(value_type = Option<RetryPolicy>)]
    pub retry_policy: Option<String>,
    /// `true` re-enables an endpoint that was disabled.
    pub active: Option<bool>,
}

/// What `events` says: the rules [`super::subscriptions::Subscriptions::parse`] enforces.
const EVENTS_DESCRIPTION: &str = "The events the endpoint receives: a non-empty list of event \
    names, or seed 001's map of name to `true`/`false` (`false` entries are ignored; at least \
    one must be `true`). A name is an event of the catalog (`GET \
    /api/v1/integration/webhooks/events`), a resource wildcard such as `task.*`, or `*`.";

/// The names `events` accepts: every event of the catalog, each resource's wildcard, and `*`.
fn event_names() -> Vec<String> {
    let mut names: Vec<String> = EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let mut wildcards: Vec<String> = EventType::ALL
        .iter()
        .filter_map(|t| t.as_str().split_once('.'))
        .map(|(resource, _)| format!("{resource}.*"))
        .collect();
    wildcards.sort();
    wildcards.dedup();
    names.extend(wildcards);
    names.push("*".to_owned());
    names
}

/// The schema of `events`: a list of names, or a map of name to a boolean.
fn events_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    events_one_of(false)
}

/// [`events_schema`] for a change, where `null` leaves the subscriptions as they are.
fn events_schema_or_null() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    events_one_of(true)
}

/// (`example`, like every field's `#[schema(example)]`, rather than `examples`.)
#[allow(deprecated)]
fn events_one_of(nullable: bool) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::{
        RefOr,
        schema::{
            AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
        },
    };
    let name = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(event_names()))
            .build()
    };
    let boolean = RefOr::T(Schema::Object(Object::with_type(Type::Boolean)));
    let mut one_of = OneOfBuilder::new()
        .item(ArrayBuilder::new().items(name()).min_items(Some(1)))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property_names(Some(name()))
                .additional_properties(Some(AdditionalProperties::RefOr(boolean)))
                .min_properties(Some(1)),
        );
    if nullable {
        one_of = one_of.item(Object::with_type(Type::Null));
    }
    let description = if nullable {
        format!("{EVENTS_DESCRIPTION} `null` or left out: unchanged.")
    } else {
        EVENTS_DESCRIPTION.to_owned()
    };
    one_of
        .description(Some(description))
        .example(Some(
            serde_json::json!({"task.created": true, "task.updated": true}),
        ))
        .into()
}

/// A new or rotated endpoint, with its secret: the only time the secret is shown.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[schema(example = "Webhook created successfully")]
    pub message: String,
    pub webhook: WebhookView,
    /// `whsec_…`: keep it to verify signatures; it is not shown again.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookEnvelope {
    pub webhook: WebhookView,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookChanged {
    pub message: String,
    pub webhook: WebhookView,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
pub struct EventCatalog {
    pub events: Vec<CatalogEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryQueued {
    pub message: String,
    pub delivery: DeliveryView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// `pending`, `succeeded`, `failed` or `expired`.
    #[param(value_type = Option<DeliveryStatus>, inline)]
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RecoverRequest {
    /// Re-send failed deliveries created at or after this time (ISO 8601 date-time; without
    /// an offset it is UTC).
    #[schema(format = DateTime, example = "2026-11-20T00:00:00Z")]
    pub since: String,
    /// …and before this time (ISO 8601 date-time), which must be after `since`. `null`, empty
    /// or left out: now.
    #[schema(format = DateTime, example = "2026-11-30T00:00:00Z")]
    pub until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Recovered {
    pub message: String,
    /// Deliveries queued again.
    pub recovered: u64,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct RotateRequest {
    /// The new secret: `whsec_` + standard base64 (padding optional) of 24 to 64 random
    /// bytes; omit, `null` or empty to have one generated.
    #[schema(
        pattern = "^\\s*(whsec_[A-Za-z0-9+/]{32,86}={0,2})?\\s*$",
        example = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10aGUtZG9jcw=="
    )]
    pub secret: Option<String>,
}

const ID: &str = "Webhook id";

/// Register a webhook endpoint (admins).
#[utoipa::path(
    post, path = "/api/v1/integration/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = WebhookWithSecret),
        (status = 400, description = "Invalid fields (URL, events, secret, policy)", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
    )
)]
async fn create_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let new = NewEndpoint {
        name: body.name,
        url: body.url,
        secret: body.secret,
        events: body.events,
        retry_policy: body.retry_policy,
        active: body.active,
    };
    let (webhook, secret) = endpoints::create(&app, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret {
            message: "Webhook created successfully".into(),
            webhook,
            secret,
        }),
    ))
}

/// List the workspace's webhook endpoints, with their delivery stats (admins).
#[utoipa::path(
    get, path = "/api/v1/integration/webhooks", tag = "webhooks",
    security(("api_token" = ["read:webhooks"])),
    responses(
        (status = 200, body = WebhookList),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
    )
)]
async fn list_webhooks(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = endpoints::list(&app, &caller.acting()).await?;
    Ok(Json(WebhookList { webhooks }))
}

/// The event catalog: every event type an endpoint can subscribe to, with an example payload.
#[utoipa::path(
    get, path = "/api/v1/integration/webhooks/events", tag = "webhooks",
    security(("api_token" = ["read:webhooks"])),
    responses((status = 200, body = EventCatalog))
)]
async fn event_catalog() -> Json<EventCatalog> {
    Json(EventCatalog {
        events: catalog::entries().to_vec(),
    })
}

/// Get a webhook endpoint with its stats (admins).
#[utoipa::path(
    get, path = "/api/v1/integration/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    security(("api_token" = ["read:webhooks"])),
    responses(
        (status = 200, body = WebhookEnvelope),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
    )
)]
async fn get_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = endpoints::get(&app, &caller.acting(), id).await?;
    Ok(Json(WebhookEnvelope { webhook }))
}

/// Change a webhook endpoint; `active: true` re-enables a disabled one (admins).
#[utoipa::path(
    method(put, patch), path = "/api/v1/integration/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    request_body = UpdateWebhook,
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 200, body = WebhookChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
    )
)]
async fn update_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateWebhook>,
) -> Result<Json<WebhookChanged>, ApiError> {
    let changes = EndpointChanges {
        name: body.name,
        url: body.url,
        events: body.events,
        retry_policy: body.retry_policy,
        active: body.active,
    };
    let webhook = endpoints::update(&app, &caller.acting(), id, changes).await?;
    Ok(Json(WebhookChanged {
        message: "Webhook updated successfully".into(),
        webhook,
    }))
}

/// Delete a webhook endpoint with its delivery history (admins).
#[utoipa::path(
    delete, path = "/api/v1/integration/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 200, body = WebhookChanged),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
    )
)]
async fn delete_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<WebhookChanged>, ApiError> {
    let webhook = endpoints::delete(&app, &caller.acting(), id).await?;
    Ok(Json(WebhookChanged {
        message: "Webhook deleted successfully".into(),
        webhook,
    }))
}

/// The endpoint's deliveries, newest first, each with every attempt (admins).
#[utoipa::path(
    get, path = "/api/v1/integration/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID), PageParams, DeliveryFilter),
    security(("api_token" = ["read:webhooks"])),
    responses(
        (status = 200, body = DeliveryList),
        (status = 400, description = "Invalid status or page", body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
    )
)]
async fn list_deliveries(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(page): Query<PageParams>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<DeliveryList>, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<DeliveryStatus>()
                .map_err(|e| ApiError::invalid("status", e))?,
        ),
    };
    let (deliveries, total) = deliveries::list(&app, &caller.acting(), id, status, page).await?;
    Ok(Json(DeliveryList {
        deliveries,
        pagination: Pagination::new(page, total),
    }))
}

/// Send one delivery again, with the same `webhook-id` and a fresh set of retries (admins).
#[utoipa::path(
    post, path = "/api/v1/integration/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")),
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 202, description = "Queued", body = DeliveryQueued),
        (status = 404, description = "No such delivery in this workspace", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody),
    )
)]
async fn redeliver(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<DeliveryQueued>), ApiError> {
    let delivery = deliveries::redeliver(&app, &caller.acting(), id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryQueued {
            message: "Delivery queued again".into(),
            delivery,
        }),
    ))
}

/// Re-send every failed or expired delivery of a time window (admins).
#[utoipa::path(
    post, path = "/api/v1/integration/webhooks/{id}/recover", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    request_body = RecoverRequest,
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 202, description = "Queued again", body = Recovered),
        (status = 400, description = "Invalid since/until", body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody),
    )
)]
async fn recover(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<RecoverRequest>,
) -> Result<(StatusCode, Json<Recovered>), ApiError> {
    let since = time::parse_datetime(&body.since).map_err(|e| ApiError::invalid("since", e))?;
    let until = match body.until.as_deref() {
        None | Some("") => None,
        Some(text) => Some(time::parse_datetime(text).map_err(|e| ApiError::invalid("until", e))?),
    };
    if until.is_some_and(|u| u <= since) {
        return Err(ApiError::invalid("until", "must be after since"));
    }
    let recovered = deliveries::recover(&app, &caller.acting(), id, since, until).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Recovered {
            message: format!("{recovered} deliveries queued again"),
            recovered,
        }),
    ))
}

/// Send a `ping` event to the endpoint now (admins).
#[utoipa::path(
    post, path = "/api/v1/integration/webhooks/{id}/test", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 202, description = "Queued", body = DeliveryQueued),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody),
    )
)]
async fn test_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<DeliveryQueued>), ApiError> {
    let delivery = deliveries::ping(&app, &caller.acting(), id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryQueued {
            message: "Ping queued".into(),
            delivery,
        }),
    ))
}

/// Replace the signing secret; the old one keeps signing beside it for 24 hours (admins).
#[utoipa::path(
    post, path = "/api/v1/integration/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path, description = ID)),
    request_body(content = Option<RotateRequest>),
    security(("api_token" = ["write:webhooks"])),
    responses(
        (status = 200, description = "The new secret, shown this once", body = WebhookWithSecret),
        (status = 400, description = "Invalid secret", body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody),
    )
)]
async fn rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    // The body is optional: none (or `{}`) generates the new secret.
    let request: RotateRequest = crate::platform::extract::optional_json(&body)?;
    let secret = request.secret;
    let (webhook, secret) = endpoints::rotate_secret(&app, &caller.acting(), id, secret).await?;
    Ok(Json(WebhookWithSecret {
        message: "Secret rotated; the previous secret signs too for 24 hours".into(),
        webhook,
        secret,
    }))
}
