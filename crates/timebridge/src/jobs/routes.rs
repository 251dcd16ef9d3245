//! The job routes (admins of the workspace).

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        jobs::{self, JobFilter, JobKind, JobScope, JobStatus, RetryError, job, runner::Runner},
        pagination::{PageParams, PageRequest, Pagination},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(run_job))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(retry_run))
}

/// A kind of job that runs for the workspace.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    #[schema(example = "slack_daily_summary")]
    pub name: &'static str,
    pub description: &'static str,
    /// For periodic kinds: the period.
    pub every_seconds: Option<u64>,
    pub max_attempts: u32,
    /// Seconds before retry 1, 2, …; the last repeats.
    pub backoff_seconds: Vec<u64>,
    pub timeout_seconds: u64,
    pub queue: &'static str,
    /// The workspace's latest run of this kind.
    pub last_run: Option<RunView>,
}

/// Progress a running job reported.
#[derive(Serialize, ToSchema)]
pub struct ProgressView {
    pub done: i64,
    pub total: Option<i64>,
    pub message: Option<String>,
}

/// One job of the workspace.
#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub kind: String,
    pub queue: String,
    pub status: JobStatus,
    /// Attempts made so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// For periodic kinds: the occurrence run (covering the period before it).
    #[serde(with = "time::serde::rfc3339::option")]
    pub occurrence_at: Option<OffsetDateTime>,
    /// Not run before this time (the next attempt, for a job waiting to retry).
    #[serde(with = "time::serde::rfc3339")]
    pub run_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub progress: Option<ProgressView>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// What the job did (counts, per-member failures), or `{"error": …}` when it failed.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<job::Model> for RunView {
    fn from(r: job::Model) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            queue: r.queue,
            status: r.status,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            occurrence_at: r.occurrence_at,
            run_after: r.run_after,
            started_at: r.started_at,
            finished_at: r.finished_at,
            progress: r.progress_done.map(|done| ProgressView {
                done,
                total: r.progress_total,
                message: r.progress_message,
            }),
            last_error: r.last_error,
            outcome: r.outcome.and_then(|o| serde_json::from_str(&o).ok()),
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
}

/// The kinds of job that run for the workspace, each with its latest run here.
#[utoipa::path(
    get, path = "/api/v1/integration/jobs", tag = "jobs",
    security(("api_token" = ["admin:all"])),
    responses((status = 200, body = JobList))
)]
async fn list_jobs(State(app): State<AppState>, caller: Caller) -> Result<Json<JobList>, ApiError> {
    let mut jobs = Vec::new();
    for kind in workspace_kinds(&app) {
        let last = jobs::latest(&app.db, Some(caller.workspace_id), kind.name).await?;
        jobs.push(JobView {
            name: kind.name,
            description: kind.description,
            every_seconds: kind.every.map(|d| d.as_secs()),
            max_attempts: kind.retry.max_attempts,
            backoff_seconds: kind.retry.backoff.iter().map(|d| d.as_secs()).collect(),
            timeout_seconds: kind.timeout.as_secs(),
            queue: kind.queue,
            last_run: last.map(RunView::from),
        });
    }
    Ok(Json(JobList { jobs }))
}

fn workspace_kinds(app: &AppState) -> impl Iterator<Item = &JobKind<AppState>> {
    app.jobs.iter().filter(|k| k.scope == JobScope::Workspace)
}

/// Runs a job for the workspace now and answers it, finished. Periodic kinds cover the period
/// up to now.
#[utoipa::path(
    post, path = "/api/v1/integration/jobs/{name}/run", tag = "jobs",
    params(("name" = String, Path, description = "The job's name: one of the kinds `GET /api/v1/integration/jobs` lists (else 404)")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, body = RunView),
        (status = 404, description = "No such job for a workspace", body = ErrorBody),
    )
)]
async fn run_job(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let kind = workspace_kinds(&app)
        .find(|k| k.name == name)
        .ok_or(ApiError::NotFound("Job"))?;
    let runner = Runner {
        db: app.db.clone(),
        registry: app.jobs.clone(),
        state: app.clone(),
        owner: format!("manual-{}", Uuid::now_v7().simple()),
        queues: None,
    };
    let run = runner
        .run_now(
            kind,
            Some(caller.workspace_id),
            &Value::Object(Default::default()),
        )
        .await?;
    Ok(Json(RunView::from(run)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// `pending`, `running`, `succeeded` or `failed`.
    #[param(value_type = Option<JobStatus>, inline)]
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<RunView>,
    pub pagination: Pagination,
}

/// The workspace's jobs, newest first: pending, running (with progress), succeeded and failed
/// (with their error and attempts).
#[utoipa::path(
    get, path = "/api/v1/integration/jobs/runs", tag = "jobs",
    params(PageParams, RunFilter),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, body = RunList),
        (status = 400, description = "Invalid status or page", body = ErrorBody),
    )
)]
async fn list_runs(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<RunFilter>,
) -> Result<Json<RunList>, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<JobStatus>()
                .map_err(|e| ApiError::invalid("status", e))?,
        ),
    };
    let filter = JobFilter {
        workspace_id: Some(caller.workspace_id),
        kind: filter.kind.filter(|k| !k.is_empty()),
        status,
    };
    let (rows, total) = jobs::list(&app.db, &filter, page.offset(), page.per_page).await?;
    Ok(Json(RunList {
        runs: rows.into_iter().map(RunView::from).collect(),
        pagination: Pagination::new(page, total),
    }))
}

/// One job of the workspace.
#[utoipa::path(
    get, path = "/api/v1/integration/jobs/runs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, body = RunView),
        (status = 404, description = "No such job in this workspace", body = ErrorBody),
    )
)]
async fn get_run(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RunView>, ApiError> {
    let run = jobs::find(&app.db, Some(caller.workspace_id), id)
        .await?
        .ok_or(ApiError::NotFound("Job"))?;
    Ok(Json(RunView::from(run)))
}

/// Puts a failed job back in the queue for one more attempt, now.
#[utoipa::path(
    post, path = "/api/v1/integration/jobs/runs/{id}/retry", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "The job, pending again", body = RunView),
        (status = 404, description = "No such job in this workspace", body = ErrorBody),
        (status = 409, description = "The job has not failed", body = ErrorBody),
    )
)]
async fn retry_run(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RunView>, ApiError> {
    match jobs::retry(&app.db, Some(caller.workspace_id), id).await {
        Ok(run) => Ok(Json(RunView::from(run))),
        Err(RetryError::NotFound) => Err(ApiError::NotFound("Job")),
        Err(e @ RetryError::NotFailed(_)) => Err(ApiError::Conflict(e.to_string())),
        Err(RetryError::Db(e)) => Err(e.into()),
    }
}
