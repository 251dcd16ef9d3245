//! The durable job queue: one row per job (a periodic occurrence or a one-off job enqueued by
//! code), claimed under an expiring lease, retried by its own policy, with its progress,
//! error and outcome. Replaces `job_runs`, which held only periodic occurrences.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000009_job_queue"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Queue,
    WorkspaceId,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    BackoffSeconds,
    TimeoutSeconds,
    RunAfter,
    DedupKey,
    OccurrenceAt,
    LeaseOwner,
    LeaseExpiresAt,
    ProgressDone,
    ProgressTotal,
    ProgressMessage,
    LastError,
    Outcome,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Jobs as J;
        m.drop_table(Table::drop().table(JobRuns::Table).if_exists().take())
            .await?;
        m.create_table(
            Table::create()
                .table(J::Table)
                .col(pk_uuid(J::Id))
                .col(string_len(J::Kind, 64))
                .col(string_len(J::Queue, 32))
                .col(uuid_null(J::WorkspaceId))
                .col(text(J::Payload))
                .col(string_len(J::Status, 16))
                .col(integer(J::Attempts).default(0))
                .col(integer(J::MaxAttempts))
                .col(string_len(J::BackoffSeconds, 200))
                .col(integer(J::TimeoutSeconds))
                .col(timestamp_with_time_zone(J::RunAfter))
                .col(string_len_null(J::DedupKey, 200))
                .col(timestamp_with_time_zone_null(J::OccurrenceAt))
                .col(string_len_null(J::LeaseOwner, 64))
                .col(timestamp_with_time_zone_null(J::LeaseExpiresAt))
                .col(big_integer_null(J::ProgressDone))
                .col(big_integer_null(J::ProgressTotal))
                .col(string_len_null(J::ProgressMessage, 500))
                .col(string_len_null(J::LastError, 2000))
                .col(text_null(J::Outcome))
                .col(timestamp_with_time_zone(J::CreatedAt))
                .col(timestamp_with_time_zone_null(J::StartedAt))
                .col(timestamp_with_time_zone_null(J::FinishedAt))
                .col(timestamp_with_time_zone(J::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_jobs_workspace",
                    (J::Table, J::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        // A job enqueued twice under one key is one row (NULL keys never collide).
        m.create_index(
            index("ux_jobs_dedup_key", J::Table, &["dedup_key"])
                .unique()
                .take(),
        )
        .await?;
        // What the runners claim by.
        m.create_index(index("ix_jobs_due", J::Table, &["status", "run_after"]))
            .await?;
        // A workspace's runs, newest first.
        m.create_index(index(
            "ix_jobs_workspace",
            J::Table,
            &["workspace_id", "kind", "created_at"],
        ))
        .await?;
        // The purge of finished jobs.
        m.create_index(index(
            "ix_jobs_finished",
            J::Table,
            &["kind", "status", "finished_at"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Jobs::Table).take()).await
    }
}
