//! Managing endpoints: create, list, get, update, delete, rotate the secret. Only workspace
//! admins manage webhooks: an endpoint receives every subscribed event of the workspace,
//! whoever it belongs to.

use ::time::{Duration, OffsetDateTime};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    EndpointStats, SECRET_PURPOSE, WebhookView,
    entity::{DeliveryStatus, RetryPolicy, attempt, delivery, endpoint},
    signing::WebhookSecret,
    subscriptions::Subscriptions,
};
use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        error::{ApiError, FieldErrors},
        http_client::{self, TargetError, TargetPolicy},
        time,
        validate::required_text,
    },
};

/// The longest endpoint name.
pub const NAME_MAX: usize = 200;
/// The longest URL.
pub const URL_MAX: usize = 2048;
/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// Fields of a new endpoint.
pub struct NewEndpoint {
    pub name: String,
    pub url: String,
    pub secret: Option<String>,
    pub events: Value,
    pub retry_policy: Option<String>,
    pub active: Option<bool>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointChanges {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Value>,
    pub retry_policy: Option<String>,
    pub active: Option<bool>,
}

/// Webhooks are for admins only.
pub fn require_admin(acting: &Acting) -> Result<(), ApiError> {
    if acting.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only workspace admins manage webhooks".into(),
        ))
    }
}

/// The target rules of this server's configuration.
pub fn policy(app: &AppState) -> TargetPolicy {
    TargetPolicy {
        allow_private: app.config.webhooks.allow_private_targets,
        require_https: app.config.webhooks.require_https,
    }
}

/// Why a plain `http://` URL is refused, and how to allow it on a development server.
const HTTPS_REQUIRED: &str = "URL must use https; for local development, start the server \
    with TIMEBRIDGE_ENV=development to allow http";

/// Validates a URL: syntax and scheme, then where its host resolves to.
async fn check_url(app: &AppState, errors: &mut FieldErrors, url: &str) -> String {
    let url = url.trim();
    if url.is_empty() {
        errors.add("url", "is required");
        return String::new();
    }
    if url.len() > URL_MAX {
        errors.add("url", format!("must be at most {URL_MAX} characters"));
        return url.to_owned();
    }
    let policy = policy(app);
    match http_client::check_url(policy, url) {
        Err(TargetError::HttpsRequired) => errors.add("url", HTTPS_REQUIRED),
        Err(e) => errors.add("url", e.to_string()),
        Ok(parsed) => {
            if let Err(e) = http_client::check_resolved(policy, &parsed).await {
                errors.add("url", e.to_string());
            }
        }
    }
    url.to_owned()
}

fn parse_policy(errors: &mut FieldErrors, text: Option<&str>) -> RetryPolicy {
    match text.map(str::parse::<RetryPolicy>) {
        None => RetryPolicy::Exponential,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            errors.add("retry_policy", e);
            RetryPolicy::Exponential
        }
    }
}

fn parse_events(errors: &mut FieldErrors, value: &Value) -> Option<Subscriptions> {
    Subscriptions::parse(value)
        .map_err(|e| errors.add("events", e))
        .ok()
}

/// Creates an endpoint; returns it and its secret, shown this once.
pub async fn create(
    app: &AppState,
    acting: &Acting,
    new: NewEndpoint,
) -> Result<(WebhookView, String), ApiError> {
    require_admin(acting)?;
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, NAME_MAX);
    let url = check_url(app, &mut errors, &new.url).await;
    let events = parse_events(&mut errors, &new.events);
    let retry_policy = parse_policy(&mut errors, new.retry_policy.as_deref());
    let secret = match new.secret.as_deref().map(str::trim) {
        None | Some("") => Some(WebhookSecret::generate()),
        Some(text) => WebhookSecret::parse(text)
            .map_err(|e| errors.add("secret", e.to_string()))
            .ok(),
    };
    errors.into_result()?;
    let (Some(events), Some(secret)) = (events, secret) else {
        unreachable!("both are Some when no field error was recorded");
    };
    let now = time::now();
    let exposed = secret.expose();
    let turn = app.db.write_turn().await;
    let row = endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        name: Set(name),
        url: Set(url),
        secret: Set(app.secret_key.seal(SECRET_PURPOSE, exposed.as_bytes())),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        events: Set(events.to_stored()),
        retry_policy: Set(retry_policy),
        active: Set(new.active.unwrap_or(true)),
        disabled_reason: Set(None),
        disabled_at: Set(None),
        failing_since: Set(None),
        created_by: Set(Some(acting.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
        queue_version: Set(0),
        next_due_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        owner: Set(None),
        signer: Set(None),
        routes: Set(None),
    }
    .insert(app.db.conn())
    .await?;
    drop(turn);
    Ok((WebhookView::new(row, EndpointStats::default()), exposed))
}

/// The workspace's endpoints, oldest first, with their stats.
pub async fn list(app: &AppState, acting: &Acting) -> Result<Vec<WebhookView>, ApiError> {
    require_admin(acting)?;
    let rows = endpoint::Entity::find()
        .filter(endpoint::Column::WorkspaceId.eq(acting.workspace_id))
        .order_by_asc(endpoint::Column::CreatedAt)
        .order_by_asc(endpoint::Column::Id)
        .all(app.db.conn())
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let stats = stats(app.db.conn(), row.id).await?;
        views.push(WebhookView::new(row, stats));
    }
    Ok(views)
}

/// One of the workspace's endpoints (404 for another workspace's).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    id: Uuid,
) -> Result<endpoint::Model, ApiError> {
    endpoint::Entity::find_by_id(id)
        .filter(endpoint::Column::WorkspaceId.eq(acting.workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Webhook"))
}

/// One endpoint with its stats.
pub async fn get(app: &AppState, acting: &Acting, id: Uuid) -> Result<WebhookView, ApiError> {
    require_admin(acting)?;
    let row = find(app.db.conn(), acting, id).await?;
    let stats = stats(app.db.conn(), id).await?;
    Ok(WebhookView::new(row, stats))
}

/// Changes an endpoint. Re-activating a disabled endpoint clears why it was disabled; its
/// failed deliveries stay failed until recovered (`POST …/recover`).
pub async fn update(
    app: &AppState,
    acting: &Acting,
    id: Uuid,
    changes: EndpointChanges,
) -> Result<WebhookView, ApiError> {
    require_admin(acting)?;
    let current = find(app.db.conn(), acting, id).await?;
    let mut errors = FieldErrors::new();
    let mut row: endpoint::ActiveModel = current.clone().into();
    if let Some(name) = changes.name {
        row.name = Set(required_text(&mut errors, "name", &name, NAME_MAX));
    }
    if let Some(url) = changes.url {
        row.url = Set(check_url(app, &mut errors, &url).await);
    }
    if let Some(events) = changes.events
        && let Some(events) = parse_events(&mut errors, &events)
    {
        row.events = Set(events.to_stored());
    }
    if let Some(policy) = changes.retry_policy {
        row.retry_policy = Set(parse_policy(&mut errors, Some(&policy)));
    }
    errors.into_result()?;
    if let Some(active) = changes.active {
        row.active = Set(active);
        if active && !current.active {
            row.disabled_reason = Set(None);
            row.disabled_at = Set(None);
            row.failing_since = Set(None);
            // Anything still queued is due again.
            row.next_due_at = Set(Some(time::now()));
            row.queue_version = Set(current.queue_version + 1);
        }
    }
    row.updated_at = Set(time::now());
    let turn = app.db.write_turn().await;
    let row = row.update(app.db.conn()).await?;
    drop(turn);
    super::deliveries_queued(&app.db).raise_locally();
    let stats = stats(app.db.conn(), id).await?;
    Ok(WebhookView::new(row, stats))
}

/// Deletes an endpoint with its deliveries and attempt logs.
pub async fn delete(app: &AppState, acting: &Acting, id: Uuid) -> Result<WebhookView, ApiError> {
    require_admin(acting)?;
    let row = find(app.db.conn(), acting, id).await?;
    let stats = stats(app.db.conn(), id).await?;
    endpoint::Entity::delete_by_id(id)
        .exec(app.db.conn())
        .await?;
    Ok(WebhookView::new(row, stats))
}

/// Replaces the secret (with a given one or a new one). The old secret keeps signing beside the
/// new one for [`ROTATION_OVERLAP`], so receivers can switch without losing a delivery.
pub async fn rotate_secret(
    app: &AppState,
    acting: &Acting,
    id: Uuid,
    secret: Option<String>,
) -> Result<(WebhookView, String), ApiError> {
    require_admin(acting)?;
    let secret = match secret.as_deref().map(str::trim) {
        None | Some("") => WebhookSecret::generate(),
        Some(text) => {
            WebhookSecret::parse(text).map_err(|e| ApiError::invalid("secret", e.to_string()))?
        }
    };
    let current = find(app.db.conn(), acting, id).await?;
    let now = time::now();
    let exposed = secret.expose();
    let mut row: endpoint::ActiveModel = current.clone().into();
    row.previous_secret = Set(Some(current.secret));
    row.previous_secret_expires_at = Set(Some(now + ROTATION_OVERLAP));
    row.secret = Set(app.secret_key.seal(SECRET_PURPOSE, exposed.as_bytes()));
    row.updated_at = Set(now);
    let turn = app.db.write_turn().await;
    let row = row.update(app.db.conn()).await?;
    drop(turn);
    let stats = stats(app.db.conn(), id).await?;
    Ok((WebhookView::new(row, stats), exposed))
}

/// Counts of the endpoint's deliveries by status, and its last attempt.
pub async fn stats<C: ConnectionTrait>(db: &C, endpoint_id: Uuid) -> Result<EndpointStats, DbErr> {
    let counts: Vec<(DeliveryStatus, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(delivery::Column::EndpointId.eq(endpoint_id))
        .group_by(delivery::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut stats = EndpointStats::default();
    for (status, n) in counts {
        let n = n.max(0) as u64;
        match status {
            DeliveryStatus::Pending => stats.pending = n,
            DeliveryStatus::Succeeded => stats.succeeded = n,
            DeliveryStatus::Failed => stats.failed = n,
            DeliveryStatus::Expired => stats.expired = n,
        }
    }
    let finished = stats.succeeded + stats.failed + stats.expired;
    if finished > 0 {
        stats.success_rate = Some(stats.succeeded as f64 / finished as f64);
    }
    let last: Option<(OffsetDateTime, Option<i32>)> = attempt::Entity::find()
        .select_only()
        .columns([attempt::Column::AttemptedAt, attempt::Column::StatusCode])
        .filter(attempt::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(attempt::Column::AttemptedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some((at, code)) = last {
        stats.last_attempt_at = Some(at);
        stats.last_status_code = code;
    }
    Ok(stats)
}
