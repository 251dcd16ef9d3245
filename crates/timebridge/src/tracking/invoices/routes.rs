//! `/api/v1/invoices` and `/api/v1/clients/{client_id}/invoice-unbilled`: HTTP only — parse,
//! call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    InvoiceStatus, InvoiceView,
    lines::LineInput,
    service::{self, InvoiceChanges, InvoiceFilter, NewInvoice},
    unbilled::{self, UnbilledInvoice},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
        time::iso_date,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invoices, create_invoice))
        .routes(routes!(get_invoice, update_invoice, cancel_invoice))
        .routes(routes!(invoice_unbilled))
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceList {
    pub invoices: Vec<InvoiceView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceEnvelope {
    pub invoice: InvoiceView,
}

/// A change's answer: what happened, and the invoice as it is now.
#[derive(Serialize, ToSchema)]
pub struct InvoiceChanged {
    #[schema(example = "Invoice created successfully")]
    pub message: String,
    pub invoice: InvoiceView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListFilter {
    /// Only invoices with this status (default: all).
    pub status: Option<InvoiceStatus>,
    /// Only this client's invoices.
    pub client_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateInvoice {
    /// A client of this workspace.
    pub client_id: Uuid,
    /// Default `draft`; not `cancelled` (an invoice cannot be created cancelled).
    pub status: Option<InvoiceStatus>,
    /// `YYYY-MM-DD`. Default today (UTC).
    #[serde(default, with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-30")]
    pub issue_date: Option<Date>,
    /// `YYYY-MM-DD`, not before `issue_date`. Default 30 days after the issue date.
    #[serde(default, with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-30")]
    pub due_date: Option<Date>,
    /// Three letters (ISO 4217, any case, stored upper-case); default `EUR`. `currency` is
    /// accepted too.
    #[serde(alias = "currency")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency_code: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Thank you for your business.", max_length = 10000)]
    pub notes: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Payable within 30 days.", max_length = 10000)]
    pub terms: Option<String>,
    /// Percent, 0–100, at most two decimal places. Default 0.
    #[schema(value_type = Option<f64>, example = 19.0, minimum = 0, maximum = 100)]
    pub tax_rate: Option<Decimal>,
    /// At most 500 lines. The total (subtotal plus tax) must stay below 10^12.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub items: Vec<LineInput>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateInvoice {
    /// A client of this workspace. Not changeable once the invoice is paid or cancelled.
    pub client_id: Option<Uuid>,
    /// `cancelled` cancels the invoice, as `DELETE` does. A cancelled invoice cannot be
    /// reopened, nor a paid one cancelled (409).
    pub status: Option<InvoiceStatus>,
    /// `YYYY-MM-DD`, not after the (new or current) `due_date`. `null` or left out:
    /// unchanged.
    #[serde(default, with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-30")]
    pub issue_date: Option<Date>,
    /// `YYYY-MM-DD`, not before the (new or current) `issue_date`. `null` or left out:
    /// unchanged.
    #[serde(default, with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-30")]
    pub due_date: Option<Date>,
    /// Three letters (ISO 4217, any case, stored upper-case). `currency` is accepted too.
    /// `null` or left out: unchanged.
    #[serde(alias = "currency")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency_code: Option<String>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Thank you for your business.", max_length = 10000)]
    pub notes: Option<Option<String>>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Payable within 30 days.", max_length = 10000)]
    pub terms: Option<Option<String>>,
    /// Percent, 0–100, at most two decimal places. `null` or left out: unchanged. Not
    /// changeable once the invoice is paid or cancelled.
    #[schema(value_type = Option<f64>, example = 19.0, minimum = 0, maximum = 100)]
    pub tax_rate: Option<Decimal>,
    /// Replaces every line (and recomputes the totals): at most 500 lines, the total below
    /// 10^12. `null` or left out: unchanged. Not changeable once the invoice is paid or
    /// cancelled.
    #[schema(max_items = 500)]
    pub items: Option<Vec<LineInput>>,
}

/// List the workspace's invoices, newest first.
#[utoipa::path(
    get, path = "/api/v1/invoices", tag = "invoices",
    params(PageParams, InvoiceListFilter),
    security(("api_token" = ["read:invoices"])),
    responses(
        (status = 200, description = "One page of invoices", body = InvoiceList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_invoices(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<InvoiceListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = InvoiceFilter {
        status: filter.status,
        client_id: filter.client_id,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "invoices.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (invoices, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(InvoiceList {
                invoices,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get an invoice with its lines.
#[utoipa::path(
    get, path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    security(("api_token" = ["read:invoices"])),
    responses(
        (status = 200, body = InvoiceEnvelope),
        (status = 404, description = "No such invoice in this workspace", body = ErrorBody),
    )
)]
async fn get_invoice(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "invoices.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let invoice = service::get(&app.db, &acting, id).await?;
            Ok(InvoiceEnvelope { invoice })
        })
        .await
}

/// Create an invoice, numbered `INV-YYYYMMDD-NNN`, optionally with its lines.
#[utoipa::path(
    post, path = "/api/v1/invoices", tag = "invoices",
    request_body = CreateInvoice,
    security(("api_token" = ["write:invoices"])),
    responses(
        (status = 201, body = InvoiceChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create_invoice(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateInvoice>,
) -> Result<(StatusCode, Json<InvoiceChanged>), ApiError> {
    let new = NewInvoice {
        client_id: body.client_id,
        status: body.status,
        issue_date: body.issue_date,
        due_date: body.due_date,
        currency_code: body.currency_code,
        notes: body.notes,
        terms: body.terms,
        tax_rate: body.tax_rate,
        items: body.items,
    };
    let invoice = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvoiceChanged {
            message: "Invoice created successfully".into(),
            invoice,
        }),
    ))
}

/// Update an invoice (`PUT` and `PATCH` both change only the fields sent; `items` replaces
/// every line).
#[utoipa::path(
    method(put, patch), path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    request_body = UpdateInvoice,
    security(("api_token" = ["write:invoices"])),
    responses(
        (status = 200, body = InvoiceChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such invoice in this workspace", body = ErrorBody),
        (status = 409, description = "The invoice is paid or cancelled", body = ErrorBody),
    )
)]
async fn update_invoice(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateInvoice>,
) -> Result<Json<InvoiceChanged>, ApiError> {
    let changes = InvoiceChanges {
        client_id: body.client_id,
        status: body.status,
        issue_date: body.issue_date,
        due_date: body.due_date,
        currency_code: body.currency_code,
        notes: body.notes,
        terms: body.terms,
        tax_rate: body.tax_rate,
        items: body.items,
    };
    let invoice = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(InvoiceChanged {
        message: "Invoice updated successfully".into(),
        invoice,
    }))
}

/// Cancel an invoice (TimeTracker's `DELETE` semantics: nothing is deleted). The time entries
/// billed on it become unbilled again.
#[utoipa::path(
    delete, path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    security(("api_token" = ["write:invoices"])),
    responses(
        (status = 200, description = "The cancelled invoice", body = InvoiceChanged),
        (status = 404, description = "No such invoice in this workspace", body = ErrorBody),
        (status = 409, description = "The invoice is paid", body = ErrorBody),
    )
)]
async fn cancel_invoice(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<InvoiceChanged>, ApiError> {
    let invoice = service::cancel(&app.db, &caller.acting(), id).await?;
    Ok(Json(InvoiceChanged {
        message: "Invoice cancelled successfully".into(),
        invoice,
    }))
}

/// Invoice a client's unbilled time: one draft invoice, one line per project (hours × the
/// project's rate, else the client's default rate). Answers 200, as TimeTracker does.
#[utoipa::path(
    post, path = "/api/v1/clients/{client_id}/invoice-unbilled", tag = "invoices",
    params(("client_id" = Uuid, Path, description = "Client id")),
    security(("api_token" = ["write:invoices"])),
    responses(
        (status = 200, description = "The new invoice", body = UnbilledInvoice),
        (status = 400, description = "`no_unbilled_entries`: nothing to invoice", body = ErrorBody),
        (status = 404, description = "No such client in this workspace", body = ErrorBody),
    )
)]
async fn invoice_unbilled(
    State(app): State<AppState>,
    caller: Caller,
    Path(client_id): Path<Uuid>,
) -> Result<Json<UnbilledInvoice>, ApiError> {
    let invoice = unbilled::invoice_unbilled(&app.db, &caller.acting(), client_id).await?;
    Ok(Json(invoice))
}
