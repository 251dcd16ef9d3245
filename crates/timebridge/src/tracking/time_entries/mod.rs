//! Time entries: who worked on what, when. A running timer is an entry without an end
//! (`/timer/start` creates it, `/timer/stop` finishes it). Members see and change only their
//! own entries; admins see and change everyone's. A deleted entry can be restored for a while
//! ([`restore`]); an entry can be split in two ([`split`]); whole histories come in as CSV
//! ([`import`]).

pub mod bulk;
pub mod entity;
pub mod idempotency;
pub mod import;
pub mod restore;
pub mod routes;
pub mod service;
pub mod split;
mod tagging;
mod task_link;
pub mod timer;

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    platform::money,
    tracking::tags::entity::{self as tag, entry_tag},
};

/// Plugs time entries in: an hourly instance job purges deleted entries past
/// `DELETED_RETENTION_DAYS`.
pub fn register(c: &mut crate::app::Capabilities) {
    use crate::platform::jobs::JobKind;
    c.job(
        JobKind::new(
            "deleted_time_entries_retention",
            "Hourly: purges deleted time entries past DELETED_RETENTION_DAYS (they can no longer be restored).",
            |app: crate::app::AppState, _job| async move {
                let purged = restore::purge(&app.db, app.config.deleted_retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!({"deleted_time_entries_purged": purged}))
            },
        )
        .instance()
        .periodic(std::time::Duration::from_secs(3600)),
    );
}

/// A time entry as the API shows it (and as `time_entry.*` and `timer.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimeEntryView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// `null` while the timer runs.
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// Whole seconds; `null` while the timer runs.
    pub duration_seconds: Option<i64>,
    /// Hours, rounded to two decimals (0 while running).
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 1.5)]
    pub duration_hours: Decimal,
    /// `HH:MM:SS` (elapsed so far while running).
    #[schema(example = "01:30:00")]
    pub duration_formatted: String,
    pub notes: Option<String>,
    /// Tag names joined with ", " (TimeTracker's shape); `null` when there are none.
    pub tags: Option<String>,
    /// Tag names, sorted.
    pub tag_list: Vec<String>,
    /// `manual`, `timer`, `import`, or the connector that made it.
    pub source: String,
    pub billable: bool,
    pub paid: bool,
    /// The invoice the entry was billed on.
    pub invoice_id: Option<Uuid>,
    /// Whether this is a running timer.
    pub is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The answer to a change of one entry: what happened, and the entry.
#[derive(Serialize, ToSchema)]
pub struct TimeEntryChanged {
    #[schema(example = "Time entry created successfully")]
    pub message: String,
    pub time_entry: TimeEntryView,
}

/// `HH:MM:SS` for a number of seconds (hours may exceed 24).
pub fn format_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// A time as the API writes it (RFC 3339, UTC), for messages.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Seconds as hours, rounded half away from zero to two decimals (as invoices and reports
/// round them).
pub fn hours(seconds: i64) -> Decimal {
    (Decimal::from(seconds) / Decimal::from(3600))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

impl TimeEntryView {
    /// The view of an entry carrying these tag names.
    pub fn new(e: entity::Model, mut tags: Vec<String>) -> Self {
        tags.sort_by_key(|t| t.to_lowercase());
        let elapsed = match (e.duration_seconds, e.end_time) {
            (Some(d), _) => d,
            (None, None) => (crate::platform::time::now() - e.start_time).whole_seconds(),
            (None, Some(end)) => (end - e.start_time).whole_seconds(),
        };
        Self {
            id: e.id,
            user_id: e.user_id,
            project_id: e.project_id,
            task_id: e.task_id,
            start_time: e.start_time,
            end_time: e.end_time,
            duration_seconds: e.duration_seconds,
            duration_hours: e.duration_seconds.map(hours).unwrap_or_default(),
            duration_formatted: format_duration(elapsed),
            notes: e.notes,
            tags: (!tags.is_empty()).then(|| tags.join(", ")),
            tag_list: tags,
            source: e.source,
            billable: e.billable,
            paid: e.paid,
            invoice_id: e.invoice_id,
            is_active: e.end_time.is_none(),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// The views of these entries, in the same order, with their tags loaded in one query.
pub async fn views<C: ConnectionTrait>(
    db: &C,
    entries: Vec<entity::Model>,
) -> Result<Vec<TimeEntryView>, DbErr> {
    let mut tags = tag_names(db, entries.iter().map(|e| e.id).collect()).await?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let names = tags.remove(&e.id).unwrap_or_default();
            TimeEntryView::new(e, names)
        })
        .collect())
}

/// The tag names of each of these entries.
pub async fn tag_names<C: ConnectionTrait>(
    db: &C,
    entry_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<String>>, DbErr> {
    let mut by_entry: HashMap<Uuid, Vec<String>> = HashMap::new();
    for chunk in entry_ids.chunks(500) {
        let rows: Vec<(Uuid, String)> = entry_tag::Entity::find()
            .filter(entry_tag::Column::TimeEntryId.is_in(chunk.iter().copied()))
            .inner_join(tag::Entity)
            .select_only()
            .column(entry_tag::Column::TimeEntryId)
            .column(tag::Column::Name)
            .order_by_asc(tag::Column::Name)
            .into_tuple()
            .all(db)
            .await?;
        for (entry, name) in rows {
            by_entry.entry(entry).or_default().push(name);
        }
    }
    Ok(by_entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_clock_and_hours() {
        assert_eq!(format_duration(5400), "01:30:00");
        assert_eq!(format_duration(100 * 3600 + 61), "100:01:01");
        assert_eq!(hours(18), Decimal::new(1, 2));
        assert_eq!(hours(5400), Decimal::new(150, 2));
    }
}
