//! Tokens that draw on a shared budget (an add-on installation's tokens share one per-second
//! budget, whoever holds which), and the assertions add-ons exchanged for tokens (each once).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000020_addon_tokens"
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    BudgetKey,
    BudgetPerSecond,
}

#[derive(DeriveIden)]
enum AddonInstallations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AddonAssertions {
    Table,
    Jti,
    InstallationId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(uuid_null(ApiTokens::BudgetKey))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(integer_null(ApiTokens::BudgetPerSecond))
                .take(),
        )
        .await?;
        use AddonAssertions as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(string_len(A::Jti, 128).primary_key())
                .col(uuid(A::InstallationId))
                .col(timestamp_with_time_zone(A::ExpiresAt))
                .foreign_key(&mut fk(
                    "fk_addon_assertions_installation",
                    (A::Table, A::InstallationId),
                    (AddonInstallations::Table, AddonInstallations::Id),
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index("ix_addon_assertions_expires", A::Table, &["expires_at"]).take())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AddonAssertions::Table).take())
            .await?;
        for column in [ApiTokens::BudgetPerSecond, ApiTokens::BudgetKey] {
            m.alter_table(
                Table::alter()
                    .table(ApiTokens::Table)
                    .drop_column(column)
                    .take(),
            )
            .await?;
        }
        Ok(())
    }
}
