//! Add-ons: the catalog the operator fills (`addons`, one row per manifest key), the
//! installations in workspaces (`addon_installations`: at most one live installation of an
//! add-on per workspace; uninstalled ones are kept, soft-deleted, until purged), and the
//! short-lived API tokens minted for an installation (`addon_tokens`, so uninstalling revokes
//! every one at once).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000019_addons"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Addons {
    Table,
    Id,
    Key,
    Name,
    Manifest,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AddonInstallations {
    Table,
    Id,
    AddonId,
    WorkspaceId,
    InstalledBy,
    Status,
    Enabled,
    Settings,
    Error,
    /// `true` while installed, `NULL` once uninstalled: unique with the add-on and workspace,
    /// so one live installation each (NULLs never collide, on either backend).
    Live,
    AcknowledgedAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum AddonTokens {
    Table,
    TokenId,
    InstallationId,
    CreatedAt,
}

use ForeignKeyAction::Cascade;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Addons as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(pk_uuid(A::Id))
                .col(string_len_uniq(A::Key, 64))
                .col(string_len(A::Name, 100))
                .col(text(A::Manifest))
                .col(string_len(A::Source, 2048))
                .col(timestamp_with_time_zone(A::CreatedAt))
                .col(timestamp_with_time_zone(A::UpdatedAt))
                .take(),
        )
        .await?;

        use AddonInstallations as I;
        m.create_table(
            Table::create()
                .table(I::Table)
                .col(pk_uuid(I::Id))
                .col(uuid(I::AddonId))
                .col(uuid(I::WorkspaceId))
                .col(uuid(I::InstalledBy))
                .col(string_len(I::Status, 16))
                .col(boolean(I::Enabled))
                .col(text(I::Settings))
                .col(text_null(I::Error))
                .col(boolean_null(I::Live))
                .col(timestamp_with_time_zone_null(I::AcknowledgedAt))
                .col(timestamp_with_time_zone(I::CreatedAt))
                .col(timestamp_with_time_zone(I::UpdatedAt))
                .col(timestamp_with_time_zone_null(I::DeletedAt))
                .foreign_key(&mut fk(
                    "fk_addon_installations_addon",
                    (I::Table, I::AddonId),
                    (A::Table, A::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_addon_installations_workspace",
                    (I::Table, I::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_addon_installations_live",
                I::Table,
                &["addon_id", "workspace_id", "live"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(
            index(
                "ix_addon_installations_workspace",
                I::Table,
                &["workspace_id", "created_at"],
            )
            .take(),
        )
        .await?;

        use AddonTokens as T;
        m.create_table(
            Table::create()
                .table(T::Table)
                .col(pk_uuid(T::TokenId))
                .col(uuid(T::InstallationId))
                .col(timestamp_with_time_zone(T::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_addon_tokens_token",
                    (T::Table, T::TokenId),
                    (ApiTokens::Table, ApiTokens::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_addon_tokens_installation",
                    (T::Table, T::InstallationId),
                    (I::Table, I::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ix_addon_tokens_installation",
                T::Table,
                &["installation_id"],
            )
            .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AddonTokens::Table.into_iden(),
            AddonInstallations::Table.into_iden(),
            Addons::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
