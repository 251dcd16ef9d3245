//! Invoices: what a client of the workspace is asked to pay, line by line, with exact totals.
//! Numbered `INV-YYYYMMDD-NNN` per workspace; `DELETE` cancels (and releases the time entries
//! billed on the invoice). `POST /clients/{id}/invoice-unbilled` turns a client's unbilled
//! billable time into a draft invoice ([`unbilled`]). Invoices belong to the workspace:
//! every member with `read:invoices` sees all of them.
//!
//! [`lines`] and [`numbering`] are shared with quotes.

pub mod entity;
pub mod lines;
pub mod numbering;
pub mod routes;
pub mod service;
pub mod unbilled;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::InvoiceStatus;
use lines::{Line, LineView};

use crate::platform::{money, time::iso_date};

/// An invoice as the API shows it (and as `invoice.*` events carry it), with its lines.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    #[schema(example = "INV-20261123-001")]
    pub invoice_number: String,
    pub client_id: Uuid,
    /// The client's name as the invoice is addressed.
    pub client_name: String,
    pub status: InvoiceStatus,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2026-11-23")]
    pub issue_date: Date,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2026-12-23")]
    pub due_date: Date,
    #[schema(example = "EUR")]
    pub currency_code: String,
    pub notes: Option<String>,
    pub terms: Option<String>,
    /// Percent, two decimals.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 19.0)]
    pub tax_rate: Decimal,
    /// Σ line amounts.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1000.0)]
    pub subtotal: Decimal,
    /// Subtotal × tax rate, half-up to the cent.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 190.0)]
    pub tax_amount: Decimal,
    /// Subtotal + tax.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1190.0)]
    pub total_amount: Decimal,
    pub items: Vec<LineView>,
    /// Who made the invoice (`null` when Timebridge itself did).
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl InvoiceView {
    /// The view of an invoice and its lines (in position order).
    pub fn new(i: entity::Model, items: Vec<entity::item::Model>) -> Self {
        Self {
            id: i.id,
            invoice_number: i.number,
            client_id: i.client_id,
            client_name: i.client_name,
            status: i.status,
            issue_date: i.issue_date,
            due_date: i.due_date,
            currency_code: i.currency,
            notes: i.notes,
            terms: i.terms,
            tax_rate: lines::tax_rate_from_bp(i.tax_rate_bp),
            subtotal: money::from_cents(i.subtotal_cents),
            tax_amount: money::from_cents(i.tax_cents),
            total_amount: money::from_cents(i.total_cents),
            items: items.into_iter().map(line_view).collect(),
            created_by: i.created_by,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// A stored line as a [`Line`].
pub fn line(item: &entity::item::Model) -> Line {
    Line {
        description: item.description.clone(),
        quantity_e4: item.quantity_e4,
        unit_price_cents: item.unit_price_cents,
        amount_cents: item.amount_cents,
        project_id: item.project_id,
    }
}

fn line_view(item: entity::item::Model) -> LineView {
    LineView::new(item.id, line(&item))
}
