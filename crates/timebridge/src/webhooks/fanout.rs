//! Fan-out: when a change commits, one delivery per event and subscribed endpoint is queued in
//! the change's own transaction, so an event is either committed together with its deliveries
//! or not at all. The endpoint's `queue_version` is bumped and its `next_due_at` set if it had
//! nothing due, which is what the worker claims by.

use ::time::OffsetDateTime;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    entity::{DeliveryStatus, delivery, endpoint},
    subscriptions::Subscriptions,
};
use crate::platform::{
    consumers::{BoxFuture, ChangeEvent, ChangeEvents, InTransaction},
    db::Db,
    signal::Signal,
    time,
};

/// The fan-out as an in-transaction event consumer: registered where the application is
/// assembled, it raises [`super::deliveries_queued`] when a commit queued deliveries.
pub struct WebhookFanout {
    wake: Signal,
}

impl WebhookFanout {
    pub fn new(db: &Db) -> Self {
        Self {
            wake: super::deliveries_queued(db),
        }
    }
}

impl InTransaction for WebhookFanout {
    fn consume<'a>(
        &'a self,
        txn: &'a sea_orm::DatabaseTransaction,
        change: &'a ChangeEvents,
    ) -> BoxFuture<'a, Result<Option<Signal>, DbErr>> {
        Box::pin(async move {
            let queued = queue(txn, change.workspace_id, &change.events, time::now()).await?;
            Ok((queued > 0).then(|| self.wake.clone()))
        })
    }
}

/// Queues the deliveries of a change's events; returns how many were queued.
pub async fn queue<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    events: &[ChangeEvent],
    now: OffsetDateTime,
) -> Result<usize, DbErr> {
    if events.is_empty() {
        return Ok(0);
    }
    let endpoints: Vec<(Uuid, String)> = endpoint::Entity::find()
        .select_only()
        .columns([endpoint::Column::Id, endpoint::Column::Events])
        .filter(endpoint::Column::WorkspaceId.eq(workspace_id))
        .filter(endpoint::Column::Active.eq(true))
        .into_tuple()
        .all(txn)
        .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let mut rows = Vec::new();
    let mut touched = Vec::new();
    for (endpoint_id, events_json) in endpoints {
        let subscriptions = Subscriptions::from_stored(&events_json);
        let before = rows.len();
        for event in events {
            if subscriptions.matches(event.event_type.as_str()) {
                rows.push(new_delivery(workspace_id, endpoint_id, event, now));
            }
        }
        if rows.len() > before {
            touched.push(endpoint_id);
        }
    }
    let queued = rows.len();
    insert_deliveries(txn, rows).await?;
    mark_due(txn, &touched, now, false).await?;
    Ok(queued)
}

fn new_delivery(
    workspace_id: Uuid,
    endpoint_id: Uuid,
    event: &ChangeEvent,
    now: OffsetDateTime,
) -> delivery::ActiveModel {
    pending(
        workspace_id,
        endpoint_id,
        Some(event.id),
        event.event_type.as_str(),
        event.sequence,
        None,
        now,
    )
}

/// A pending delivery row, due now: of an outbox event, or (with a payload) a ping.
pub(super) fn pending(
    workspace_id: Uuid,
    endpoint_id: Uuid,
    event_id: Option<Uuid>,
    event_type: &str,
    sequence: i64,
    payload: Option<String>,
    now: OffsetDateTime,
) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        endpoint_id: Set(endpoint_id),
        event_id: Set(event_id),
        event_type: Set(event_type.to_owned()),
        sequence: Set(sequence),
        payload: Set(payload),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_status_code: Set(None),
        last_error: Set(None),
        failing_reported: Set(false),
        created_at: Set(now),
        completed_at: Set(None),
    }
}

/// Inserts delivery rows in chunks that stay under SQLite's bound-variable limit.
pub(super) async fn insert_deliveries<C: ConnectionTrait>(
    txn: &C,
    rows: Vec<delivery::ActiveModel>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        delivery::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(())
}

/// Tells the worker these endpoints have new work: bumps `queue_version` and makes them due
/// now — only if nothing was due (`force = false`: the head of the queue keeps its own time,
/// new deliveries queue behind it), or in any case (`force = true`: a redelivery or ping that
/// may sort ahead of the head).
pub(super) async fn mark_due<C: ConnectionTrait>(
    txn: &C,
    endpoints: &[Uuid],
    now: OffsetDateTime,
    force: bool,
) -> Result<(), DbErr> {
    for chunk in endpoints.chunks(500) {
        let due = if force {
            Expr::val(now)
        } else {
            Expr::expr(Func::coalesce([
                Expr::col(endpoint::Column::NextDueAt),
                Expr::val(now),
            ]))
        };
        endpoint::Entity::update_many()
            .col_expr(
                endpoint::Column::QueueVersion,
                Expr::col(endpoint::Column::QueueVersion).add(1),
            )
            .col_expr(endpoint::Column::NextDueAt, due)
            .filter(endpoint::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}
