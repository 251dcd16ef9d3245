//! Rules and queries for time entries: listing with filters, and single creates, updates and
//! deletes. Members see and change only their own entries; admins everyone's. An entry billed
//! on an invoice keeps its times, project and billable flag until the invoice releases it.

use ::time::OffsetDateTime;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{
    TimeEntryChanged, TimeEntryView, entity as entry,
    idempotency::{self, Presented},
    tagging, views,
};
use crate::{
    directory::entity::membership,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        constraints,
        db::{Db, count as count_rows},
        error::{ApiError, FieldErrors},
        outbox::EventType,
        pagination::PageRequest,
        time::{self, parse_datetime},
        validate::optional_text,
    },
    tracking::projects::{ProjectStatus, entity as project},
};

/// Longest accepted note.
pub const MAX_NOTES: usize = 5000;

/// Filters of the time-entry list. `user_id` is already what the caller may see.
#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub user_id: Option<Uuid>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub billable: Option<bool>,
    /// Include running timers (by default only finished entries are listed).
    pub include_running: bool,
}

/// A new finished entry, as sent.
#[derive(Debug, Default)]
pub struct NewEntry {
    /// Whose entry (admins only; default: the caller).
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    pub billable: Option<bool>,
    pub paid: Option<bool>,
}

/// Changes to an entry; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct EntryChanges {
    pub project_id: Option<Option<Uuid>>,
    pub task_id: Option<Option<Uuid>>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub notes: Option<Option<String>>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    pub billable: Option<bool>,
    pub paid: Option<bool>,
}

/// One page of entries, newest start first.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &EntryFilter,
    page: PageRequest,
) -> Result<(Vec<TimeEntryView>, u64), ApiError> {
    let mut cond = Condition::all().add(entry::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(user_id) = filter.user_id {
        cond = cond.add(entry::Column::UserId.eq(user_id));
    }
    if let Some(start) = filter.start {
        cond = cond.add(entry::Column::StartTime.gte(start));
    }
    if let Some(end) = filter.end {
        cond = cond.add(entry::Column::StartTime.lte(end));
    }
    if let Some(project_id) = filter.project_id {
        cond = cond.add(entry::Column::ProjectId.eq(project_id));
    }
    if let Some(task_id) = filter.task_id {
        cond = cond.add(entry::Column::TaskId.eq(task_id));
    }
    if let Some(billable) = filter.billable {
        cond = cond.add(entry::Column::Billable.eq(billable));
    }
    if !filter.include_running {
        cond = cond.add(entry::Column::EndTime.is_not_null());
    }
    let total = count_rows(entry::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = entry::Entity::find()
        .filter(cond)
        .order_by_desc(entry::Column::StartTime)
        .order_by_desc(entry::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((views(db.conn(), rows).await?, total))
}

/// The entry, when it exists in the workspace and the caller may see it (404 / 403).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    id: Uuid,
) -> Result<entry::Model, ApiError> {
    let found = entry::Entity::find_by_id(id)
        .filter(entry::Column::WorkspaceId.eq(acting.workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Time entry"))?;
    if !acting.may_access(found.user_id) {
        return Err(ApiError::Forbidden(
            "This time entry belongs to another user".into(),
        ));
    }
    Ok(found)
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<TimeEntryView, ApiError> {
    let found = find(db.conn(), acting, id).await?;
    Ok(views(db.conn(), vec![found]).await?.remove(0))
}

/// Checks that a project (and a task of it) exist in the workspace, recording problems under
/// `project_id` / `task_id`. A task needs a project; it must be of that project.
pub async fn check_links<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<Option<project::Model>, ApiError> {
    let project = match project_id {
        None => None,
        Some(id) => {
            let found = project::Entity::find_by_id(id)
                .filter(project::Column::WorkspaceId.eq(workspace_id))
                .one(db)
                .await?;
            if found.is_none() {
                errors.add("project_id", "no such project in this workspace");
            }
            found
        }
    };
    if let Some(task_id) = task_id {
        match (project_id, task_project(db, workspace_id, task_id).await?) {
            (_, None) => errors.add("task_id", "no such task in this workspace"),
            (None, Some(_)) => errors.add("task_id", "a task needs a project_id"),
            (Some(p), Some(task_project)) if p != task_project => {
                errors.add("task_id", "the task belongs to another project")
            }
            _ => {}
        }
    }
    Ok(project)
}

/// The project of a task of the workspace, if there is such a task.
pub(super) async fn task_project<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    task_id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let query = Query::select()
        .column(Alias::new("project_id"))
        .from(Alias::new("tasks"))
        .and_where(Expr::col(Alias::new("id")).eq(task_id))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(workspace_id))
        .take();
    match db.query_one(&query).await? {
        Some(row) => Ok(Some(row.try_get_by_index(0)?)),
        None => Ok(None),
    }
}

/// The user an admin names must be a member of the workspace; members act for themselves.
async fn owner_for<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    asked: Option<Uuid>,
) -> Result<Uuid, ApiError> {
    match asked {
        None => Ok(acting.user_id),
        Some(user) if user == acting.user_id => Ok(user),
        Some(_) if !acting.is_admin => Err(ApiError::Forbidden(
            "Only admins can create time entries for other users".into(),
        )),
        Some(user) => {
            let member = membership::Entity::find()
                .filter(membership::Column::WorkspaceId.eq(acting.workspace_id))
                .filter(membership::Column::UserId.eq(user))
                .one(db)
                .await?;
            member
                .map(|_| user)
                .ok_or_else(|| ApiError::invalid("user_id", "no such member of this workspace"))
        }
    }
}

fn parse_time(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
) -> Option<OffsetDateTime> {
    match value {
        None => {
            errors.add(field, "is required");
            None
        }
        Some(text) => parse_datetime(text)
            .map_err(|problem| errors.add(field, problem))
            .ok(),
    }
}

/// `end - start` in seconds, when the end is after the start.
fn duration(errors: &mut FieldErrors, start: OffsetDateTime, end: OffsetDateTime) -> i64 {
    let seconds = (end - start).whole_seconds();
    if end <= start {
        errors.add("end_time", "must be after start_time");
    }
    seconds
}

/// The fields of a finished entry, checked: what `create` and the CSV import insert.
pub struct CheckedEntry {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub billable: bool,
    pub paid: bool,
}

/// Inserts a checked, finished entry and its tags inside `change`, records
/// `time_entry.created`, and returns the view.
pub async fn insert(
    change: &mut WorkspaceChange,
    entry: CheckedEntry,
    source: &str,
) -> Result<TimeEntryView, ApiError> {
    let now = time::now();
    let model = entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(entry.workspace_id),
        user_id: Set(entry.user_id),
        project_id: Set(entry.project_id),
        task_id: Set(entry.task_id),
        start_time: Set(entry.start),
        end_time: Set(Some(entry.end)),
        duration_seconds: Set(Some((entry.end - entry.start).whole_seconds())),
        notes: Set(entry.notes),
        billable: Set(entry.billable),
        paid: Set(entry.paid),
        invoice_id: Set(None),
        source: Set(source.to_owned()),
        running_user_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let names = tagging::set_tags(change, model.id, &entry.tags).await?;
    let view = TimeEntryView::new(model, names);
    change.record(EventType::TimeEntryCreated, view.id, &view)?;
    Ok(view)
}

/// What `create` did.
pub enum Created {
    /// The entry, and the exact JSON answer (a keyed request remembers it).
    New(Box<TimeEntryView>, String),
    /// A concurrent request with the same `Idempotency-Key` committed first: nothing was
    /// written; replay that request's answer.
    KeyTaken,
}

/// Creates a finished entry (a running one is started with `/timer/start`). A keyed request
/// remembers its answer in the same transaction as the entry.
pub async fn create(
    db: &Db,
    acting: &Acting,
    new: NewEntry,
    key: Option<&Presented>,
) -> Result<Created, ApiError> {
    let mut errors = FieldErrors::new();
    let start = parse_time(&mut errors, "start_time", new.start_time.as_deref());
    let end = match new.end_time.as_deref() {
        None => {
            errors.add(
                "end_time",
                "is required (start a running timer with POST /api/v1/timer/start)",
            );
            None
        }
        some => parse_time(&mut errors, "end_time", some),
    };
    if let (Some(start), Some(end)) = (start, end) {
        duration(&mut errors, start, end);
    }
    let notes = optional_text(&mut errors, "notes", new.notes, MAX_NOTES);
    let tags = tagging::check_names(&mut errors, new.tags.unwrap_or_default());

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let user_id = owner_for(&*change, acting, new.user_id).await?;
    let project = check_links(
        &*change,
        acting.workspace_id,
        new.project_id,
        new.task_id,
        &mut errors,
    )
    .await?;
    errors.into_result()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::invalid("start_time", "is required"));
    };
    let checked = CheckedEntry {
        workspace_id: acting.workspace_id,
        user_id,
        project_id: new.project_id,
        task_id: new.task_id,
        start,
        end,
        notes,
        tags,
        billable: new
            .billable
            .unwrap_or_else(|| project.as_ref().is_none_or(|p| p.billable)),
        paid: new.paid.unwrap_or(false),
    };
    let view = insert(&mut change, checked, "manual").await?;
    let body = serde_json::to_string(&TimeEntryChanged {
        message: "Time entry created successfully".into(),
        time_entry: view.clone(),
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(key) = key {
        match idempotency::remember(&*change, key, 201, &body).await {
            Err(e) if constraints::violated(&e, &idempotency::TOKEN_KEY) => {
                return Ok(Created::KeyTaken);
            }
            other => other?,
        }
    }
    change.commit().await?;
    Ok(Created::New(Box::new(view), body))
}

/// Refuses changes to what an invoice billed.
fn check_not_billed(entry: &entry::Model, changes: &EntryChanges) -> Result<(), ApiError> {
    let billed_fields_change = changes.start_time.is_some()
        || changes.end_time.is_some()
        || changes.project_id.is_some()
        || changes.billable.is_some();
    match entry.invoice_id {
        Some(invoice) if billed_fields_change => Err(ApiError::Conflict(format!(
            "The entry is billed on invoice {invoice}: its times, project and billable flag \
             cannot change until the invoice is cancelled"
        ))),
        _ => Ok(()),
    }
}

/// Applies changes to an entry.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: EntryChanges,
) -> Result<TimeEntryView, ApiError> {
    let mut errors = FieldErrors::new();
    let start = changes
        .start_time
        .as_deref()
        .and_then(|t| parse_time(&mut errors, "start_time", Some(t)));
    let end = changes
        .end_time
        .as_deref()
        .and_then(|t| parse_time(&mut errors, "end_time", Some(t)));
    let notes = changes
        .notes
        .clone()
        .map(|n| optional_text(&mut errors, "notes", n, MAX_NOTES));
    let tags = changes
        .tags
        .clone()
        .map(|t| tagging::check_names(&mut errors, t));

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    check_not_billed(&existing, &changes)?;
    let running = existing.end_time.is_none();
    if running && end.is_some() {
        return Err(ApiError::Conflict(
            "The entry is a running timer: stop it with POST /api/v1/timer/stop".into(),
        ));
    }
    let project_id = changes.project_id.unwrap_or(existing.project_id);
    // Moving to another project drops a task of the old one unless a task is named too.
    let task_id = match changes.task_id {
        Some(task) => task,
        None if project_id != existing.project_id => None,
        None => existing.task_id,
    };
    check_links(
        &*change,
        acting.workspace_id,
        project_id,
        task_id,
        &mut errors,
    )
    .await?;
    let new_start = start.unwrap_or(existing.start_time);
    let new_end = end.or(existing.end_time);
    // New times must make an entry of at least a second; a 0-second entry a timer left (see
    // `timer::StopAt`) keeps its times while its other fields change.
    let times_change = start.is_some() || end.is_some();
    let seconds = new_end.map(|e| {
        if times_change {
            duration(&mut errors, new_start, e)
        } else {
            (e - new_start).whole_seconds()
        }
    });
    errors.into_result()?;

    let mut active: entry::ActiveModel = existing.into();
    active.project_id = Set(project_id);
    active.task_id = Set(task_id);
    active.start_time = Set(new_start);
    active.end_time = Set(new_end);
    active.duration_seconds = Set(seconds);
    if let Some(notes) = notes {
        active.notes = Set(notes);
    }
    if let Some(billable) = changes.billable {
        active.billable = Set(billable);
    }
    if let Some(paid) = changes.paid {
        active.paid = Set(paid);
    }
    active.updated_at = Set(time::now());
    let model = active.update(&*change).await?;
    let names = match tags {
        Some(tags) => tagging::set_tags(&mut change, model.id, &tags).await?,
        None => super::tag_names(&*change, vec![model.id])
            .await?
            .remove(&model.id)
            .unwrap_or_default(),
    };
    let view = TimeEntryView::new(model, names);
    change.record(EventType::TimeEntryUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Deletes a finished, unbilled entry; it can be restored for a while (see `restore`).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<TimeEntryView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if existing.end_time.is_none() {
        return Err(ApiError::Conflict(
            "Cannot delete a running timer: stop it first with POST /api/v1/timer/stop".into(),
        ));
    }
    if let Some(invoice) = existing.invoice_id {
        return Err(ApiError::Conflict(format!(
            "The entry is billed on invoice {invoice}; cancel the invoice first"
        )));
    }
    let view = views(&*change, vec![existing]).await?.remove(0);
    super::restore::keep_deleted(&change, acting.workspace_id, std::slice::from_ref(&view)).await?;
    entry::Entity::delete_by_id(id).exec(&*change).await?;
    change.record(EventType::TimeEntryDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Whether a project accepts a new running timer.
pub fn check_project_takes_time(project: &project::Model) -> Result<(), ApiError> {
    if project.status == ProjectStatus::Archived {
        return Err(ApiError::invalid(
            "project_id",
            "the project is archived; unarchive it to track time on it",
        ));
    }
    Ok(())
}
