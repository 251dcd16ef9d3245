//! Rules and queries for projects. Every function is scoped to the caller's workspace: a
//! project of another workspace is indistinguishable from one that does not exist.

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
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
    tracking::clients::entity as client,
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
