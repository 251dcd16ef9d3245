//! Rules and queries for invoices. Every function is scoped to the caller's workspace: an
//! invoice of another workspace is indistinguishable from one that does not exist.
//!
//! Totals are always recomputed from the lines. Paid and cancelled invoices keep their client,
//! lines and tax rate (409); a cancelled invoice stays cancelled. Cancelling releases the time
//! entries billed on the invoice, so they can be invoiced again.

use std::collections::HashMap;

use ::time::{Date, Duration};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    InvoiceStatus, InvoiceView,
    entity::{self as invoice, item},
    line,
    lines::{
        DEFAULT_CURRENCY, Line, LineInput, Totals, check_currency, check_lines, check_projects,
        check_tax_rate,
    },
    numbering::next_number,
};
use crate::{
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, count as count_rows},
        error::{ApiError, FieldErrors},
        outbox::EventType,
        pagination::PageRequest,
        time,
        validate::optional_text,
    },
    tracking::{
        clients::{entity as client, service as clients},
        time_entries::{self, entity as time_entry},
    },
};

/// Days from issue to due date when no due date is given.
pub const PAYMENT_DAYS: i64 = 30;

/// Filters of the invoice list.
#[derive(Debug, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub client_id: Option<Uuid>,
}

/// Fields of a new invoice.
pub struct NewInvoice {
    pub client_id: Uuid,
    pub status: Option<InvoiceStatus>,
    pub issue_date: Option<Date>,
    pub due_date: Option<Date>,
    pub currency_code: Option<String>,
    pub notes: Option<String>,
    pub terms: Option<String>,
    pub tax_rate: Option<Decimal>,
    pub items: Vec<LineInput>,
}

/// Changes to an invoice; `None` leaves a field as it is, `Some(None)` clears it. `items`
/// replaces every line.
#[derive(Default)]
pub struct InvoiceChanges {
    pub client_id: Option<Uuid>,
    pub status: Option<InvoiceStatus>,
    pub issue_date: Option<Date>,
    pub due_date: Option<Date>,
    pub currency_code: Option<String>,
    pub notes: Option<Option<String>>,
    pub terms: Option<Option<String>>,
    pub tax_rate: Option<Decimal>,
    pub items: Option<Vec<LineInput>>,
}

/// [`InvoiceChanges`] whose fields passed their checks.
#[derive(Default)]
struct Checked {
    client_id: Option<Uuid>,
    status: Option<InvoiceStatus>,
    issue_date: Option<Date>,
    due_date: Option<Date>,
    currency: Option<String>,
    notes: Option<Option<String>>,
    terms: Option<Option<String>>,
    tax_rate_bp: Option<i64>,
    lines: Option<Vec<Line>>,
}

/// Today, UTC: the default issue date and the day of new numbers.
pub fn today() -> Date {
    time::now().date()
}

/// One page of the workspace's invoices, newest first.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &InvoiceFilter,
    page: PageRequest,
) -> Result<(Vec<InvoiceView>, u64), ApiError> {
    let mut cond = Condition::all().add(invoice::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(status) = filter.status {
        cond = cond.add(invoice::Column::Status.eq(status));
    }
    if let Some(client_id) = filter.client_id {
        cond = cond.add(invoice::Column::ClientId.eq(client_id));
    }
    let total = count_rows(invoice::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = invoice::Entity::find()
        .filter(cond)
        .order_by_desc(invoice::Column::CreatedAt)
        .order_by_desc(invoice::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((with_items(db.conn(), rows).await?, total))
}

/// The views of these invoices, their lines loaded in one query per 500 invoices.
async fn with_items<C: ConnectionTrait>(
    db: &C,
    invoices: Vec<invoice::Model>,
) -> Result<Vec<InvoiceView>, DbErr> {
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let mut by_invoice: HashMap<Uuid, Vec<item::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let items = item::Entity::find()
            .filter(item::Column::InvoiceId.is_in(chunk.iter().copied()))
            .order_by_asc(item::Column::Position)
            .all(db)
            .await?;
        for item in items {
            by_invoice.entry(item.invoice_id).or_default().push(item);
        }
    }
    Ok(invoices
        .into_iter()
        .map(|i| {
            let items = by_invoice.remove(&i.id).unwrap_or_default();
            InvoiceView::new(i, items)
        })
        .collect())
}

async fn items_of<C: ConnectionTrait>(db: &C, invoice_id: Uuid) -> Result<Vec<item::Model>, DbErr> {
    item::Entity::find()
        .filter(item::Column::InvoiceId.eq(invoice_id))
        .order_by_asc(item::Column::Position)
        .all(db)
        .await
}

/// The invoice, when it exists in this workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<invoice::Model, ApiError> {
    invoice::Entity::find_by_id(id)
        .filter(invoice::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Invoice"))
}

/// An invoice with its lines.
pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<InvoiceView, ApiError> {
    let invoice = find(db.conn(), acting.workspace_id, id).await?;
    let items = items_of(db.conn(), id).await?;
    Ok(InvoiceView::new(invoice, items))
}

/// The client a `client_id` field names (400 when it is not one of the workspace's).
pub async fn client_for<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    client_id: Uuid,
) -> Result<client::Model, ApiError> {
    clients::find(db, workspace_id, client_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => {
                ApiError::invalid("client_id", "no such client in this workspace")
            }
            other => other,
        })
}

fn check_dates(issue: Date, due: Date) -> Result<(), ApiError> {
    if due < issue {
        return Err(ApiError::invalid(
            "due_date",
            "must not be before issue_date",
        ));
    }
    Ok(())
}

/// Creates an invoice, numbered for today. Draft, issued today, due in 30 days and in EUR
/// unless told otherwise.
pub async fn create(db: &Db, acting: &Acting, new: NewInvoice) -> Result<InvoiceView, ApiError> {
    let mut errors = FieldErrors::new();
    let currency = check_currency(
        &mut errors,
        new.currency_code.as_deref().unwrap_or(DEFAULT_CURRENCY),
    );
    let notes = optional_text(&mut errors, "notes", new.notes, 10_000);
    let terms = optional_text(&mut errors, "terms", new.terms, 10_000);
    let tax_rate_bp = match new.tax_rate {
        Some(rate) => check_tax_rate(&mut errors, rate),
        None => Some(0),
    };
    let lines = check_lines(&mut errors, new.items);
    if new.status == Some(InvoiceStatus::Cancelled) {
        errors.add("status", "an invoice cannot be created cancelled");
    }
    errors.into_result()?;
    let tax_rate_bp = tax_rate_bp.unwrap_or_default();
    let totals = Totals::of(&lines, tax_rate_bp).check()?;
    let issue_date = new.issue_date.unwrap_or_else(today);
    let due_date = new
        .due_date
        .unwrap_or(issue_date + Duration::days(PAYMENT_DAYS));
    check_dates(issue_date, due_date)?;

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let client = client_for(&*change, acting.workspace_id, new.client_id).await?;
    check_projects(&*change, acting.workspace_id, &lines).await?;
    let draft = Draft {
        client,
        status: new.status.unwrap_or(InvoiceStatus::Draft),
        issue_date,
        due_date,
        currency,
        notes,
        terms,
        tax_rate_bp,
        totals,
    };
    let view = insert(&change, acting, Uuid::now_v7(), draft, lines).await?;
    change.record(EventType::InvoiceCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Everything of a new invoice but its id, number and lines.
pub(super) struct Draft {
    pub client: client::Model,
    pub status: InvoiceStatus,
    pub issue_date: Date,
    pub due_date: Date,
    pub currency: String,
    pub notes: Option<String>,
    pub terms: Option<String>,
    pub tax_rate_bp: i64,
    pub totals: Totals,
}

/// Numbers and inserts an invoice with its lines, inside the change.
pub(super) async fn insert(
    change: &WorkspaceChange,
    acting: &Acting,
    id: Uuid,
    draft: Draft,
    lines: Vec<Line>,
) -> Result<InvoiceView, ApiError> {
    let number = next_number(&**change, "invoices", acting.workspace_id, "INV", today()).await?;
    let now = time::now();
    let invoice = invoice::ActiveModel {
        id: Set(id),
        workspace_id: Set(acting.workspace_id),
        client_id: Set(draft.client.id),
        client_name: Set(draft.client.name),
        number: Set(number),
        status: Set(draft.status),
        issue_date: Set(draft.issue_date),
        due_date: Set(draft.due_date),
        currency: Set(draft.currency),
        notes: Set(draft.notes),
        terms: Set(draft.terms),
        tax_rate_bp: Set(draft.tax_rate_bp),
        subtotal_cents: Set(draft.totals.subtotal_cents),
        tax_cents: Set(draft.totals.tax_cents),
        total_cents: Set(draft.totals.total_cents),
        created_by: Set((!acting.user_id.is_nil()).then_some(acting.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let items = insert_lines(&**change, id, lines).await?;
    Ok(InvoiceView::new(invoice, items))
}

async fn insert_lines<C: ConnectionTrait>(
    db: &C,
    invoice_id: Uuid,
    lines: Vec<Line>,
) -> Result<Vec<item::Model>, DbErr> {
    let items: Vec<item::Model> = lines
        .into_iter()
        .enumerate()
        .map(|(position, l)| item::Model {
            id: Uuid::now_v7(),
            invoice_id,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            description: l.description,
            quantity_e4: l.quantity_e4,
            unit_price_cents: l.unit_price_cents,
            amount_cents: l.amount_cents,
            project_id: l.project_id,
        })
        .collect();
    if !items.is_empty() {
        item::Entity::insert_many(items.iter().cloned().map(item::ActiveModel::from))
            .exec(db)
            .await?;
    }
    Ok(items)
}

fn check_changes(changes: InvoiceChanges) -> Result<Checked, ApiError> {
    let mut errors = FieldErrors::new();
    let currency = changes
        .currency_code
        .map(|c| check_currency(&mut errors, &c));
    let notes = changes
        .notes
        .map(|n| optional_text(&mut errors, "notes", n, 10_000));
    let terms = changes
        .terms
        .map(|t| optional_text(&mut errors, "terms", t, 10_000));
    let tax_rate_bp = changes
        .tax_rate
        .and_then(|r| check_tax_rate(&mut errors, r));
    let lines = changes.items.map(|items| check_lines(&mut errors, items));
    errors.into_result()?;
    Ok(Checked {
        client_id: changes.client_id,
        status: changes.status,
        issue_date: changes.issue_date,
        due_date: changes.due_date,
        currency,
        notes,
        terms,
        tax_rate_bp,
        lines,
    })
}

/// Applies changes to an invoice. A change of status to `cancelled` is a cancellation
/// (recorded as `invoice.cancelled`, releasing the billed time entries).
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: InvoiceChanges,
) -> Result<InvoiceView, ApiError> {
    let checked = check_changes(changes)?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let view = apply(&mut change, existing, checked).await?;
    change.commit().await?;
    Ok(view)
}

/// Cancels an invoice (what `DELETE` does) and releases its time entries. Cancelling a
/// cancelled invoice changes nothing; a paid one cannot be cancelled (409).
pub async fn cancel(db: &Db, acting: &Acting, id: Uuid) -> Result<InvoiceView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    if existing.status == InvoiceStatus::Cancelled {
        let items = items_of(&*change, id).await?;
        return Ok(InvoiceView::new(existing, items));
    }
    let cancelling = Checked {
        status: Some(InvoiceStatus::Cancelled),
        ..Checked::default()
    };
    let view = apply(&mut change, existing, cancelling).await?;
    change.commit().await?;
    Ok(view)
}

/// What may not change once an invoice is paid or cancelled.
fn guard_closed(existing: &invoice::Model, checked: &Checked) -> Result<(), ApiError> {
    let status = existing.status;
    if status == InvoiceStatus::Cancelled
        && checked
            .status
            .is_some_and(|s| s != InvoiceStatus::Cancelled)
    {
        return Err(ApiError::Conflict(
            "A cancelled invoice cannot be reopened".into(),
        ));
    }
    if status == InvoiceStatus::Paid && checked.status == Some(InvoiceStatus::Cancelled) {
        return Err(ApiError::Conflict(
            "A paid invoice cannot be cancelled".into(),
        ));
    }
    if !status.is_closed() {
        return Ok(());
    }
    let which = if status == InvoiceStatus::Paid {
        "paid"
    } else {
        "cancelled"
    };
    let changed = if checked.lines.is_some() {
        Some("items")
    } else if checked
        .tax_rate_bp
        .is_some_and(|bp| bp != existing.tax_rate_bp)
    {
        Some("tax rate")
    } else if checked.client_id.is_some_and(|c| c != existing.client_id) {
        Some("client")
    } else {
        None
    };
    match changed {
        Some(what) => Err(ApiError::Conflict(format!(
            "The {what} of a {which} invoice cannot be changed"
        ))),
        None => Ok(()),
    }
}

async fn apply(
    change: &mut WorkspaceChange,
    existing: invoice::Model,
    checked: Checked,
) -> Result<InvoiceView, ApiError> {
    guard_closed(&existing, &checked)?;
    check_dates(
        checked.issue_date.unwrap_or(existing.issue_date),
        checked.due_date.unwrap_or(existing.due_date),
    )?;
    let workspace_id = existing.workspace_id;
    let cancelling = existing.status != InvoiceStatus::Cancelled
        && checked.status == Some(InvoiceStatus::Cancelled);
    let items = match checked.lines.clone() {
        Some(lines) => {
            check_projects(&**change, workspace_id, &lines).await?;
            item::Entity::delete_many()
                .filter(item::Column::InvoiceId.eq(existing.id))
                .exec(&**change)
                .await?;
            insert_lines(&**change, existing.id, lines).await?
        }
        None => items_of(&**change, existing.id).await?,
    };
    let lines: Vec<Line> = items.iter().map(line).collect();
    let bp = checked.tax_rate_bp.unwrap_or(existing.tax_rate_bp);
    let totals = Totals::of(&lines, bp).check()?;
    let mut active: invoice::ActiveModel = existing.into();
    if let Some(client_id) = checked.client_id {
        let client = client_for(&**change, workspace_id, client_id).await?;
        active.client_id = Set(client.id);
        active.client_name = Set(client.name);
    }
    set_fields(&mut active, checked, totals);
    let view = InvoiceView::new(active.update(&**change).await?, items);
    if cancelling {
        change.record(EventType::InvoiceCancelled, view.id, &view)?;
        release_entries(change, workspace_id, view.id).await?;
    } else {
        change.record(EventType::InvoiceUpdated, view.id, &view)?;
    }
    Ok(view)
}

fn set_fields(active: &mut invoice::ActiveModel, checked: Checked, totals: Totals) {
    if let Some(status) = checked.status {
        active.status = Set(status);
    }
    if let Some(issue_date) = checked.issue_date {
        active.issue_date = Set(issue_date);
    }
    if let Some(due_date) = checked.due_date {
        active.due_date = Set(due_date);
    }
    if let Some(currency) = checked.currency {
        active.currency = Set(currency);
    }
    if let Some(notes) = checked.notes {
        active.notes = Set(notes);
    }
    if let Some(terms) = checked.terms {
        active.terms = Set(terms);
    }
    if let Some(bp) = checked.tax_rate_bp {
        active.tax_rate_bp = Set(bp);
    }
    active.subtotal_cents = Set(totals.subtotal_cents);
    active.tax_cents = Set(totals.tax_cents);
    active.total_cents = Set(totals.total_cents);
    active.updated_at = Set(time::now());
}

/// Unlinks the time entries billed on an invoice, recording `time_entry.updated` for each.
/// The entries are locked while read (PostgreSQL), so the recorded views are what commits.
async fn release_entries(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    invoice_id: Uuid,
) -> Result<(), ApiError> {
    let billed = time_entry::Entity::find()
        .filter(time_entry::Column::WorkspaceId.eq(workspace_id))
        .filter(time_entry::Column::InvoiceId.eq(invoice_id))
        .order_by_asc(time_entry::Column::StartTime)
        .order_by_asc(time_entry::Column::Id)
        .lock_exclusive()
        .all(&**change)
        .await?;
    if billed.is_empty() {
        return Ok(());
    }
    let now = time::now();
    time_entry::Entity::update_many()
        .col_expr(
            time_entry::Column::InvoiceId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(time_entry::Column::UpdatedAt, Expr::value(now))
        .filter(time_entry::Column::WorkspaceId.eq(workspace_id))
        .filter(time_entry::Column::InvoiceId.eq(invoice_id))
        .exec(&**change)
        .await?;
    let released = billed
        .into_iter()
        .map(|mut e| {
            e.invoice_id = None;
            e.updated_at = now;
            e
        })
        .collect();
    for view in time_entries::views(&**change, released).await? {
        change.record(EventType::TimeEntryUpdated, view.id, &view)?;
    }
    Ok(())
}
