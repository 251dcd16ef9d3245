//! `POST /clients/{id}/invoice-unbilled`: one draft invoice for all of a client's unbilled
//! billable time, one line per project.
//!
//! The time is every finished, billable entry of any user, on a project of the client, not yet
//! on an invoice (`invoice_id` is null; cancelling an invoice releases its entries). Each entry
//! is linked to the new invoice in the same transaction, so nothing is billed twice: a second
//! call finds nothing (400 `no_unbilled_entries`).

use std::collections::HashMap;

use ::time::Duration;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    InvoiceStatus,
    lines::{DEFAULT_CURRENCY, Line, Totals, hundredths_of_hours},
    service::{Draft, PAYMENT_DAYS, insert, today},
};
use crate::{
    platform::{
        acting::Acting, changes::WorkspaceChange, db::Db, error::ApiError, money,
        outbox::EventType, time,
    },
    tracking::{
        clients::{entity as client, service as clients},
        projects::entity as project,
        time_entries::{self, entity as time_entry},
    },
};

/// What the call answers (TimeTracker's shape: no message, no envelope).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UnbilledInvoice {
    pub invoice_id: Uuid,
    #[schema(example = "INV-20261123-001")]
    pub invoice_number: String,
    /// The invoice's total, exact to the cent.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1250.0)]
    pub total: Decimal,
    /// Lines on the invoice: one per project.
    pub item_count: usize,
}

fn no_unbilled_entries() -> ApiError {
    ApiError::coded(
        StatusCode::BAD_REQUEST,
        "no_unbilled_entries",
        "No unbilled time entries for this client.",
    )
}

/// Invoices the client's unbilled time (see the module doc).
pub async fn invoice_unbilled(
    db: &Db,
    acting: &Acting,
    client_id: Uuid,
) -> Result<UnbilledInvoice, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let client = clients::find(&*change, acting.workspace_id, client_id).await?;
    let entries = candidates(&change, acting.workspace_id, client_id).await?;
    if entries.is_empty() {
        return Err(no_unbilled_entries());
    }
    // Unreachable through the project link, but the rule stands should entries ever reach a
    // client another way: time without a project cannot be invoiced.
    if entries.iter().any(|e| e.project_id.is_none()) {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "no_project_entries",
            "Unbilled time without a project cannot be invoiced; assign a project first.",
        ));
    }
    let lines = project_lines(&change, &client, &entries).await?;
    let totals = Totals::of(&lines, 0).check()?;
    let invoice_id = Uuid::now_v7();
    let now = time::now();
    claim(&change, &entries, invoice_id, now).await?;

    let issue_date = today();
    let draft = Draft {
        client,
        status: InvoiceStatus::Draft,
        issue_date,
        due_date: issue_date + Duration::days(PAYMENT_DAYS),
        currency: DEFAULT_CURRENCY.into(),
        notes: None,
        terms: None,
        tax_rate_bp: 0,
        totals,
    };
    let view = insert(&change, acting, invoice_id, draft, lines).await?;
    change.record(EventType::InvoiceCreated, view.id, &view)?;
    let billed = entries
        .into_iter()
        .map(|mut e| {
            e.invoice_id = Some(invoice_id);
            e.updated_at = now;
            e
        })
        .collect();
    for entry in time_entries::views(&*change, billed).await? {
        change.record(EventType::TimeEntryUpdated, entry.id, &entry)?;
    }
    change.commit().await?;
    Ok(UnbilledInvoice {
        invoice_id,
        invoice_number: view.invoice_number,
        total: view.total_amount,
        item_count: view.items.len(),
    })
}

/// The client's unbilled billable finished entries, locked (PostgreSQL) until the change ends.
async fn candidates(
    change: &WorkspaceChange,
    workspace_id: Uuid,
    client_id: Uuid,
) -> Result<Vec<time_entry::Model>, ApiError> {
    let client_projects = Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(Expr::col(project::Column::WorkspaceId).eq(workspace_id))
        .and_where(Expr::col(project::Column::ClientId).eq(client_id))
        .take();
    Ok(time_entry::Entity::find()
        .filter(time_entry::Column::WorkspaceId.eq(workspace_id))
        .filter(time_entry::Column::ProjectId.in_subquery(client_projects))
        .filter(time_entry::Column::EndTime.is_not_null())
        .filter(time_entry::Column::Billable.eq(true))
        .filter(time_entry::Column::InvoiceId.is_null())
        .order_by_asc(time_entry::Column::StartTime)
        .order_by_asc(time_entry::Column::Id)
        .lock_exclusive()
        .all(&**change)
        .await?)
}

/// One line per project, by project name: hours (to 2 places) × the project's rate, else the
/// client's default rate, else 0.
async fn project_lines(
    change: &WorkspaceChange,
    client: &client::Model,
    entries: &[time_entry::Model],
) -> Result<Vec<Line>, ApiError> {
    let mut seconds: HashMap<Uuid, i64> = HashMap::new();
    for entry in entries {
        if let Some(project_id) = entry.project_id {
            *seconds.entry(project_id).or_default() +=
                std::cmp::max(entry.duration_seconds.unwrap_or(0), 0);
        }
    }
    let mut projects = project::Entity::find()
        .filter(project::Column::Id.is_in(seconds.keys().copied()))
        .all(&**change)
        .await?;
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(projects
        .into_iter()
        .map(|p| {
            let rate = p
                .hourly_rate_cents
                .or(client.default_hourly_rate_cents)
                .unwrap_or(0);
            let worked = seconds.get(&p.id).copied().unwrap_or(0);
            let hours_e4 = hundredths_of_hours(worked) * 100;
            Line::new(format!("Project: {}", p.name), hours_e4, rate, Some(p.id))
        })
        .collect())
}

/// Links every entry to the invoice. An entry that changed hands meanwhile (it cannot, while
/// locked; this is the belt to those braces) makes the whole call a 409.
async fn claim(
    change: &WorkspaceChange,
    entries: &[time_entry::Model],
    invoice_id: Uuid,
    now: ::time::OffsetDateTime,
) -> Result<(), ApiError> {
    let mut claimed = 0u64;
    for chunk in entries.chunks(500) {
        let result = time_entry::Entity::update_many()
            .col_expr(time_entry::Column::InvoiceId, Expr::value(invoice_id))
            .col_expr(time_entry::Column::UpdatedAt, Expr::value(now))
            .filter(time_entry::Column::Id.is_in(chunk.iter().map(|e| e.id)))
            .filter(time_entry::Column::InvoiceId.is_null())
            .exec(&**change)
            .await?;
        claimed += result.rows_affected;
    }
    if claimed != entries.len() as u64 {
        return Err(ApiError::Conflict(
            "Some of this time was invoiced at the same moment; try again".into(),
        ));
    }
    Ok(())
}
