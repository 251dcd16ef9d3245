//! Deleted time entries and `POST /api/v1/time-entries/{id}/restore`. Deleting an entry (alone
//! or in bulk) moves a copy of it to the platform's kept records in the same change, so it
//! vanishes from every list and report at once; for `DELETED_RETENTION_DAYS` it can be put
//! back with its id, times, notes, tags and flags. What it referred to and has since gone (its
//! task, its project, a tag) is left out of the restored entry.

use axum::{extract::State, http::StatusCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{TimeEntryChanged, TimeEntryView, entity as entry, service, tagging};
use crate::{
    app::AppState,
    directory::entity::membership,
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        db::Db,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        outbox::EventType,
        time as clock,
        trash::{self, Kept},
    },
    tracking::projects::entity as project,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(restore_entry))
}

/// The kind of the kept copies.
const RESOURCE: &str = "time_entry";

/// What is kept of a deleted entry: everything needed to put it back. Deleted entries are
/// always finished and never billed (deleting refuses running timers and billed entries).
#[derive(Serialize, Deserialize)]
struct DeletedEntry {
    user_id: Uuid,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    start_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    end_time: OffsetDateTime,
    notes: Option<String>,
    tags: Vec<String>,
    billable: bool,
    paid: bool,
    source: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl DeletedEntry {
    /// The entry back, with the project and task it keeps.
    fn into_entry(
        self,
        id: Uuid,
        workspace_id: Uuid,
        (project_id, task_id): (Option<Uuid>, Option<Uuid>),
    ) -> entry::ActiveModel {
        entry::ActiveModel {
            id: Set(id),
            workspace_id: Set(workspace_id),
            user_id: Set(self.user_id),
            project_id: Set(project_id),
            task_id: Set(task_id),
            start_time: Set(self.start_time),
            end_time: Set(Some(self.end_time)),
            duration_seconds: Set(Some((self.end_time - self.start_time).whole_seconds())),
            notes: Set(self.notes),
            billable: Set(self.billable),
            paid: Set(self.paid),
            invoice_id: Set(None),
            source: Set(self.source),
            running_user_id: Set(None),
            created_at: Set(self.created_at),
            updated_at: Set(clock::now()),
        }
    }
}

/// Keeps copies of entries being deleted in `change`, so they can be restored.
pub async fn keep_deleted(
    change: &WorkspaceChange,
    workspace_id: Uuid,
    deleted: &[TimeEntryView],
) -> Result<(), DbErr> {
    let records = deleted
        .iter()
        .map(|e| Kept {
            id: e.id,
            owner_id: Some(e.user_id),
            data: DeletedEntry {
                user_id: e.user_id,
                project_id: e.project_id,
                task_id: e.task_id,
                start_time: e.start_time,
                end_time: e.end_time.unwrap_or(e.start_time),
                notes: e.notes.clone(),
                tags: e.tag_list.clone(),
                billable: e.billable,
                paid: e.paid,
                source: e.source.clone(),
                created_at: e.created_at,
            },
        })
        .collect();
    trash::keep(&**change, workspace_id, RESOURCE, records, clock::now()).await
}

/// Purges deleted entries past the window; returns how many.
pub async fn purge(db: &Db, window_days: u32) -> Result<u64, DbErr> {
    let before = clock::now() - time::Duration::days(i64::from(window_days));
    trash::purge(db.conn(), RESOURCE, before).await
}

fn not_restorable(window_days: u32) -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "No time entry with this id was deleted in the last {window_days} days (deleted \
             entries can be restored for {window_days} days)"
        ),
    )
}

/// Puts a deleted entry back (`time_entry.restored`), within `window_days` of its deletion.
pub async fn restore(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    window_days: u32,
) -> Result<TimeEntryView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let live = entry::Entity::find_by_id(id)
        .filter(entry::Column::WorkspaceId.eq(acting.workspace_id))
        .one(&*change)
        .await?;
    if live.is_some() {
        service::find(&*change, acting, id).await?;
        return Err(ApiError::Conflict(
            "The time entry is not deleted: there is nothing to restore".into(),
        ));
    }
    let kept = trash::find::<_, DeletedEntry>(&*change, acting.workspace_id, RESOURCE, id)
        .await?
        .ok_or_else(|| not_restorable(window_days))?;
    let deleted = kept.data;
    if !acting.may_access(deleted.user_id) {
        return Err(ApiError::Forbidden(
            "This time entry belongs to another user".into(),
        ));
    }
    if kept.deleted_at < clock::now() - time::Duration::days(i64::from(window_days)) {
        return Err(not_restorable(window_days));
    }
    if !is_member(&*change, acting.workspace_id, deleted.user_id).await? {
        return Err(ApiError::Conflict(
            "The entry's user is no longer a member of this workspace".into(),
        ));
    }
    let links = surviving_links(
        &*change,
        acting.workspace_id,
        deleted.project_id,
        deleted.task_id,
    )
    .await?;
    let tags = deleted.tags.clone();
    let model = deleted
        .into_entry(id, acting.workspace_id, links)
        .insert(&*change)
        .await?;
    let names = tagging::link_existing(&change, model.id, &tags).await?;
    trash::forget(&*change, id).await?;
    let view = TimeEntryView::new(model, names);
    change.record(EventType::TimeEntryRestored, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

async fn is_member<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbErr> {
    let found = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// The project and task a restored entry keeps: those that still exist (a task only with
/// its project).
async fn surviving_links<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
) -> Result<(Option<Uuid>, Option<Uuid>), ApiError> {
    let Some(project_id) = project_id else {
        return Ok((None, None));
    };
    let project = project::Entity::find_by_id(project_id)
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?;
    if project.is_none() {
        return Ok((None, None));
    }
    let task_id = match task_id {
        Some(task) if service::task_project(db, workspace_id, task).await? == Some(project_id) => {
            Some(task)
        }
        _ => None,
    };
    Ok((Some(project_id), task_id))
}

/// Restore a deleted time entry (within `DELETED_RETENTION_DAYS` of its deletion) with its id,
/// times, notes, tags and flags; a task, project or tag deleted since is left out.
#[utoipa::path(
    post, path = "/api/v1/time-entries/{id}/restore", tag = "time entries",
    params(("id" = Uuid, Path, description = "The deleted time entry's id")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "The entry, back in lists and reports", body = TimeEntryChanged),
        (status = 403, description = "Another user's entry (members)", body = ErrorBody),
        (status = 404, description = "No entry with this id was deleted within the retention window", body = ErrorBody),
        (status = 409, description = "The entry is not deleted, or its user left the workspace", body = ErrorBody),
    )
)]
async fn restore_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimeEntryChanged>, ApiError> {
    let window = app.config.deleted_retention_days;
    let time_entry = restore(&app.db, &caller.acting(), id, window).await?;
    Ok(Json(TimeEntryChanged {
        message: "Time entry restored successfully".into(),
        time_entry,
    }))
}
