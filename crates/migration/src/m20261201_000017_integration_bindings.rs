//! Data sync bindings: a mapping between a Timebridge entity kind and a provider's collection
//! (through one of the workspace's integrations), the links between the items it keeps in step
//! (with each side's values at the last sync, which is how a conflict is told from a change),
//! and the outcome of every run.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000017_integration_bindings"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IntegrationBindings {
    Table,
    Id,
    WorkspaceId,
    IntegrationId,
    Provider,
    Entity,
    Collection,
    ProjectId,
    Name,
    Mapping,
    Direction,
    ConflictRule,
    AutoSync,
    Active,
    Managed,
    LastSyncedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IntegrationBindingLinks {
    Table,
    Id,
    BindingId,
    LocalId,
    RemoteId,
    LocalValues,
    RemoteValues,
    SyncedAt,
}

#[derive(DeriveIden)]
enum IntegrationBindingRuns {
    Table,
    Id,
    BindingId,
    WorkspaceId,
    Trigger,
    Status,
    Created,
    Updated,
    Skipped,
    Conflicts,
    Errors,
    StartedAt,
    FinishedAt,
}

use ForeignKeyAction::{Cascade, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use IntegrationBindings as B;
        m.create_table(
            Table::create()
                .table(B::Table)
                .col(pk_uuid(B::Id))
                .col(uuid(B::WorkspaceId))
                .col(uuid(B::IntegrationId))
                .col(string_len(B::Provider, 32))
                .col(string_len(B::Entity, 16))
                .col(string_len(B::Collection, 200))
                .col(uuid_null(B::ProjectId))
                .col(string_len(B::Name, 200))
                .col(text(B::Mapping))
                .col(string_len(B::Direction, 8))
                .col(string_len(B::ConflictRule, 16))
                .col(boolean(B::AutoSync))
                .col(boolean(B::Active))
                .col(boolean(B::Managed))
                .col(timestamp_with_time_zone_null(B::LastSyncedAt))
                .col(timestamp_with_time_zone(B::CreatedAt))
                .col(timestamp_with_time_zone(B::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_integration_bindings_workspace",
                    (B::Table, B::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_integration_bindings_integration",
                    (B::Table, B::IntegrationId),
                    (Integrations::Table, Integrations::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_integration_bindings_project",
                    (B::Table, B::ProjectId),
                    (Projects::Table, Projects::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ix_integration_bindings_workspace",
                B::Table,
                &["workspace_id", "created_at"],
            )
            .take(),
        )
        .await?;
        // One binding per integration, entity kind and collection: two would fight.
        m.create_index(
            index(
                "ux_integration_bindings_collection",
                B::Table,
                &["integration_id", "entity", "collection"],
            )
            .unique()
            .take(),
        )
        .await?;

        use IntegrationBindingLinks as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .col(pk_uuid(L::Id))
                .col(uuid(L::BindingId))
                .col(uuid(L::LocalId))
                .col(string_len(L::RemoteId, 200))
                .col(text(L::LocalValues))
                .col(text(L::RemoteValues))
                .col(timestamp_with_time_zone(L::SyncedAt))
                .foreign_key(&mut fk(
                    "fk_integration_binding_links_binding",
                    (L::Table, L::BindingId),
                    (IntegrationBindings::Table, IntegrationBindings::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_integration_binding_links_remote",
                L::Table,
                &["binding_id", "remote_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_integration_binding_links_local",
                L::Table,
                &["binding_id", "local_id"],
            )
            .unique()
            .take(),
        )
        .await?;

        use IntegrationBindingRuns as R;
        m.create_table(
            Table::create()
                .table(R::Table)
                .col(pk_uuid(R::Id))
                .col(uuid(R::BindingId))
                .col(uuid(R::WorkspaceId))
                .col(string_len(R::Trigger, 16))
                .col(string_len(R::Status, 16))
                .col(integer(R::Created))
                .col(integer(R::Updated))
                .col(integer(R::Skipped))
                .col(text(R::Conflicts))
                .col(text(R::Errors))
                .col(timestamp_with_time_zone(R::StartedAt))
                .col(timestamp_with_time_zone(R::FinishedAt))
                .foreign_key(&mut fk(
                    "fk_integration_binding_runs_binding",
                    (R::Table, R::BindingId),
                    (IntegrationBindings::Table, IntegrationBindings::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ix_integration_binding_runs_binding",
                R::Table,
                &["binding_id", "started_at"],
            )
            .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IntegrationBindingRuns::Table.into_iden(),
            IntegrationBindingLinks::Table.into_iden(),
            IntegrationBindings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
