//! `events`: the transactional outbox. One row per domain event, numbered per workspace.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_events"
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    WorkspaceId,
    Sequence,
    EventType,
    ResourceType,
    ResourceId,
    Actor,
    Data,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(pk_uuid(Events::Id))
                .col(uuid(Events::WorkspaceId))
                .col(big_integer(Events::Sequence))
                .col(string_len(Events::EventType, 64))
                .col(string_len(Events::ResourceType, 32))
                .col(uuid(Events::ResourceId))
                .col(text(Events::Actor))
                .col(text(Events::Data))
                .col(timestamp_with_time_zone(Events::OccurredAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_events_workspace")
                        .from(Events::Table, Events::WorkspaceId)
                        .to(Workspaces::Table, Workspaces::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        // The feed reads "after sequence N" per workspace; the pair is also unique.
        m.create_index(
            Index::create()
                .name("ux_events_workspace_sequence")
                .table(Events::Table)
                .col(Events::WorkspaceId)
                .col(Events::Sequence)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_occurred")
                .table(Events::Table)
                .col(Events::OccurredAt)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Events::Table).take())
            .await
    }
}
