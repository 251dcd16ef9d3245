//! Quotes: priced offers to a client of the workspace, line by line, with exact totals.
//! Numbered `QUO-YYYYMMDD-NNN` per workspace; `DELETE` deletes. Quotes belong to the
//! workspace: every member with `read:quotes` sees all of them. Lines, totals and numbering
//! work as for invoices ([`crate::tracking::invoices::lines`]).

pub mod entity;
pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::QuoteStatus;

use crate::{
    platform::{money, time::iso_date},
    tracking::invoices::lines::{self, Line, LineView},
};

/// A quote as the API shows it (and as `quote.*` events carry it), with its lines.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    #[schema(example = "QUO-20261123-001")]
    pub quote_number: String,
    pub client_id: Uuid,
    #[schema(example = "Website relaunch")]
    pub title: String,
    pub description: Option<String>,
    pub status: QuoteStatus,
    /// The last day the offer stands.
    #[serde(with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-31")]
    pub valid_until: Option<Date>,
    #[schema(example = "EUR")]
    pub currency_code: String,
    pub notes: Option<String>,
    pub terms: Option<String>,
    /// Percent, two decimals.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 19.0)]
    pub tax_rate: Decimal,
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1000.0)]
    pub subtotal: Decimal,
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 190.0)]
    pub tax_amount: Decimal,
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1190.0)]
    pub total_amount: Decimal,
    pub items: Vec<LineView>,
    /// Who made the quote (`null` when Timebridge itself did).
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl QuoteView {
    /// The view of a quote and its lines (in position order).
    pub fn new(q: entity::Model, items: Vec<entity::item::Model>) -> Self {
        Self {
            id: q.id,
            quote_number: q.number,
            client_id: q.client_id,
            title: q.title,
            description: q.description,
            status: q.status,
            valid_until: q.valid_until,
            currency_code: q.currency,
            notes: q.notes,
            terms: q.terms,
            tax_rate: lines::tax_rate_from_bp(q.tax_rate_bp),
            subtotal: money::from_cents(q.subtotal_cents),
            tax_amount: money::from_cents(q.tax_cents),
            total_amount: money::from_cents(q.total_cents),
            items: items
                .into_iter()
                .map(|i| LineView::new(i.id, line(&i)))
                .collect(),
            created_by: q.created_by,
            created_at: q.created_at,
            updated_at: q.updated_at,
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
