//! Workspaces, users and memberships; API tokens and their usage log; projects.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_foundation"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    Name,
    Plan,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Name,
    TokenPrefix,
    TokenHash,
    Scopes,
    AllowedIps,
    IsActive,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiUsageLogs {
    Table,
    Id,
    TokenId,
    WorkspaceId,
    UserId,
    Method,
    Path,
    StatusCode,
    DurationMs,
    IpAddress,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    WorkspaceId,
    Name,
    Description,
    HourlyRateCents,
    Billable,
    Status,
    CreatedAt,
    UpdatedAt,
}

/// Every foreign key of the foundation cascades on delete.
fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    crate::build::fk(name, from, to, ForeignKeyAction::Cascade)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .col(pk_uuid(Workspaces::Id))
                .col(string_len_uniq(Workspaces::Name, 200))
                .col(string_len(Workspaces::Plan, 16))
                .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                .col(timestamp_with_time_zone(Workspaces::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(string_len_uniq(Users::Email, 320))
                .col(string_len(Users::Name, 200))
                .col(text_null(Users::PasswordHash))
                .col(boolean(Users::IsActive))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(pk_uuid(Memberships::Id))
                .col(uuid(Memberships::WorkspaceId))
                .col(uuid(Memberships::UserId))
                .col(string_len(Memberships::Role, 16))
                .col(timestamp_with_time_zone(Memberships::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_memberships_workspace",
                    (Memberships::Table, Memberships::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_memberships_user",
                    (Memberships::Table, Memberships::UserId),
                    (Users::Table, Users::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_memberships_workspace_user",
                Memberships::Table,
                &["workspace_id", "user_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(index(
            "ix_memberships_user",
            Memberships::Table,
            &["user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(pk_uuid(ApiTokens::Id))
                .col(uuid(ApiTokens::WorkspaceId))
                .col(uuid(ApiTokens::UserId))
                .col(string_len(ApiTokens::Name, 200))
                .col(string_len(ApiTokens::TokenPrefix, 32))
                .col(string_len_uniq(ApiTokens::TokenHash, 128))
                .col(text(ApiTokens::Scopes))
                .col(text_null(ApiTokens::AllowedIps))
                .col(boolean(ApiTokens::IsActive))
                .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone(ApiTokens::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_api_tokens_workspace",
                    (ApiTokens::Table, ApiTokens::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_api_tokens_user",
                    (ApiTokens::Table, ApiTokens::UserId),
                    (Users::Table, Users::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_api_tokens_user",
            ApiTokens::Table,
            &["user_id", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "ix_api_tokens_workspace",
            ApiTokens::Table,
            &["workspace_id", "created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ApiUsageLogs::Table)
                .col(pk_uuid(ApiUsageLogs::Id))
                .col(uuid(ApiUsageLogs::TokenId))
                .col(uuid(ApiUsageLogs::WorkspaceId))
                .col(uuid(ApiUsageLogs::UserId))
                .col(string_len(ApiUsageLogs::Method, 16))
                .col(text(ApiUsageLogs::Path))
                .col(integer(ApiUsageLogs::StatusCode))
                .col(integer(ApiUsageLogs::DurationMs))
                .col(string_len_null(ApiUsageLogs::IpAddress, 64))
                .col(timestamp_with_time_zone(ApiUsageLogs::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_api_usage_logs_token",
                    (ApiUsageLogs::Table, ApiUsageLogs::TokenId),
                    (ApiTokens::Table, ApiTokens::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_api_usage_logs_token",
            ApiUsageLogs::Table,
            &["token_id", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "ix_api_usage_logs_workspace",
            ApiUsageLogs::Table,
            &["workspace_id", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "ix_api_usage_logs_created",
            ApiUsageLogs::Table,
            &["created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(pk_uuid(Projects::Id))
                .col(uuid(Projects::WorkspaceId))
                .col(string_len(Projects::Name, 200))
                .col(text_null(Projects::Description))
                .col(big_integer_null(Projects::HourlyRateCents))
                .col(boolean(Projects::Billable))
                .col(string_len(Projects::Status, 16))
                .col(timestamp_with_time_zone(Projects::CreatedAt))
                .col(timestamp_with_time_zone(Projects::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_projects_workspace",
                    (Projects::Table, Projects::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_projects_workspace_name",
            Projects::Table,
            &["workspace_id", "name", "id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Projects::Table.into_iden(),
            ApiUsageLogs::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Workspaces::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
