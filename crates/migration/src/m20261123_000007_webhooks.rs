//! Outbound webhooks: endpoints, the deliveries queued for them (one per endpoint and event,
//! written in the change's own transaction) and every attempt to send one.
//!
//! The worker's queue lives on the endpoint row: `next_due_at` (when its head delivery is due),
//! `queue_version` (bumped by every change that queues a delivery, so a worker never clears
//! `next_due_at` over work it did not see) and a lease (`lease_owner`, `lease_expires_at`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000007_webhooks"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    WorkspaceId,
    Name,
    Url,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    Events,
    RetryPolicy,
    Active,
    DisabledReason,
    DisabledAt,
    FailingSince,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    QueueVersion,
    NextDueAt,
    LeaseOwner,
    LeaseExpiresAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WorkspaceId,
    EndpointId,
    EventId,
    EventType,
    Sequence,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatusCode,
    LastError,
    FailingReported,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    EndpointId,
    AttemptedAt,
    StatusCode,
    DurationMs,
    Error,
    ResponseExcerpt,
    Succeeded,
}

use ForeignKeyAction::Cascade;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        endpoints(m).await?;
        deliveries(m).await?;
        attempts(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

async fn endpoints(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use WebhookEndpoints as E;
    m.create_table(
        Table::create()
            .table(E::Table)
            .col(pk_uuid(E::Id))
            .col(uuid(E::WorkspaceId))
            .col(string_len(E::Name, 200))
            .col(string_len(E::Url, 2048))
            .col(text(E::Secret))
            .col(text_null(E::PreviousSecret))
            .col(timestamp_with_time_zone_null(E::PreviousSecretExpiresAt))
            .col(text(E::Events))
            .col(string_len(E::RetryPolicy, 16))
            .col(boolean(E::Active))
            .col(string_len_null(E::DisabledReason, 500))
            .col(timestamp_with_time_zone_null(E::DisabledAt))
            .col(timestamp_with_time_zone_null(E::FailingSince))
            .col(uuid_null(E::CreatedBy))
            .col(timestamp_with_time_zone(E::CreatedAt))
            .col(timestamp_with_time_zone(E::UpdatedAt))
            .col(big_integer(E::QueueVersion).default(0))
            .col(timestamp_with_time_zone_null(E::NextDueAt))
            .col(string_len_null(E::LeaseOwner, 64))
            .col(timestamp_with_time_zone_null(E::LeaseExpiresAt))
            .foreign_key(&mut fk(
                "fk_webhook_endpoints_workspace",
                (E::Table, E::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_webhook_endpoints_workspace",
        E::Table,
        &["workspace_id", "created_at"],
    ))
    .await?;
    // The worker's claim: endpoints whose head delivery is due, oldest first.
    m.create_index(index(
        "ix_webhook_endpoints_next_due",
        E::Table,
        &["next_due_at"],
    ))
    .await
}

async fn deliveries(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use WebhookDeliveries as D;
    m.create_table(
        Table::create()
            .table(D::Table)
            .col(pk_uuid(D::Id))
            .col(uuid(D::WorkspaceId))
            .col(uuid(D::EndpointId))
            .col(uuid_null(D::EventId))
            .col(string_len(D::EventType, 64))
            .col(big_integer(D::Sequence))
            .col(text_null(D::Payload))
            .col(string_len(D::Status, 16))
            .col(integer(D::Attempts).default(0))
            .col(timestamp_with_time_zone(D::NextAttemptAt))
            .col(integer_null(D::LastStatusCode))
            .col(string_len_null(D::LastError, 1000))
            .col(boolean(D::FailingReported).default(false))
            .col(timestamp_with_time_zone(D::CreatedAt))
            .col(timestamp_with_time_zone_null(D::CompletedAt))
            .foreign_key(&mut fk(
                "fk_webhook_deliveries_endpoint",
                (D::Table, D::EndpointId),
                (WebhookEndpoints::Table, WebhookEndpoints::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_webhook_deliveries_event",
                (D::Table, D::EventId),
                (Events::Table, Events::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    // The endpoint's queue, in order of occurrence.
    m.create_index(index(
        "ix_webhook_deliveries_queue",
        D::Table,
        &["endpoint_id", "status", "sequence"],
    ))
    .await?;
    m.create_index(index(
        "ix_webhook_deliveries_history",
        D::Table,
        &["endpoint_id", "created_at"],
    ))
    .await?;
    m.create_index(index(
        "ix_webhook_deliveries_created",
        D::Table,
        &["created_at"],
    ))
    .await?;
    m.create_index(index(
        "ix_webhook_deliveries_event",
        D::Table,
        &["event_id"],
    ))
    .await
}

async fn attempts(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use WebhookAttempts as A;
    m.create_table(
        Table::create()
            .table(A::Table)
            .col(pk_uuid(A::Id))
            .col(uuid(A::DeliveryId))
            .col(uuid(A::EndpointId))
            .col(timestamp_with_time_zone(A::AttemptedAt))
            .col(integer_null(A::StatusCode))
            .col(big_integer(A::DurationMs))
            .col(string_len_null(A::Error, 1000))
            .col(text_null(A::ResponseExcerpt))
            .col(boolean(A::Succeeded))
            .foreign_key(&mut fk(
                "fk_webhook_attempts_delivery",
                (A::Table, A::DeliveryId),
                (WebhookDeliveries::Table, WebhookDeliveries::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_webhook_attempts_delivery",
        A::Table,
        &["delivery_id", "attempted_at"],
    ))
    .await?;
    m.create_index(index(
        "ix_webhook_attempts_endpoint",
        A::Table,
        &["endpoint_id", "attempted_at"],
    ))
    .await
}
