//! OAuth connections: the authorization flows in progress (`oauth_states`, each single use and
//! short-lived, holding the PKCE verifier sealed) and the connections they end in
//! (`oauth_connections`, one per member, workspace and provider, tokens sealed, with a lease
//! so that one refresh at a time runs per connection across every instance).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000012_oauth"
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
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    Id,
    StateHash,
    WorkspaceId,
    UserId,
    Provider,
    Scopes,
    RedirectUri,
    PkceVerifier,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OauthConnections {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Provider,
    Status,
    StatusReason,
    Scopes,
    AccountName,
    AccessToken,
    RefreshToken,
    ExpiresAt,
    LastUsedAt,
    LastRefreshedAt,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    UpdatedAt,
}

use ForeignKeyAction::Cascade;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        states(m).await?;
        connections(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OauthConnections::Table.into_iden(),
            OauthStates::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

async fn states(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use OauthStates as S;
    m.create_table(
        Table::create()
            .table(S::Table)
            .col(pk_uuid(S::Id))
            .col(string_len(S::StateHash, 64))
            .col(uuid(S::WorkspaceId))
            .col(uuid(S::UserId))
            .col(string_len(S::Provider, 32))
            .col(text(S::Scopes))
            .col(text(S::RedirectUri))
            .col(text(S::PkceVerifier))
            .col(timestamp_with_time_zone(S::CreatedAt))
            .col(timestamp_with_time_zone(S::ExpiresAt))
            .col(timestamp_with_time_zone_null(S::UsedAt))
            .foreign_key(&mut fk(
                "fk_oauth_states_workspace",
                (S::Table, S::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_oauth_states_user",
                (S::Table, S::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index("ux_oauth_states_hash", S::Table, &["state_hash"])
            .unique()
            .take(),
    )
    .await?;
    m.create_index(index("ix_oauth_states_expires", S::Table, &["expires_at"]))
        .await
}

async fn connections(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use OauthConnections as C;
    m.create_table(
        Table::create()
            .table(C::Table)
            .col(pk_uuid(C::Id))
            .col(uuid(C::WorkspaceId))
            .col(uuid(C::UserId))
            .col(string_len(C::Provider, 32))
            .col(string_len(C::Status, 16))
            .col(string_len_null(C::StatusReason, 1000))
            .col(text(C::Scopes))
            .col(string_len_null(C::AccountName, 320))
            .col(text_null(C::AccessToken))
            .col(text_null(C::RefreshToken))
            .col(timestamp_with_time_zone_null(C::ExpiresAt))
            .col(timestamp_with_time_zone_null(C::LastUsedAt))
            .col(timestamp_with_time_zone_null(C::LastRefreshedAt))
            .col(string_len_null(C::LeaseOwner, 100))
            .col(timestamp_with_time_zone_null(C::LeaseExpiresAt))
            .col(timestamp_with_time_zone(C::CreatedAt))
            .col(timestamp_with_time_zone(C::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_oauth_connections_workspace",
                (C::Table, C::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_oauth_connections_user",
                (C::Table, C::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_oauth_connections_member_provider",
            C::Table,
            &["workspace_id", "user_id", "provider"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_oauth_connections_refresh",
        C::Table,
        &["status", "expires_at"],
    ))
    .await
}
