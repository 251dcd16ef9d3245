//! Tasks as time entries need them: the CSV import finds a project's task by name and creates
//! it when missing.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use crate::{
    platform::{changes::WorkspaceChange, error::ApiError, outbox::EventType, time},
    tracking::tasks::{
        TaskView,
        entity::{self as task, TaskPriority, TaskStatus},
    },
};

/// The project's task with this name (case-insensitively), created (`todo`, `medium`, with a
/// `task.created` event) when there is none.
pub async fn find_or_create(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    project_id: Uuid,
    name: &str,
) -> Result<Uuid, ApiError> {
    let existing = task::Entity::find()
        .filter(task::Column::WorkspaceId.eq(workspace_id))
        .filter(task::Column::ProjectId.eq(project_id))
        .filter(Expr::expr(Func::lower(Expr::col(task::Column::Name))).eq(name.to_lowercase()))
        .one(&**change)
        .await?;
    if let Some(found) = existing {
        return Ok(found.id);
    }
    let now = time::now();
    let created = task::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        project_id: Set(project_id),
        name: Set(name.to_owned()),
        description: Set(None),
        status: Set(TaskStatus::Todo),
        priority: Set(TaskPriority::Medium),
        assignee_id: Set(None),
        due_date: Set(None),
        estimated_hours: Set(None),
        external_ref: Set(None),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let view = TaskView::from(created);
    change.record(EventType::TaskCreated, view.id, &view)?;
    Ok(view.id)
}
