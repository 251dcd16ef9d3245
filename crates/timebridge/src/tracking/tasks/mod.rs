//! Tasks: units of work inside a project, with a status (`todo` … `done`), a priority, an
//! optional assignee (a member of the workspace), a due date and an estimate. Connectors keep
//! their own tasks in step through `external_ref` (see [`service::upsert_by_external_ref`]).
//! Deleting a task deletes it; time entries that referred to it keep their time, without task.

pub mod entity;
pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::{TaskPriority, TaskStatus};

use crate::platform::{money, time::iso_date};

/// A task as the API shows it (and as `task.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    /// TimeTracker's label for the status, e.g. `In Progress`.
    #[schema(example = "To Do")]
    pub status_display: String,
    pub priority: TaskPriority,
    #[schema(example = "Medium")]
    pub priority_display: String,
    /// The member the task is assigned to.
    pub assignee_id: Option<Uuid>,
    /// TimeTracker's name for `assignee_id` (the same value).
    pub assigned_to: Option<Uuid>,
    #[serde(with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-03-10")]
    pub due_date: Option<Date>,
    /// Estimated hours, exact to the hundredth.
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>, example = 2.5)]
    pub estimated_hours: Option<Decimal>,
    /// A connector's reference, unique within the workspace (e.g. `github_issue_42`).
    pub external_ref: Option<String>,
    /// When the task last became `done`; `null` unless it is done.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for TaskView {
    fn from(t: entity::Model) -> Self {
        Self {
            id: t.id,
            project_id: t.project_id,
            name: t.name,
            description: t.description,
            status_display: t.status.label().to_owned(),
            status: t.status,
            priority_display: t.priority.label().to_owned(),
            priority: t.priority,
            assignee_id: t.assignee_id,
            assigned_to: t.assignee_id,
            due_date: t.due_date,
            estimated_hours: t.estimated_hours.map(money::from_cents),
            external_ref: t.external_ref,
            completed_at: t.completed_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}
