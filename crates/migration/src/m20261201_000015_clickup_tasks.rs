//! ClickUp tasks made from Timebridge tasks: one link per task, with the job making it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000015_clickup_tasks"
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClickupTaskLinks {
    Table,
    TaskId,
    WorkspaceId,
    JobId,
    ClickupTaskId,
    ClickupUrl,
    ListId,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ClickupTaskLinks as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .col(pk_uuid(L::TaskId))
                .col(uuid(L::WorkspaceId))
                .col(uuid_null(L::JobId))
                .col(string_len_null(L::ClickupTaskId, 64))
                .col(string_len_null(L::ClickupUrl, 500))
                .col(string_len_null(L::ListId, 64))
                .col(timestamp_with_time_zone(L::CreatedAt))
                .col(timestamp_with_time_zone(L::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_clickup_task_links_task",
                    (L::Table, L::TaskId),
                    (Tasks::Table, Tasks::Id),
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ClickupTaskLinks::Table).take())
            .await
    }
}
