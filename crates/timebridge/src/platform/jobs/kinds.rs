//! Job kinds and the registry the capabilities fill at start-up.
//!
//! The registry is generic over the application state `S` the handlers receive, so the
//! platform never names the application (or any capability).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RetryPolicy, job};
use crate::platform::{consumers::BoxFuture, db::Db, lease, time as clock};

/// Whom a kind's jobs belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobScope {
    /// Each job belongs to one workspace: its admins see it, its outcome and errors, and may
    /// run and retry it.
    Workspace,
    /// The instance's own housekeeping (retention): run and seen through the CLI only.
    Instance,
}

/// A job as its handler receives it.
pub struct Job {
    pub id: Uuid,
    pub kind: &'static str,
    pub workspace_id: Option<Uuid>,
    pub payload: Value,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// For periodic kinds: the occurrence being run; the job covers `(occurrence - every,
    /// occurrence]`.
    pub occurrence_at: Option<OffsetDateTime>,
    pub progress: Progress,
}

impl Job {
    /// The window a periodic job covers, or `None` for a one-off job.
    pub fn window(&self, every: Duration) -> Option<(OffsetDateTime, OffsetDateTime)> {
        self.occurrence_at.map(|at| (at - every, at))
    }
}

/// Reports a running job's progress (and keeps its lease while it does).
#[derive(Clone)]
pub struct Progress {
    pub(super) db: Db,
    pub(super) id: Uuid,
    pub(super) owner: String,
}

impl Progress {
    /// Records `done` of `total` (and what is being done). Failing to record is logged, not
    /// fatal: progress is for people watching.
    pub async fn report(&self, done: u64, total: Option<u64>, message: Option<&str>) {
        let message = message.map(|m| m.chars().take(500).collect::<String>());
        let _turn = self.db.write_turn().await;
        let written = job::Entity::update_many()
            .col_expr(job::Column::ProgressDone, Expr::val(done as i64))
            .col_expr(
                job::Column::ProgressTotal,
                Expr::val(total.map(|t| t as i64)),
            )
            .col_expr(job::Column::ProgressMessage, Expr::val(message))
            .col_expr(job::Column::UpdatedAt, Expr::val(clock::now()))
            .filter(lease::held_by::<job::Entity>(self.id, &self.owner))
            .exec(self.db.conn())
            .await;
        if let Err(e) = written {
            tracing::warn!(job = %self.id, error = %e, "could not record job progress");
        }
    }
}

/// What a handler does with a job: its outcome (JSON, shown to admins), or why it failed.
pub type Handler<S> =
    Arc<dyn Fn(S, Job) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// For a periodic workspace kind: the workspaces an occurrence runs for.
pub type Targets<S> = Arc<dyn Fn(S) -> BoxFuture<'static, Result<Vec<Uuid>, DbErr>> + Send + Sync>;

/// One kind of job, as a capability registers it.
pub struct JobKind<S> {
    pub name: &'static str,
    pub description: &'static str,
    pub scope: JobScope,
    /// Periodic kinds: the period; occurrences align to it (every 30 min: :00 and :30).
    pub every: Option<Duration>,
    pub retry: RetryPolicy,
    /// Longest one attempt may run.
    pub timeout: Duration,
    pub queue: &'static str,
    /// How long finished jobs are kept.
    pub retention: Duration,
    pub(super) handler: Handler<S>,
    pub(super) targets: Option<Targets<S>>,
}

impl<S> Clone for JobKind<S> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            description: self.description,
            scope: self.scope,
            every: self.every,
            retry: self.retry.clone(),
            timeout: self.timeout,
            queue: self.queue,
            retention: self.retention,
            handler: self.handler.clone(),
            targets: self.targets.clone(),
        }
    }
}

/// The queue a kind runs on unless it names another.
pub const DEFAULT_QUEUE: &str = "default";

impl<S: 'static> JobKind<S> {
    /// A one-off workspace kind: one attempt, a 5-minute timeout, the default queue, kept 7
    /// days. Adjust with the builder methods.
    pub fn new<F, Fut>(name: &'static str, description: &'static str, handler: F) -> Self
    where
        F: Fn(S, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        Self {
            name,
            description,
            scope: JobScope::Workspace,
            every: None,
            retry: RetryPolicy::once(),
            timeout: Duration::from_secs(300),
            queue: DEFAULT_QUEUE,
            retention: Duration::from_secs(7 * 86_400),
            handler: Arc::new(move |state, job| Box::pin(handler(state, job))),
            targets: None,
        }
    }

    /// The instance's own job: not a workspace's, run and seen through the CLI only.
    pub fn instance(mut self) -> Self {
        self.scope = JobScope::Instance;
        self
    }

    /// Runs every `period`: an instance kind once per occurrence; a workspace kind once per
    /// occurrence for each workspace `targets` names.
    pub fn every<F, Fut>(mut self, period: Duration, targets: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Uuid>, DbErr>> + Send + 'static,
    {
        self.every = Some(period);
        self.targets = Some(Arc::new(move |state| Box::pin(targets(state))));
        self
    }

    /// Runs every `period`, once per occurrence (instance kinds).
    pub fn periodic(mut self, period: Duration) -> Self {
        self.every = Some(period);
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn queue(mut self, queue: &'static str) -> Self {
        self.queue = queue;
        self
    }

    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The occurrence `now` falls in: `now` rounded down to the period.
    pub fn occurrence(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let every = Ord::max(self.every?.as_secs(), 1) as i64;
        let t = now.unix_timestamp();
        OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(every)).ok()
    }

    /// Kept at least two periods, so a finished occurrence is never purged (and enqueued
    /// again) while its period lasts.
    pub(super) fn kept_for(&self) -> Duration {
        match self.every {
            Some(every) => self.retention.max(every * 2),
            None => self.retention,
        }
    }
}

/// The job kinds of the application, by name.
pub struct JobRegistry<S> {
    kinds: BTreeMap<&'static str, JobKind<S>>,
}

impl<S> Default for JobRegistry<S> {
    fn default() -> Self {
        Self {
            kinds: BTreeMap::new(),
        }
    }
}

impl<S: 'static> JobRegistry<S> {
    /// Registers a kind.
    ///
    /// # Panics
    /// When the name is taken: two capabilities claiming one name is a programming error the
    /// test suite meets on start-up.
    pub fn register(&mut self, kind: JobKind<S>) {
        assert!(
            !self.kinds.contains_key(kind.name),
            "job kind {} is registered twice",
            kind.name
        );
        self.kinds.insert(kind.name, kind);
    }

    pub fn get(&self, name: &str) -> Option<&JobKind<S>> {
        self.kinds.get(name)
    }

    /// Every kind, by name.
    pub fn iter(&self) -> impl Iterator<Item = &JobKind<S>> {
        self.kinds.values()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}

/// A due condition shared by the runner: pending or running (a free lease is added by the
/// lease helper), due by `run_after`, of a kind this instance knows, on a queue it serves.
pub(super) fn due(kinds: &[&'static str], queues: Option<&[String]>) -> sea_orm::Condition {
    let mut due = sea_orm::Condition::all()
        .add(job::Column::Status.is_in([super::JobStatus::Pending, super::JobStatus::Running]))
        .add(job::Column::RunAfter.lte(clock::now()))
        .add(job::Column::Kind.is_in(kinds.iter().copied()));
    if let Some(queues) = queues {
        due = due.add(Expr::col(job::Column::Queue).is_in(queues.iter().map(String::as_str)));
    }
    due
}
