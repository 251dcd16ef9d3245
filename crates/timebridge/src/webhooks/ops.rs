//! Recording a round of deliveries, and the operational events it raises:
//! `webhook.delivery_failing` (a delivery failed for the [`FAILING_AFTER`]th time and will be
//! retried), `webhook.delivery_exhausted` (given up), `webhook.delivery_recovered` (a delivery
//! reported failing succeeded) and `webhook.endpoint_disabled`. They are ordinary outbox events
//! of the workspace, written in the same transaction as the outcomes they describe, so they
//! reach the endpoints subscribed to them like any other event. Deliveries of `webhook.*`
//! events and pings raise none, so a failing endpoint cannot feed itself events about itself.

use ::time::{OffsetDateTime, format_description::well_known::Rfc3339};
use sea_orm::{
    ActiveValue::NotSet,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    entity::{DeliveryStatus, attempt, delivery, endpoint},
    message_id,
    worker::{Outcome, Shared},
};
use crate::platform::{
    changes::WorkspaceChange,
    outbox::{Actor, EventType},
    time,
};

/// The failed attempt after which `webhook.delivery_failing` is raised.
pub const FAILING_AFTER: i32 = 4;

/// What the round changes about the endpoint.
struct Health {
    failing_since: Option<OffsetDateTime>,
    disabled: Option<String>,
}

/// Writes the round's outcomes, the endpoint's health and the operational events in one
/// transaction. Returns whether the endpoint was disabled.
pub(super) async fn record(
    shared: &Shared,
    endpoint: &endpoint::Model,
    failing_since: &mut Option<OffsetDateTime>,
    mut outcomes: Vec<Outcome>,
) -> Result<bool, DbErr> {
    if outcomes.is_empty() {
        return Ok(false);
    }
    let now = time::now();
    let before = *failing_since;
    let health = health(shared, failing_since, &outcomes, now);
    let health_changed = health.disabled.is_some() || health.failing_since != before;
    let notes = notes(endpoint, &mut outcomes, health.disabled.as_deref());
    let db = shared.app.db.conn();
    if notes.is_empty() {
        let _turn = shared.app.db.write_turn().await;
        let txn = db.begin().await?;
        if !shared.app.db.is_sqlite() {
            // Bookkeeping only: were this commit lost in a crash, the deliveries would simply
            // be sent again, with the same webhook-id. Not waiting for the disk halves a round.
            txn.execute_unprepared("SET LOCAL synchronous_commit = off")
                .await?;
        }
        write(&txn, endpoint, &outcomes, &health, health_changed, now).await?;
        txn.commit().await?;
    } else {
        let mut change =
            WorkspaceChange::begin(&shared.app.db, endpoint.workspace_id, Actor::system()).await?;
        write(&*change, endpoint, &outcomes, &health, health_changed, now).await?;
        for (event_type, resource_id, data) in notes {
            change.record(event_type, resource_id, &data)?;
        }
        change.commit().await?;
    }
    Ok(health.disabled.is_some())
}

/// Any answered success resets the failing clock; a receiver failing for too long, or
/// answering 410, gets its endpoint disabled.
fn health(
    shared: &Shared,
    failing_since: &mut Option<OffsetDateTime>,
    outcomes: &[Outcome],
    now: OffsetDateTime,
) -> Health {
    let mut disabled = None;
    for o in outcomes {
        let Some(at) = o.attempted_at else { continue };
        if o.succeeded {
            *failing_since = None;
        } else if failing_since.is_none() {
            *failing_since = Some(at);
        }
        if o.gone {
            disabled = Some("the receiver answered 410 Gone".to_owned());
        }
    }
    let limit = shared.app.config.webhooks.disable_after_failing;
    if let (None, Some(since)) = (&disabled, *failing_since)
        && now - since >= limit
    {
        disabled = Some(format!(
            "every delivery failed for {} days",
            limit.as_secs() / 86_400
        ));
    }
    Health {
        failing_since: *failing_since,
        disabled,
    }
}

/// The operational events of a round; marks deliveries reported failing.
fn notes(
    endpoint: &endpoint::Model,
    outcomes: &mut [Outcome],
    disabled: Option<&str>,
) -> Vec<(EventType, Uuid, Value)> {
    let mut notes = Vec::new();
    for o in outcomes.iter_mut() {
        let d = &o.delivery;
        if d.event_type.starts_with("webhook.") || d.event_id.is_none() {
            continue;
        }
        let kind = match o.status {
            DeliveryStatus::Pending if o.attempts() >= FAILING_AFTER && !d.failing_reported => {
                Some(EventType::WebhookDeliveryFailing)
            }
            DeliveryStatus::Failed | DeliveryStatus::Expired if !o.gone => {
                Some(EventType::WebhookDeliveryExhausted)
            }
            DeliveryStatus::Succeeded if d.failing_reported => {
                Some(EventType::WebhookDeliveryRecovered)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            notes.push((kind, d.id, delivery_note(endpoint, o)));
        }
        if kind == Some(EventType::WebhookDeliveryFailing) {
            o.delivery.failing_reported = true;
        }
    }
    if let Some(reason) = disabled {
        notes.push((
            EventType::WebhookEndpointDisabled,
            endpoint.id,
            json!({"endpoint": endpoint_note(endpoint), "reason": reason}),
        ));
    }
    notes
}

fn endpoint_note(endpoint: &endpoint::Model) -> Value {
    json!({"id": endpoint.id, "name": endpoint.name, "url": endpoint.url})
}

fn delivery_note(endpoint: &endpoint::Model, o: &Outcome) -> Value {
    let d = &o.delivery;
    let rfc = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    json!({
        "endpoint": endpoint_note(endpoint),
        "delivery": {
            "id": d.id,
            "message_id": message_id(d.id),
            "event_id": d.event_id,
            "event_type": d.event_type,
            "status": o.status.as_str(),
            "attempts": o.attempts(),
            "last_status_code": o.status_code,
            "last_error": o.error,
            "next_attempt_at": (o.status == DeliveryStatus::Pending).then(|| rfc(o.next_attempt_at)),
        }
    })
}

async fn write<C: ConnectionTrait>(
    txn: &C,
    endpoint: &endpoint::Model,
    outcomes: &[Outcome],
    health: &Health,
    health_changed: bool,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    write_successes(txn, outcomes, now).await?;
    for o in outcomes.iter().filter(|o| !o.succeeded) {
        let finished = o.status != DeliveryStatus::Pending;
        delivery::Entity::update(delivery::ActiveModel {
            id: Set(o.delivery.id),
            status: Set(o.status),
            attempts: Set(o.attempts()),
            next_attempt_at: Set(o.next_attempt_at),
            last_status_code: Set(o.status_code),
            last_error: Set(o.error.clone()),
            failing_reported: Set(o.delivery.failing_reported),
            completed_at: Set(finished.then_some(now)),
            ..Default::default()
        })
        .exec(txn)
        .await?;
    }
    let attempts: Vec<attempt::ActiveModel> = outcomes
        .iter()
        .filter_map(|o| {
            Some(attempt::ActiveModel {
                id: Set(Uuid::now_v7()),
                delivery_id: Set(o.delivery.id),
                endpoint_id: Set(endpoint.id),
                attempted_at: Set(o.attempted_at?),
                status_code: Set(o.status_code),
                duration_ms: Set(o.duration_ms),
                error: Set(o.error.clone()),
                response_excerpt: Set(o.excerpt.clone()),
                succeeded: Set(o.succeeded),
            })
        })
        .collect();
    if !attempts.is_empty() {
        attempt::Entity::insert_many(attempts).exec(txn).await?;
    }
    if !health_changed {
        return Ok(());
    }
    write_health(txn, endpoint, health, now).await
}

/// Successes, the common case, in one statement per status code.
async fn write_successes<C: ConnectionTrait>(
    txn: &C,
    outcomes: &[Outcome],
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    let mut codes: Vec<Option<i32>> = outcomes
        .iter()
        .filter(|o| o.succeeded)
        .map(|o| o.status_code)
        .collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        let ids = outcomes
            .iter()
            .filter(|o| o.succeeded && o.status_code == code)
            .map(|o| o.delivery.id);
        delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Status,
                Expr::val(DeliveryStatus::Succeeded),
            )
            .col_expr(
                delivery::Column::Attempts,
                Expr::col(delivery::Column::Attempts).add(1),
            )
            .col_expr(delivery::Column::LastStatusCode, Expr::val(code))
            .col_expr(delivery::Column::LastError, Expr::val(None::<String>))
            .col_expr(delivery::Column::CompletedAt, Expr::val(Some(now)))
            .filter(delivery::Column::Id.is_in(ids))
            .exec(txn)
            .await?;
    }
    Ok(())
}

async fn write_health<C: ConnectionTrait>(
    txn: &C,
    endpoint: &endpoint::Model,
    health: &Health,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    let mut row = endpoint::ActiveModel {
        id: Set(endpoint.id),
        failing_since: Set(health.failing_since),
        ..Default::default()
    };
    if let Some(reason) = &health.disabled {
        row.active = Set(false);
        row.disabled_reason = Set(Some(reason.clone()));
        row.disabled_at = Set(Some(now));
        row.next_due_at = Set(None);
        row.updated_at = Set(now);
        // What was still queued will not be sent: it is failed, and recoverable.
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::val(DeliveryStatus::Failed))
            .col_expr(
                delivery::Column::LastError,
                Expr::val(format!("not sent: the endpoint was disabled ({reason})")),
            )
            .col_expr(delivery::Column::CompletedAt, Expr::val(Some(now)))
            .filter(delivery::Column::EndpointId.eq(endpoint.id))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
            .exec(txn)
            .await?;
    }
    row.lease_owner = NotSet;
    endpoint::Entity::update(row).exec(txn).await.map(|_| ())
}
