//! Rules and queries for tasks. Every function is scoped to the caller's workspace: a task of
//! another workspace is indistinguishable from one that does not exist.

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{
    TaskView,
    entity::{self as task, TaskPriority, TaskStatus},
};
use crate::{
    directory::entity::membership,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, contains_pattern, count as count_rows},
        error::{ApiError, FieldErrors},
        money,
        outbox::EventType,
        pagination::PageRequest,
        time::{self as clock, parse_date},
        validate::{optional_text, required_text},
    },
    tracking::projects::service as projects,
};

const NAME_MAX: usize = 500;
const DESCRIPTION_MAX: usize = 10_000;
const EXTERNAL_REF_MAX: usize = 128;

/// Filters of the task list.
#[derive(Debug, Default)]
pub struct TaskFilter {
    pub project_id: Option<Uuid>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

/// Fields of a new task. `project_id` and `name` are required; they are options here so that
/// one answer can name every missing field.
#[derive(Debug, Default)]
pub struct NewTask {
    pub project_id: Option<Uuid>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub assignee_id: Option<Uuid>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub estimated_hours: Option<Decimal>,
    pub external_ref: Option<String>,
}

/// Changes to a task; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub project_id: Option<Uuid>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub assignee_id: Option<Option<Uuid>>,
    pub due_date: Option<Option<String>>,
    pub estimated_hours: Option<Option<Decimal>>,
    pub external_ref: Option<Option<String>>,
}

fn check_due_date(errors: &mut FieldErrors, text: Option<String>) -> Option<Date> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    parse_date(&text)
        .map_err(|e| errors.add("due_date", e))
        .ok()
}

fn check_hours(errors: &mut FieldErrors, hours: Option<Decimal>) -> Option<i64> {
    hours.and_then(|h| money::check("estimated_hours", h, false, errors))
}

/// A `project_id` must name a project of the same workspace.
async fn check_project<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    project_id: Uuid,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    match projects::find(db, workspace_id, project_id).await {
        Ok(_) => Ok(()),
        Err(ApiError::NotFound(_)) => {
            errors.add("project_id", "no such project in this workspace");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// An assignee must be a member of the workspace.
async fn check_assignee<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    assignee_id: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), DbErr> {
    let Some(user_id) = assignee_id else {
        return Ok(());
    };
    let found = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    if found.is_none() {
        errors.add("assignee_id", "is not a member of this workspace");
    }
    Ok(())
}

/// `completed_at` after a change of status: stamped on becoming done, kept while done,
/// cleared on leaving done.
fn completed_at(
    before: Option<(TaskStatus, Option<OffsetDateTime>)>,
    after: TaskStatus,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    match (before, after) {
        (Some((TaskStatus::Done, stamp)), TaskStatus::Done) => stamp.or(Some(now)),
        (_, TaskStatus::Done) => Some(now),
        _ => None,
    }
}

/// One page of the workspace's tasks, oldest first (by `created_at`, then id).
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &TaskFilter,
    page: PageRequest,
) -> Result<(Vec<TaskView>, u64), ApiError> {
    let mut cond = Condition::all().add(task::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(project_id) = filter.project_id {
        cond = cond.add(task::Column::ProjectId.eq(project_id));
    }
    if let Some(status) = filter.status {
        cond = cond.add(task::Column::Status.eq(status));
    }
    if let Some(assignee_id) = filter.assignee_id {
        cond = cond.add(task::Column::AssigneeId.eq(assignee_id));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        cond = cond.add(
            Expr::expr(Func::lower(Expr::col(task::Column::Name))).like(contains_pattern(search)),
        );
    }
    let total = count_rows(task::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = task::Entity::find()
        .filter(cond)
        .order_by_asc(task::Column::CreatedAt)
        .order_by_asc(task::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(TaskView::from).collect(), total))
}

/// The task, when it exists in this workspace (404 "Task" otherwise). For other capabilities
/// too: time entries check their `task_id` with it.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<task::Model, ApiError> {
    task::Entity::find_by_id(id)
        .filter(task::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Task"))
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<TaskView, ApiError> {
    find(db.conn(), acting.workspace_id, id)
        .await
        .map(TaskView::from)
}

/// Creates a task: `todo` and `medium` unless told otherwise; created `done`, it is stamped
/// completed. Recorded as `task.created`.
pub async fn create(db: &Db, acting: &Acting, new: NewTask) -> Result<TaskView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = match &new.name {
        Some(name) => required_text(&mut errors, "name", name, NAME_MAX),
        None => {
            errors.add("name", "is required");
            String::new()
        }
    };
    if new.project_id.is_none() {
        errors.add("project_id", "is required");
    }
    let description = optional_text(&mut errors, "description", new.description, DESCRIPTION_MAX);
    let due_date = check_due_date(&mut errors, new.due_date);
    let estimate = check_hours(&mut errors, new.estimated_hours);
    let external_ref = optional_text(
        &mut errors,
        "external_ref",
        new.external_ref,
        EXTERNAL_REF_MAX,
    );

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    if let Some(project_id) = new.project_id {
        check_project(&*change, acting.workspace_id, project_id, &mut errors).await?;
    }
    check_assignee(&*change, acting.workspace_id, new.assignee_id, &mut errors).await?;
    errors.into_result()?;

    let row = TaskRow {
        // Present: a missing project_id was refused above.
        project_id: new.project_id.unwrap_or_default(),
        name,
        description,
        status: new.status.unwrap_or(TaskStatus::Todo),
        priority: new.priority.unwrap_or(TaskPriority::Medium),
        assignee_id: new.assignee_id,
        due_date,
        estimate,
        external_ref,
    };
    let view = insert(&mut change, acting.workspace_id, row).await?;
    change.commit().await?;
    Ok(view)
}

/// A new task's checked fields.
struct TaskRow {
    project_id: Uuid,
    name: String,
    description: Option<String>,
    status: TaskStatus,
    priority: TaskPriority,
    assignee_id: Option<Uuid>,
    due_date: Option<Date>,
    estimate: Option<i64>,
    external_ref: Option<String>,
}

/// Inserts a task and records `task.created`.
async fn insert(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    row: TaskRow,
) -> Result<TaskView, ApiError> {
    let now = clock::now();
    let inserted = task::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        project_id: Set(row.project_id),
        name: Set(row.name),
        description: Set(row.description),
        status: Set(row.status),
        priority: Set(row.priority),
        assignee_id: Set(row.assignee_id),
        due_date: Set(row.due_date),
        estimated_hours: Set(row.estimate),
        external_ref: Set(row.external_ref),
        completed_at: Set(completed_at(None, row.status, now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let view = TaskView::from(inserted);
    change.record(EventType::TaskCreated, view.id, &view)?;
    Ok(view)
}

/// Changes, checked but not yet applied.
struct CheckedChanges {
    name: Option<String>,
    description: Option<Option<String>>,
    due_date: Option<Option<Date>>,
    estimate: Option<Option<i64>>,
    external_ref: Option<Option<String>>,
}

fn check_changes(errors: &mut FieldErrors, changes: &mut TaskChanges) -> CheckedChanges {
    CheckedChanges {
        name: changes
            .name
            .take()
            .map(|n| required_text(errors, "name", &n, NAME_MAX)),
        description: changes
            .description
            .take()
            .map(|d| optional_text(errors, "description", d, DESCRIPTION_MAX)),
        due_date: changes.due_date.take().map(|d| check_due_date(errors, d)),
        estimate: changes
            .estimated_hours
            .take()
            .map(|h| check_hours(errors, h)),
        external_ref: changes
            .external_ref
            .take()
            .map(|r| optional_text(errors, "external_ref", r, EXTERNAL_REF_MAX)),
    }
}

/// Applies changes to a task. The change that makes it `done` is recorded as
/// `task.completed`; any other as `task.updated`.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    mut changes: TaskChanges,
) -> Result<TaskView, ApiError> {
    let mut errors = FieldErrors::new();
    let checked = check_changes(&mut errors, &mut changes);
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    if let Some(project_id) = changes.project_id {
        check_project(&*change, acting.workspace_id, project_id, &mut errors).await?;
    }
    if let Some(assignee_id) = changes.assignee_id {
        check_assignee(&*change, acting.workspace_id, assignee_id, &mut errors).await?;
    }
    errors.into_result()?;

    let before = (existing.status, existing.completed_at);
    let mut active: task::ActiveModel = existing.into();
    apply(&mut active, changes, checked, before);
    let updated = active.update(&*change).await?;
    let view = TaskView::from(updated);
    record_update(&mut change, before.0, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Sets the changed fields; a new status also settles `completed_at`.
fn apply(
    active: &mut task::ActiveModel,
    changes: TaskChanges,
    checked: CheckedChanges,
    before: (TaskStatus, Option<OffsetDateTime>),
) {
    let now = clock::now();
    if let Some(project_id) = changes.project_id {
        active.project_id = Set(project_id);
    }
    if let Some(name) = checked.name {
        active.name = Set(name);
    }
    if let Some(description) = checked.description {
        active.description = Set(description);
    }
    if let Some(status) = changes.status {
        active.status = Set(status);
        active.completed_at = Set(completed_at(Some(before), status, now));
    }
    if let Some(priority) = changes.priority {
        active.priority = Set(priority);
    }
    if let Some(assignee_id) = changes.assignee_id {
        active.assignee_id = Set(assignee_id);
    }
    if let Some(due_date) = checked.due_date {
        active.due_date = Set(due_date);
    }
    if let Some(estimate) = checked.estimate {
        active.estimated_hours = Set(estimate);
    }
    if let Some(external_ref) = checked.external_ref {
        active.external_ref = Set(external_ref);
    }
    active.updated_at = Set(now);
}

/// `task.completed` when the change made the task done, else `task.updated`.
fn record_update(
    change: &mut WorkspaceChange,
    status_before: TaskStatus,
    view: &TaskView,
) -> Result<(), DbErr> {
    let event = if status_before != TaskStatus::Done && view.status == TaskStatus::Done {
        EventType::TaskCompleted
    } else {
        EventType::TaskUpdated
    };
    change.record(event, view.id, view)
}

/// Deletes a task. Time entries that referred to it keep their time and lose the task (the
/// database sets their `task_id` to null); only `task.deleted` is recorded.
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<TaskView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    task::Entity::delete_by_id(id).exec(&*change).await?;
    let view = TaskView::from(existing);
    change.record(EventType::TaskDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// For connectors: creates the task with this `external_ref`, or brings the existing one in
/// line with `project_id`, `name`, `description` and `priority` (`None` keeps the task's
/// priority; `medium` for a new task). Its status is left alone. Answers the task and whether
/// it was created. Records `task.created`, or `task.updated` when something changed (nothing
/// is recorded when the task already matched).
pub async fn upsert_by_external_ref(
    db: &Db,
    acting: &Acting,
    project_id: Uuid,
    external_ref: &str,
    name: &str,
    description: Option<&str>,
    priority: Option<TaskPriority>,
) -> Result<(TaskView, bool), ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let upserted = upsert_by_external_ref_in(
        &mut change,
        project_id,
        external_ref,
        name,
        description,
        priority,
    )
    .await?;
    change.commit().await?;
    Ok(upserted)
}

/// [`upsert_by_external_ref`] inside a change the caller commits (a connector's webhook,
/// recorded in the same transaction).
pub async fn upsert_by_external_ref_in(
    change: &mut WorkspaceChange,
    project_id: Uuid,
    external_ref: &str,
    name: &str,
    description: Option<&str>,
    priority: Option<TaskPriority>,
) -> Result<(TaskView, bool), ApiError> {
    let workspace_id = bound_workspace(change)?;
    let mut errors = FieldErrors::new();
    let external_ref = required_text(&mut errors, "external_ref", external_ref, EXTERNAL_REF_MAX);
    let name = required_text(&mut errors, "name", &truncated(name, NAME_MAX), NAME_MAX);
    let description = optional_text(
        &mut errors,
        "description",
        description.map(|d| truncated(d, DESCRIPTION_MAX)),
        DESCRIPTION_MAX,
    );
    check_project(&**change, workspace_id, project_id, &mut errors).await?;
    errors.into_result()?;
    let existing = find_by_external_ref(&**change, workspace_id, &external_ref).await?;
    let Some(existing) = existing else {
        let row = TaskRow {
            project_id,
            name,
            description,
            status: TaskStatus::Todo,
            priority: priority.unwrap_or(TaskPriority::Medium),
            assignee_id: None,
            due_date: None,
            estimate: None,
            external_ref: Some(external_ref),
        };
        let view = insert(change, workspace_id, row).await?;
        return Ok((view, true));
    };
    let wanted = Synced {
        project_id,
        priority: priority.unwrap_or(existing.priority),
        name,
        description,
    };
    if wanted.matches(&existing) {
        return Ok((TaskView::from(existing), false));
    }
    let view = sync(change, existing, wanted).await?;
    Ok((view, false))
}

/// A connector's new task, for [`insert_many_in`].
pub struct ConnectorTask {
    pub external_ref: String,
    pub name: String,
    pub description: Option<String>,
    pub priority: Option<TaskPriority>,
}

/// For connectors applying many deliveries in one change: inserts new `todo` tasks of one
/// project in one statement and records `task.created` for each. The caller has checked that
/// none of the references exists yet; a reference taken meanwhile fails the whole insert.
pub async fn insert_many_in(
    change: &mut WorkspaceChange,
    project_id: Uuid,
    tasks: Vec<ConnectorTask>,
) -> Result<Vec<TaskView>, ApiError> {
    let workspace_id = bound_workspace(change)?;
    let mut errors = FieldErrors::new();
    check_project(&**change, workspace_id, project_id, &mut errors).await?;
    errors.into_result()?;
    let now = clock::now();
    let models: Vec<task::Model> = tasks
        .into_iter()
        .map(|t| task::Model {
            id: Uuid::now_v7(),
            workspace_id,
            project_id,
            name: non_empty(truncated(t.name.trim(), NAME_MAX), "Untitled"),
            description: t
                .description
                .map(|d| truncated(d.trim(), DESCRIPTION_MAX))
                .filter(|d| !d.is_empty()),
            status: TaskStatus::Todo,
            priority: t.priority.unwrap_or(TaskPriority::Medium),
            assignee_id: None,
            due_date: None,
            estimated_hours: None,
            external_ref: Some(truncated(&t.external_ref, EXTERNAL_REF_MAX)),
            completed_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    // 14 columns a row: chunks of 500 stay far below SQLite's limit of bound variables.
    for chunk in models.chunks(500) {
        let rows: Vec<task::ActiveModel> = chunk.iter().cloned().map(Into::into).collect();
        task::Entity::insert_many(rows).exec(&**change).await?;
    }
    let mut views = Vec::with_capacity(models.len());
    for model in models {
        let view = TaskView::from(model);
        change.record(EventType::TaskCreated, view.id, &view)?;
        views.push(view);
    }
    Ok(views)
}

/// Which of these references the workspace's tasks already carry.
pub async fn existing_external_refs<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    refs: &[String],
) -> Result<Vec<String>, DbErr> {
    let mut found = Vec::new();
    for chunk in refs.chunks(500) {
        let rows: Vec<Option<String>> = task::Entity::find()
            .select_only()
            .column(task::Column::ExternalRef)
            .filter(task::Column::WorkspaceId.eq(workspace_id))
            .filter(task::Column::ExternalRef.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().flatten());
    }
    Ok(found)
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    }
}

/// The workspace's task with this `external_ref`, if any.
pub async fn find_by_external_ref<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    external_ref: &str,
) -> Result<Option<task::Model>, DbErr> {
    task::Entity::find()
        .filter(task::Column::WorkspaceId.eq(workspace_id))
        .filter(task::Column::ExternalRef.eq(external_ref))
        .one(db)
        .await
}

/// For connectors, inside their change: sets the status of the task with this `external_ref`
/// (`task.completed` when it becomes done). `None` when there is no such task; nothing is
/// recorded when it already had the status.
pub async fn set_status_by_external_ref_in(
    change: &mut WorkspaceChange,
    external_ref: &str,
    status: TaskStatus,
) -> Result<Option<TaskView>, ApiError> {
    let workspace_id = bound_workspace(change)?;
    let Some(existing) = find_by_external_ref(&**change, workspace_id, external_ref).await? else {
        return Ok(None);
    };
    if existing.status == status {
        return Ok(Some(TaskView::from(existing)));
    }
    let before = (existing.status, existing.completed_at);
    let mut active: task::ActiveModel = existing.into();
    let now = clock::now();
    active.status = Set(status);
    active.completed_at = Set(completed_at(Some(before), status, now));
    active.updated_at = Set(now);
    let view = TaskView::from(active.update(&**change).await?);
    record_update(change, before.0, &view)?;
    Ok(Some(view))
}

/// The workspace a change was begun on.
fn bound_workspace(change: &WorkspaceChange) -> Result<Uuid, ApiError> {
    change
        .workspace_id()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a connector change has no workspace")))
}

/// At most `max` characters (connectors take names from elsewhere: cut, not refused).
fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// What a connector keeps in step on its task.
struct Synced {
    project_id: Uuid,
    name: String,
    description: Option<String>,
    priority: TaskPriority,
}

impl Synced {
    fn matches(&self, task: &task::Model) -> bool {
        task.project_id == self.project_id
            && task.name == self.name
            && task.description == self.description
            && task.priority == self.priority
    }
}

/// Brings a connector's task in line (`task.updated`).
async fn sync(
    change: &mut WorkspaceChange,
    existing: task::Model,
    wanted: Synced,
) -> Result<TaskView, ApiError> {
    let before = existing.status;
    let mut active: task::ActiveModel = existing.into();
    active.project_id = Set(wanted.project_id);
    active.name = Set(wanted.name);
    active.description = Set(wanted.description);
    active.priority = Set(wanted.priority);
    active.updated_at = Set(clock::now());
    let view = TaskView::from(active.update(&**change).await?);
    record_update(change, before, &view)?;
    Ok(view)
}
