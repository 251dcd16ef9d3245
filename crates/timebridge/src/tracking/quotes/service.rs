//! Rules and queries for quotes. Every function is scoped to the caller's workspace: a quote
//! of another workspace is indistinguishable from one that does not exist. Totals are always
//! recomputed from the lines.

use std::collections::HashMap;

use ::time::Date;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{
    QuoteStatus, QuoteView,
    entity::{self as quote, item},
    line,
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
        validate::{optional_text, required_text},
    },
    tracking::invoices::{
        lines::{
            DEFAULT_CURRENCY, Line, LineInput, Totals, check_currency, check_lines, check_projects,
            check_tax_rate,
        },
        numbering::next_number,
        service::{client_for, today},
    },
};

/// Filters of the quote list.
#[derive(Debug, Default)]
pub struct QuoteFilter {
    pub status: Option<QuoteStatus>,
    pub client_id: Option<Uuid>,
}

/// Fields of a new quote.
pub struct NewQuote {
    pub client_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<QuoteStatus>,
    pub valid_until: Option<Date>,
    pub currency_code: Option<String>,
    pub notes: Option<String>,
    pub terms: Option<String>,
    pub tax_rate: Option<Decimal>,
    pub items: Vec<LineInput>,
}

/// Changes to a quote; `None` leaves a field as it is, `Some(None)` clears it. `items`
/// replaces every line.
#[derive(Default)]
pub struct QuoteChanges {
    pub client_id: Option<Uuid>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<QuoteStatus>,
    pub valid_until: Option<Option<Date>>,
    pub currency_code: Option<String>,
    pub notes: Option<Option<String>>,
    pub terms: Option<Option<String>>,
    pub tax_rate: Option<Decimal>,
    pub items: Option<Vec<LineInput>>,
}

/// One page of the workspace's quotes, newest first.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &QuoteFilter,
    page: PageRequest,
) -> Result<(Vec<QuoteView>, u64), ApiError> {
    let mut cond = Condition::all().add(quote::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(status) = filter.status {
        cond = cond.add(quote::Column::Status.eq(status));
    }
    if let Some(client_id) = filter.client_id {
        cond = cond.add(quote::Column::ClientId.eq(client_id));
    }
    let total = count_rows(quote::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = quote::Entity::find()
        .filter(cond)
        .order_by_desc(quote::Column::CreatedAt)
        .order_by_desc(quote::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|q| q.id).collect();
    let mut by_quote: HashMap<Uuid, Vec<item::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let items = item::Entity::find()
            .filter(item::Column::QuoteId.is_in(chunk.iter().copied()))
            .order_by_asc(item::Column::Position)
            .all(db.conn())
            .await?;
        for item in items {
            by_quote.entry(item.quote_id).or_default().push(item);
        }
    }
    let views = rows
        .into_iter()
        .map(|q| {
            let items = by_quote.remove(&q.id).unwrap_or_default();
            QuoteView::new(q, items)
        })
        .collect();
    Ok((views, total))
}

async fn items_of<C: ConnectionTrait>(db: &C, quote_id: Uuid) -> Result<Vec<item::Model>, DbErr> {
    item::Entity::find()
        .filter(item::Column::QuoteId.eq(quote_id))
        .order_by_asc(item::Column::Position)
        .all(db)
        .await
}

/// The quote, when it exists in this workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<quote::Model, ApiError> {
    quote::Entity::find_by_id(id)
        .filter(quote::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Quote"))
}

/// A quote with its lines.
pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<QuoteView, ApiError> {
    let quote = find(db.conn(), acting.workspace_id, id).await?;
    let items = items_of(db.conn(), id).await?;
    Ok(QuoteView::new(quote, items))
}

async fn insert_lines<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
    lines: Vec<Line>,
) -> Result<Vec<item::Model>, DbErr> {
    let items: Vec<item::Model> = lines
        .into_iter()
        .enumerate()
        .map(|(position, l)| item::Model {
            id: Uuid::now_v7(),
            quote_id,
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

/// Creates a quote, numbered for today: a draft in EUR unless told otherwise.
pub async fn create(db: &Db, acting: &Acting, new: NewQuote) -> Result<QuoteView, ApiError> {
    let mut errors = FieldErrors::new();
    let title = required_text(&mut errors, "title", &new.title, 200);
    let description = optional_text(&mut errors, "description", new.description, 10_000);
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
    errors.into_result()?;
    let tax_rate_bp = tax_rate_bp.unwrap_or_default();
    let totals = Totals::of(&lines, tax_rate_bp).check()?;

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let client = client_for(&*change, acting.workspace_id, new.client_id).await?;
    check_projects(&*change, acting.workspace_id, &lines).await?;
    let number = next_number(&*change, "quotes", acting.workspace_id, "QUO", today()).await?;
    let now = time::now();
    let id = Uuid::now_v7();
    let quote = quote::ActiveModel {
        id: Set(id),
        workspace_id: Set(acting.workspace_id),
        client_id: Set(client.id),
        number: Set(number),
        title: Set(title),
        description: Set(description),
        status: Set(new.status.unwrap_or(QuoteStatus::Draft)),
        valid_until: Set(new.valid_until),
        currency: Set(currency),
        notes: Set(notes),
        terms: Set(terms),
        tax_rate_bp: Set(tax_rate_bp),
        subtotal_cents: Set(totals.subtotal_cents),
        tax_cents: Set(totals.tax_cents),
        total_cents: Set(totals.total_cents),
        created_by: Set((!acting.user_id.is_nil()).then_some(acting.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    let items = insert_lines(&*change, id, lines).await?;
    let view = QuoteView::new(quote, items);
    change.record(EventType::QuoteCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// [`QuoteChanges`] whose fields passed their checks.
struct Checked {
    changes: QuoteChanges,
    title: Option<String>,
    description: Option<Option<String>>,
    currency: Option<String>,
    notes: Option<Option<String>>,
    terms: Option<Option<String>>,
    tax_rate_bp: Option<i64>,
    lines: Option<Vec<Line>>,
}

fn check_changes(mut changes: QuoteChanges) -> Result<Checked, ApiError> {
    let mut errors = FieldErrors::new();
    let checked = Checked {
        title: changes
            .title
            .take()
            .map(|t| required_text(&mut errors, "title", &t, 200)),
        description: changes
            .description
            .take()
            .map(|d| optional_text(&mut errors, "description", d, 10_000)),
        currency: changes
            .currency_code
            .take()
            .map(|c| check_currency(&mut errors, &c)),
        notes: changes
            .notes
            .take()
            .map(|n| optional_text(&mut errors, "notes", n, 10_000)),
        terms: changes
            .terms
            .take()
            .map(|t| optional_text(&mut errors, "terms", t, 10_000)),
        tax_rate_bp: changes
            .tax_rate
            .take()
            .and_then(|r| check_tax_rate(&mut errors, r)),
        lines: changes
            .items
            .take()
            .map(|items| check_lines(&mut errors, items)),
        changes,
    };
    errors.into_result()?;
    Ok(checked)
}

/// Applies changes to a quote; `items` replaces every line. Totals follow.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: QuoteChanges,
) -> Result<QuoteView, ApiError> {
    let mut checked = check_changes(changes)?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let items = match checked.lines.take() {
        Some(lines) => {
            check_projects(&*change, acting.workspace_id, &lines).await?;
            item::Entity::delete_many()
                .filter(item::Column::QuoteId.eq(id))
                .exec(&*change)
                .await?;
            insert_lines(&*change, id, lines).await?
        }
        None => items_of(&*change, id).await?,
    };
    let bp = checked.tax_rate_bp.unwrap_or(existing.tax_rate_bp);
    let lines: Vec<Line> = items.iter().map(line).collect();
    let totals = Totals::of(&lines, bp).check()?;
    let mut active: quote::ActiveModel = existing.into();
    if let Some(client_id) = checked.changes.client_id {
        active.client_id = Set(client_for(&*change, acting.workspace_id, client_id)
            .await?
            .id);
    }
    set_fields(&mut active, checked, totals);
    let view = QuoteView::new(active.update(&*change).await?, items);
    change.record(EventType::QuoteUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

fn set_fields(active: &mut quote::ActiveModel, checked: Checked, totals: Totals) {
    if let Some(title) = checked.title {
        active.title = Set(title);
    }
    if let Some(description) = checked.description {
        active.description = Set(description);
    }
    if let Some(status) = checked.changes.status {
        active.status = Set(status);
    }
    if let Some(valid_until) = checked.changes.valid_until {
        active.valid_until = Set(valid_until);
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

/// Deletes a quote and its lines; answers the quote as it was.
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<QuoteView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let items = items_of(&*change, id).await?;
    item::Entity::delete_many()
        .filter(item::Column::QuoteId.eq(id))
        .exec(&*change)
        .await?;
    quote::Entity::delete_by_id(id).exec(&*change).await?;
    let view = QuoteView::new(existing, items);
    change.record(EventType::QuoteDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
