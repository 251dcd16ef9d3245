//! ClickUp tasks made from Timebridge tasks (`POST /api/v1/tasks/{id}/clickup-task`).
//!
//! The request only enqueues a `clickup_create_task` job (queue `clickup`, 3 tries with 60,
//! 120 and 240 s between them, 120 s per try) and links it to the task; the job finds the list
//! (the first list of the space the task's client is assigned to: folderless lists first),
//! and creates `[TICKET-{task id}] {title}` with the task's metadata as description and its
//! priority (urgent/high/medium/low → 1/2/3/4). Asking twice never makes two ClickUp tasks:
//! the link answers for a task that has one, a running job is not enqueued again, and before
//! creating, the job looks for a task whose name starts with the `[TICKET-…]` prefix in the
//! list — a creation whose answer was lost is found there and linked.

use std::time::Duration;

use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    api::{ClickUp, ClickUpError},
    client_for,
    entity::{client_space, task_link},
    spaces::text,
};
use crate::{
    app::AppState,
    platform::{
        jobs::{self, JobKind, JobOptions, RetryPolicy},
        time,
    },
    tracking::{
        projects::entity as project,
        tasks::entity::{self as task, TaskPriority},
    },
};

pub const KIND: &str = "clickup_create_task";

/// The job kind.
pub fn kind() -> JobKind<AppState> {
    JobKind::new(
        KIND,
        "Creates the ClickUp task of a Timebridge task in its client's space (asked for with POST /api/v1/tasks/{id}/clickup-task).",
        |app: AppState, job| async move {
            let task_id = job
                .payload
                .get("task_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or("the job names no task")?;
            create(&app, task_id).await.map_err(|e| e.to_string())
        },
    )
    .queue("clickup")
    .retry(RetryPolicy::attempts(3, &[60, 120, 240]))
    .timeout(Duration::from_secs(120))
}

/// The name prefix that identifies a task's ClickUp task.
pub fn prefix(task_id: Uuid) -> String {
    format!("[TICKET-{task_id}]")
}

fn priority(p: TaskPriority) -> i64 {
    match p {
        TaskPriority::Urgent => 1,
        TaskPriority::High => 2,
        TaskPriority::Medium => 3,
        TaskPriority::Low => 4,
    }
}

/// Why a task cannot get a ClickUp task (the job fails with it).
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    ClickUp(#[from] ClickUpError),
    #[error("{0}")]
    Setup(String),
}

/// The job: finds or creates the ClickUp task and links it.
async fn create(app: &AppState, task_id: Uuid) -> Result<Value, CreateError> {
    let db =
        |e: sea_orm::DbErr| CreateError::Setup(crate::platform::error::ApiError::from(e).shown());
    let found = task::Entity::find_by_id(task_id)
        .one(app.db.conn())
        .await
        .map_err(db)?;
    let Some(t) = found else {
        return Err(CreateError::Setup("the task no longer exists".into()));
    };
    if let Some(link) = task_link::Entity::find_by_id(task_id)
        .one(app.db.conn())
        .await
        .map_err(db)?
        && link.clickup_task_id.is_some()
    {
        return Ok(json!({"clickup_task_id": link.clickup_task_id, "created": false}));
    }
    let p = project::Entity::find_by_id(t.project_id)
        .one(app.db.conn())
        .await
        .map_err(db)?;
    let client_id = p.as_ref().and_then(|p| p.client_id).ok_or_else(|| {
        CreateError::Setup("the task's project has no client, so no ClickUp space".into())
    })?;
    let space = client_space::Entity::find_by_id(client_id)
        .one(app.db.conn())
        .await
        .map_err(db)?
        .ok_or_else(|| {
            CreateError::Setup(
                "the task's client has no ClickUp space: PUT /api/v1/clients/{id}/clickup-space"
                    .into(),
            )
        })?;
    let api = client_for(app, t.workspace_id).await?;
    let list_id = list_of(&api, &space.space_id).await?;
    let name_prefix = prefix(task_id);
    let existing = find_by_prefix(&api, &list_id, &name_prefix).await?;
    let (made, created) = match existing {
        Some(found) => (found, false),
        None => {
            let description = format!(
                "Timebridge task {task_id}\nProject: {}\nStatus: {}\nPriority: {}\nDue: {}\nEstimated hours: {}\nReference: {}\n\n{}",
                p.as_ref().map_or("", |p| p.name.as_str()),
                t.status.label(),
                t.priority.label(),
                t.due_date.map(|d| d.to_string()).unwrap_or_default(),
                t.estimated_hours
                    .map(|h| format!("{:.2}", h as f64 / 100.0))
                    .unwrap_or_default(),
                t.external_ref.clone().unwrap_or_default(),
                t.description.clone().unwrap_or_default(),
            );
            let body = json!({
                "name": format!("{name_prefix} {}", t.name),
                "description": description,
                "priority": priority(t.priority),
            });
            (api.create_task(&list_id, &body).await?, true)
        }
    };
    let clickup_task_id = text(&made["id"]);
    let url = made.get("url").and_then(Value::as_str).map(str::to_owned);
    let now = time::now();
    let _turn = app.db.write_turn().await;
    task_link::Entity::insert(task_link::ActiveModel {
        task_id: Set(task_id),
        workspace_id: Set(t.workspace_id),
        job_id: Set(None),
        clickup_task_id: Set(Some(clickup_task_id.clone())),
        clickup_url: Set(url.clone()),
        list_id: Set(Some(list_id.clone())),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(task_link::Column::TaskId)
            .update_columns([
                task_link::Column::ClickupTaskId,
                task_link::Column::ClickupUrl,
                task_link::Column::ListId,
                task_link::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(app.db.conn())
    .await
    .map_err(db)?;
    Ok(
        json!({"clickup_task_id": clickup_task_id, "url": url, "list_id": list_id, "created": created}),
    )
}

/// The list tasks of a space go to: its first folderless list, else the first list of its
/// first folder.
async fn list_of(api: &ClickUp<'_>, space_id: &str) -> Result<String, CreateError> {
    if let Some(list) = api.folderless_lists(space_id).await?.first() {
        return Ok(text(&list["id"]));
    }
    for folder in api.folders(space_id).await? {
        if let Some(list) = api.folder_lists(&text(&folder["id"])).await?.first() {
            return Ok(text(&list["id"]));
        }
    }
    Err(CreateError::Setup(format!(
        "the ClickUp space {space_id} has no list"
    )))
}

/// A task of the list whose name starts with `name_prefix` (a creation whose answer was lost).
async fn find_by_prefix(
    api: &ClickUp<'_>,
    list_id: &str,
    name_prefix: &str,
) -> Result<Option<Value>, ClickUpError> {
    for page in 0..20 {
        let answer = api.tasks(list_id, page).await?;
        let tasks = answer
            .get("tasks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(found) = tasks.iter().find(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(name_prefix))
        }) {
            return Ok(Some(found.clone()));
        }
        if tasks.is_empty()
            || answer
                .get("last_page")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        {
            break;
        }
    }
    Ok(None)
}

/// Asks for the task's ClickUp task: `None` when it has one already, else the job (new or
/// already queued).
pub async fn request(
    app: &AppState,
    workspace_id: Uuid,
    task_id: Uuid,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    use crate::platform::{changes::WorkspaceChange, outbox::Actor};
    let existing = task_link::Entity::find_by_id(task_id)
        .one(app.db.conn())
        .await?;
    if existing
        .as_ref()
        .is_some_and(|l| l.clickup_task_id.is_some())
    {
        return Ok(None);
    }
    if let Some(job_id) = existing.as_ref().and_then(|l| l.job_id) {
        let job = jobs::find(&app.db, Some(workspace_id), job_id).await?;
        if job.is_some_and(|j| {
            matches!(
                j.status,
                jobs::JobStatus::Pending | jobs::JobStatus::Running
            )
        }) {
            return Ok(Some(job_id));
        }
    }
    let kind = app
        .jobs
        .get(KIND)
        .ok_or_else(|| sea_orm::DbErr::Custom("clickup_create_task is not registered".into()))?;
    let mut change = WorkspaceChange::begin(&app.db, workspace_id, Actor::system()).await?;
    let enqueued = jobs::enqueue(
        &*change,
        kind,
        &json!({"task_id": task_id}),
        JobOptions {
            workspace_id: Some(workspace_id),
            ..Default::default()
        },
    )
    .await?;
    let jobs::Enqueued::New(job_id) = enqueued else {
        return Err(sea_orm::DbErr::Custom(
            "a job without a dedup key was a duplicate".into(),
        ));
    };
    let now = time::now();
    task_link::Entity::insert(task_link::ActiveModel {
        task_id: Set(task_id),
        workspace_id: Set(workspace_id),
        job_id: Set(Some(job_id)),
        clickup_task_id: Set(None),
        clickup_url: Set(None),
        list_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(task_link::Column::TaskId)
            .update_columns([task_link::Column::JobId, task_link::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(&*change)
    .await?;
    change.wake(jobs::jobs_queued(&app.db));
    change.commit().await?;
    Ok(Some(job_id))
}

/// The link and its job, for `GET …/clickup-task`.
pub async fn state(
    app: &AppState,
    workspace_id: Uuid,
    task_id: Uuid,
) -> Result<Value, sea_orm::DbErr> {
    let link = task_link::Entity::find_by_id(task_id)
        .one(app.db.conn())
        .await?;
    let Some(link) = link else {
        return Ok(
            json!({"task_id": task_id, "status": "none", "clickup_task_id": null, "url": null, "job": null}),
        );
    };
    let job = match link.job_id {
        Some(id) => jobs::find(&app.db, Some(workspace_id), id).await?,
        None => None,
    };
    let status = if link.clickup_task_id.is_some() {
        "created"
    } else {
        match job.as_ref().map(|j| j.status) {
            Some(jobs::JobStatus::Failed) => "failed",
            Some(_) => "pending",
            None => "none",
        }
    };
    Ok(json!({
        "task_id": task_id,
        "status": status,
        "clickup_task_id": link.clickup_task_id,
        "url": link.clickup_url,
        "list_id": link.list_id,
        "job": job.map(|j| json!({
            "id": j.id,
            "status": j.status,
            "attempts": j.attempts,
            "max_attempts": j.max_attempts,
            "last_error": j.last_error,
            "run_after": j.run_after.format(&time::Rfc3339).unwrap_or_default(),
        })),
    }))
}
