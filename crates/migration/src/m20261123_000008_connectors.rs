//! Connectors: integration records (config JSON with sealed secrets), the ledger of inbound
//! webhooks (de-duplicated by provider and delivery id), scheduled job runs, and the join keys
//! connectors use (`users.github_username`; `tasks.external_ref` exists since the tracking
//! migration).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000008_connectors"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    GithubUsername,
}

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Provider,
    Active,
    Config,
    Secrets,
    LastOkAt,
    LastError,
    LastErrorAt,
    LastSyncAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InboundWebhooks {
    Table,
    Id,
    Provider,
    DeliveryId,
    IntegrationId,
    WorkspaceId,
    EventType,
    Headers,
    Payload,
    Status,
    Error,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Id,
    Job,
    OccurrenceAt,
    Status,
    Attempts,
    LeaseOwner,
    LeaseExpiresAt,
    StartedAt,
    FinishedAt,
    Outcome,
    CreatedAt,
}

use ForeignKeyAction::{Cascade, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(string_len_null(Users::GithubUsername, 100))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_users_github_username",
            Users::Table,
            &["github_username"],
        ))
        .await?;
        integrations(m).await?;
        inbound_webhooks(m).await?;
        job_runs(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JobRuns::Table.into_iden(),
            InboundWebhooks::Table.into_iden(),
            Integrations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        m.drop_index(
            Index::drop()
                .name("ix_users_github_username")
                .table(Users::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::GithubUsername)
                .take(),
        )
        .await
    }
}

async fn integrations(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Integrations as I;
    m.create_table(
        Table::create()
            .table(I::Table)
            .col(pk_uuid(I::Id))
            .col(uuid(I::WorkspaceId))
            .col(uuid(I::UserId))
            .col(string_len(I::Provider, 32))
            .col(boolean(I::Active))
            .col(text(I::Config))
            .col(text_null(I::Secrets))
            .col(timestamp_with_time_zone_null(I::LastOkAt))
            .col(string_len_null(I::LastError, 1000))
            .col(timestamp_with_time_zone_null(I::LastErrorAt))
            .col(timestamp_with_time_zone_null(I::LastSyncAt))
            .col(timestamp_with_time_zone(I::CreatedAt))
            .col(timestamp_with_time_zone(I::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_integrations_workspace",
                (I::Table, I::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_integrations_user",
                (I::Table, I::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_integrations_workspace_provider_user",
            I::Table,
            &["workspace_id", "provider", "user_id"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_integrations_provider",
        I::Table,
        &["provider", "active"],
    ))
    .await
}

async fn inbound_webhooks(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use InboundWebhooks as W;
    m.create_table(
        Table::create()
            .table(W::Table)
            .col(pk_uuid(W::Id))
            .col(string_len(W::Provider, 32))
            .col(string_len(W::DeliveryId, 200))
            .col(uuid_null(W::IntegrationId))
            .col(uuid_null(W::WorkspaceId))
            .col(string_len(W::EventType, 100))
            .col(text(W::Headers))
            .col(text(W::Payload))
            .col(string_len(W::Status, 16))
            .col(string_len_null(W::Error, 1000))
            .col(timestamp_with_time_zone(W::ReceivedAt))
            .col(timestamp_with_time_zone_null(W::ProcessedAt))
            .foreign_key(&mut fk(
                "fk_inbound_webhooks_integration",
                (W::Table, W::IntegrationId),
                (Integrations::Table, Integrations::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    // The dedup key: a delivery received twice (or concurrently) is one row.
    m.create_index(
        index(
            "ux_inbound_webhooks_delivery",
            W::Table,
            &["provider", "delivery_id"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_inbound_webhooks_received",
        W::Table,
        &["received_at"],
    ))
    .await
}

async fn job_runs(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use JobRuns as J;
    m.create_table(
        Table::create()
            .table(J::Table)
            .col(pk_uuid(J::Id))
            .col(string_len(J::Job, 64))
            .col(timestamp_with_time_zone(J::OccurrenceAt))
            .col(string_len(J::Status, 16))
            .col(integer(J::Attempts).default(0))
            .col(string_len_null(J::LeaseOwner, 64))
            .col(timestamp_with_time_zone_null(J::LeaseExpiresAt))
            .col(timestamp_with_time_zone_null(J::StartedAt))
            .col(timestamp_with_time_zone_null(J::FinishedAt))
            .col(text_null(J::Outcome))
            .col(timestamp_with_time_zone(J::CreatedAt))
            .take(),
    )
    .await?;
    // One row per occurrence: whichever instance inserts it first, one runs it.
    m.create_index(
        index(
            "ux_job_runs_occurrence",
            J::Table,
            &["job", "occurrence_at"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_job_runs_status",
        J::Table,
        &["status", "occurrence_at"],
    ))
    .await
}
