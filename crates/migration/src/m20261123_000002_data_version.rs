//! `workspaces.data_version`: a counter every committed change to a workspace's data advances
//! in the same transaction. Read caches compare against it; the outbox numbers events by it.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_data_version"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    DataVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Workspaces::Table)
                .add_column(big_integer(Workspaces::DataVersion).default(0))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Workspaces::Table)
                .drop_column(Workspaces::DataVersion)
                .take(),
        )
        .await
    }
}
