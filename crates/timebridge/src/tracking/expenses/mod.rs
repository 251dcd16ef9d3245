//! Expenses: money a member spent, optionally for a project or client, billable to the client
//! and/or reimbursable to the member. Members see and change only their own expenses and may
//! not approve them; admins see and change everyone's. A deleted expense can be restored for
//! `DELETED_RETENTION_DAYS` ([`restore`]).

pub mod entity;
pub mod restore;
pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::{ExpenseCategory, ExpenseStatus};

use crate::platform::{money, time::iso_date};

/// Plugs expenses in: an hourly instance job purges deleted expenses past
/// `DELETED_RETENTION_DAYS`.
pub fn register(c: &mut crate::app::Capabilities) {
    use crate::platform::jobs::JobKind;
    c.job(
        JobKind::new(
            "deleted_expenses_retention",
            "Hourly: purges deleted expenses past DELETED_RETENTION_DAYS (they can no longer be restored).",
            |app: crate::app::AppState, _job| async move {
                let purged = restore::purge(&app.db, app.config.deleted_retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!({"deleted_expenses_purged": purged}))
            },
        )
        .instance()
        .periodic(std::time::Duration::from_secs(3600)),
    );
}

/// An expense as the API shows it (and as `expense.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ExpenseView {
    pub id: Uuid,
    /// Whose expense it is.
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    #[schema(example = "Train to Berlin")]
    pub title: String,
    pub description: Option<String>,
    pub category: ExpenseCategory,
    /// Exact to the cent.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 42.5)]
    pub amount: Decimal,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// TimeTracker's name for `currency` (the same value).
    #[schema(example = "EUR")]
    pub currency_code: String,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2026-03-01")]
    pub expense_date: Date,
    pub billable: bool,
    pub reimbursable: bool,
    pub status: ExpenseStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for ExpenseView {
    fn from(e: entity::Model) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id,
            project_id: e.project_id,
            client_id: e.client_id,
            title: e.title,
            description: e.description,
            category: e.category,
            amount: money::from_cents(e.amount_cents),
            currency_code: e.currency.clone(),
            currency: e.currency,
            expense_date: e.expense_date,
            billable: e.billable,
            reimbursable: e.reimbursable,
            status: e.status,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}
