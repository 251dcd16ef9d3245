//! The transactional outbox: every change to a workspace's data writes one event per affected
//! resource into the `events` table, in the same transaction as the change (see
//! [`super::changes::WorkspaceChange`]). Webhooks, add-ons and connectors consume these events;
//! `GET /api/v1/integration/events` pages through them.
//!
//! Each event is numbered by its workspace's data version (`sequence`). Versions are handed out
//! under the workspace row's lock and commit in order, so a consumer that reads "everything
//! after sequence N" never misses an event that commits later with a smaller number.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    entity::prelude::*,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::consumers::ChangeEvents;

macro_rules! event_catalog {
    ($($variant:ident => $name:literal, $resource:literal, $description:literal;)*) => {
        /// Every event type Timebridge emits, by its dotted name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($variant),*
        }

        impl EventType {
            /// The whole catalog, in a stable order.
            pub const ALL: &'static [EventType] = &[$(Self::$variant),*];

            /// The dotted name, e.g. `time_entry.created`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),*
                }
            }

            /// The kind of resource the event carries, e.g. `time_entry`.
            pub fn resource(self) -> &'static str {
                match self {
                    $(Self::$variant => $resource),*
                }
            }

            /// When the event is emitted.
            pub fn description(self) -> &'static str {
                match self {
                    $(Self::$variant => $description),*
                }
            }
        }
    };
}

event_catalog! {
    TimeEntryCreated => "time_entry.created", "time_entry", "A time entry was created (through the API, a CSV import or a connector).";
    TimeEntryUpdated => "time_entry.updated", "time_entry", "A time entry was changed, alone or by a bulk action.";
    TimeEntryDeleted => "time_entry.deleted", "time_entry", "A time entry was deleted.";
    TimeEntryRestored => "time_entry.restored", "time_entry", "A deleted time entry was restored.";
    TimeEntrySplit => "time_entry.split", "time_entry", "A time entry was split in two: `data.time_entries` holds the entry (up to the split) and the new one.";
    TimeEntryBatchDeleted => "time_entry.batch_deleted", "time_entry", "A time entry was deleted by a bulk action (one event per entry).";
    TimerStarted => "timer.started", "time_entry", "A timer was started: the running entry.";
    TimerStopped => "timer.stopped", "time_entry", "A running timer was stopped: the finished entry.";
    ProjectCreated => "project.created", "project", "A project was created.";
    ProjectUpdated => "project.updated", "project", "A project was changed.";
    ProjectArchived => "project.archived", "project", "A project was archived (what DELETE does to a project without permanent=true).";
    ProjectDeleted => "project.deleted", "project", "A project was deleted for good (DELETE ?permanent=true), after a task.deleted for each of its tasks.";
    ClientCreated => "client.created", "client", "A client was created.";
    ClientUpdated => "client.updated", "client", "A client was changed.";
    ClientDeleted => "client.deleted", "client", "A client was deleted.";
    TaskCreated => "task.created", "task", "A task was created.";
    TaskUpdated => "task.updated", "task", "A task was changed.";
    TaskCompleted => "task.completed", "task", "A task's status became done.";
    TaskDeleted => "task.deleted", "task", "A task was deleted.";
    TagCreated => "tag.created", "tag", "A tag was created.";
    TagUpdated => "tag.updated", "tag", "A tag was changed.";
    TagDeleted => "tag.deleted", "tag", "A tag was deleted.";
    ExpenseCreated => "expense.created", "expense", "An expense was created.";
    ExpenseUpdated => "expense.updated", "expense", "An expense was changed.";
    ExpenseDeleted => "expense.deleted", "expense", "An expense was deleted.";
    ExpenseRestored => "expense.restored", "expense", "A deleted expense was restored.";
    QuoteCreated => "quote.created", "quote", "A quote was created.";
    QuoteUpdated => "quote.updated", "quote", "A quote was changed.";
    QuoteDeleted => "quote.deleted", "quote", "A quote was deleted.";
    InvoiceCreated => "invoice.created", "invoice", "An invoice was created (also from unbilled time).";
    InvoiceUpdated => "invoice.updated", "invoice", "An invoice was changed.";
    InvoiceCancelled => "invoice.cancelled", "invoice", "An invoice was cancelled (what DELETE does to an invoice).";
    UserJoined => "user.joined", "user", "A user joined the workspace.";
    UserUpdated => "user.updated", "user", "A member's name or role changed.";
    UserActivated => "user.activated", "user", "A deactivated member was reactivated in the workspace.";
    UserDeactivated => "user.deactivated", "user", "A member was deactivated in the workspace: their tokens for it are refused.";
    UserRemoved => "user.removed", "user", "A member was removed from the workspace (their tokens for it are revoked).";
    UserEmailChanged => "user.email_changed", "user", "A member's email address changed.";
    LeaveTypeCreated => "leave_type.created", "leave_type", "A leave type was created.";
    LeaveTypeDeleted => "leave_type.deleted", "leave_type", "A leave type was deleted.";
    HolidayCreated => "holiday.created", "holiday", "A company holiday was created.";
    HolidayDeleted => "holiday.deleted", "holiday", "A company holiday was deleted.";
    TimeOffRequestCreated => "time_off_request.created", "time_off_request", "A time-off request was created.";
    TimeOffRequestUpdated => "time_off_request.updated", "time_off_request", "A time-off request was changed.";
    TimeOffRequestDeleted => "time_off_request.deleted", "time_off_request", "A time-off request was deleted.";
    TimesheetPeriodCreated => "timesheet_period.created", "timesheet_period", "A timesheet period was created.";
    TimesheetPeriodDeleted => "timesheet_period.deleted", "timesheet_period", "A timesheet period was deleted.";
    ApprovalRequested => "approval.requested", "timesheet_period", "A timesheet period or time-off request was submitted for approval.";
    ApprovalStatusUpdated => "approval.status_updated", "timesheet_period", "A submitted timesheet period or time-off request was approved or rejected.";
    WebhookEndpointDisabled => "webhook.endpoint_disabled", "webhook_endpoint", "A webhook endpoint was disabled: it answered 410 Gone, or only failed for WEBHOOK_DISABLE_AFTER_FAILING_DAYS.";
    WebhookDeliveryFailing => "webhook.delivery_failing", "webhook_delivery", "A webhook delivery failed for the 4th time and will be retried.";
    WebhookDeliveryExhausted => "webhook.delivery_exhausted", "webhook_delivery", "A webhook delivery was given up: retries exhausted, or not done within WEBHOOK_DELIVERY_TTL_HOURS.";
    WebhookDeliveryRecovered => "webhook.delivery_recovered", "webhook_delivery", "A webhook delivery that had been reported failing succeeded.";
    IntegrationConnectionNeedsReauth => "integration.connection_needs_reauth", "oauth_connection", "A member's OAuth connection stopped working (the provider refused its refresh token or revoked it): the member must connect again.";
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown event type '{s}'"))
    }
}

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// `user` (through an API token), `integration` (a connector acting for a user) or
    /// `system` (the CLI, a scheduled job).
    pub kind: ActorKind,
    pub user_id: Option<Uuid>,
    /// The API token the change was made with.
    pub token_id: Option<Uuid>,
    /// For `integration`: which one (`github`, `slack`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    Integration,
    System,
}

impl Actor {
    /// A user acting through an API token.
    pub fn user(user_id: Uuid, token_id: Uuid) -> Self {
        Self {
            kind: ActorKind::User,
            user_id: Some(user_id),
            token_id: Some(token_id),
            via: None,
        }
    }

    /// Timebridge itself: the CLI, a scheduled job.
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            user_id: None,
            token_id: None,
            via: None,
        }
    }

    /// A connector acting for a user (or for nobody in particular).
    pub fn integration(via: &str, user_id: Option<Uuid>) -> Self {
        Self {
            kind: ActorKind::Integration,
            user_id,
            token_id: None,
            via: Some(via.to_owned()),
        }
    }
}

/// The `events` table.
pub mod event {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub sequence: i64,
        pub event_type: String,
        pub resource_type: String,
        pub resource_id: Uuid,
        /// JSON of [`Actor`].
        pub actor: String,
        /// JSON of the resource exactly as the API returns it.
        pub data: String,
        pub occurred_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An event recorded in a change, written when the change commits.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub resource_id: Uuid,
    pub data: String,
    pub occurred_at: OffsetDateTime,
}

/// Writes a change's events.
pub(crate) async fn write<C: ConnectionTrait>(txn: &C, change: &ChangeEvents) -> Result<(), DbErr> {
    if change.events.is_empty() {
        return Ok(());
    }
    let actor = serde_json::to_string(&change.actor).map_err(|e| DbErr::Json(e.to_string()))?;
    let rows: Vec<event::ActiveModel> = change
        .events
        .iter()
        .map(|e| event::ActiveModel {
            id: Set(e.id),
            workspace_id: Set(change.workspace_id),
            sequence: Set(e.sequence),
            event_type: Set(e.event_type.as_str().to_owned()),
            resource_type: Set(e.event_type.resource().to_owned()),
            resource_id: Set(e.resource_id),
            actor: Set(actor.clone()),
            data: Set(e.data.clone()),
            occurred_at: Set(e.occurred_at),
        })
        .collect();
    // 9 columns a row: 500 rows stay far below SQLite's limit of bound variables.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        event::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(())
}

/// An event as consumers see it (the feed, webhook payloads).
#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    /// The dotted event type, e.g. `time_entry.created`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Position in the workspace's event stream: strictly increasing, in commit order.
    pub sequence: i64,
    pub workspace_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[schema(value_type = Actor)]
    pub actor: Box<RawValue>,
    pub resource: ResourceRef,
    /// The resource exactly as the API returns it (for a deletion: as it was).
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: Uuid,
}

impl TryFrom<event::Model> for EventView {
    type Error = DbErr;
    fn try_from(e: event::Model) -> Result<Self, DbErr> {
        let raw = |text: String| {
            RawValue::from_string(text).map_err(|err| DbErr::Json(format!("event {}: {err}", e.id)))
        };
        Ok(Self {
            id: e.id,
            event_type: e.event_type,
            sequence: e.sequence,
            workspace_id: e.workspace_id,
            occurred_at: e.occurred_at,
            actor: raw(e.actor)?,
            resource: ResourceRef {
                resource_type: e.resource_type,
                id: e.resource_id,
            },
            data: raw(e.data)?,
        })
    }
}

/// The workspace's events after `after` (a sequence number), oldest first.
pub async fn list_after<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<event::Model>, DbErr> {
    event::Entity::find()
        .filter(event::Column::WorkspaceId.eq(workspace_id))
        .filter(event::Column::Sequence.gt(after))
        .order_by_asc(event::Column::Sequence)
        .limit(limit)
        .all(db)
        .await
}

/// The sequence number of one of the workspace's events, by id.
pub async fn sequence_of<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<i64>, DbErr> {
    event::Entity::find_by_id(id)
        .filter(event::Column::WorkspaceId.eq(workspace_id))
        .select_only()
        .column(event::Column::Sequence)
        .into_tuple()
        .one(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source of every capability: where events are recorded.
    fn sources(dir: &std::path::Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("platform/outbox.rs")
            {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }

    /// The catalog (and the webhook event list built from it) advertises only events some
    /// capability records: each variant is named outside this file.
    #[test]
    fn every_event_in_the_catalog_is_emitted_somewhere() {
        let mut text = String::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut text,
        );
        let silent: Vec<&str> = EventType::ALL
            .iter()
            .filter(|t| !text.contains(&format!("EventType::{t:?}")))
            .map(|t| t.as_str())
            .collect();
        assert!(
            silent.is_empty(),
            "advertised but never emitted: {silent:?}"
        );
    }
}
