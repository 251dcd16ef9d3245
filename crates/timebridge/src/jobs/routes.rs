//! `/api/v1/integration/jobs`: the scheduled jobs and how their last runs went (admins).

use axum::extract::State;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Job, run};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(run_job))
}

#[derive(Serialize, ToSchema)]
pub struct JobView {
    #[schema(example = "slack_daily_summary")]
    pub name: &'static str,
    pub description: &'static str,
    pub every_seconds: u64,
    /// The latest occurrence, run or due.
    pub last_run: Option<RunView>,
}

#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurrence_at: OffsetDateTime,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// What the run did (counts, per-member failures) or why it failed.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
}

impl From<run::Model> for RunView {
    fn from(r: run::Model) -> Self {
        Self {
            id: r.id,
            occurrence_at: r.occurrence_at,
            status: r.status,
            attempts: r.attempts,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome.and_then(|o| serde_json::from_str(&o).ok()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
}

/// The scheduled jobs, each with its latest run.
#[utoipa::path(
    get, path = "/api/v1/integration/jobs", tag = "jobs",
    security(("api_token" = ["admin:all"])),
    responses((status = 200, body = JobList))
)]
async fn list_jobs(
    State(app): State<AppState>,
    _caller: Caller,
) -> Result<Json<JobList>, ApiError> {
    let mut jobs = Vec::new();
    for job in Job::ALL {
        let last = run::Entity::find()
            .filter(run::Column::Job.eq(job.name()))
            .order_by_desc(run::Column::OccurrenceAt)
            .one(app.db.conn())
            .await?;
        jobs.push(JobView {
            name: job.name(),
            description: job.description(),
            every_seconds: job.every().as_secs(),
            last_run: last.map(RunView::from),
        });
    }
    Ok(Json(JobList { jobs }))
}

/// Runs a job now and answers its run.
#[utoipa::path(
    post, path = "/api/v1/integration/jobs/{name}/run", tag = "jobs",
    params(("name" = String, Path, description = "The job's name")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, body = RunView),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
async fn run_job(
    State(app): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let job = Job::by_name(&name).ok_or(ApiError::NotFound("Job"))?;
    let run = super::run_now(&app, job).await?;
    Ok(Json(RunView::from(run)))
}
