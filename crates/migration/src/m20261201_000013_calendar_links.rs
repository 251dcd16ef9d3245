//! Google Calendar sync: the link between each synced event and its time entry (one per event
//! and integration, enforced by a unique index, so two syncs at once cannot import an event
//! twice), and each integration's sync state (the incremental-sync token, the last run's
//! counts).

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000013_calendar_links"
    }
}

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TimeEntries {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CalendarLinks {
    Table,
    Id,
    IntegrationId,
    WorkspaceId,
    CalendarId,
    EventId,
    TimeEntryId,
    Direction,
    PendingEvent,
    StartsAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarSyncStates {
    Table,
    IntegrationId,
    SyncToken,
    LastSyncAt,
    LastOutcome,
    UpdatedAt,
}

use ForeignKeyAction::{Cascade, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use CalendarLinks as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .col(pk_uuid(L::Id))
                .col(uuid(L::IntegrationId))
                .col(uuid(L::WorkspaceId))
                .col(string_len(L::CalendarId, 1024))
                .col(string_len(L::EventId, 1024))
                .col(uuid_null(L::TimeEntryId))
                .col(string_len(L::Direction, 16))
                .col(text_null(L::PendingEvent))
                .col(timestamp_with_time_zone_null(L::StartsAt))
                .col(timestamp_with_time_zone(L::CreatedAt))
                .col(timestamp_with_time_zone(L::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_calendar_links_integration",
                    (L::Table, L::IntegrationId),
                    (Integrations::Table, Integrations::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_calendar_links_entry",
                    (L::Table, L::TimeEntryId),
                    (TimeEntries::Table, TimeEntries::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "ux_calendar_links_event",
                L::Table,
                &["integration_id", "calendar_id", "event_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(
            index("ux_calendar_links_entry", L::Table, &["time_entry_id"])
                .unique()
                .take(),
        )
        .await?;

        use CalendarSyncStates as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(pk_uuid(S::IntegrationId))
                .col(text_null(S::SyncToken))
                .col(timestamp_with_time_zone_null(S::LastSyncAt))
                .col(text_null(S::LastOutcome))
                .col(timestamp_with_time_zone(S::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_calendar_sync_states_integration",
                    (S::Table, S::IntegrationId),
                    (Integrations::Table, Integrations::Id),
                    Cascade,
                ))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CalendarSyncStates::Table.into_iden(),
            CalendarLinks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
