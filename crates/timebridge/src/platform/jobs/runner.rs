//! The job runner: enqueues the occurrences of periodic kinds, claims due jobs under an
//! expiring lease, runs each with its kind's timeout while renewing the lease, and records
//! the outcome — success, a retry after the kind's backoff, or failure.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{
    ActiveEnum, DbErr, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};
use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinHandle};
use tracing::Instrument;
use uuid::Uuid;

use super::{
    Enqueued, JobOptions, JobStatus, RetryPolicy, enqueue, job, jobs_queued,
    kinds::{self, Job, JobKind, JobRegistry, JobScope, Progress},
    new_row,
};
use crate::platform::{
    db::Db,
    lease::{self, Claim},
    time,
};

/// How often a runner looks for due jobs when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// How often a runner enqueues the current occurrences of periodic kinds.
const SCHEDULE_EVERY: Duration = Duration::from_secs(10);
/// How often a runner purges finished jobs past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How long a claimed job is this instance's without renewal; renewed every third of it.
pub const LEASE: Duration = Duration::from_secs(60);

/// What one runner needs besides the kinds.
#[derive(Clone, Debug)]
pub struct RunnerSettings {
    /// Jobs run at once by this instance.
    pub workers: usize,
    /// The queues this instance serves (`None`: all).
    pub queues: Option<Vec<String>>,
}

/// Starts the runner loop. Returns its task and its lease owner name.
pub fn spawn<S>(
    db: Db,
    registry: Arc<JobRegistry<S>>,
    state: S,
    settings: RunnerSettings,
) -> (JoinHandle<()>, String)
where
    S: Clone + Send + Sync + 'static,
{
    let owner = format!("jobs-{}", Uuid::now_v7().simple());
    let runner = Runner {
        db,
        registry,
        state,
        owner: owner.clone(),
        queues: settings.queues,
    };
    let task = tokio::spawn(runner.run(settings.workers.max(1)));
    (task, owner)
}

/// One instance's runner.
pub struct Runner<S> {
    pub db: Db,
    pub registry: Arc<JobRegistry<S>>,
    pub state: S,
    pub owner: String,
    pub queues: Option<Vec<String>>,
}

impl<S> Clone for Runner<S>
where
    S: Clone,
{
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            registry: self.registry.clone(),
            state: self.state.clone(),
            owner: self.owner.clone(),
            queues: self.queues.clone(),
        }
    }
}

impl<S> Runner<S>
where
    S: Clone + Send + Sync + 'static,
{
    async fn run(self, workers: usize) {
        let slots = Arc::new(Semaphore::new(workers));
        let finished = Arc::new(tokio::sync::Notify::new());
        let wake = jobs_queued(&self.db);
        let (mut scheduled, mut purged): (Option<Instant>, Option<Instant>) = (None, None);
        loop {
            if scheduled.is_none_or(|at| at.elapsed() >= SCHEDULE_EVERY) {
                if let Err(e) = self.schedule_due().await {
                    tracing::warn!(error = %e, "cannot enqueue periodic jobs");
                }
                scheduled = Some(Instant::now());
            }
            if purged.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                self.purge_finished().await;
                purged = Some(Instant::now());
            }
            let free = slots.available_permits();
            if free > 0 {
                match self.claim(free as u64).await {
                    Ok(claimed) => {
                        for row in claimed {
                            // Cannot fail: the semaphore is never closed and `free` permits exist.
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let (runner, finished) = (self.clone(), finished.clone());
                            tokio::spawn(async move {
                                runner.execute(row).await;
                                drop(permit);
                                finished.notify_one();
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot claim jobs"),
                }
            }
            tokio::select! {
                _ = wake.raised() => {}
                _ = finished.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Enqueues the current occurrence of every periodic kind; whichever instance enqueues it
    /// first, it is one row (its dedup key names the occurrence).
    pub async fn schedule_due(&self) -> Result<(), DbErr> {
        let now = time::now();
        for kind in self.registry.iter() {
            let Some(at) = kind.occurrence(now) else {
                continue;
            };
            let options = JobOptions {
                dedup_key: Some(format!("{}@{}", kind.name, at.unix_timestamp())),
                occurrence_at: Some(at),
                ..Default::default()
            };
            let _turn = self.db.write_turn().await;
            enqueue(self.db.conn(), kind, &json!({}), options).await?;
        }
        Ok(())
    }

    /// Leases up to `n` due jobs of the kinds this instance knows, on the queues it serves.
    async fn claim(&self, n: u64) -> Result<Vec<job::Model>, DbErr> {
        let names = self.registry.names();
        let now = time::now();
        let also: Vec<(job::Column, SimpleExpr)> = vec![
            (
                job::Column::Status,
                Expr::val(JobStatus::Running.to_value()),
            ),
            (
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            ),
            (job::Column::StartedAt, Expr::val(Some(now))),
            (job::Column::UpdatedAt, Expr::val(now)),
        ];
        lease::claim(
            &self.db,
            Claim::<job::Entity> {
                due: kinds::due(&names, self.queues.as_deref()),
                order_by: job::Column::RunAfter,
                limit: n,
                owner: &self.owner,
                lease: LEASE,
                also,
            },
        )
        .await
    }

    /// Enqueues the occurrences that are due, then runs every due job, one at a time, until
    /// none is left (tests, and the CLI's `jobs run-due`). Returns how many jobs ran.
    pub async fn tick(&self) -> Result<usize, DbErr> {
        self.schedule_due().await?;
        let mut ran = 0;
        while let Some(row) = self.claim(1).await?.pop() {
            self.execute(row).await;
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs one claimed job and records what became of it, in a span naming the job.
    pub async fn execute(&self, row: job::Model) {
        let span = tracing::info_span!(
            "job",
            kind = %row.kind,
            job = %row.id,
            workspace = ?row.workspace_id,
            attempt = row.attempts,
        );
        async {
            let started = Instant::now();
            let outcome = self.outcome(&row).await;
            match &outcome {
                Ok(_) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "job succeeded"),
                Err(e) => tracing::warn!(elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "job attempt failed"),
            }
            if let Err(e) = self.record(&row, outcome).await {
                tracing::warn!(error = %e, "cannot record the job's outcome; its lease will expire and it will run again");
            }
        }
        .instrument(span)
        .await
    }

    async fn outcome(&self, row: &job::Model) -> Result<Value, String> {
        let Some(kind) = self.registry.get(&row.kind) else {
            return Err(format!("unknown job kind '{}'", row.kind));
        };
        if row.attempts > row.max_attempts {
            return Err("the instance running it stopped, and no attempts are left".into());
        }
        if kind.scope == JobScope::Workspace && kind.every.is_some() && row.workspace_id.is_none() {
            return self.fan_out(kind, row).await.map_err(|e| e.to_string());
        }
        self.run_handler(kind, row).await
    }

    /// A workspace kind's occurrence: one job per workspace its targets name.
    async fn fan_out(&self, kind: &JobKind<S>, row: &job::Model) -> Result<Value, DbErr> {
        let Some(targets) = &kind.targets else {
            return Ok(json!({"workspaces": 0}));
        };
        let workspaces = targets(self.state.clone()).await?;
        let occurrence = row.occurrence_at.unwrap_or(row.created_at);
        let turn = self.db.write_turn().await;
        let txn = self.db.conn().begin().await?;
        let mut enqueued = 0;
        for workspace_id in &workspaces {
            let options = JobOptions {
                workspace_id: Some(*workspace_id),
                dedup_key: Some(format!(
                    "{}@{}#{}",
                    kind.name,
                    occurrence.unix_timestamp(),
                    workspace_id.simple()
                )),
                occurrence_at: Some(occurrence),
                ..Default::default()
            };
            if let Enqueued::New(_) = enqueue(&txn, kind, &json!({}), options).await? {
                enqueued += 1;
            }
        }
        txn.commit().await?;
        drop(turn);
        jobs_queued(&self.db).raise_locally();
        Ok(json!({"workspaces": workspaces.len(), "enqueued": enqueued}))
    }

    /// Runs the handler in a task of its own (a panic is a failed attempt), under the job's
    /// timeout, renewing the lease while it runs.
    async fn run_handler(&self, kind: &JobKind<S>, row: &job::Model) -> Result<Value, String> {
        let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
        let job = Job {
            id: row.id,
            kind: kind.name,
            workspace_id: row.workspace_id,
            payload,
            attempt: Ord::max(row.attempts, 1) as u32,
            occurrence_at: row.occurrence_at,
            progress: Progress {
                db: self.db.clone(),
                id: row.id,
                owner: self.owner.clone(),
            },
        };
        let timeout = Duration::from_secs(Ord::max(row.timeout_seconds, 1) as u64);
        let mut task = tokio::spawn((kind.handler)(self.state.clone(), job).in_current_span());
        let result = tokio::select! {
            joined = tokio::time::timeout(timeout, &mut task) => match joined {
                Ok(Ok(result)) => result,
                Ok(Err(e)) if e.is_panic() => Err("the job panicked".into()),
                Ok(Err(_)) => Err("the job was cancelled".into()),
                Err(_) => Err(format!("timed out after {} s", timeout.as_secs())),
            },
            () = self.keep_lease(row.id) => Err("the lease was lost to another instance".into()),
        };
        task.abort();
        result
    }

    /// Renews the lease every third of its length; returns only when it was lost.
    async fn keep_lease(&self, id: Uuid) {
        loop {
            tokio::time::sleep(LEASE / 3).await;
            match lease::renew::<job::Entity>(&self.db, id, &self.owner, LEASE).await {
                Ok(true) => {}
                Ok(false) => return,
                // The database is unreachable: keep running; the next renewal may succeed.
                Err(e) => tracing::warn!(job = %id, error = %e, "cannot renew the job's lease"),
            }
        }
    }

    /// Writes the outcome: success, a retry after the backoff, or failure.
    async fn record(&self, row: &job::Model, outcome: Result<Value, String>) -> Result<(), DbErr> {
        let now = time::now();
        let mut update =
            job::Entity::update_many().col_expr(job::Column::UpdatedAt, Expr::val(now));
        for (column, value) in lease::release_columns::<job::Entity>() {
            update = update.col_expr(column, value);
        }
        let update = match outcome {
            Ok(value) => update
                .col_expr(
                    job::Column::Status,
                    Expr::val(JobStatus::Succeeded.to_value()),
                )
                .col_expr(job::Column::Outcome, Expr::val(Some(value.to_string())))
                .col_expr(job::Column::FinishedAt, Expr::val(Some(now))),
            Err(error) => {
                let error: String = error.chars().take(2000).collect();
                let update =
                    update.col_expr(job::Column::LastError, Expr::val(Some(error.clone())));
                if row.attempts < row.max_attempts {
                    let policy = RetryPolicy::from_stored(row.max_attempts, &row.backoff_seconds);
                    let wait = policy.wait_before(Ord::max(row.attempts, 1) as u32);
                    tracing::info!(retry_in_s = wait.as_secs(), "job will be retried");
                    update
                        .col_expr(
                            job::Column::Status,
                            Expr::val(JobStatus::Pending.to_value()),
                        )
                        .col_expr(job::Column::RunAfter, Expr::val(time::truncate(now + wait)))
                } else {
                    update
                        .col_expr(job::Column::Status, Expr::val(JobStatus::Failed.to_value()))
                        .col_expr(
                            job::Column::Outcome,
                            Expr::val(Some(json!({"error": error}).to_string())),
                        )
                        .col_expr(job::Column::FinishedAt, Expr::val(Some(now)))
                }
            }
        };
        let _turn = self.db.write_turn().await;
        let done = update
            .filter(lease::held_by::<job::Entity>(row.id, &self.owner))
            .exec(self.db.conn())
            .await?;
        if done.rows_affected == 0 {
            tracing::warn!("the job's lease was taken over before its outcome was recorded");
        }
        Ok(())
    }

    /// Deletes finished jobs past their kind's retention.
    pub async fn purge_finished(&self) {
        let now = time::now();
        for kind in self.registry.iter() {
            match super::purge(&self.db, kind.name, now - kind.kept_for()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(kind = kind.name, purged = n, "purged finished jobs"),
                Err(e) => {
                    tracing::warn!(kind = kind.name, error = %e, "cannot purge finished jobs")
                }
            }
        }
    }

    /// Runs a job of `kind` now, in this task, and returns it finished: for the admin's "run
    /// now" and the CLI. A workspace kind needs its workspace; a periodic one covers the
    /// period up to now.
    pub async fn run_now(
        &self,
        kind: &JobKind<S>,
        workspace_id: Option<Uuid>,
        payload: &Value,
    ) -> Result<job::Model, DbErr> {
        let options = JobOptions {
            workspace_id,
            occurrence_at: kind.every.map(|_| time::now()),
            ..Default::default()
        };
        let id = Uuid::now_v7();
        let row = new_row(
            id,
            kind,
            payload,
            options,
            JobStatus::Running,
            Some((&self.owner, LEASE)),
        );
        {
            let _turn = self.db.write_turn().await;
            job::Entity::insert(row)
                .exec_without_returning(self.db.conn())
                .await?;
        }
        let claimed = job::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("job {id}")))?;
        self.execute(claimed).await;
        job::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("job {id}")))
    }
}

#[cfg(test)]
mod tests {
    use ::time::macros::datetime;

    use super::*;

    #[test]
    fn retries_wait_by_the_schedule_and_the_last_wait_repeats() {
        let policy = RetryPolicy::attempts(4, &[60, 120, 240]);
        assert_eq!(policy.wait_before(1), Duration::from_secs(60));
        assert_eq!(policy.wait_before(2), Duration::from_secs(120));
        assert_eq!(policy.wait_before(3), Duration::from_secs(240));
        assert_eq!(policy.wait_before(9), Duration::from_secs(240));
        assert_eq!(RetryPolicy::once().wait_before(1), Duration::ZERO);
        let stored = RetryPolicy::from_stored(3, &policy.stored());
        assert_eq!(stored.backoff, policy.backoff);
    }

    #[test]
    fn occurrences_align_to_the_period() {
        let kind: JobKind<()> = JobKind::new("t", "", |_, _| async { Ok(Value::Null) })
            .periodic(Duration::from_secs(1800));
        assert_eq!(
            kind.occurrence(datetime!(2026-11-23 17:44:59 UTC)),
            Some(datetime!(2026-11-23 17:30 UTC))
        );
        assert_eq!(
            kind.occurrence(datetime!(2026-11-23 17:30 UTC)),
            Some(datetime!(2026-11-23 17:30 UTC))
        );
        let once: JobKind<()> = JobKind::new("o", "", |_, _| async { Ok(Value::Null) });
        assert_eq!(once.occurrence(datetime!(2026-11-23 17:44 UTC)), None);
        // Kept at least two periods, whatever the retention says.
        let short = kind.retention(Duration::from_secs(60));
        assert_eq!(short.kept_for(), Duration::from_secs(3600));
    }
}
