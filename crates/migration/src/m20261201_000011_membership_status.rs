//! `memberships.is_active`: a workspace admin deactivates a member in their own workspace
//! only. The user's other memberships, and `users.is_active` (the whole account), are left
//! as they are.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000011_membership_status"
    }
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    IsActive,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Memberships::Table)
                .add_column(boolean(Memberships::IsActive).default(true))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Memberships::Table)
                .drop_column(Memberships::IsActive)
                .take(),
        )
        .await
    }
}
