//! Deleted records: a deleted time entry or expense is moved here (as JSON, with its owner)
//! in the transaction that deletes it, so it vanishes from every list and report yet can be
//! restored until the retention window has passed.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000010_deleted_records"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DeletedRecords {
    Table,
    Id,
    WorkspaceId,
    ResourceType,
    OwnerId,
    Data,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use DeletedRecords as D;
        m.create_table(
            Table::create()
                .table(D::Table)
                // The deleted record's own id: restoring gives it back.
                .col(pk_uuid(D::Id))
                .col(uuid(D::WorkspaceId))
                .col(string_len(D::ResourceType, 32))
                .col(uuid_null(D::OwnerId))
                .col(text(D::Data))
                .col(timestamp_with_time_zone(D::DeletedAt))
                .foreign_key(&mut fk(
                    "fk_deleted_records_workspace",
                    (D::Table, D::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        // The retention purge, by kind and age.
        m.create_index(index(
            "ix_deleted_records_purge",
            D::Table,
            &["resource_type", "deleted_at"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DeletedRecords::Table).take())
            .await
    }
}
