//! The scheduler: periodic jobs on a queue kept in the database (`job_runs`).
//!
//! Each job has a period; its occurrences are aligned to it (every 30 minutes: :00 and :30).
//! Every instance inserts the current occurrence of each job, and the unique key
//! `(job, occurrence_at)` keeps one row; instances then claim due rows under an expiring lease,
//! so each occurrence runs once, and one whose instance died is run by another after the lease.
//! A job that walks many members catches each member's failure, so one broken integration
//! never blocks the others; the outcome (with the failures) is kept on the run and shown to
//! admins (`GET /api/v1/integration/jobs`).

pub mod routes;

use std::time::Duration;

use ::time::OffsetDateTime;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, Order, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{app::AppState, platform::time};

/// `job_runs`.
pub mod run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub job: String,
        pub occurrence_at: TimeDateTimeWithTimeZone,
        /// `pending`, `running`, `succeeded` or `failed`.
        pub status: String,
        pub attempts: i32,
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<TimeDateTimeWithTimeZone>,
        pub started_at: Option<TimeDateTimeWithTimeZone>,
        pub finished_at: Option<TimeDateTimeWithTimeZone>,
        /// JSON: what the run did, or why it failed.
        pub outcome: Option<String>,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A periodic job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Posts each Slack member's daily summary at their `daily_summary_time`.
    SlackDailySummary,
    /// Pulls the open issues of every active GitHub integration that has a token.
    GithubSync,
    /// Purges webhook deliveries and the inbound webhook ledger past their retention.
    Retention,
}

impl Job {
    pub const ALL: [Job; 3] = [Self::SlackDailySummary, Self::GithubSync, Self::Retention];

    pub fn name(self) -> &'static str {
        match self {
            Self::SlackDailySummary => "slack_daily_summary",
            Self::GithubSync => "github_sync",
            Self::Retention => "retention",
        }
    }

    pub fn every(self) -> Duration {
        match self {
            Self::SlackDailySummary | Self::GithubSync => Duration::from_secs(30 * 60),
            Self::Retention => Duration::from_secs(60 * 60),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::SlackDailySummary => {
                "Every 30 minutes: posts the daily summary of each Slack member whose daily_summary_time falls in the last 30 minutes."
            }
            Self::GithubSync => {
                "Every 30 minutes: syncs the open issues of each active GitHub integration that has a token."
            }
            Self::Retention => {
                "Hourly: purges webhook deliveries past WEBHOOK_LOG_RETENTION_DAYS and received connector webhooks past INBOUND_WEBHOOK_RETENTION_DAYS."
            }
        }
    }

    pub fn by_name(name: &str) -> Option<Job> {
        Self::ALL.into_iter().find(|j| j.name() == name)
    }

    /// The occurrence `now` falls in: `now` rounded down to the period.
    pub fn occurrence(self, now: OffsetDateTime) -> OffsetDateTime {
        let every = self.every().as_secs() as i64;
        let t = now.unix_timestamp();
        OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(every)).unwrap_or(now)
    }
}

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// How often an instance looks for due occurrences.
const TICK: Duration = Duration::from_secs(10);
/// How long a claimed run is this instance's before another may take it over.
const LEASE: Duration = Duration::from_secs(15 * 60);

/// Starts the scheduler loop.
pub fn spawn(app: AppState) -> JoinHandle<()> {
    let owner = format!("jobs-{}", Uuid::now_v7().simple());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            if let Err(e) = tick_once(&app, &owner).await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
        }
    })
}

/// Inserts the current occurrence of every job, then runs what is due.
pub async fn tick_once(app: &AppState, owner: &str) -> Result<usize, DbErr> {
    let now = time::now();
    for job in Job::ALL {
        schedule(app, job, job.occurrence(now)).await?;
    }
    let mut ran = 0;
    while let Some(run) = claim(app, owner).await? {
        execute(app, run).await?;
        ran += 1;
    }
    Ok(ran)
}

/// Inserts an occurrence unless it exists (whichever instance inserts it, one row).
pub async fn schedule(app: &AppState, job: Job, at: OffsetDateTime) -> Result<(), DbErr> {
    let row = run::ActiveModel {
        id: Set(Uuid::now_v7()),
        job: Set(job.name().to_owned()),
        occurrence_at: Set(at),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
        outcome: Set(None),
        created_at: Set(time::now()),
    };
    let _turn = app.db.write_turn().await;
    run::Entity::insert(row)
        .on_conflict_do_nothing_on([run::Column::Job, run::Column::OccurrenceAt])
        .exec(app.db.conn())
        .await
        .map(|_| ())
}

/// Leases the oldest due run: pending, or running under an expired lease.
async fn claim(app: &AppState, owner: &str) -> Result<Option<run::Model>, DbErr> {
    let now = time::now();
    let mut due = Query::select();
    due.column(run::Column::Id)
        .from(run::Entity)
        .and_where(
            Expr::col(run::Column::Status)
                .eq(PENDING)
                .or(Expr::col(run::Column::Status)
                    .eq(RUNNING)
                    .and(Expr::col(run::Column::LeaseExpiresAt).lt(now))),
        )
        .order_by(run::Column::OccurrenceAt, Order::Asc)
        .limit(1);
    if !app.db.is_sqlite() {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let _turn = app.db.write_turn().await;
    let mut claimed = run::Entity::update_many()
        .col_expr(run::Column::Status, Expr::val(RUNNING))
        .col_expr(run::Column::LeaseOwner, Expr::val(owner))
        .col_expr(run::Column::LeaseExpiresAt, Expr::val(now + LEASE))
        .col_expr(run::Column::StartedAt, Expr::val(Some(now)))
        .col_expr(
            run::Column::Attempts,
            Expr::col(run::Column::Attempts).add(1),
        )
        .filter(Expr::col(run::Column::Id).in_subquery(due))
        .exec_with_returning(app.db.conn())
        .await?;
    Ok(claimed.pop())
}

/// Runs one claimed occurrence and records its outcome.
async fn execute(app: &AppState, claimed: run::Model) -> Result<(), DbErr> {
    let outcome = match Job::by_name(&claimed.job) {
        Some(job) => perform(app, job, claimed.occurrence_at).await,
        None => Err(format!("unknown job '{}'", claimed.job)),
    };
    let (status, outcome) = match outcome {
        Ok(v) => (SUCCEEDED, v),
        Err(e) => {
            tracing::warn!(job = %claimed.job, error = %e, "job failed");
            (FAILED, json!({"error": e}))
        }
    };
    let _turn = app.db.write_turn().await;
    run::ActiveModel {
        id: Set(claimed.id),
        status: Set(status.to_owned()),
        finished_at: Set(Some(time::now())),
        outcome: Set(Some(outcome.to_string())),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        ..Default::default()
    }
    .update(app.db.conn())
    .await
    .map(|_| ())
}

/// What each job does for the occurrence at `at` (covering the period before it).
async fn perform(app: &AppState, job: Job, at: OffsetDateTime) -> Result<Value, String> {
    let after = at - job.every();
    match job {
        Job::SlackDailySummary => crate::connectors::slack::notify::daily_summaries(app, after, at)
            .await
            .map_err(|e| e.to_string()),
        Job::GithubSync => Ok(crate::connectors::github::sync_all(app).await),
        Job::Retention => {
            let deliveries =
                crate::webhooks::retention::purge(&app.db, app.config.webhooks.log_retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
            let inbound = crate::connectors::ledger::purge(
                &app.db,
                app.config.connectors.inbound_retention_days,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(json!({"webhook_deliveries_purged": deliveries, "inbound_webhooks_purged": inbound}))
        }
    }
}

/// Runs a job now, as an extra occurrence at this second (admins, tests).
pub async fn run_now(app: &AppState, job: Job) -> Result<run::Model, DbErr> {
    let now = time::now();
    schedule(app, job, now).await?;
    let row = run::Entity::find()
        .filter(run::Column::Job.eq(job.name()))
        .filter(run::Column::OccurrenceAt.eq(now))
        .one(app.db.conn())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the run just scheduled".into()))?;
    if row.status != PENDING {
        return Ok(row);
    }
    let turn = app.db.write_turn().await;
    let claimed = run::Entity::update_many()
        .col_expr(run::Column::Status, Expr::val(RUNNING))
        .col_expr(run::Column::LeaseOwner, Expr::val("manual"))
        .col_expr(run::Column::LeaseExpiresAt, Expr::val(now + LEASE))
        .col_expr(run::Column::StartedAt, Expr::val(Some(now)))
        .col_expr(
            run::Column::Attempts,
            Expr::col(run::Column::Attempts).add(1),
        )
        .filter(run::Column::Id.eq(row.id))
        .filter(run::Column::Status.eq(PENDING))
        .exec_with_returning(app.db.conn())
        .await?
        .pop();
    drop(turn);
    if let Some(claimed) = claimed {
        execute(app, claimed).await?;
    }
    run::Entity::find_by_id(row.id)
        .one(app.db.conn())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the run".into()))
}

#[cfg(test)]
mod tests {
    use ::time::macros::datetime;

    use super::*;

    #[test]
    fn occurrences_align_to_the_period() {
        let job = Job::SlackDailySummary;
        assert_eq!(
            job.occurrence(datetime!(2026-11-23 17:44:59 UTC)),
            datetime!(2026-11-23 17:30 UTC)
        );
        assert_eq!(
            job.occurrence(datetime!(2026-11-23 17:30 UTC)),
            datetime!(2026-11-23 17:30 UTC)
        );
        assert_eq!(
            Job::Retention.occurrence(datetime!(2026-11-23 17:44 UTC)),
            datetime!(2026-11-23 17:00 UTC)
        );
    }
}
