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
    #[schema(example = "Slack bridge")]
    pub name: String,
    /// https (http too when `TIMEBRIDGE_ENV=development`); private addresses are refused unless
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`.
    #[schema(example = "https://example.com/webhooks/timebridge")]
    pub url: String,
    /// `whsec_` + base64 of 24–64 random bytes; omit to have one generated.
    pub secret: Option<String>,
    /// Seed 001's map (`{"task.created": true}`) or a list; `resource.*` and `*` accepted.
    #[schema(value_type = Object, example = json!({"task.created": true, "task.updated": true}))]
    pub events: Value,
    /// Default `EXPONENTIAL`.
    #[schema(value_type = Option<RetryPolicy>)]
    pub retry_policy: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhook {
    pub name: Option<String>,
    pub url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub events: Option<Value>,
    #[schema(value_type = Option<RetryPolicy>)]
    pub retry_policy: Option<String>,
    /// `true` re-enables an endpoint that was disabled.
    pub active: Option<bool>,
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
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RecoverRequest {
    /// Re-send failed deliveries created at or after this time (RFC 3339).
    #[schema(example = "2026-11-20T00:00:00Z")]
    pub since: String,
    /// …and before this time (default: now).
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
    /// The new secret; omit to have one generated.
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
