//! The time-tracking core: clients, projects' client and rate, tasks, tags, time entries (with
//! their tags), idempotency keys for `POST /time-entries`, and expenses.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_tracking"
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
enum ApiTokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    WorkspaceId,
    Name,
    Email,
    ContactPerson,
    Phone,
    Address,
    DefaultHourlyRateCents,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    ClientId,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    WorkspaceId,
    ProjectId,
    Name,
    Description,
    Status,
    Priority,
    AssigneeId,
    DueDate,
    EstimatedHours,
    ExternalRef,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    WorkspaceId,
    Name,
    Color,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeEntries {
    Table,
    Id,
    WorkspaceId,
    UserId,
    ProjectId,
    TaskId,
    StartTime,
    EndTime,
    DurationSeconds,
    Notes,
    Billable,
    Paid,
    InvoiceId,
    Source,
    RunningUserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeEntryTags {
    Table,
    TimeEntryId,
    TagId,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    TokenId,
    Key,
    RequestHash,
    StatusCode,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Expenses {
    Table,
    Id,
    WorkspaceId,
    UserId,
    ProjectId,
    ClientId,
    Title,
    Description,
    Category,
    AmountCents,
    Currency,
    ExpenseDate,
    Billable,
    Reimbursable,
    Status,
    CreatedAt,
    UpdatedAt,
}

use ForeignKeyAction::{Cascade, Restrict, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        clients(m).await?;
        // SQLite cannot add a foreign key to an existing table: the service checks that the
        // client belongs to the project's workspace.
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(uuid_null(Projects::ClientId))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_projects_workspace_client",
            Projects::Table,
            &["workspace_id", "client_id"],
        ))
        .await?;
        tasks(m).await?;
        tags(m).await?;
        time_entries(m).await?;
        idempotency_keys(m).await?;
        expenses(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Expenses::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            TimeEntryTags::Table.into_iden(),
            TimeEntries::Table.into_iden(),
            Tags::Table.into_iden(),
            Tasks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        m.drop_index(
            Index::drop()
                .name("ix_projects_workspace_client")
                .table(Projects::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .drop_column(Projects::ClientId)
                .take(),
        )
        .await?;
        m.drop_table(Table::drop().table(Clients::Table).take())
            .await
    }
}

async fn clients(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Clients::Table)
            .col(pk_uuid(Clients::Id))
            .col(uuid(Clients::WorkspaceId))
            .col(string_len(Clients::Name, 200))
            .col(string_len_null(Clients::Email, 320))
            .col(string_len_null(Clients::ContactPerson, 200))
            .col(string_len_null(Clients::Phone, 64))
            .col(text_null(Clients::Address))
            .col(big_integer_null(Clients::DefaultHourlyRateCents))
            .col(string_len(Clients::Status, 16))
            .col(timestamp_with_time_zone(Clients::CreatedAt))
            .col(timestamp_with_time_zone(Clients::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_clients_workspace",
                (Clients::Table, Clients::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_clients_workspace_name",
            Clients::Table,
            &["workspace_id", "name"],
        )
        .unique()
        .take(),
    )
    .await
}

async fn tasks(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Tasks::Table)
            .col(pk_uuid(Tasks::Id))
            .col(uuid(Tasks::WorkspaceId))
            .col(uuid(Tasks::ProjectId))
            .col(string_len(Tasks::Name, 500))
            .col(text_null(Tasks::Description))
            .col(string_len(Tasks::Status, 16))
            .col(string_len(Tasks::Priority, 16))
            .col(uuid_null(Tasks::AssigneeId))
            .col(date_null(Tasks::DueDate))
            // Hundredths of an hour: exact on both backends.
            .col(big_integer_null(Tasks::EstimatedHours))
            .col(string_len_null(Tasks::ExternalRef, 128))
            .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
            .col(timestamp_with_time_zone(Tasks::CreatedAt))
            .col(timestamp_with_time_zone(Tasks::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_tasks_workspace",
                (Tasks::Table, Tasks::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_tasks_project",
                (Tasks::Table, Tasks::ProjectId),
                (Projects::Table, Projects::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_tasks_assignee",
                (Tasks::Table, Tasks::AssigneeId),
                (Users::Table, Users::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_tasks_workspace_project_status",
        Tasks::Table,
        &["workspace_id", "project_id", "status"],
    ))
    .await?;
    m.create_index(index(
        "ix_tasks_workspace_status",
        Tasks::Table,
        &["workspace_id", "status"],
    ))
    .await?;
    // Connectors upsert tasks by their external reference (`github_issue_42`).
    m.create_index(
        index(
            "ux_tasks_workspace_external_ref",
            Tasks::Table,
            &["workspace_id", "external_ref"],
        )
        .unique()
        .take(),
    )
    .await
}

async fn tags(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Tags::Table)
            .col(pk_uuid(Tags::Id))
            .col(uuid(Tags::WorkspaceId))
            .col(string_len(Tags::Name, 100))
            .col(string_len_null(Tags::Color, 16))
            .col(timestamp_with_time_zone(Tags::CreatedAt))
            .col(timestamp_with_time_zone(Tags::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_tags_workspace",
                (Tags::Table, Tags::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_tags_workspace_name",
            Tags::Table,
            &["workspace_id", "name"],
        )
        .unique()
        .take(),
    )
    .await
}

async fn time_entries(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(TimeEntries::Table)
            .col(pk_uuid(TimeEntries::Id))
            .col(uuid(TimeEntries::WorkspaceId))
            .col(uuid(TimeEntries::UserId))
            .col(uuid_null(TimeEntries::ProjectId))
            .col(uuid_null(TimeEntries::TaskId))
            .col(timestamp_with_time_zone(TimeEntries::StartTime))
            .col(timestamp_with_time_zone_null(TimeEntries::EndTime))
            .col(big_integer_null(TimeEntries::DurationSeconds))
            .col(text_null(TimeEntries::Notes))
            .col(boolean(TimeEntries::Billable))
            .col(boolean(TimeEntries::Paid))
            .col(uuid_null(TimeEntries::InvoiceId))
            .col(string_len(TimeEntries::Source, 16))
            // Set (to user_id) only while the entry is a running timer: the unique index
            // below makes "one running timer per user" a database guarantee.
            .col(uuid_null(TimeEntries::RunningUserId))
            .col(timestamp_with_time_zone(TimeEntries::CreatedAt))
            .col(timestamp_with_time_zone(TimeEntries::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_time_entries_workspace",
                (TimeEntries::Table, TimeEntries::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_time_entries_user",
                (TimeEntries::Table, TimeEntries::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_time_entries_project",
                (TimeEntries::Table, TimeEntries::ProjectId),
                (Projects::Table, Projects::Id),
                Restrict,
            ))
            .foreign_key(&mut fk(
                "fk_time_entries_task",
                (TimeEntries::Table, TimeEntries::TaskId),
                (Tasks::Table, Tasks::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    // The list's two shapes: the whole workspace by start (admins) and one user's by start.
    // `end_time` rides along so that counting a date range's finished entries never reads
    // the table.
    m.create_index(index(
        "ix_time_entries_workspace_start",
        TimeEntries::Table,
        &["workspace_id", "start_time", "id", "end_time"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_entries_workspace_user_start",
        TimeEntries::Table,
        &["workspace_id", "user_id", "start_time", "id", "end_time"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_entries_project_start",
        TimeEntries::Table,
        &["project_id", "start_time"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_entries_task",
        TimeEntries::Table,
        &["task_id"],
    ))
    .await?;
    m.create_index(index(
        "ix_time_entries_invoice",
        TimeEntries::Table,
        &["invoice_id"],
    ))
    .await?;
    m.create_index(
        index(
            "ux_time_entries_running_user",
            TimeEntries::Table,
            &["running_user_id"],
        )
        .unique()
        .take(),
    )
    .await?;

    m.create_table(
        Table::create()
            .table(TimeEntryTags::Table)
            .col(uuid(TimeEntryTags::TimeEntryId))
            .col(uuid(TimeEntryTags::TagId))
            .primary_key(
                Index::create()
                    .col(TimeEntryTags::TimeEntryId)
                    .col(TimeEntryTags::TagId),
            )
            .foreign_key(&mut fk(
                "fk_time_entry_tags_entry",
                (TimeEntryTags::Table, TimeEntryTags::TimeEntryId),
                (TimeEntries::Table, TimeEntries::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_time_entry_tags_tag",
                (TimeEntryTags::Table, TimeEntryTags::TagId),
                (Tags::Table, Tags::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_time_entry_tags_tag",
        TimeEntryTags::Table,
        &["tag_id"],
    ))
    .await
}

async fn idempotency_keys(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(IdempotencyKeys::Table)
            .col(pk_uuid(IdempotencyKeys::Id))
            .col(uuid(IdempotencyKeys::TokenId))
            .col(string_len(IdempotencyKeys::Key, 128))
            .col(string_len(IdempotencyKeys::RequestHash, 64))
            .col(integer(IdempotencyKeys::StatusCode))
            .col(text(IdempotencyKeys::ResponseBody))
            .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
            .foreign_key(&mut fk(
                "fk_idempotency_keys_token",
                (IdempotencyKeys::Table, IdempotencyKeys::TokenId),
                (ApiTokens::Table, ApiTokens::Id),
                Cascade,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_idempotency_keys_token_key",
            IdempotencyKeys::Table,
            &["token_id", "key"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_idempotency_keys_created",
        IdempotencyKeys::Table,
        &["created_at"],
    ))
    .await
}

async fn expenses(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Expenses::Table)
            .col(pk_uuid(Expenses::Id))
            .col(uuid(Expenses::WorkspaceId))
            .col(uuid(Expenses::UserId))
            .col(uuid_null(Expenses::ProjectId))
            .col(uuid_null(Expenses::ClientId))
            .col(string_len(Expenses::Title, 200))
            .col(text_null(Expenses::Description))
            .col(string_len(Expenses::Category, 64))
            .col(big_integer(Expenses::AmountCents))
            .col(string_len(Expenses::Currency, 3))
            .col(date(Expenses::ExpenseDate))
            .col(boolean(Expenses::Billable))
            .col(boolean(Expenses::Reimbursable))
            .col(string_len(Expenses::Status, 16))
            .col(timestamp_with_time_zone(Expenses::CreatedAt))
            .col(timestamp_with_time_zone(Expenses::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_expenses_workspace",
                (Expenses::Table, Expenses::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_expenses_user",
                (Expenses::Table, Expenses::UserId),
                (Users::Table, Users::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_expenses_project",
                (Expenses::Table, Expenses::ProjectId),
                (Projects::Table, Projects::Id),
                SetNull,
            ))
            .foreign_key(&mut fk(
                "fk_expenses_client",
                (Expenses::Table, Expenses::ClientId),
                (Clients::Table, Clients::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_expenses_workspace_date",
        Expenses::Table,
        &["workspace_id", "expense_date", "id"],
    ))
    .await?;
    m.create_index(index(
        "ix_expenses_workspace_user_date",
        Expenses::Table,
        &["workspace_id", "user_id", "expense_date"],
    ))
    .await
}
