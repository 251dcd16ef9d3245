//! The RSA keys Timebridge signs its calls to add-ons with: each key's public half as a JWK
//! (published at `/.well-known/jwks.json` until `retired_at`), its private half sealed with the
//! server's keys, and its generation. The newest generation signs; the unique generation is
//! what keeps two instances creating the first key, or two rotations, from both succeeding.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000018_addon_signing_keys"
    }
}

#[derive(DeriveIden)]
enum AddonSigningKeys {
    Table,
    Id,
    Kid,
    Generation,
    PublicJwk,
    PrivateKey,
    CreatedAt,
    SupersededAt,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use AddonSigningKeys as K;
        m.create_table(
            Table::create()
                .table(K::Table)
                .col(pk_uuid(K::Id))
                .col(string_len(K::Kid, 64))
                .col(big_integer(K::Generation))
                .col(text(K::PublicJwk))
                .col(text(K::PrivateKey))
                .col(timestamp_with_time_zone(K::CreatedAt))
                .col(timestamp_with_time_zone_null(K::SupersededAt))
                .col(timestamp_with_time_zone_null(K::RetiredAt))
                .take(),
        )
        .await?;
        m.create_index(
            index("ux_addon_signing_keys_kid", K::Table, &["kid"])
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_addon_signing_keys_generation",
                K::Table,
                &["generation"],
            )
            .unique()
            .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AddonSigningKeys::Table).take())
            .await
    }
}
