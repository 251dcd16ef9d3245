//! The durable job queue: everything Timebridge does in the background that is not a webhook
//! delivery runs as a row of the `jobs` table.
//!
//! * **Kinds** are registered by the capabilities at start-up ([`JobRegistry`]): a name, a
//!   handler, whether the job belongs to a workspace or to the whole instance, a schedule for
//!   periodic kinds, a retry policy (attempts and backoff), a per-attempt timeout, a named
//!   queue and how long finished jobs are kept. No list of kinds lives here.
//! * **Enqueueing** ([`enqueue`]) writes a row, in the caller's transaction if it has one; a
//!   dedup key makes the same job one row however often it is enqueued. Periodic kinds are
//!   enqueued by the runner, one row per occurrence (dedup key `kind@occurrence`), so each
//!   occurrence runs once across instances; a workspace kind's occurrence fans out into one job
//!   per workspace the kind names.
//! * **Running** ([`runner`]): instances claim due rows under an expiring lease (the platform's
//!   [`lease`](super::lease) helper), renew it while the handler runs, and record the outcome.
//!   A failed attempt is retried after the kind's backoff until its attempts are spent; then the
//!   job stays `failed` with its error, for an admin to see and retry. A job whose instance died
//!   is taken over when its lease expires.
//! * **Progress**: a handler reports `done`/`total`/message while it runs ([`Progress`]).
//! * **Retention**: finished jobs are purged after their kind's retention.

mod kinds;
pub mod runner;

use std::time::Duration;

use ::time::OffsetDateTime;
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use serde_json::Value;
use uuid::Uuid;

pub use kinds::{Handler, Job, JobKind, JobRegistry, JobScope, Progress, Targets};

use super::{db::Db, lease::Leased, signal::Signal, time};

/// Raised after a job is enqueued: wakes the runners.
pub fn jobs_queued(db: &Db) -> Signal {
    db.signals().get("timebridge_jobs")
}

/// Where a job stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `run_after`, or for its next attempt.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Claimed by an instance (until its lease expires).
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// Every attempt failed; an admin may retry it.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl JobStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            _ => Err("must be one of: pending, running, succeeded, failed".into()),
        }
    }
}

/// `jobs`.
pub mod job {
    use sea_orm::entity::prelude::*;

    use super::JobStatus;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub queue: String,
        /// `None`: an instance-wide job (or the occurrence of a workspace kind, before it fans
        /// out).
        pub workspace_id: Option<Uuid>,
        /// JSON handed to the handler.
        pub payload: String,
        pub status: JobStatus,
        pub attempts: i32,
        pub max_attempts: i32,
        /// Comma-separated seconds before retry 1, 2, …; the last repeats.
        pub backoff_seconds: String,
        pub timeout_seconds: i32,
        pub run_after: TimeDateTimeWithTimeZone,
        pub dedup_key: Option<String>,
        /// For periodic kinds: the occurrence this job runs (it covers the period before it).
        pub occurrence_at: Option<TimeDateTimeWithTimeZone>,
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<TimeDateTimeWithTimeZone>,
        pub progress_done: Option<i64>,
        pub progress_total: Option<i64>,
        pub progress_message: Option<String>,
        pub last_error: Option<String>,
        /// JSON: what the job did.
        pub outcome: Option<String>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub started_at: Option<TimeDateTimeWithTimeZone>,
        pub finished_at: Option<TimeDateTimeWithTimeZone>,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl Leased for job::Entity {
    const ID: job::Column = job::Column::Id;
    const OWNER: job::Column = job::Column::LeaseOwner;
    const EXPIRES: job::Column = job::Column::LeaseExpiresAt;
}

/// How a job is retried: attempts in all, and the waits before each retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Before retry 1, 2, …; the last wait repeats. Empty: retry at once.
    pub backoff: Vec<Duration>,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn once() -> Self {
        Self {
            max_attempts: 1,
            backoff: Vec::new(),
        }
    }

    /// `max_attempts` attempts, waiting `backoff_seconds[n-1]` before retry `n`.
    pub fn attempts(max_attempts: u32, backoff_seconds: &[u64]) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            backoff: backoff_seconds
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        }
    }

    /// The wait before retry `n` (1 = the first retry).
    pub fn wait_before(&self, n: u32) -> Duration {
        let i = (n.max(1) - 1) as usize;
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or_default()
    }

    fn stored(&self) -> String {
        self.backoff
            .iter()
            .map(|d| d.as_secs().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn from_stored(max_attempts: i32, text: &str) -> Self {
        let seconds: Vec<u64> = text
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Self::attempts(max_attempts.max(1) as u32, &seconds)
    }
}

/// How to enqueue one job. Unset fields take the kind's defaults.
#[derive(Clone, Debug, Default)]
pub struct JobOptions {
    /// The workspace the job belongs to (`None`: instance-wide).
    pub workspace_id: Option<Uuid>,
    /// Not before this time (default: now).
    pub run_after: Option<OffsetDateTime>,
    /// The same key is one job, however often it is enqueued (also after it finished, until
    /// it is purged).
    pub dedup_key: Option<String>,
    pub retry: Option<RetryPolicy>,
    pub timeout: Option<Duration>,
    pub queue: Option<String>,
    pub occurrence_at: Option<OffsetDateTime>,
}

/// What [`enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, with its id.
    New(Uuid),
    /// A job with the same dedup key existed already.
    Duplicate,
}

/// Enqueues a job of `kind` on `conn` — inside the caller's transaction when it has one (then
/// raise [`jobs_queued`] after the commit, e.g. with `WorkspaceChange::wake`). On SQLite,
/// outside a transaction, take the database's write turn first.
pub async fn enqueue<S, C: ConnectionTrait>(
    conn: &C,
    kind: &JobKind<S>,
    payload: &Value,
    options: JobOptions,
) -> Result<Enqueued, DbErr> {
    let id = Uuid::now_v7();
    let row = new_row(id, kind, payload, options, JobStatus::Pending, None);
    let inserted = job::Entity::insert(row)
        .on_conflict(
            OnConflict::column(job::Column::DedupKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(if inserted == 0 {
        Enqueued::Duplicate
    } else {
        Enqueued::New(id)
    })
}

/// A job row as [`enqueue`] writes it (or, with an owner, as claimed at once).
fn new_row<S>(
    id: Uuid,
    kind: &JobKind<S>,
    payload: &Value,
    options: JobOptions,
    status: JobStatus,
    claimed_by: Option<(&str, Duration)>,
) -> job::ActiveModel {
    let now = time::now();
    let retry = options.retry.unwrap_or_else(|| kind.retry.clone());
    let timeout = options.timeout.unwrap_or(kind.timeout);
    job::ActiveModel {
        id: Set(id),
        kind: Set(kind.name.to_owned()),
        queue: Set(options.queue.unwrap_or_else(|| kind.queue.to_owned())),
        workspace_id: Set(options.workspace_id),
        payload: Set(payload.to_string()),
        status: Set(status),
        attempts: Set(i32::from(claimed_by.is_some())),
        max_attempts: Set(retry.max_attempts as i32),
        backoff_seconds: Set(retry.stored()),
        timeout_seconds: Set(timeout.as_secs().clamp(1, i32::MAX as u64) as i32),
        run_after: Set(options.run_after.map(time::truncate).unwrap_or(now)),
        dedup_key: Set(options.dedup_key),
        occurrence_at: Set(options.occurrence_at),
        lease_owner: Set(claimed_by.map(|(owner, _)| owner.to_owned())),
        lease_expires_at: Set(claimed_by.map(|(_, lease)| now + lease)),
        progress_done: Set(None),
        progress_total: Set(None),
        progress_message: Set(None),
        last_error: Set(None),
        outcome: Set(None),
        created_at: Set(now),
        started_at: Set(claimed_by.map(|_| now)),
        finished_at: Set(None),
        updated_at: Set(now),
    }
}

/// One job, if it belongs to `workspace_id` (`None`: any job, for the CLI).
pub async fn find(
    db: &Db,
    workspace_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<job::Model>, DbErr> {
    let mut query = job::Entity::find_by_id(id);
    if let Some(workspace_id) = workspace_id {
        query = query.filter(job::Column::WorkspaceId.eq(workspace_id));
    }
    query.one(db.conn()).await
}

/// Filters for [`list`].
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// `Some(id)`: that workspace's jobs; `None`: every job (the CLI).
    pub workspace_id: Option<Uuid>,
    pub kind: Option<String>,
    pub status: Option<JobStatus>,
}

/// One page of jobs, newest first, and the total.
pub async fn list(
    db: &Db,
    filter: &JobFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<job::Model>, u64), DbErr> {
    let mut query = job::Entity::find();
    if let Some(workspace_id) = filter.workspace_id {
        query = query.filter(job::Column::WorkspaceId.eq(workspace_id));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(job::Column::Kind.eq(kind.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(job::Column::Status.eq(status));
    }
    let total = super::db::count(query.clone(), db.conn()).await?;
    let rows = query
        .order_by_desc(job::Column::CreatedAt)
        .order_by_desc(job::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok((rows, total))
}

/// The latest job of `kind` in the workspace (`None`: instance-wide jobs).
pub async fn latest(
    db: &Db,
    workspace_id: Option<Uuid>,
    kind: &str,
) -> Result<Option<job::Model>, DbErr> {
    let query = job::Entity::find().filter(job::Column::Kind.eq(kind));
    let query = match workspace_id {
        Some(id) => query.filter(job::Column::WorkspaceId.eq(id)),
        None => query.filter(job::Column::WorkspaceId.is_null()),
    };
    query
        .order_by_desc(job::Column::CreatedAt)
        .order_by_desc(job::Column::Id)
        .one(db.conn())
        .await
}

/// Why a job could not be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("job not found")]
    NotFound,
    #[error("only a failed job can be retried; this one is {0:?}")]
    NotFailed(JobStatus),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Puts a failed job back in the queue for one more attempt, now.
pub async fn retry(
    db: &Db,
    workspace_id: Option<Uuid>,
    id: Uuid,
) -> Result<job::Model, RetryError> {
    let found = find(db, workspace_id, id)
        .await?
        .ok_or(RetryError::NotFound)?;
    if found.status != JobStatus::Failed {
        return Err(RetryError::NotFailed(found.status));
    }
    let now = time::now();
    let turn = db.write_turn().await;
    let updated = job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            Expr::val(JobStatus::Pending.to_value()),
        )
        .col_expr(job::Column::MaxAttempts, Expr::val(found.attempts + 1))
        .col_expr(job::Column::RunAfter, Expr::val(now))
        .col_expr(job::Column::FinishedAt, Expr::val(None::<OffsetDateTime>))
        .col_expr(job::Column::UpdatedAt, Expr::val(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Failed))
        .exec(db.conn())
        .await?;
    drop(turn);
    if updated.rows_affected == 0 {
        // Retried concurrently: it is no longer failed.
        let now = find(db, workspace_id, id)
            .await?
            .ok_or(RetryError::NotFound)?;
        return Err(RetryError::NotFailed(now.status));
    }
    jobs_queued(db).raise_locally();
    find(db, workspace_id, id)
        .await?
        .ok_or(RetryError::NotFound)
}

/// Deletes finished jobs of `kind` that finished before `before`; returns how many.
pub async fn purge(db: &Db, kind: &str, before: OffsetDateTime) -> Result<u64, DbErr> {
    let _turn = db.write_turn().await;
    let done = job::Entity::delete_many()
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::Status.is_in([JobStatus::Succeeded, JobStatus::Failed]))
        .filter(job::Column::FinishedAt.lt(before))
        .exec(db.conn())
        .await?;
    Ok(done.rows_affected)
}
