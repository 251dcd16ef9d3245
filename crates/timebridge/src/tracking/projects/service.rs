//! Rules and queries for projects. Every function is scoped to the caller's workspace: a
//! project of another workspace is indistinguishable from one that does not exist.

use axum::http::StatusCode;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    ProjectView,
    entity::{self as project, ProjectStatus},
};
use crate::{
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, contains_pattern, count as count_rows},
        error::{ApiError, FieldErrors},
        money,
        outbox::EventType,
        pagination::PageRequest,
        time,
        validate::{optional_text, required_text},
    },
    tracking::{
        clients::entity as client,
        expenses::entity as expense,
        invoices::entity::item as invoice_item,
        quotes::entity::item as quote_item,
        tasks::{TaskView, entity as task},
        time_entries::entity as time_entry,
    },
};

/// Filters of the project list.
#[derive(Debug, Default)]
pub struct ProjectFilter {
    pub status: Option<ProjectStatus>,
    pub client_id: Option<Uuid>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// Fields of a new project.
#[derive(Default)]
pub struct NewProject {
    pub name: String,
    pub client_id: Option<Uuid>,
    pub description: Option<String>,
    pub hourly_rate: Option<Decimal>,
    pub billable: Option<bool>,
    pub status: Option<ProjectStatus>,
}

/// Changes to a project; `None` leaves a field as it is. `Some(None)` clears an optional field.
#[derive(Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub client_id: Option<Option<Uuid>>,
    pub description: Option<Option<String>>,
    pub hourly_rate: Option<Option<Decimal>>,
    pub billable: Option<bool>,
    pub status: Option<ProjectStatus>,
}

fn check_rate(errors: &mut FieldErrors, rate: Option<Decimal>) -> Option<i64> {
    rate.and_then(|r| money::check("hourly_rate", r, false, errors))
}

/// A `client_id` must name a client of the same workspace.
async fn check_client<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    client_id: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(id) = client_id else { return Ok(()) };
    let found = client::Entity::find_by_id(id)
        .filter(client::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(
            "client_id",
            "no such client in this workspace",
        )),
    }
}

/// One page of the workspace's projects, by name.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &ProjectFilter,
    page: PageRequest,
) -> Result<(Vec<ProjectView>, u64), ApiError> {
    let mut cond = Condition::all().add(project::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(status) = filter.status {
        cond = cond.add(project::Column::Status.eq(status));
    }
    if let Some(client_id) = filter.client_id {
        cond = cond.add(project::Column::ClientId.eq(client_id));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        cond = cond.add(
            Expr::expr(Func::lower(Expr::col(project::Column::Name)))
                .like(contains_pattern(search)),
        );
    }
    let total = count_rows(project::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = project::Entity::find()
        .filter(cond)
        .order_by_asc(project::Column::Name)
        .order_by_asc(project::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(ProjectView::from).collect(), total))
}

/// The project, when it exists in this workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<project::Model, ApiError> {
    project::Entity::find_by_id(id)
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Project"))
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<ProjectView, ApiError> {
    find(db.conn(), acting.workspace_id, id)
        .await
        .map(ProjectView::from)
}

/// Creates a project. Billable by default; active unless created archived.
pub async fn create(db: &Db, acting: &Acting, new: NewProject) -> Result<ProjectView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, 200);
    let description = optional_text(&mut errors, "description", new.description, 10_000);
    let rate = check_rate(&mut errors, new.hourly_rate);
    errors.into_result()?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    check_client(&*change, acting.workspace_id, new.client_id).await?;
    let new = NewProject {
        name,
        description,
        ..new
    };
    let view = insert(&mut change, acting.workspace_id, new, rate).await?;
    change.commit().await?;
    Ok(view)
}

/// Inserts a checked project inside `change` and records `project.created`.
pub async fn insert(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    new: NewProject,
    rate_cents: Option<i64>,
) -> Result<ProjectView, ApiError> {
    let now = time::now();
    let project = project::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        client_id: Set(new.client_id),
        name: Set(new.name),
        description: Set(new.description),
        hourly_rate_cents: Set(rate_cents),
        billable: Set(new.billable.unwrap_or(true)),
        status: Set(new.status.unwrap_or(ProjectStatus::Active)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let view = ProjectView::from(project);
    change.record(EventType::ProjectCreated, view.id, &view)?;
    Ok(view)
}

/// Applies changes to a project. Archiving (a status change to `archived`) is recorded as
/// `project.archived`; any other change as `project.updated`.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: ProjectChanges,
) -> Result<ProjectView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = changes
        .name
        .map(|n| required_text(&mut errors, "name", &n, 200));
    let description = changes
        .description
        .map(|d| optional_text(&mut errors, "description", d, 10_000));
    let rate = changes.hourly_rate.map(|r| check_rate(&mut errors, r));
    errors.into_result()?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let was_archived = existing.status == ProjectStatus::Archived;
    let mut active: project::ActiveModel = existing.into();
    if let Some(client_id) = changes.client_id {
        check_client(&*change, acting.workspace_id, client_id).await?;
        active.client_id = Set(client_id);
    }
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(description) = description {
        active.description = Set(description);
    }
    if let Some(rate) = rate {
        active.hourly_rate_cents = Set(rate);
    }
    if let Some(billable) = changes.billable {
        active.billable = Set(billable);
    }
    if let Some(status) = changes.status {
        active.status = Set(status);
    }
    active.updated_at = Set(time::now());
    let view = ProjectView::from(active.update(&*change).await?);
    let event = if !was_archived && view.status == ProjectStatus::Archived {
        EventType::ProjectArchived
    } else {
        EventType::ProjectUpdated
    };
    change.record(event, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Archives a project (what `DELETE /projects/{id}` does). Archiving twice is harmless.
pub async fn archive(db: &Db, acting: &Acting, id: Uuid) -> Result<ProjectView, ApiError> {
    let changes = ProjectChanges {
        status: Some(ProjectStatus::Archived),
        ..Default::default()
    };
    update(db, acting, id, changes).await
}

/// The `error_code` of a project that cannot be deleted because something refers to it.
pub const STILL_REFERRED_TO: &str = "project_in_use";

/// How many rows of each kind refer to the project, by the names the 409's `references` uses;
/// only those with some.
async fn references<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Vec<(&'static str, u64)>, ApiError> {
    let counts = [
        (
            "time_entries",
            time_entry::Entity::find()
                .filter(time_entry::Column::ProjectId.eq(id))
                .count(db)
                .await?,
        ),
        (
            "expenses",
            expense::Entity::find()
                .filter(expense::Column::ProjectId.eq(id))
                .count(db)
                .await?,
        ),
        (
            "invoice_lines",
            invoice_item::Entity::find()
                .filter(invoice_item::Column::ProjectId.eq(id))
                .count(db)
                .await?,
        ),
        (
            "quote_lines",
            quote_item::Entity::find()
                .filter(quote_item::Column::ProjectId.eq(id))
                .count(db)
                .await?,
        ),
    ];
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// The 409 for a project that is still referred to, naming what refers to it and how often.
fn still_referred_to(references: &[(&'static str, u64)]) -> ApiError {
    let named: Vec<String> = references
        .iter()
        .map(|(what, n)| {
            let plural = what.replace('_', " ");
            let singular = match *what {
                "time_entries" => "time entry",
                _ => plural.trim_end_matches('s'),
            };
            format!("{n} {}", if *n == 1 { singular } else { &plural })
        })
        .collect();
    let counts: Map<String, Value> = references
        .iter()
        .map(|(what, n)| ((*what).to_owned(), Value::from(*n)))
        .collect();
    ApiError::coded(
        StatusCode::CONFLICT,
        STILL_REFERRED_TO,
        format!(
            "The project is still referred to by {}; archive it instead (DELETE without permanent=true)",
            named.join(", ")
        ),
    )
    .with_details(serde_json::json!({ "references": counts }))
}

/// Deletes a project for good (`DELETE /projects/{id}?permanent=true`), with its tasks: each
/// task is recorded as `task.deleted`, then the project as `project.deleted`. A project that
/// time entries, expenses, invoice lines or quote lines refer to is refused with a 409 naming
/// them (archiving keeps it instead).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<ProjectView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let refs = references(&*change, id).await?;
    if !refs.is_empty() {
        return Err(still_referred_to(&refs));
    }
    let tasks = task::Entity::find()
        .filter(task::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(task::Column::ProjectId.eq(id))
        .order_by_asc(task::Column::Id)
        .all(&*change)
        .await?;
    if !tasks.is_empty() {
        task::Entity::delete_many()
            .filter(task::Column::ProjectId.eq(id))
            .exec(&*change)
            .await?;
    }
    for task in tasks {
        let view = TaskView::from(task);
        change.record(EventType::TaskDeleted, view.id, &view)?;
    }
    project::Entity::delete_by_id(id).exec(&*change).await?;
    let view = ProjectView::from(existing);
    change.record(EventType::ProjectDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
