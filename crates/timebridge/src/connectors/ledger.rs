//! The inbound webhook ledger: every verified webhook is recorded (provider, delivery id,
//! headers without signatures or credentials, payload, outcome) and de-duplicated by its
//! delivery id. The check and the record run inside the change that applies the webhook, under
//! the workspace's write lock, so a delivery received twice, or twice at once, is applied once.
//! Rows are purged after `INBOUND_WEBHOOK_RETENTION_DAYS`.

use axum::http::HeaderMap;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use super::entity::inbound::InboundStatus;
use super::{Provider, entity::inbound};
use crate::platform::{db::Db, time};

/// What the ledger knows of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Never received.
    New,
    /// Received before and failed: it may be applied now (the row is reused).
    Failed(Uuid),
    /// Already applied or ignored: this is a duplicate.
    Done(InboundStatus),
}

impl Seen {
    fn of(row: &inbound::Model) -> Self {
        match row.status {
            InboundStatus::Failed => Self::Failed(row.id),
            done => Self::Done(done),
        }
    }
}

/// A received webhook, as the ledger keeps it.
pub struct Received<'a> {
    pub provider: Provider,
    pub delivery_id: &'a str,
    pub integration_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub event_type: &'a str,
    pub headers: &'a HeaderMap,
    pub payload: &'a str,
}

/// Whether (and how) the delivery was received before.
pub async fn seen<C: ConnectionTrait>(
    db: &C,
    provider: Provider,
    delivery_id: &str,
) -> Result<Seen, DbErr> {
    let row = inbound::Entity::find()
        .filter(inbound::Column::Provider.eq(provider))
        .filter(inbound::Column::DeliveryId.eq(delivery_id))
        .one(db)
        .await?;
    Ok(row.map_or(Seen::New, |r| Seen::of(&r)))
}

/// What the ledger knows of each of these deliveries (absent: never received).
pub async fn seen_many<C: ConnectionTrait>(
    db: &C,
    provider: Provider,
    delivery_ids: &[&str],
) -> Result<std::collections::HashMap<String, Seen>, DbErr> {
    let mut found = std::collections::HashMap::new();
    for chunk in delivery_ids.chunks(500) {
        let rows = inbound::Entity::find()
            .filter(inbound::Column::Provider.eq(provider))
            .filter(inbound::Column::DeliveryId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for r in rows {
            let seen = Seen::of(&r);
            found.insert(r.delivery_id, seen);
        }
    }
    Ok(found)
}

/// Records new deliveries (never received before) with one outcome, in one statement per 500.
pub async fn record_new_many<C: ConnectionTrait>(
    db: &C,
    received: &[Received<'_>],
    status: InboundStatus,
) -> Result<(), DbErr> {
    let now = time::now();
    let rows: Vec<inbound::ActiveModel> = received
        .iter()
        .map(|r| inbound::ActiveModel {
            id: Set(Uuid::now_v7()),
            provider: Set(r.provider),
            delivery_id: Set(r.delivery_id.chars().take(200).collect()),
            integration_id: Set(r.integration_id),
            workspace_id: Set(r.workspace_id),
            event_type: Set(r.event_type.chars().take(100).collect()),
            headers: Set(safe_headers(r.headers)),
            payload: Set(r.payload.to_owned()),
            status: Set(status),
            error: Set(None),
            received_at: Set(now),
            processed_at: Set(Some(now)),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        inbound::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}

/// Headers worth keeping: everything but signatures, credentials and cookies.
pub fn safe_headers(headers: &HeaderMap) -> String {
    let mut kept = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let secret = ["signature", "authorization", "cookie", "token", "secret"]
            .iter()
            .any(|s| name.contains(s));
        if secret {
            continue;
        }
        if let Ok(text) = value.to_str() {
            kept.insert(name.to_owned(), Value::String(text.to_owned()));
        }
    }
    Value::Object(kept).to_string()
}

/// Records the webhook with its outcome: a new row, or the earlier failed one updated.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    received: &Received<'_>,
    seen: &Seen,
    status: InboundStatus,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let now = time::now();
    let error = error.map(|e| e.chars().take(1000).collect::<String>());
    if let Seen::Failed(id) = seen {
        inbound::ActiveModel {
            id: Set(*id),
            status: Set(status),
            error: Set(error),
            payload: Set(received.payload.to_owned()),
            processed_at: Set(Some(now)),
            ..Default::default()
        }
        .update(db)
        .await?;
        return Ok(());
    }
    inbound::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(received.provider),
        delivery_id: Set(received.delivery_id.chars().take(200).collect()),
        integration_id: Set(received.integration_id),
        workspace_id: Set(received.workspace_id),
        event_type: Set(received.event_type.chars().take(100).collect()),
        headers: Set(safe_headers(received.headers)),
        payload: Set(received.payload.to_owned()),
        status: Set(status),
        error: Set(error),
        received_at: Set(now),
        processed_at: Set(Some(now)),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Records a webhook whose change failed, in a transaction of its own. A failed delivery is
/// applied when the provider sends it again.
pub async fn record_failure(db: &Db, received: &Received<'_>, error: &str) {
    let _turn = db.write_turn().await;
    let result = async {
        let seen = seen(db.conn(), received.provider, received.delivery_id).await?;
        if matches!(seen, Seen::Done(_)) {
            return Ok(());
        }
        record(
            db.conn(),
            received,
            &seen,
            InboundStatus::Failed,
            Some(error),
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, provider = %received.provider, "could not record a failed webhook");
    }
}

/// Deletes ledger rows received more than `days` ago; returns how many.
pub async fn purge(db: &Db, days: u32) -> Result<u64, DbErr> {
    let cutoff = time::now() - ::time::Duration::days(i64::from(days));
    Ok(inbound::Entity::delete_many()
        .filter(inbound::Column::ReceivedAt.lt(cutoff))
        .exec(db.conn())
        .await?
        .rows_affected)
}
