//! ClickUp: the spaces of each workspace's ClickUp team as last synced, and which space each
//! client (ClickUp's "customer") is assigned to.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000014_clickup"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClickupSpaces {
    Table,
    Id,
    WorkspaceId,
    TeamId,
    SpaceId,
    Name,
    Private,
    Archived,
    SyncedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ClickupClientSpaces {
    Table,
    ClientId,
    WorkspaceId,
    SpaceId,
    UpdatedAt,
}

use ForeignKeyAction::Cascade;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ClickupSpaces as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(pk_uuid(S::Id))
                .col(uuid(S::WorkspaceId))
                .col(string_len(S::TeamId, 64))
                .col(string_len(S::SpaceId, 64))
                .col(string_len(S::Name, 500))
                .col(boolean(S::Private))
                .col(boolean(S::Archived))
                .col(timestamp_with_time_zone(S::SyncedAt))
                .col(timestamp_with_time_zone(S::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_clickup_spaces_workspace",
                    (S::Table, S::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_clickup_spaces_space",
                S::Table,
                &["workspace_id", "space_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        use ClickupClientSpaces as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .col(pk_uuid(C::ClientId))
                .col(uuid(C::WorkspaceId))
                .col(string_len(C::SpaceId, 64))
                .col(timestamp_with_time_zone(C::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_clickup_client_spaces_client",
                    (C::Table, C::ClientId),
                    (Clients::Table, Clients::Id),
                    Cascade,
                ))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClickupClientSpaces::Table.into_iden(),
            ClickupSpaces::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
