//! Delivery history and the actions on it: list (with every attempt), redeliver one, recover
//! every failed delivery of a window, and the test ping.

use ::time::OffsetDateTime;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::Expr,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    endpoints::{find, require_admin},
    entity::{DeliveryStatus, attempt, delivery},
    fanout::{insert_deliveries, mark_due, pending},
    message_id,
};
use crate::{
    app::AppState,
    platform::{
        acting::Acting, db::count as count_rows, error::ApiError, pagination::PageRequest, time,
    },
};

/// A delivery as the API shows it, with its attempts, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header: the same on every attempt and redelivery.
    #[schema(example = "msg_0193f2c4a1b27c3d9e8f00112233aabb")]
    pub message_id: String,
    pub endpoint_id: Uuid,
    /// The outbox event delivered (`null` for a ping).
    pub event_id: Option<Uuid>,
    #[schema(example = "time_entry.created")]
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    #[serde(with = "::time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    #[serde(with = "::time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "::time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    pub attempt_log: Vec<AttemptView>,
}

/// One HTTP request to the receiver.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    #[serde(with = "::time::serde::rfc3339")]
    pub attempted_at: OffsetDateTime,
    /// `null` when no answer came (network error, timeout, refused address).
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub response_excerpt: Option<String>,
    pub succeeded: bool,
}

fn view(d: delivery::Model, attempts: Vec<attempt::Model>) -> DeliveryView {
    let status = d.status;
    DeliveryView {
        id: d.id,
        message_id: message_id(d.id),
        endpoint_id: d.endpoint_id,
        event_id: d.event_id,
        event_type: d.event_type,
        status,
        attempts: d.attempts,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        created_at: d.created_at,
        completed_at: d.completed_at,
        attempt_log: attempts
            .into_iter()
            .map(|a| AttemptView {
                attempted_at: a.attempted_at,
                status_code: a.status_code,
                duration_ms: a.duration_ms,
                error: a.error,
                response_excerpt: a.response_excerpt,
                succeeded: a.succeeded,
            })
            .collect(),
    }
}

/// The endpoint's deliveries, newest first, optionally of one status.
pub async fn list(
    app: &AppState,
    acting: &Acting,
    endpoint_id: Uuid,
    status: Option<DeliveryStatus>,
    page: PageRequest,
) -> Result<(Vec<DeliveryView>, u64), ApiError> {
    require_admin(acting)?;
    find(app.db.conn(), acting, endpoint_id).await?;
    let mut query = delivery::Entity::find().filter(delivery::Column::EndpointId.eq(endpoint_id));
    if let Some(status) = status {
        query = query.filter(delivery::Column::Status.eq(status));
    }
    let total = count_rows(query.clone(), app.db.conn()).await?;
    let rows = query
        .order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(app.db.conn())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let mut attempts = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.is_in(ids))
        .order_by_asc(attempt::Column::AttemptedAt)
        .order_by_asc(attempt::Column::Id)
        .all(app.db.conn())
        .await?;
    let views = rows
        .into_iter()
        .map(|d| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                attempts.drain(..).partition(|a| a.delivery_id == d.id);
            attempts = rest;
            view(d, mine)
        })
        .collect();
    Ok((views, total))
}

/// Sends one delivery again (whatever its status), with a fresh set of retries and the same
/// `webhook-id`.
pub async fn redeliver(
    app: &AppState,
    acting: &Acting,
    delivery_id: Uuid,
) -> Result<DeliveryView, ApiError> {
    require_admin(acting)?;
    let d = delivery::Entity::find_by_id(delivery_id)
        .filter(delivery::Column::WorkspaceId.eq(acting.workspace_id))
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Delivery"))?;
    let endpoint = find(app.db.conn(), acting, d.endpoint_id).await?;
    if !endpoint.active {
        return Err(ApiError::Conflict(
            "The webhook is disabled; enable it (PATCH active=true) before redelivering".into(),
        ));
    }
    let now = time::now();
    let _turn = app.db.write_turn().await;
    let txn = app.db.begin().await?;
    let d = delivery::Entity::update(delivery::ActiveModel {
        id: Set(d.id),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        failing_reported: Set(false),
        completed_at: Set(None),
        // The TTL counts from the redelivery.
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    mark_due(&txn, &[endpoint.id], now, true).await?;
    txn.commit().await?;
    super::deliveries_queued(&app.db).raise_locally();
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(d.id))
        .order_by_asc(attempt::Column::AttemptedAt)
        .all(app.db.conn())
        .await?;
    Ok(view(d, attempts))
}

/// Queues again every failed or expired delivery created in `[since, until)`; returns how many.
pub async fn recover(
    app: &AppState,
    acting: &Acting,
    endpoint_id: Uuid,
    since: OffsetDateTime,
    until: Option<OffsetDateTime>,
) -> Result<u64, ApiError> {
    require_admin(acting)?;
    let endpoint = find(app.db.conn(), acting, endpoint_id).await?;
    if !endpoint.active {
        return Err(ApiError::Conflict(
            "The webhook is disabled; enable it (PATCH active=true) before recovering".into(),
        ));
    }
    let now = time::now();
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::val(DeliveryStatus::Pending))
        .col_expr(delivery::Column::Attempts, Expr::val(0))
        .col_expr(delivery::Column::NextAttemptAt, Expr::val(now))
        .col_expr(delivery::Column::FailingReported, Expr::val(false))
        .col_expr(
            delivery::Column::CompletedAt,
            Expr::val(None::<OffsetDateTime>),
        )
        .col_expr(delivery::Column::CreatedAt, Expr::val(now))
        .filter(delivery::Column::EndpointId.eq(endpoint_id))
        .filter(delivery::Column::Status.is_in([DeliveryStatus::Failed, DeliveryStatus::Expired]))
        .filter(delivery::Column::CreatedAt.gte(since));
    if let Some(until) = until {
        update = update.filter(delivery::Column::CreatedAt.lt(until));
    }
    let _turn = app.db.write_turn().await;
    let txn = app.db.begin().await?;
    let recovered = update.exec(&txn).await?.rows_affected;
    if recovered > 0 {
        mark_due(&txn, &[endpoint_id], now, true).await?;
    }
    txn.commit().await?;
    super::deliveries_queued(&app.db).raise_locally();
    Ok(recovered)
}

/// Queues a `ping` for the endpoint, ahead of its other deliveries; one attempt, no retries.
pub async fn ping(
    app: &AppState,
    acting: &Acting,
    endpoint_id: Uuid,
) -> Result<DeliveryView, ApiError> {
    require_admin(acting)?;
    let endpoint = find(app.db.conn(), acting, endpoint_id).await?;
    if !endpoint.active {
        return Err(ApiError::Conflict(
            "The webhook is disabled; enable it (PATCH active=true) before testing it".into(),
        ));
    }
    let now = time::now();
    let id = Uuid::now_v7();
    let payload = json!({
        "type": "ping",
        "id": id,
        "workspace_id": acting.workspace_id,
        "occurred_at": now.format(&::time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "data": {"endpoint_id": endpoint_id, "message": "Timebridge test ping"},
    });
    let mut row = pending(
        acting.workspace_id,
        endpoint_id,
        None,
        "ping",
        0,
        Some(payload.to_string()),
        now,
    );
    row.id = Set(id);
    let _turn = app.db.write_turn().await;
    let txn = app.db.begin().await?;
    insert_deliveries(&txn, vec![row]).await?;
    mark_due(&txn, &[endpoint_id], now, true).await?;
    txn.commit().await?;
    super::deliveries_queued(&app.db).raise_locally();
    let d = delivery::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Delivery"))?;
    Ok(view(d, Vec::new()))
}
