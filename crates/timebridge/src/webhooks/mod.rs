//! Outbound webhooks: endpoints a workspace admin registers, the deliveries of outbox events to
//! them, signed per Standard Webhooks, retried by policy and recorded attempt by attempt.
//!
//! Data flow: a change commits its events and, in the same transaction, one delivery per
//! subscribed endpoint ([`fanout`], an in-transaction event consumer). The [`worker`] claims endpoints with due deliveries under
//! an expiring lease (so several instances share the work and a crashed one's endpoints are
//! taken over), sends each endpoint's deliveries in event order ([`signing`],
//! `platform::http_client`), and records every attempt. [`endpoints`] and [`deliveries`] are
//! the management API ([`routes`]); [`ops`] raises the `webhook.*` operational events;
//! [`retention`] purges old deliveries.

pub mod catalog;
pub mod deliveries;
pub mod endpoints;
pub mod entity;
pub mod fanout;
pub mod ops;
pub mod retention;
pub mod routes;
pub mod signers;
pub mod signing;
pub mod subscriptions;
pub mod worker;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::RetryPolicy;

/// Purpose string the endpoint secrets are sealed under.
pub const SECRET_PURPOSE: &str = "webhook_endpoint.secret";

/// The columns sealed with the server's keys (for `timebridge secrets rotate`): the secret,
/// and the one before the last rotation, which is copied over sealed as it was.
pub const SEALED: &[crate::platform::sealed::SealedColumn] = &[
    crate::platform::sealed::SealedColumn::new("webhook_endpoints", "secret", SECRET_PURPOSE),
    crate::platform::sealed::SealedColumn::new(
        "webhook_endpoints",
        "previous_secret",
        SECRET_PURPOSE,
    ),
];

/// Plugs webhooks in: the fan-out writes deliveries in each change's transaction, the sealed
/// secret columns, and an hourly instance job purges old deliveries.
pub fn register(c: &mut crate::app::Capabilities) {
    use std::{sync::Arc, time::Duration};

    use crate::platform::jobs::JobKind;

    c.in_transaction(|db| Arc::new(fanout::WebhookFanout::new(db)));
    c.sealed(SEALED);
    c.job(
        JobKind::new(
            "webhook_retention",
            "Hourly: purges webhook deliveries and their attempts past WEBHOOK_LOG_RETENTION_DAYS.",
            |app: crate::app::AppState, _job| async move {
                let purged = retention::purge(&app.db, app.config.webhooks.log_retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!({"webhook_deliveries_purged": purged}))
            },
        )
        .instance()
        .periodic(Duration::from_secs(3600)),
    );
}

/// Raised after a commit that queued deliveries: wakes the delivery workers.
pub fn deliveries_queued(db: &crate::platform::db::Db) -> crate::platform::signal::Signal {
    db.signals().get("timebridge_webhook_deliveries")
}

/// A webhook endpoint as the API shows it. The secret is never shown here: only once, when it
/// is created or rotated.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    #[schema(example = "Slack bridge")]
    pub name: String,
    #[schema(example = "https://example.com/webhooks/timebridge")]
    pub url: String,
    /// Subscribed events: names, `resource.*` or `*`, sorted.
    #[schema(example = json!(["task.created", "task.updated"]))]
    pub events: Vec<String>,
    pub retry_policy: RetryPolicy,
    pub active: bool,
    /// Why the endpoint was disabled, when it was disabled automatically.
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Since when every attempt has failed; `null` once any succeeds.
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// Until when the secret before the last rotation still signs alongside the new one.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub stats: EndpointStats,
}

/// How an endpoint's deliveries have gone (over the retained history).
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct EndpointStats {
    pub pending: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub expired: u64,
    /// Succeeded ÷ finished deliveries, 0–1; `null` before any finished.
    pub success_rate: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The HTTP status of the last attempt (`null` for a network error or none yet).
    pub last_status_code: Option<i32>,
}

impl WebhookView {
    fn new(e: entity::endpoint::Model, stats: EndpointStats) -> Self {
        Self {
            id: e.id,
            name: e.name,
            url: e.url,
            events: subscriptions::Subscriptions::from_stored(&e.events)
                .names()
                .to_vec(),
            retry_policy: e.retry_policy,
            active: e.active,
            disabled_reason: e.disabled_reason,
            disabled_at: e.disabled_at,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
            stats,
        }
    }
}

/// The `webhook-id` of a delivery: stable across its retries and redeliveries, so receivers
/// can drop duplicates.
pub fn message_id(delivery_id: Uuid) -> String {
    format!("msg_{}", delivery_id.simple())
}
