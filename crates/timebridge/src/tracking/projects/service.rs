//! Rules and queries for projects. Every function is scoped to one workspace: a project of
//! another workspace is indistinguishable from one that does not exist.

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::entity::{self as project, ProjectStatus};
use crate::platform::{
    changes::WorkspaceChange,
    db::{Db, count as count_rows},
    error::{ApiError, FieldErrors},
    money,
    pagination::PageRequest,
    time,
};

/// Filters of the project list.
#[derive(Default)]
pub struct ProjectFilter {
    pub status: Option<ProjectStatus>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// Fields of a new project.
pub struct NewProject {
    pub name: String,
    pub description: Option<String>,
    pub hourly_rate: Option<Decimal>,
    pub billable: Option<bool>,
    pub status: Option<ProjectStatus>,
}

/// Changes to a project; `None` leaves a field as it is. `Some(None)` clears an optional field.
#[derive(Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub hourly_rate: Option<Option<Decimal>>,
    pub billable: Option<bool>,
    pub status: Option<ProjectStatus>,
}

fn check_name(name: &str, errors: &mut FieldErrors) -> String {
    let name = name.trim();
    if name.is_empty() {
        errors.add("name", "is required");
    } else if name.chars().count() > 200 {
        errors.add("name", "must be at most 200 characters");
    }
    name.to_owned()
}

fn check_description(description: Option<String>, errors: &mut FieldErrors) -> Option<String> {
    let description = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 10_000)
    {
        errors.add("description", "must be at most 10000 characters");
    }
    description
}

fn check_rate(rate: Option<Decimal>, errors: &mut FieldErrors) -> Option<i64> {
    let rate = rate?;
    money::to_cents(rate)
        .map_err(|problem| errors.add("hourly_rate", problem))
        .ok()
}

/// One page of the workspace's projects, by name.
pub async fn list(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    filter: &ProjectFilter,
    page: PageRequest,
) -> Result<(Vec<project::Model>, u64), ApiError> {
    let mut cond = Condition::all().add(project::Column::WorkspaceId.eq(workspace_id));
    if let Some(status) = filter.status {
        cond = cond.add(project::Column::Status.eq(status));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        cond = cond.add(Expr::expr(Func::lower(Expr::col(project::Column::Name))).like(pattern));
    }
    let total = count_rows(project::Entity::find().filter(cond.clone()), db).await?;
    let rows = project::Entity::find()
        .filter(cond)
        .order_by_asc(project::Column::Name)
        .order_by_asc(project::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

fn escape_like(text: &str) -> String {
    // Wildcards in the search text match themselves; sea-query escapes with `\` by default.
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The project, when it exists in this workspace.
pub async fn get<C: ConnectionTrait>(
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

/// Creates a project. Billable by default; active unless created archived.
pub async fn create(
    db: &Db,
    workspace_id: Uuid,
    new: NewProject,
) -> Result<project::Model, ApiError> {
    let mut errors = FieldErrors::new();
    let name = check_name(&new.name, &mut errors);
    let description = check_description(new.description, &mut errors);
    let rate = check_rate(new.hourly_rate, &mut errors);
    errors.into_result()?;
    let now = time::now();
    let change = WorkspaceChange::begin(db, workspace_id).await?;
    let project = project::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        name: Set(name),
        description: Set(description),
        hourly_rate_cents: Set(rate),
        billable: Set(new.billable.unwrap_or(true)),
        status: Set(new.status.unwrap_or(ProjectStatus::Active)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    change.commit().await?;
    Ok(project)
}

/// Applies changes to a project.
pub async fn update(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    changes: ProjectChanges,
) -> Result<project::Model, ApiError> {
    let mut errors = FieldErrors::new();
    let name = changes.name.map(|n| check_name(&n, &mut errors));
    let description = changes
        .description
        .map(|d| check_description(d, &mut errors));
    let rate = changes.hourly_rate.map(|r| check_rate(r, &mut errors));
    errors.into_result()?;
    let change = WorkspaceChange::begin(db, workspace_id).await?;
    let existing = get(&*change, workspace_id, id).await?;
    let mut active: project::ActiveModel = existing.into();
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
    let project = active.update(&*change).await?;
    change.commit().await?;
    Ok(project)
}

/// Archives a project (what `DELETE /projects/{id}` does). Archiving twice is harmless.
pub async fn archive(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<project::Model, ApiError> {
    update(
        db,
        workspace_id,
        id,
        ProjectChanges {
            status: Some(ProjectStatus::Archived),
            ..Default::default()
        },
    )
    .await
}
