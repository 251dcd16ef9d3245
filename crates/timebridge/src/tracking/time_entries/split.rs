//! `POST /api/v1/time-entries/{id}/split`: one finished entry becomes two at a moment inside
//! it. The entry keeps its id and ends at that moment; a new entry with the same user,
//! project, task, notes, tags and flags runs from it to the old end. Events:
//! `time_entry.updated` (the first part), `time_entry.created` (the second) and
//! `time_entry.split` (both).

use axum::extract::State;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{TimeEntryView, entity as entry, rfc3339, service, views};
use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        db::Db,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        outbox::EventType,
        time::{self as clock, parse_datetime},
    },
    tracking::tags::entity::entry_tag,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(split_entry))
}

#[derive(Deserialize, ToSchema)]
pub struct SplitTimeEntry {
    /// Required (not `null`): where the entry splits, strictly after its start and before its
    /// end (ISO 8601 date-time; without an offset it is UTC; kept to the second).
    #[schema(required = true, nullable = false, format = DateTime, example = "2026-11-30T09:45:00Z")]
    pub at: Option<String>,
}

/// What `time_entry.split` carries: the entries a split left.
#[derive(Clone, Serialize, ToSchema)]
pub struct TimeEntrySplit {
    /// The entry up to the split (its id unchanged), then the new entry from it.
    pub time_entries: Vec<TimeEntryView>,
}

/// The answer to a split.
#[derive(Serialize, ToSchema)]
pub struct TimeEntrySplitChanged {
    #[schema(example = "Time entry split successfully")]
    pub message: String,
    #[serde(flatten)]
    pub split: TimeEntrySplit,
}

/// Splits a finished, unbilled entry at `at`.
pub async fn split(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    at: Option<&str>,
) -> Result<TimeEntrySplit, ApiError> {
    let at = match at {
        None => Err("is required: the moment the entry splits (ISO 8601)".to_owned()),
        Some(text) => parse_datetime(text),
    }
    .map_err(|problem| ApiError::invalid("at", problem))?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = service::find(&*change, acting, id).await?;
    let Some(end) = existing.end_time else {
        return Err(ApiError::Conflict(
            "The entry is a running timer: stop it with POST /api/v1/timer/stop first".into(),
        ));
    };
    if let Some(invoice) = existing.invoice_id {
        return Err(ApiError::Conflict(format!(
            "The entry is billed on invoice {invoice}: its times cannot change until the \
             invoice is cancelled"
        )));
    }
    if at <= existing.start_time || at >= end {
        return Err(ApiError::invalid(
            "at",
            format!(
                "must be after the entry's start_time ({}) and before its end_time ({})",
                rfc3339(existing.start_time),
                rfc3339(end)
            ),
        ));
    }
    let now = clock::now();
    let mut first: entry::ActiveModel = existing.clone().into();
    first.end_time = Set(Some(at));
    first.duration_seconds = Set(Some((at - existing.start_time).whole_seconds()));
    first.updated_at = Set(now);
    let first = first.update(&*change).await?;
    let second = entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        start_time: Set(at),
        end_time: Set(Some(end)),
        duration_seconds: Set(Some((end - at).whole_seconds())),
        created_at: Set(now),
        updated_at: Set(now),
        ..existing.clone().into_active_model().reset_all()
    }
    .insert(&*change)
    .await?;
    copy_tags(&change, id, second.id).await?;
    let time_entries = views(&*change, vec![first, second]).await?;
    change.record(EventType::TimeEntryUpdated, id, &time_entries[0])?;
    change.record(
        EventType::TimeEntryCreated,
        time_entries[1].id,
        &time_entries[1],
    )?;
    let split = TimeEntrySplit { time_entries };
    change.record(EventType::TimeEntrySplit, id, &split)?;
    change.commit().await?;
    Ok(split)
}

async fn copy_tags(change: &WorkspaceChange, from: Uuid, to: Uuid) -> Result<(), ApiError> {
    let tag_ids: Vec<Uuid> = entry_tag::Entity::find()
        .filter(entry_tag::Column::TimeEntryId.eq(from))
        .select_only()
        .column(entry_tag::Column::TagId)
        .into_tuple()
        .all(&**change)
        .await?;
    if tag_ids.is_empty() {
        return Ok(());
    }
    let links = tag_ids.into_iter().map(|tag_id| entry_tag::ActiveModel {
        time_entry_id: Set(to),
        tag_id: Set(tag_id),
    });
    entry_tag::Entity::insert_many(links)
        .exec(&**change)
        .await?;
    Ok(())
}

/// Split a finished, unbilled time entry in two at `at`: the entry (same id) ends there, a new
/// entry with the same project, task, notes, tags and flags runs from there to the old end.
#[utoipa::path(
    post, path = "/api/v1/time-entries/{id}/split", tag = "time entries",
    params(("id" = Uuid, Path, description = "Time entry id")),
    request_body = SplitTimeEntry,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "The two entries, earlier first", body = TimeEntrySplitChanged),
        (status = 400, description = "`at` missing, unreadable, or not strictly inside the entry", body = ErrorBody),
        (status = 403, description = "Another user's entry (members)", body = ErrorBody),
        (status = 404, description = "No such entry in this workspace", body = ErrorBody),
        (status = 409, description = "A running timer, or billed on an invoice", body = ErrorBody),
    )
)]
async fn split_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<SplitTimeEntry>,
) -> Result<Json<TimeEntrySplitChanged>, ApiError> {
    let split = split(&app.db, &caller.acting(), id, body.at.as_deref()).await?;
    Ok(Json(TimeEntrySplitChanged {
        message: "Time entry split successfully".into(),
        split,
    }))
}
