//! `/api/v1/expenses`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ExpenseCategory, ExpenseStatus, ExpenseView,
    service::{self, ExpenseChanges, ExpenseFilter, ExpenseQuery, NewExpense},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_expenses, create_expense))
        .routes(routes!(get_expense, update_expense, delete_expense))
        .merge(super::restore::routes())
}

#[derive(Serialize, ToSchema)]
pub struct ExpenseList {
    pub expenses: Vec<ExpenseView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ExpenseEnvelope {
    pub expense: ExpenseView,
}

/// A change's answer: what happened, and the expense as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct ExpenseChanged {
    #[schema(example = "Expense created successfully")]
    pub message: String,
    pub expense: ExpenseView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpenseListFilter {
    /// Only this user's expenses. Members see only their own: another user's id is a 403.
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub status: Option<ExpenseStatus>,
    pub category: Option<ExpenseCategory>,
    /// First `expense_date` included (`YYYY-MM-DD`).
    #[param(format = Date)]
    pub start_date: Option<String>,
    /// Last `expense_date` included (`YYYY-MM-DD`); not before `start_date`.
    #[param(format = Date)]
    pub end_date: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateExpense {
    /// Required (not `null`): 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        required = true,
        nullable = false,
        example = "Train to Berlin",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub title: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Return ticket for the client workshop", max_length = 10000)]
    pub description: Option<String>,
    /// Default `other`.
    pub category: Option<ExpenseCategory>,
    /// Required (not `null`): more than 0, at most two decimal places, below 10^12. A number
    /// or a decimal string.
    #[schema(required = true, nullable = false, value_type = Option<f64>, example = 42.5, exclusive_minimum = 0, maximum = 999999999999.99)]
    pub amount: Option<Decimal>,
    /// Three letters (ISO 4217, any case, stored upper-case); default `EUR`. `currency_code`
    /// is accepted too.
    #[serde(alias = "currency_code")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency: Option<String>,
    /// Required (not `null`, not empty): `YYYY-MM-DD`.
    #[schema(required = true, nullable = false, format = Date, example = "2026-11-30")]
    pub expense_date: Option<String>,
    /// Default `false`.
    pub billable: Option<bool>,
    /// Default `true`.
    pub reimbursable: Option<bool>,
    /// Default `pending`; only admins set another status.
    pub status: Option<ExpenseStatus>,
    /// A project of this workspace.
    pub project_id: Option<Uuid>,
    /// A client of this workspace.
    pub client_id: Option<Uuid>,
    /// The owner (default: the caller); only admins name someone else.
    pub user_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateExpense {
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Train to Hamburg",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub title: Option<String>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Return ticket", max_length = 10000)]
    pub description: Option<Option<String>>,
    pub category: Option<ExpenseCategory>,
    /// More than 0, at most two decimal places, below 10^12. A number or a decimal string.
    /// `null` or left out: unchanged.
    #[schema(value_type = Option<f64>, example = 39.9, exclusive_minimum = 0, maximum = 999999999999.99)]
    pub amount: Option<Decimal>,
    /// Three letters (ISO 4217, any case, stored upper-case). `currency_code` is accepted
    /// too. `null` or left out: unchanged.
    #[serde(alias = "currency_code")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency: Option<String>,
    /// `YYYY-MM-DD` (not empty). `null` or left out: unchanged.
    #[schema(format = Date, example = "2026-11-30")]
    pub expense_date: Option<String>,
    pub billable: Option<bool>,
    pub reimbursable: Option<bool>,
    /// Only admins set `approved`, `rejected` or `reimbursed`.
    pub status: Option<ExpenseStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub project_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub client_id: Option<Option<Uuid>>,
    /// A new owner (admins only).
    pub user_id: Option<Uuid>,
}

/// List expenses, newest first (by `expense_date`, then id). Members see only their own.
#[utoipa::path(
    get, path = "/api/v1/expenses", tag = "expenses",
    params(PageParams, ExpenseListFilter),
    security(("api_token" = ["read:expenses"])),
    responses(
        (status = 200, description = "One page of expenses", body = ExpenseList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 403, description = "A member asked for another user's expenses", body = ErrorBody),
    )
)]
async fn list_expenses(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(query): Query<ExpenseListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let acting = caller.acting();
    let query = ExpenseQuery {
        user_id: query.user_id,
        project_id: query.project_id,
        client_id: query.client_id,
        status: query.status,
        category: query.category,
        start_date: query.start_date,
        end_date: query.end_date,
    };
    let filter = ExpenseFilter::new(&acting, query)?;
    let key = ReadKey::new(
        caller.workspace_id,
        "expenses.list",
        format!("{page:?}{filter:?}{}{}", acting.user_id, acting.is_admin),
    );
    app.reads
        .json(key, || async {
            let (expenses, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(ExpenseList {
                expenses,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get an expense (another member's is a 403).
#[utoipa::path(
    get, path = "/api/v1/expenses/{id}", tag = "expenses",
    params(("id" = Uuid, Path, description = "Expense id")),
    security(("api_token" = ["read:expenses"])),
    responses(
        (status = 200, body = ExpenseEnvelope),
        (status = 403, description = "Another member's expense", body = ErrorBody),
        (status = 404, description = "No such expense in this workspace", body = ErrorBody),
    )
)]
async fn get_expense(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let acting = caller.acting();
    let key = ReadKey::new(
        caller.workspace_id,
        "expenses.get",
        format!("{id}{}{}", acting.user_id, acting.is_admin),
    );
    app.reads
        .json(key, || async {
            let expense = service::get(&app.db, &acting, id).await?;
            Ok(ExpenseEnvelope { expense })
        })
        .await
}

/// Create an expense (the caller's unless an admin names `user_id`).
#[utoipa::path(
    post, path = "/api/v1/expenses", tag = "expenses",
    request_body = CreateExpense,
    security(("api_token" = ["write:expenses"])),
    responses(
        (status = 201, body = ExpenseChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "A member set another owner or a reviewed status", body = ErrorBody),
    )
)]
async fn create_expense(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateExpense>,
) -> Result<(StatusCode, Json<ExpenseChanged>), ApiError> {
    let new = NewExpense {
        user_id: body.user_id,
        project_id: body.project_id,
        client_id: body.client_id,
        title: body.title,
        description: body.description,
        category: body.category,
        amount: body.amount,
        currency: body.currency,
        expense_date: body.expense_date,
        billable: body.billable,
        reimbursable: body.reimbursable,
        status: body.status,
    };
    let expense = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(ExpenseChanged {
            message: "Expense created successfully".into(),
            expense,
        }),
    ))
}

/// Update an expense (`PUT` and `PATCH` both change only the fields sent).
#[utoipa::path(
    method(put, patch), path = "/api/v1/expenses/{id}", tag = "expenses",
    params(("id" = Uuid, Path, description = "Expense id")),
    request_body = UpdateExpense,
    security(("api_token" = ["write:expenses"])),
    responses(
        (status = 200, body = ExpenseChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "Another member's expense, or a change only admins make", body = ErrorBody),
        (status = 404, description = "No such expense in this workspace", body = ErrorBody),
    )
)]
async fn update_expense(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateExpense>,
) -> Result<Json<ExpenseChanged>, ApiError> {
    let changes = ExpenseChanges {
        user_id: body.user_id,
        project_id: body.project_id,
        client_id: body.client_id,
        title: body.title,
        description: body.description,
        category: body.category,
        amount: body.amount,
        currency: body.currency,
        expense_date: body.expense_date,
        billable: body.billable,
        reimbursable: body.reimbursable,
        status: body.status,
    };
    let expense = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(ExpenseChanged {
        message: "Expense updated successfully".into(),
        expense,
    }))
}

/// Delete an expense. It vanishes from lists at once and can be restored with
/// `POST /api/v1/expenses/{id}/restore` for `DELETED_RETENTION_DAYS`.
#[utoipa::path(
    delete, path = "/api/v1/expenses/{id}", tag = "expenses",
    params(("id" = Uuid, Path, description = "Expense id")),
    security(("api_token" = ["write:expenses"])),
    responses(
        (status = 200, description = "The deleted expense", body = ExpenseChanged),
        (status = 403, description = "Another member's expense", body = ErrorBody),
        (status = 404, description = "No such expense in this workspace", body = ErrorBody),
    )
)]
async fn delete_expense(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ExpenseChanged>, ApiError> {
    let expense = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(ExpenseChanged {
        message: "Expense deleted successfully".into(),
        expense,
    }))
}
