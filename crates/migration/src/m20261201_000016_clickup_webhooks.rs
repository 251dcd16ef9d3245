//! ClickUp webhooks: the one webhook Timebridge registers per workspace's ClickUp team, with
//! its signing secret (sealed).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000016_clickup_webhooks"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClickupWebhooks {
    Table,
    WorkspaceId,
    TeamId,
    WebhookId,
    Secret,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ClickupWebhooks as W;
        m.create_table(
            Table::create()
                .table(W::Table)
                .col(pk_uuid(W::WorkspaceId))
                .col(string_len(W::TeamId, 64))
                .col(string_len(W::WebhookId, 64))
                .col(text(W::Secret))
                .col(timestamp_with_time_zone(W::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_clickup_webhooks_workspace",
                    (W::Table, W::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ClickupWebhooks::Table).take())
            .await
    }
}
