//! Endpoints another capability owns (an add-on installation's): who owns it, the signer its
//! deliveries are signed with instead of the Standard Webhooks HMAC, and a URL per event.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000021_webhook_signers"
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Owner,
    Signer,
    Routes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use WebhookEndpoints as E;
        // SQLite adds one column per statement.
        for column in [
            string_len_null(E::Owner, 80),
            string_len_null(E::Signer, 32),
            text_null(E::Routes),
        ] {
            m.alter_table(Table::alter().table(E::Table).add_column(column).take())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use WebhookEndpoints as E;
        for column in [E::Routes, E::Signer, E::Owner] {
            m.alter_table(Table::alter().table(E::Table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
