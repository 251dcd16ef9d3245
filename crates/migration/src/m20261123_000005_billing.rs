//! Quotes and invoices, with their lines.
//!
//! Exact numbers only: money is integer cents (`*_cents`), quantities are ten-thousandths
//! (`quantity_e4`: 1.5 hours is 15000), tax rates are hundredths of a percent
//! (`tax_rate_bp`: 19.5 % is 1950). Numbers (`INV-20261123-001`) are unique per workspace.

use sea_orm_migration::{prelude::*, schema::*};

use crate::build::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000005_billing"
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
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Quotes {
    Table,
    Id,
    WorkspaceId,
    ClientId,
    Number,
    Title,
    Description,
    Status,
    ValidUntil,
    Currency,
    Notes,
    Terms,
    TaxRateBp,
    SubtotalCents,
    TaxCents,
    TotalCents,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuoteItems {
    Table,
    Id,
    QuoteId,
    Position,
    Description,
    QuantityE4,
    UnitPriceCents,
    AmountCents,
    ProjectId,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    WorkspaceId,
    ClientId,
    ClientName,
    Number,
    Status,
    IssueDate,
    DueDate,
    Currency,
    Notes,
    Terms,
    TaxRateBp,
    SubtotalCents,
    TaxCents,
    TotalCents,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceItems {
    Table,
    Id,
    InvoiceId,
    Position,
    Description,
    QuantityE4,
    UnitPriceCents,
    AmountCents,
    ProjectId,
}

// A client with quotes or invoices cannot be deleted. `NO ACTION` rather than `RESTRICT`:
// SQLite reports a RESTRICT violation as a trigger error, NO ACTION as a foreign-key one (what
// the clients service turns into a 409); on PostgreSQL both refuse the delete alike.
use ForeignKeyAction::{Cascade, NoAction, SetNull};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        quotes(m).await?;
        invoices(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InvoiceItems::Table.into_iden(),
            Invoices::Table.into_iden(),
            QuoteItems::Table.into_iden(),
            Quotes::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

async fn quotes(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Quotes::Table)
            .col(pk_uuid(Quotes::Id))
            .col(uuid(Quotes::WorkspaceId))
            .col(uuid(Quotes::ClientId))
            .col(string_len(Quotes::Number, 32))
            .col(string_len(Quotes::Title, 200))
            .col(text_null(Quotes::Description))
            .col(string_len(Quotes::Status, 16))
            .col(date_null(Quotes::ValidUntil))
            .col(string_len(Quotes::Currency, 3))
            .col(text_null(Quotes::Notes))
            .col(text_null(Quotes::Terms))
            .col(big_integer(Quotes::TaxRateBp))
            .col(big_integer(Quotes::SubtotalCents))
            .col(big_integer(Quotes::TaxCents))
            .col(big_integer(Quotes::TotalCents))
            .col(uuid_null(Quotes::CreatedBy))
            .col(timestamp_with_time_zone(Quotes::CreatedAt))
            .col(timestamp_with_time_zone(Quotes::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_quotes_workspace",
                (Quotes::Table, Quotes::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_quotes_client",
                (Quotes::Table, Quotes::ClientId),
                (Clients::Table, Clients::Id),
                NoAction,
            ))
            .foreign_key(&mut fk(
                "fk_quotes_created_by",
                (Quotes::Table, Quotes::CreatedBy),
                (Users::Table, Users::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_quotes_workspace_number",
            Quotes::Table,
            &["workspace_id", "number"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_quotes_workspace_created",
        Quotes::Table,
        &["workspace_id", "created_at", "id"],
    ))
    .await?;
    m.create_index(index("ix_quotes_client", Quotes::Table, &["client_id"]))
        .await?;
    m.create_table(
        Table::create()
            .table(QuoteItems::Table)
            .col(pk_uuid(QuoteItems::Id))
            .col(uuid(QuoteItems::QuoteId))
            .col(integer(QuoteItems::Position))
            .col(text(QuoteItems::Description))
            .col(big_integer(QuoteItems::QuantityE4))
            .col(big_integer(QuoteItems::UnitPriceCents))
            .col(big_integer(QuoteItems::AmountCents))
            .col(uuid_null(QuoteItems::ProjectId))
            .foreign_key(&mut fk(
                "fk_quote_items_quote",
                (QuoteItems::Table, QuoteItems::QuoteId),
                (Quotes::Table, Quotes::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_quote_items_project",
                (QuoteItems::Table, QuoteItems::ProjectId),
                (Projects::Table, Projects::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_quote_items_quote",
        QuoteItems::Table,
        &["quote_id", "position"],
    ))
    .await
}

async fn invoices(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Invoices::Table)
            .col(pk_uuid(Invoices::Id))
            .col(uuid(Invoices::WorkspaceId))
            .col(uuid(Invoices::ClientId))
            // The client's name when the invoice was made or last readdressed: an invoice
            // keeps the name it was issued to.
            .col(string_len(Invoices::ClientName, 200))
            .col(string_len(Invoices::Number, 32))
            .col(string_len(Invoices::Status, 16))
            .col(date(Invoices::IssueDate))
            .col(date(Invoices::DueDate))
            .col(string_len(Invoices::Currency, 3))
            .col(text_null(Invoices::Notes))
            .col(text_null(Invoices::Terms))
            .col(big_integer(Invoices::TaxRateBp))
            .col(big_integer(Invoices::SubtotalCents))
            .col(big_integer(Invoices::TaxCents))
            .col(big_integer(Invoices::TotalCents))
            .col(uuid_null(Invoices::CreatedBy))
            .col(timestamp_with_time_zone(Invoices::CreatedAt))
            .col(timestamp_with_time_zone(Invoices::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_invoices_workspace",
                (Invoices::Table, Invoices::WorkspaceId),
                (Workspaces::Table, Workspaces::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_invoices_client",
                (Invoices::Table, Invoices::ClientId),
                (Clients::Table, Clients::Id),
                NoAction,
            ))
            .foreign_key(&mut fk(
                "fk_invoices_created_by",
                (Invoices::Table, Invoices::CreatedBy),
                (Users::Table, Users::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(
        index(
            "ux_invoices_workspace_number",
            Invoices::Table,
            &["workspace_id", "number"],
        )
        .unique()
        .take(),
    )
    .await?;
    m.create_index(index(
        "ix_invoices_workspace_created",
        Invoices::Table,
        &["workspace_id", "created_at", "id"],
    ))
    .await?;
    m.create_index(index("ix_invoices_client", Invoices::Table, &["client_id"]))
        .await?;
    m.create_table(
        Table::create()
            .table(InvoiceItems::Table)
            .col(pk_uuid(InvoiceItems::Id))
            .col(uuid(InvoiceItems::InvoiceId))
            .col(integer(InvoiceItems::Position))
            .col(text(InvoiceItems::Description))
            .col(big_integer(InvoiceItems::QuantityE4))
            .col(big_integer(InvoiceItems::UnitPriceCents))
            .col(big_integer(InvoiceItems::AmountCents))
            .col(uuid_null(InvoiceItems::ProjectId))
            .foreign_key(&mut fk(
                "fk_invoice_items_invoice",
                (InvoiceItems::Table, InvoiceItems::InvoiceId),
                (Invoices::Table, Invoices::Id),
                Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_invoice_items_project",
                (InvoiceItems::Table, InvoiceItems::ProjectId),
                (Projects::Table, Projects::Id),
                SetNull,
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "ix_invoice_items_invoice",
        InvoiceItems::Table,
        &["invoice_id", "position"],
    ))
    .await
}
