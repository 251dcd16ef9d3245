//! Leave types, holidays, time-off requests and timesheet periods.
//!
//! Hours are exact: hundredths of an hour in big integers (`*_hundredths`), never floats.
//! Calendar days are `date`s.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000006_time_off"
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
enum LeaveTypes {
    Table,
    Id,
    WorkspaceId,
    Name,
    Code,
    IsPaid,
    AnnualAllowanceHundredths,
    AccrualHundredthsPerMonth,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Holidays {
    Table,
    Id,
    WorkspaceId,
    Name,
    StartDate,
    EndDate,
    Region,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeOffRequests {
    Table,
    Id,
    WorkspaceId,
    UserId,
    LeaveTypeId,
    StartDate,
    EndDate,
    StartHalfDay,
    EndHalfDay,
    RequestedHundredths,
    Status,
    RequestedComment,
    ReviewComment,
    SubmittedAt,
    ReviewedAt,
    ReviewedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimesheetPeriods {
    Table,
    Id,
    WorkspaceId,
    UserId,
    PeriodType,
    PeriodStart,
    PeriodEnd,
    Status,
    SubmittedAt,
    SubmittedBy,
    ApprovedAt,
    ApprovedBy,
    ApprovalComment,
    RejectedAt,
    RejectedBy,
    RejectionReason,
    CreatedAt,
    UpdatedAt,
}

use ForeignKeyAction::{Cascade, Restrict, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        leave_types(m).await?;
        holidays(m).await?;
        time_off_requests(m).await?;
        timesheet_periods(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TimesheetPeriods::Table.into_iden(),
            TimeOffRequests::Table.into_iden(),
            Holidays::Table.into_iden(),
            LeaveTypes::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

async fn leave_types(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(LeaveTypes::Table)
            .col(pk_uuid(LeaveTypes::Id))
            .col(uuid(LeaveTypes::WorkspaceId))
            .col(string_len(LeaveTypes::Name, 200))
            .col(string_len(LeaveTypes::Code, 64))
            .col(boolean(LeaveTypes::IsPaid))
            .col(big_integer_null(LeaveTypes::AnnualAllowanceHundredths))
            .col(big_integer_null(LeaveTypes::AccrualHundredthsPerMonth))
            .col(boolean(LeaveTypes::Enabled))
            .col(timestamp_with_time_zone(LeaveTypes::CreatedAt))
            .col(timestamp_with_time_zone(LeaveTypes::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_leave_types_workspace",
                (LeaveTypes::Table, LeaveTypes::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_leave_types_workspace_code",
            LeaveTypes::Table,
            &["workspace_id", "code"],
        )
        .unique()
        .take(),
    )
    .await
}

async fn holidays(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Holidays::Table)
            .col(pk_uuid(Holidays::Id))
            .col(uuid(Holidays::WorkspaceId))
            .col(string_len(Holidays::Name, 200))
            .col(date(Holidays::StartDate))
            .col(date(Holidays::EndDate))
            .col(string_len_null(Holidays::Region, 64))
            .col(boolean(Holidays::Enabled))
            .col(timestamp_with_time_zone(Holidays::CreatedAt))
            .col(timestamp_with_time_zone(Holidays::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_holidays_workspace",
                (Holidays::Table, Holidays::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_holidays_workspace_start",
        Holidays::Table,
        &["workspace_id", "start_date"],
    ))
    .await
}

async fn time_off_requests(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use TimeOffRequests as R;
    m.create_table(
        Table::create()
            .table(R::Table)
            .col(pk_uuid(R::Id))
            .col(uuid(R::WorkspaceId))
            .col(uuid(R::UserId))
            .col(uuid(R::LeaveTypeId))
            .col(date(R::StartDate))
            .col(date(R::EndDate))
            .col(boolean(R::StartHalfDay))
            .col(boolean(R::EndHalfDay))
            .col(big_integer_null(R::RequestedHundredths))
            .col(string_len(R::Status, 16))
            .col(text_null(R::RequestedComment))
            .col(text_null(R::ReviewComment))
            .col(timestamp_with_time_zone_null(R::SubmittedAt))
            .col(timestamp_with_time_zone_null(R::ReviewedAt))
            .col(uuid_null(R::ReviewedBy))
            .col(timestamp_with_time_zone(R::CreatedAt))
            .col(timestamp_with_time_zone(R::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_time_off_requests_workspace",
                (R::Table, R::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_time_off_requests_user",
                (R::Table, R::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            // A leave type with requests cannot be deleted (the service says why first).
            .foreign_key(&mut fk(
                "fk_time_off_requests_leave_type",
                (R::Table, R::LeaveTypeId),
                (LeaveTypes::Table, LeaveTypes::Id),
                Restrict,
            ))
            .foreign_key(&mut fk(
                "fk_time_off_requests_reviewer",
                (R::Table, R::ReviewedBy),
                (Users::Table, Users::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    // The list's two shapes: the whole workspace by start (admins) and one user's by start.
    m.create_index(index(
        "ix_time_off_requests_workspace_start",
        R::Table,
        &["workspace_id", "start_date"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_off_requests_workspace_user_start",
        R::Table,
        &["workspace_id", "user_id", "start_date"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_off_requests_leave_type",
        R::Table,
        &["leave_type_id"],
    ))
    .await
}

async fn timesheet_periods(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use TimesheetPeriods as P;
    m.create_table(
        Table::create()
            .table(P::Table)
            .col(pk_uuid(P::Id))
            .col(uuid(P::WorkspaceId))
            .col(uuid(P::UserId))
            .col(string_len(P::PeriodType, 16))
            .col(date(P::PeriodStart))
            .col(date(P::PeriodEnd))
            .col(string_len(P::Status, 16))
            .col(timestamp_with_time_zone_null(P::SubmittedAt))
            .col(uuid_null(P::SubmittedBy))
            .col(timestamp_with_time_zone_null(P::ApprovedAt))
            .col(uuid_null(P::ApprovedBy))
            .col(text_null(P::ApprovalComment))
            .col(timestamp_with_time_zone_null(P::RejectedAt))
            .col(uuid_null(P::RejectedBy))
            .col(text_null(P::RejectionReason))
            .col(timestamp_with_time_zone(P::CreatedAt))
            .col(timestamp_with_time_zone(P::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_timesheet_periods_workspace",
                (P::Table, P::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_timesheet_periods_user",
                (P::Table, P::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    // One period per user, type and start: what makes create-or-get safe under concurrency.
    m.create_index(
        index(
            "ux_timesheet_periods_workspace_user_type_start",
            P::Table,
            &["workspace_id", "user_id", "period_type", "period_start"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_timesheet_periods_workspace_start",
        P::Table,
        &["workspace_id", "period_start"],
    ))
    .await
}
