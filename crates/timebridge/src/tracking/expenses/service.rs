//! Rules and queries for expenses. Every function is scoped to the caller's workspace: an
//! expense of another workspace is indistinguishable from one that does not exist. Within the
//! workspace, a member touching another member's expense is refused (403).

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use time::Date;
use uuid::Uuid;

use super::{
    ExpenseView,
    entity::{self as expense, ExpenseCategory, ExpenseStatus},
};
use crate::{
    directory::entity::membership,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, count as count_rows},
        error::{ApiError, FieldErrors},
        money,
        outbox::EventType,
        pagination::PageRequest,
        time::{self as clock, parse_date},
        validate::{optional_text, required_text},
    },
    tracking::{clients::service as clients, projects::service as projects},
};

const TITLE_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 10_000;
const DEFAULT_CURRENCY: &str = "EUR";

/// The list's query as sent.
#[derive(Debug, Default)]
pub struct ExpenseQuery {
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub status: Option<ExpenseStatus>,
    pub category: Option<ExpenseCategory>,
    /// `YYYY-MM-DD`, on `expense_date`, inclusive.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// Filters of the expense list, checked, with the user whose expenses the caller may see.
#[derive(Debug, Default)]
pub struct ExpenseFilter {
    /// `None`: everyone's (admins only).
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub status: Option<ExpenseStatus>,
    pub category: Option<ExpenseCategory>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

impl ExpenseFilter {
    /// Checks the dates, and narrows a member to their own expenses (403 when they ask for
    /// someone else's).
    pub fn new(acting: &Acting, query: ExpenseQuery) -> Result<Self, ApiError> {
        let user_id = acting.visible_user(query.user_id)?;
        let mut errors = FieldErrors::new();
        let start_date = check_date(&mut errors, "start_date", query.start_date);
        let end_date = check_date(&mut errors, "end_date", query.end_date);
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            errors.add("end_date", "must not be before start_date");
        }
        errors.into_result()?;
        Ok(Self {
            user_id,
            project_id: query.project_id,
            client_id: query.client_id,
            status: query.status,
            category: query.category,
            start_date,
            end_date,
        })
    }

    fn condition(&self, workspace_id: Uuid) -> Condition {
        let mut cond = Condition::all().add(expense::Column::WorkspaceId.eq(workspace_id));
        if let Some(user_id) = self.user_id {
            cond = cond.add(expense::Column::UserId.eq(user_id));
        }
        if let Some(project_id) = self.project_id {
            cond = cond.add(expense::Column::ProjectId.eq(project_id));
        }
        if let Some(client_id) = self.client_id {
            cond = cond.add(expense::Column::ClientId.eq(client_id));
        }
        if let Some(status) = self.status {
            cond = cond.add(expense::Column::Status.eq(status));
        }
        if let Some(category) = self.category {
            cond = cond.add(expense::Column::Category.eq(category));
        }
        if let Some(start) = self.start_date {
            cond = cond.add(expense::Column::ExpenseDate.gte(start));
        }
        if let Some(end) = self.end_date {
            cond = cond.add(expense::Column::ExpenseDate.lte(end));
        }
        cond
    }
}

/// Fields of a new expense. `title`, `amount` and `expense_date` are required; they are
/// options here so that one answer can name every missing field.
#[derive(Debug, Default)]
pub struct NewExpense {
    /// The owner; the caller when absent. Only admins name someone else.
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Default `other`.
    pub category: Option<ExpenseCategory>,
    pub amount: Option<Decimal>,
    /// Default `EUR`.
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub expense_date: Option<String>,
    /// Default `false`.
    pub billable: Option<bool>,
    /// Default `true`.
    pub reimbursable: Option<bool>,
    /// Default `pending`; anything else is for admins.
    pub status: Option<ExpenseStatus>,
}

/// Changes to an expense; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ExpenseChanges {
    pub user_id: Option<Uuid>,
    pub project_id: Option<Option<Uuid>>,
    pub client_id: Option<Option<Uuid>>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub category: Option<ExpenseCategory>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub expense_date: Option<String>,
    pub billable: Option<bool>,
    pub reimbursable: Option<bool>,
    pub status: Option<ExpenseStatus>,
}

fn check_date(errors: &mut FieldErrors, field: &str, text: Option<String>) -> Option<Date> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    parse_date(&text).map_err(|e| errors.add(field, e)).ok()
}

fn required<T>(errors: &mut FieldErrors, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        errors.add(field, "is required");
    }
    value
}

/// An amount is more than zero, with at most two decimal places.
fn check_amount(errors: &mut FieldErrors, amount: Decimal) -> Option<i64> {
    let cents = money::check("amount", amount, false, errors)?;
    if cents == 0 {
        errors.add("amount", "must be greater than 0");
        return None;
    }
    Some(cents)
}

/// A currency is three letters (ISO 4217), kept upper-case.
fn check_currency(errors: &mut FieldErrors, currency: &str) -> String {
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.add(
            "currency",
            "must be a three-letter currency code such as EUR",
        );
    }
    currency
}

/// Only admins move an expense to `approved`, `rejected` or `reimbursed`.
fn check_status(acting: &Acting, status: ExpenseStatus) -> Result<(), ApiError> {
    if status == ExpenseStatus::Pending || acting.is_admin {
        return Ok(());
    }
    Err(ApiError::Forbidden(
        "Only admins can approve, reject or reimburse expenses".into(),
    ))
}

/// Only admins give an expense to someone else.
fn check_owner(acting: &Acting, owner: Uuid) -> Result<(), ApiError> {
    if acting.may_access(owner) {
        return Ok(());
    }
    Err(ApiError::Forbidden(
        "Only admins can manage expenses for other users".into(),
    ))
}

/// The owner, project and client must belong to the workspace.
async fn check_references<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    refs: (Option<Uuid>, Option<Uuid>, Option<Uuid>),
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let (user_id, project_id, client_id) = refs;
    if let Some(user_id) = user_id
        && !is_member(db, workspace_id, user_id).await?
    {
        errors.add("user_id", "is not a member of this workspace");
    }
    if let Some(project_id) = project_id {
        match projects::find(db, workspace_id, project_id).await {
            Err(ApiError::NotFound(_)) => {
                errors.add("project_id", "no such project in this workspace")
            }
            other => other.map(|_| ())?,
        }
    }
    if let Some(client_id) = client_id {
        match clients::find(db, workspace_id, client_id).await {
            Err(ApiError::NotFound(_)) => {
                errors.add("client_id", "no such client in this workspace")
            }
            other => other.map(|_| ())?,
        }
    }
    Ok(())
}

async fn is_member<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbErr> {
    let found = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// One page of the expenses the caller may see, newest first (by `expense_date`, then id).
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &ExpenseFilter,
    page: PageRequest,
) -> Result<(Vec<ExpenseView>, u64), ApiError> {
    let cond = filter.condition(acting.workspace_id);
    let total = count_rows(expense::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = expense::Entity::find()
        .filter(cond)
        .order_by_desc(expense::Column::ExpenseDate)
        .order_by_desc(expense::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(ExpenseView::from).collect(), total))
}

/// The expense, when it exists in this workspace and the caller may see it: 404 when it does
/// not exist, 403 when it is another member's.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    id: Uuid,
) -> Result<expense::Model, ApiError> {
    let found = expense::Entity::find_by_id(id)
        .filter(expense::Column::WorkspaceId.eq(acting.workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Expense"))?;
    if !acting.may_access(found.user_id) {
        return Err(ApiError::Forbidden("Access denied".into()));
    }
    Ok(found)
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<ExpenseView, ApiError> {
    find(db.conn(), acting, id).await.map(ExpenseView::from)
}

/// Creates an expense (`expense.created`): the caller's, `pending`, in EUR, reimbursable and
/// not billable unless told otherwise.
pub async fn create(db: &Db, acting: &Acting, new: NewExpense) -> Result<ExpenseView, ApiError> {
    let owner = new.user_id.unwrap_or(acting.user_id);
    check_owner(acting, owner)?;
    let status = new.status.unwrap_or(ExpenseStatus::Pending);
    check_status(acting, status)?;

    let mut errors = FieldErrors::new();
    let title = required(&mut errors, "title", new.title.as_deref())
        .map(|t| required_text(&mut errors, "title", t, TITLE_MAX));
    let description = optional_text(&mut errors, "description", new.description, DESCRIPTION_MAX);
    let amount =
        required(&mut errors, "amount", new.amount).and_then(|a| check_amount(&mut errors, a));
    let currency = check_currency(
        &mut errors,
        new.currency.as_deref().unwrap_or(DEFAULT_CURRENCY),
    );
    let expense_date = match new.expense_date.filter(|d| !d.trim().is_empty()) {
        Some(text) => check_date(&mut errors, "expense_date", Some(text)),
        None => required(&mut errors, "expense_date", None),
    };
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let refs = (Some(owner), new.project_id, new.client_id);
    check_references(&*change, acting.workspace_id, refs, &mut errors).await?;
    errors.into_result()?;

    let now = clock::now();
    let inserted = expense::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        user_id: Set(owner),
        project_id: Set(new.project_id),
        client_id: Set(new.client_id),
        // The checks above refused a missing title, amount or date.
        title: Set(title.unwrap_or_default()),
        description: Set(description),
        category: Set(new.category.unwrap_or(ExpenseCategory::Other)),
        amount_cents: Set(amount.unwrap_or_default()),
        currency: Set(currency),
        expense_date: Set(expense_date.unwrap_or(Date::MIN)),
        billable: Set(new.billable.unwrap_or(false)),
        reimbursable: Set(new.reimbursable.unwrap_or(true)),
        status: Set(status),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    let view = ExpenseView::from(inserted);
    change.record(EventType::ExpenseCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Changes, checked but not yet applied.
struct CheckedChanges {
    title: Option<String>,
    description: Option<Option<String>>,
    amount: Option<i64>,
    currency: Option<String>,
    expense_date: Option<Date>,
}

fn check_changes(errors: &mut FieldErrors, changes: &mut ExpenseChanges) -> CheckedChanges {
    CheckedChanges {
        title: changes
            .title
            .take()
            .map(|t| required_text(errors, "title", &t, TITLE_MAX)),
        description: changes
            .description
            .take()
            .map(|d| optional_text(errors, "description", d, DESCRIPTION_MAX)),
        amount: changes.amount.and_then(|a| check_amount(errors, a)),
        currency: changes.currency.take().map(|c| check_currency(errors, &c)),
        expense_date: match changes.expense_date.take() {
            Some(text) if text.trim().is_empty() => required(errors, "expense_date", None),
            text => check_date(errors, "expense_date", text),
        },
    }
}

/// Applies changes to an expense (`expense.updated`). Members change only their own, and
/// cannot approve, reject or reimburse, nor give the expense to someone else.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    mut changes: ExpenseChanges,
) -> Result<ExpenseView, ApiError> {
    if let Some(owner) = changes.user_id {
        check_owner(acting, owner)?;
    }
    let mut errors = FieldErrors::new();
    let checked = check_changes(&mut errors, &mut changes);
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if let Some(status) = changes.status.filter(|s| *s != existing.status) {
        check_status(acting, status)?;
    }
    let refs = (
        changes.user_id,
        changes.project_id.flatten(),
        changes.client_id.flatten(),
    );
    check_references(&*change, acting.workspace_id, refs, &mut errors).await?;
    errors.into_result()?;

    let mut active: expense::ActiveModel = existing.into();
    apply(&mut active, changes, checked);
    active.updated_at = Set(clock::now());
    let view = ExpenseView::from(active.update(&*change).await?);
    change.record(EventType::ExpenseUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Sets the changed fields.
fn apply(active: &mut expense::ActiveModel, changes: ExpenseChanges, checked: CheckedChanges) {
    if let Some(user_id) = changes.user_id {
        active.user_id = Set(user_id);
    }
    if let Some(project_id) = changes.project_id {
        active.project_id = Set(project_id);
    }
    if let Some(client_id) = changes.client_id {
        active.client_id = Set(client_id);
    }
    if let Some(title) = checked.title {
        active.title = Set(title);
    }
    if let Some(description) = checked.description {
        active.description = Set(description);
    }
    if let Some(category) = changes.category {
        active.category = Set(category);
    }
    if let Some(amount) = checked.amount {
        active.amount_cents = Set(amount);
    }
    if let Some(currency) = checked.currency {
        active.currency = Set(currency);
    }
    if let Some(expense_date) = checked.expense_date {
        active.expense_date = Set(expense_date);
    }
    if let Some(billable) = changes.billable {
        active.billable = Set(billable);
    }
    if let Some(reimbursable) = changes.reimbursable {
        active.reimbursable = Set(reimbursable);
    }
    if let Some(status) = changes.status {
        active.status = Set(status);
    }
}

/// Deletes an expense (`expense.deleted`, carrying it as it was); it can be restored for a
/// while (see `restore`).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<ExpenseView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    super::restore::keep_deleted(&change, &existing).await?;
    expense::Entity::delete_by_id(id).exec(&*change).await?;
    let view = ExpenseView::from(existing);
    change.record(EventType::ExpenseDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
