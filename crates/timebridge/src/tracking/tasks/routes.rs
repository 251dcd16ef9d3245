//! `/api/v1/tasks`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    TaskPriority, TaskStatus, TaskView,
    service::{self, NewTask, TaskChanges, TaskFilter},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct TaskEnvelope {
    pub task: TaskView,
}

/// A change's answer: what happened, and the task as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct TaskChanged {
    #[schema(example = "Task created successfully")]
    pub message: String,
    pub task: TaskView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListFilter {
    /// Only this project's tasks.
    pub project_id: Option<Uuid>,
    /// Only tasks with this status.
    pub status: Option<TaskStatus>,
    /// Only tasks assigned to this member.
    pub assignee_id: Option<Uuid>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTask {
    /// Required (not `null`): a project of this workspace.
    #[schema(required = true, nullable = false)]
    pub project_id: Option<Uuid>,
    /// Required (not `null`): 1 to 500 characters (trimmed; not only spaces).
    #[schema(
        required = true,
        nullable = false,
        example = "Homepage",
        min_length = 1,
        max_length = 500,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Hero section, navigation and footer", max_length = 10000)]
    pub description: Option<String>,
    /// Default `todo`.
    pub status: Option<TaskStatus>,
    /// Default `medium`.
    pub priority: Option<TaskPriority>,
    /// A member of this workspace.
    pub assignee_id: Option<Uuid>,
    /// `YYYY-MM-DD`; empty is none.
    #[schema(format = Date, example = "2026-11-30")]
    pub due_date: Option<String>,
    /// Non-negative, at most two decimal places, below 10^12. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 2.5, minimum = 0, maximum = 999999999999.99)]
    pub estimated_hours: Option<Decimal>,
    /// A connector's reference, unique within the workspace (at most 128 characters,
    /// trimmed; empty is none).
    #[schema(max_length = 128)]
    pub external_ref: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTask {
    /// A project of this workspace. `null` or left out: unchanged.
    pub project_id: Option<Uuid>,
    /// 1 to 500 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Homepage v2",
        min_length = 1,
        max_length = 500,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Hero section only", max_length = 10000)]
    pub description: Option<Option<String>>,
    /// Becoming `done` stamps `completed_at`; leaving `done` clears it.
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    /// A member of this workspace; `null` unassigns the task.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// `YYYY-MM-DD`; `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-30")]
    pub due_date: Option<Option<String>>,
    /// Non-negative, at most two decimal places, below 10^12; `null` clears it. A number or a
    /// decimal string.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>, example = 4.0, minimum = 0, maximum = 999999999999.99)]
    pub estimated_hours: Option<Option<Decimal>>,
    /// A connector's reference, unique within the workspace (at most 128 characters,
    /// trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 128)]
    pub external_ref: Option<Option<String>>,
}

/// List tasks, oldest first (by `created_at`, then id).
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks",
    params(PageParams, TaskListFilter),
    security(("api_token" = ["read:tasks"])),
    responses(
        (status = 200, description = "One page of tasks", body = TaskList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_tasks(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<TaskListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = TaskFilter {
        project_id: filter.project_id,
        status: filter.status,
        assignee_id: filter.assignee_id,
        search: filter.search,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "tasks.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (tasks, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(TaskList {
                tasks,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get a task.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("api_token" = ["read:tasks"])),
    responses(
        (status = 200, body = TaskEnvelope),
        (status = 404, description = "No such task in this workspace", body = ErrorBody),
    )
)]
async fn get_task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "tasks.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let task = service::get(&app.db, &acting, id).await?;
            Ok(TaskEnvelope { task })
        })
        .await
}

/// Create a task (`task.created`).
#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "tasks",
    request_body = CreateTask,
    security(("api_token" = ["write:tasks"])),
    responses(
        (status = 201, body = TaskChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 409, description = "A task with this external_ref exists", body = ErrorBody),
    )
)]
async fn create_task(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTask>,
) -> Result<(StatusCode, Json<TaskChanged>), ApiError> {
    let new = NewTask {
        project_id: body.project_id,
        name: body.name,
        description: body.description,
        status: body.status,
        priority: body.priority,
        assignee_id: body.assignee_id,
        due_date: body.due_date,
        estimated_hours: body.estimated_hours,
        external_ref: body.external_ref,
    };
    let task = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(TaskChanged {
            message: "Task created successfully".into(),
            task,
        }),
    ))
}

/// Update a task (`PUT` and `PATCH` both change only the fields sent). The change that makes
/// it `done` is recorded as `task.completed`, any other as `task.updated`.
#[utoipa::path(
    method(put, patch), path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = UpdateTask,
    security(("api_token" = ["write:tasks"])),
    responses(
        (status = 200, body = TaskChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such task in this workspace", body = ErrorBody),
        (status = 409, description = "A task with this external_ref exists", body = ErrorBody),
    )
)]
async fn update_task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateTask>,
) -> Result<Json<TaskChanged>, ApiError> {
    let changes = TaskChanges {
        project_id: body.project_id,
        name: body.name,
        description: body.description,
        status: body.status,
        priority: body.priority,
        assignee_id: body.assignee_id,
        due_date: body.due_date,
        estimated_hours: body.estimated_hours,
        external_ref: body.external_ref,
    };
    let task = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(TaskChanged {
        message: "Task updated successfully".into(),
        task,
    }))
}

/// Delete a task. Its time entries keep their time without a task (`task.deleted` only).
#[utoipa::path(
    delete, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("api_token" = ["write:tasks"])),
    responses(
        (status = 200, description = "The deleted task", body = TaskChanged),
        (status = 404, description = "No such task in this workspace", body = ErrorBody),
    )
)]
async fn delete_task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TaskChanged>, ApiError> {
    let task = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(TaskChanged {
        message: "Task deleted successfully".into(),
        task,
    }))
}
