//! One Google Calendar sync of one member's integration.
//!
//! **Import**: the events of the calendar become time entries, once each. The first run lists
//! the last `sync_days_back` days (`singleEvents=true`, so a recurring event arrives as its
//! instances); later runs ask Google only for what changed since (`syncToken`). A `410 Gone`
//! drops the token and lists the window again. All-day events, events tagged `[TT]` or
//! carrying a Timebridge entry id (our exports) are skipped. An event that has not ended yet is
//! kept pending and becomes an entry once it has. An event moved on Google moves its entry; a
//! cancelled one removes it — only entries the sync made.
//!
//! **Export**: the member's finished entries created since the last sync become
//! `[TT] {project} -- {task or notes}` events in UTC.
//!
//! **Never a duplicate**: every link is stored on both sides. An imported entry is linked to
//! its event in `calendar_links`, written in the same transaction as the entry, under a unique
//! index on (integration, calendar, event): a second sync importing the same event at the same
//! time fails its insert and makes nothing. An exported event gets an id derived from the
//! entry's (`tb{entry id}`) and carries the entry id in `extendedProperties.private`: inserting
//! it again after a lost response or a crash answers `409 duplicate`, which records the link.
//! The sync token is stored only after every event of its listing was applied, so a crash
//! mid-sync replays the listing, and replaying is harmless.

use std::collections::HashSet;

use ::time::{Duration, OffsetDateTime};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    SOURCE,
    api::{Calendar, CallError},
    entity::{
        link::{self, Direction},
        sync_state,
    },
};
use crate::{
    app::AppState,
    connectors::{Provider, store::Integration},
    oauth::{ConnectionStatus, entity::connection},
    platform::{acting::Acting, changes::WorkspaceChange, error::ApiError, time},
    tracking::{
        projects::entity as project,
        tasks::entity as task,
        time_entries::{
            entity as entry,
            service::{self, CheckedEntry, EntryChanges, MAX_NOTES},
        },
    },
};

/// What one sync did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Events that became entries.
    pub imported: u64,
    /// Entries moved or renamed because their event changed.
    pub updated: u64,
    /// Entries removed because their event was cancelled.
    pub removed: u64,
    /// Entries that became events.
    pub exported: u64,
    /// Events left alone (all-day, ours, outside the window).
    pub skipped: u64,
    /// Events waiting to end before they become entries.
    pub pending: u64,
}

/// The integration's settings, with their defaults and bounds.
pub struct Settings {
    pub calendar_id: String,
    pub import: bool,
    pub export: bool,
    /// `sync_days_back`, clamped to 1–30 (default 7).
    pub days_back: i64,
    pub project_id: Option<Uuid>,
}

impl Settings {
    pub fn of(integration: &Integration) -> Self {
        let direction = integration.text("sync_direction").unwrap_or("both");
        Self {
            calendar_id: integration
                .text("calendar_id")
                .unwrap_or("primary")
                .to_owned(),
            import: matches!(direction, "import" | "both"),
            export: matches!(direction, "export" | "both"),
            days_back: integration
                .config
                .get("sync_days_back")
                .and_then(Value::as_i64)
                .unwrap_or(7)
                .clamp(1, 30),
            project_id: integration.uuid("project_id"),
        }
    }
}

/// The member's Google connection, when they have an active one.
pub async fn connection_of(
    app: &AppState,
    integration: &Integration,
) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::WorkspaceId.eq(integration.record.workspace_id))
        .filter(connection::Column::UserId.eq(integration.record.user_id))
        .filter(connection::Column::Provider.eq("google"))
        .one(app.db.conn())
        .await
}

/// Runs one sync; the error is a sentence for the member.
pub async fn run(app: &AppState, integration: &Integration) -> Result<Counts, String> {
    let Some(connection) = connection_of(app, integration)
        .await
        .map_err(|e| ApiError::from(e).shown())?
    else {
        return Err("Google is not connected: POST /api/integrations/google/connect".into());
    };
    if connection.status == ConnectionStatus::NeedsReauth {
        return Err(format!(
            "connect Google again: {}",
            connection.status_reason.unwrap_or_default()
        ));
    }
    let settings = Settings::of(integration);
    let calendar = Calendar::new(app, connection.id);
    let acting = integration.acting(Provider::GoogleCalendar, false);
    let state = load_state(app, integration.record.id)
        .await
        .map_err(|e| ApiError::from(e).shown())?;
    let mut counts = Counts::default();
    let mut token = state.as_ref().and_then(|s| s.sync_token.clone());
    if settings.import {
        token = import(
            app,
            &calendar,
            integration,
            &acting,
            &settings,
            token,
            &mut counts,
        )
        .await
        .map_err(|e| e.message())?;
    }
    if settings.export {
        let since = state
            .as_ref()
            .and_then(|s| s.last_sync_at)
            .unwrap_or_else(|| time::now() - Duration::days(settings.days_back));
        export(app, &calendar, integration, &settings, since, &mut counts)
            .await
            .map_err(|e| e.message())?;
    }
    save_state(app, integration.record.id, token, &counts)
        .await
        .map_err(|e| ApiError::from(e).shown())?;
    Ok(counts)
}

/// Why a sync stopped.
pub enum SyncError {
    Call(CallError),
    Api(ApiError),
}

impl SyncError {
    fn message(&self) -> String {
        match self {
            Self::Call(e) => e.message(),
            Self::Api(e) => e.shown(),
        }
    }
}

impl From<CallError> for SyncError {
    fn from(e: CallError) -> Self {
        Self::Call(e)
    }
}

impl From<ApiError> for SyncError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<DbErr> for SyncError {
    fn from(e: DbErr) -> Self {
        Self::Api(e.into())
    }
}

fn rfc(at: OffsetDateTime) -> String {
    at.format(&time::Rfc3339).unwrap_or_default()
}

/// Imports; answers the sync token to keep.
async fn import(
    app: &AppState,
    calendar: &Calendar<'_>,
    integration: &Integration,
    acting: &Acting,
    settings: &Settings,
    token: Option<String>,
    counts: &mut Counts,
) -> Result<Option<String>, SyncError> {
    let now = time::now();
    let window_start = now - Duration::days(settings.days_back);
    let incremental = match token {
        Some(token) => {
            let listed = calendar
                .list(
                    &settings.calendar_id,
                    &[("singleEvents", "true".into()), ("syncToken", token)],
                )
                .await;
            match listed {
                Err(CallError::Gone) => {
                    tracing::info!(integration = %integration.record.id, "Google asked for a full sync");
                    None
                }
                other => Some(other?),
            }
        }
        None => None,
    };
    let full = incremental.is_none();
    let (events, next_token) = match incremental {
        Some(listing) => listing,
        None => {
            calendar
                .list(
                    &settings.calendar_id,
                    &[
                        ("singleEvents", "true".into()),
                        ("timeMin", rfc(window_start)),
                    ],
                )
                .await?
        }
    };
    let mut listed = HashSet::new();
    for event in &events {
        if let Some(id) = event.get("id").and_then(Value::as_str) {
            listed.insert(id.to_owned());
        }
        apply(
            app,
            integration,
            acting,
            settings,
            event,
            window_start,
            counts,
        )
        .await?;
    }
    if full {
        remove_unlisted(
            app,
            integration,
            acting,
            settings,
            &listed,
            window_start,
            counts,
        )
        .await?;
    }
    materialize_pending(app, integration, acting, settings, counts).await?;
    Ok(next_token)
}

/// The start and end of a timed event, in UTC; `None` for an all-day or malformed one.
pub fn times(event: &Value) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let at = |key: &str| {
        event
            .pointer(&format!("/{key}/dateTime"))
            .and_then(Value::as_str)
            .and_then(|s| OffsetDateTime::parse(s, &time::Rfc3339).ok())
            .map(|t| t.to_offset(::time::UtcOffset::UTC))
    };
    let (start, end) = (at("start")?, at("end")?);
    (end > start).then_some((start, end))
}

/// Whether Timebridge made this event.
fn ours(event: &Value) -> bool {
    event
        .get("summary")
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim_start().starts_with("[TT]"))
        || event
            .pointer("/extendedProperties/private/timebridgeEntryId")
            .is_some()
}

fn summary(event: &Value) -> String {
    let text = event
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("(no title)");
    text.chars().take(MAX_NOTES).collect()
}

async fn find_link(
    app: &AppState,
    integration: &Integration,
    calendar_id: &str,
    event_id: &str,
) -> Result<Option<link::Model>, DbErr> {
    link::Entity::find()
        .filter(link::Column::IntegrationId.eq(integration.record.id))
        .filter(link::Column::CalendarId.eq(calendar_id))
        .filter(link::Column::EventId.eq(event_id))
        .one(app.db.conn())
        .await
}

async fn apply(
    app: &AppState,
    integration: &Integration,
    acting: &Acting,
    settings: &Settings,
    event: &Value,
    window_start: OffsetDateTime,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let Some(event_id) = event.get("id").and_then(Value::as_str) else {
        counts.skipped += 1;
        return Ok(());
    };
    let found = find_link(app, integration, &settings.calendar_id, event_id).await?;
    if event.get("status").and_then(Value::as_str) == Some("cancelled") {
        if let Some(found) = found {
            forget(app, acting, &found, counts).await?;
        }
        return Ok(());
    }
    if ours(event)
        || found
            .as_ref()
            .is_some_and(|l| l.direction == Direction::Exported)
    {
        counts.skipped += 1;
        return Ok(());
    }
    let Some((start, end)) = times(event) else {
        counts.skipped += 1;
        return Ok(());
    };
    match found {
        Some(found) if found.direction == Direction::Imported => {
            let Some(entry_id) = found.time_entry_id else {
                // The member deleted the entry in Timebridge: it stays deleted.
                counts.skipped += 1;
                return Ok(());
            };
            move_entry(app, acting, entry_id, start, end, &summary(event), counts).await
        }
        Some(found) => {
            // Pending: it may have moved or ended.
            if end <= time::now() {
                make_entry(
                    app,
                    integration,
                    acting,
                    settings,
                    event,
                    start,
                    end,
                    Some(&found),
                    counts,
                )
                .await
            } else {
                keep_pending(app, integration, settings, event, end, Some(&found)).await?;
                counts.pending += 1;
                Ok(())
            }
        }
        None if start < window_start => {
            counts.skipped += 1;
            Ok(())
        }
        None if end > time::now() => {
            keep_pending(app, integration, settings, event, end, None).await?;
            counts.pending += 1;
            Ok(())
        }
        None => {
            make_entry(
                app,
                integration,
                acting,
                settings,
                event,
                start,
                end,
                None,
                counts,
            )
            .await
        }
    }
}

/// The project imported entries go to, if it (still) takes time.
async fn project_for(
    app: &AppState,
    settings: &Settings,
    workspace_id: Uuid,
) -> Result<Option<project::Model>, DbErr> {
    let Some(id) = settings.project_id else {
        return Ok(None);
    };
    let found = project::Entity::find_by_id(id)
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .one(app.db.conn())
        .await?;
    Ok(found.filter(|p| service::check_project_takes_time(p).is_ok()))
}

/// Makes the entry of an event and links them, in one transaction; nothing when another sync
/// linked the event first.
#[allow(clippy::too_many_arguments)]
async fn make_entry(
    app: &AppState,
    integration: &Integration,
    acting: &Acting,
    settings: &Settings,
    event: &Value,
    start: OffsetDateTime,
    end: OffsetDateTime,
    pending: Option<&link::Model>,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let workspace_id = integration.record.workspace_id;
    let project = project_for(app, settings, workspace_id).await?;
    let event_id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut change = WorkspaceChange::begin(&app.db, workspace_id, acting.actor.clone()).await?;
    let view = service::insert(
        &mut change,
        CheckedEntry {
            workspace_id,
            user_id: integration.record.user_id,
            project_id: project.as_ref().map(|p| p.id),
            task_id: None,
            start,
            end,
            notes: Some(summary(event)),
            tags: Vec::new(),
            billable: project.as_ref().is_some_and(|p| p.billable),
            paid: false,
        },
        SOURCE,
    )
    .await?;
    let now = time::now();
    let linked = match pending {
        Some(pending) => link::Entity::update_many()
            .col_expr(link::Column::Direction, Expr::val(Direction::Imported))
            .col_expr(link::Column::TimeEntryId, Expr::val(Some(view.id)))
            .col_expr(link::Column::PendingEvent, Expr::val(None::<String>))
            .col_expr(link::Column::StartsAt, Expr::val(None::<OffsetDateTime>))
            .col_expr(link::Column::UpdatedAt, Expr::val(now))
            .filter(link::Column::Id.eq(pending.id))
            .filter(link::Column::Direction.eq(Direction::Pending))
            .exec(&*change)
            .await
            .map(|done| done.rows_affected == 1),
        None => insert_link(
            &*change,
            integration,
            &settings.calendar_id,
            event_id.to_owned(),
            Some(view.id),
            Direction::Imported,
            None,
            None,
        )
        .await
        .map(|rows| rows == 1),
    };
    if !linked? {
        // Another sync linked this event first: drop our entry with the transaction.
        counts.skipped += 1;
        return Ok(());
    }
    change.commit().await?;
    counts.imported += 1;
    Ok(())
}

/// Links an event (a unique row per integration, calendar and event): the number of rows
/// written, 0 when another sync linked it first.
#[allow(clippy::too_many_arguments)]
async fn insert_link<C: sea_orm::ConnectionTrait>(
    conn: &C,
    integration: &Integration,
    calendar_id: &str,
    event_id: String,
    time_entry_id: Option<Uuid>,
    direction: Direction,
    pending_event: Option<String>,
    starts_at: Option<OffsetDateTime>,
) -> Result<u64, DbErr> {
    let now = time::now();
    link::Entity::insert(link::ActiveModel {
        id: Set(Uuid::now_v7()),
        integration_id: Set(integration.record.id),
        workspace_id: Set(integration.record.workspace_id),
        calendar_id: Set(calendar_id.to_owned()),
        event_id: Set(event_id),
        time_entry_id: Set(time_entry_id),
        direction: Set(direction),
        pending_event: Set(pending_event),
        starts_at: Set(starts_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            link::Column::IntegrationId,
            link::Column::CalendarId,
            link::Column::EventId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await
}

/// Remembers an event that has not ended yet.
async fn keep_pending(
    app: &AppState,
    integration: &Integration,
    settings: &Settings,
    event: &Value,
    end: OffsetDateTime,
    found: Option<&link::Model>,
) -> Result<(), DbErr> {
    let now = time::now();
    let _turn = app.db.write_turn().await;
    match found {
        Some(found) => {
            link::Entity::update_many()
                .col_expr(
                    link::Column::PendingEvent,
                    Expr::val(Some(event.to_string())),
                )
                .col_expr(link::Column::StartsAt, Expr::val(Some(end)))
                .col_expr(link::Column::UpdatedAt, Expr::val(now))
                .filter(link::Column::Id.eq(found.id))
                .exec(app.db.conn())
                .await?;
        }
        None => {
            insert_link(
                app.db.conn(),
                integration,
                &settings.calendar_id,
                event
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                None,
                Direction::Pending,
                Some(event.to_string()),
                Some(end),
            )
            .await?;
        }
    }
    Ok(())
}

/// Pending events that have ended become entries.
async fn materialize_pending(
    app: &AppState,
    integration: &Integration,
    acting: &Acting,
    settings: &Settings,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let due = link::Entity::find()
        .filter(link::Column::IntegrationId.eq(integration.record.id))
        .filter(link::Column::CalendarId.eq(settings.calendar_id.as_str()))
        .filter(link::Column::Direction.eq(Direction::Pending))
        .filter(link::Column::StartsAt.lte(time::now()))
        .order_by_asc(link::Column::StartsAt)
        .limit(500)
        .all(app.db.conn())
        .await?;
    for pending in due {
        let event: Value = pending
            .pending_event
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or(Value::Null);
        match times(&event) {
            Some((start, end)) => {
                make_entry(
                    app,
                    integration,
                    acting,
                    settings,
                    &event,
                    start,
                    end,
                    Some(&pending),
                    counts,
                )
                .await?;
                counts.pending = counts.pending.saturating_sub(1);
            }
            None => {
                let _turn = app.db.write_turn().await;
                link::Entity::delete_by_id(pending.id)
                    .exec(app.db.conn())
                    .await?;
            }
        }
    }
    Ok(())
}

/// Moves or renames the entry of a changed event (a billed entry stays as it is).
async fn move_entry(
    app: &AppState,
    acting: &Acting,
    entry_id: Uuid,
    start: OffsetDateTime,
    end: OffsetDateTime,
    notes: &str,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let Some(current) = entry::Entity::find_by_id(entry_id)
        .one(app.db.conn())
        .await?
    else {
        counts.skipped += 1;
        return Ok(());
    };
    if current.start_time == start
        && current.end_time == Some(end)
        && current.notes.as_deref() == Some(notes)
    {
        return Ok(());
    }
    let changes = EntryChanges {
        start_time: Some(rfc(start)),
        end_time: Some(rfc(end)),
        notes: Some(Some(notes.to_owned())),
        ..Default::default()
    };
    match service::update(&app.db, acting, entry_id, changes).await {
        Ok(_) => counts.updated += 1,
        Err(ApiError::Conflict(reason)) => {
            tracing::info!(entry = %entry_id, reason, "a calendar change was not applied to a billed entry");
            counts.skipped += 1;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Removes what an event that is gone from Google had become, and the link.
async fn forget(
    app: &AppState,
    acting: &Acting,
    found: &link::Model,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    if found.direction == Direction::Imported
        && let Some(entry_id) = found.time_entry_id
    {
        match service::delete(&app.db, acting, entry_id).await {
            Ok(_) => counts.removed += 1,
            Err(ApiError::NotFound(_)) => {}
            Err(ApiError::Conflict(reason)) => {
                tracing::info!(entry = %entry_id, reason, "a cancelled event's entry is billed and stays");
                counts.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if found.direction != Direction::Exported {
        let _turn = app.db.write_turn().await;
        link::Entity::delete_by_id(found.id)
            .exec(app.db.conn())
            .await?;
    }
    Ok(())
}

/// After a full listing: entries imported from events of the window that Google no longer
/// lists were deleted there while the sync token was lost.
async fn remove_unlisted(
    app: &AppState,
    integration: &Integration,
    acting: &Acting,
    settings: &Settings,
    listed: &HashSet<String>,
    window_start: OffsetDateTime,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let imported = link::Entity::find()
        .filter(link::Column::IntegrationId.eq(integration.record.id))
        .filter(link::Column::CalendarId.eq(settings.calendar_id.as_str()))
        .filter(link::Column::Direction.is_in([Direction::Imported, Direction::Pending]))
        .all(app.db.conn())
        .await?;
    for found in imported {
        if listed.contains(&found.event_id) {
            continue;
        }
        let in_window = match found.time_entry_id {
            Some(id) => entry::Entity::find_by_id(id)
                .one(app.db.conn())
                .await?
                .is_some_and(|e| e.start_time >= window_start),
            None => found.direction == Direction::Pending,
        };
        if in_window {
            forget(app, acting, &found, counts).await?;
        }
    }
    Ok(())
}

/// The event id of an exported entry: base32hex, as Google requires, derived from the entry
/// id, so exporting twice is a `409 duplicate` rather than a second event.
pub fn event_id_for(entry_id: Uuid) -> String {
    format!("tb{}", entry_id.simple())
}

async fn export(
    app: &AppState,
    calendar: &Calendar<'_>,
    integration: &Integration,
    settings: &Settings,
    since: OffsetDateTime,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let entries = entry::Entity::find()
        .filter(entry::Column::WorkspaceId.eq(integration.record.workspace_id))
        .filter(entry::Column::UserId.eq(integration.record.user_id))
        .filter(entry::Column::EndTime.is_not_null())
        .filter(entry::Column::CreatedAt.gte(since))
        .filter(entry::Column::Source.ne(SOURCE))
        .order_by_asc(entry::Column::CreatedAt)
        .limit(1000)
        .all(app.db.conn())
        .await?;
    for e in entries {
        let linked = link::Entity::find()
            .filter(link::Column::TimeEntryId.eq(e.id))
            .one(app.db.conn())
            .await?;
        if linked.is_some() {
            continue;
        }
        let Some(end) = e.end_time else { continue };
        let event = json!({
            "id": event_id_for(e.id),
            "summary": title(app, &e).await?,
            "start": {"dateTime": rfc(e.start_time), "timeZone": "UTC"},
            "end": {"dateTime": rfc(end), "timeZone": "UTC"},
            "extendedProperties": {"private": {"timebridgeEntryId": e.id.to_string()}},
        });
        match calendar.insert(&settings.calendar_id, &event).await {
            Ok(_) => counts.exported += 1,
            // Inserted before, its answer lost: the link is what was missing.
            Err(CallError::Duplicate) => {}
            Err(other) => return Err(other.into()),
        }
        let _turn = app.db.write_turn().await;
        insert_link(
            app.db.conn(),
            integration,
            &settings.calendar_id,
            event_id_for(e.id),
            Some(e.id),
            Direction::Exported,
            None,
            None,
        )
        .await?;
    }
    Ok(())
}

/// `[TT] {project} -- {task or notes}`.
async fn title(app: &AppState, e: &entry::Model) -> Result<String, DbErr> {
    let project = match e.project_id {
        Some(id) => project::Entity::find_by_id(id)
            .one(app.db.conn())
            .await?
            .map(|p| p.name),
        None => None,
    };
    let task = match e.task_id {
        Some(id) => task::Entity::find_by_id(id)
            .one(app.db.conn())
            .await?
            .map(|t| t.name),
        None => None,
    };
    let what = task.or_else(|| e.notes.clone()).unwrap_or_default();
    Ok(format!(
        "[TT] {} -- {what}",
        project.as_deref().unwrap_or("No project")
    ))
}

pub async fn load_state(
    app: &AppState,
    integration_id: Uuid,
) -> Result<Option<sync_state::Model>, DbErr> {
    sync_state::Entity::find_by_id(integration_id)
        .one(app.db.conn())
        .await
}

async fn save_state(
    app: &AppState,
    integration_id: Uuid,
    token: Option<String>,
    counts: &Counts,
) -> Result<(), DbErr> {
    let now = time::now();
    let row = sync_state::ActiveModel {
        integration_id: Set(integration_id),
        sync_token: Set(token),
        last_sync_at: Set(Some(now)),
        last_outcome: Set(serde_json::to_string(counts).ok()),
        updated_at: Set(now),
    };
    let _turn = app.db.write_turn().await;
    sync_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(sync_state::Column::IntegrationId)
                .update_columns([
                    sync_state::Column::SyncToken,
                    sync_state::Column::LastSyncAt,
                    sync_state::Column::LastOutcome,
                    sync_state::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(app.db.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_land_on_the_utc_instant_across_a_dst_change_and_all_day_events_have_none() {
        // Berlin moves from +01:00 to +02:00 on 2026-03-29 at 02:00.
        let before = json!({"start": {"dateTime": "2026-03-28T09:00:00+01:00", "timeZone": "Europe/Berlin"},
                            "end": {"dateTime": "2026-03-28T10:00:00+01:00", "timeZone": "Europe/Berlin"}});
        let after = json!({"start": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Berlin"},
                           "end": {"dateTime": "2026-03-30T10:30:00+02:00", "timeZone": "Europe/Berlin"}});
        let (s, e) = times(&before).unwrap();
        assert_eq!(
            (rfc(s), rfc(e)),
            ("2026-03-28T08:00:00Z".into(), "2026-03-28T09:00:00Z".into())
        );
        let (s, e) = times(&after).unwrap();
        assert_eq!(
            (rfc(s), rfc(e)),
            ("2026-03-30T07:00:00Z".into(), "2026-03-30T08:30:00Z".into())
        );
        let all_day = json!({"start": {"date": "2026-03-29"}, "end": {"date": "2026-03-30"}});
        assert!(times(&all_day).is_none());
        assert!(
            event_id_for(Uuid::nil())
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
        );
    }
}
