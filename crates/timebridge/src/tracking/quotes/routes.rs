//! `/api/v1/quotes`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    QuoteStatus, QuoteView,
    service::{self, NewQuote, QuoteChanges, QuoteFilter},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
        time::{iso_date, parse_date},
    },
    tracking::invoices::lines::LineInput,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_quotes, create_quote))
        .routes(routes!(get_quote, update_quote, delete_quote))
}

#[derive(Serialize, ToSchema)]
pub struct QuoteList {
    pub quotes: Vec<QuoteView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct QuoteEnvelope {
    pub quote: QuoteView,
}

/// A change's answer: what happened, and the quote as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct QuoteChanged {
    #[schema(example = "Quote created successfully")]
    pub message: String,
    pub quote: QuoteView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteListFilter {
    /// Only quotes with this status (default: all).
    pub status: Option<QuoteStatus>,
    /// Only this client's quotes.
    pub client_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateQuote {
    /// A client of this workspace.
    pub client_id: Uuid,
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "Website relaunch",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub title: String,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(
        example = "Design and build of the new marketing site",
        max_length = 10000
    )]
    pub description: Option<String>,
    /// Default `draft`.
    pub status: Option<QuoteStatus>,
    /// `YYYY-MM-DD`.
    #[serde(default, with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-31")]
    pub valid_until: Option<Date>,
    /// Three letters (ISO 4217, any case, stored upper-case); default `EUR`. `currency` is
    /// accepted too.
    #[serde(alias = "currency")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency_code: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Prices exclude travel.", max_length = 10000)]
    pub notes: Option<String>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(example = "Half on signature, half on delivery.", max_length = 10000)]
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
pub struct UpdateQuote {
    /// A client of this workspace. `null` or left out: unchanged.
    pub client_id: Option<Uuid>,
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Website relaunch, phase two",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub title: Option<String>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Second phase of the relaunch", max_length = 10000)]
    pub description: Option<Option<String>>,
    pub status: Option<QuoteStatus>,
    /// `YYYY-MM-DD`; `null` clears it.
    #[serde(default, deserialize_with = "optional_date")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-31")]
    pub valid_until: Option<Option<Date>>,
    /// Three letters (ISO 4217, any case, stored upper-case). `currency` is accepted too.
    /// `null` or left out: unchanged.
    #[serde(alias = "currency")]
    #[schema(example = "EUR", pattern = "^\\s*[A-Za-z]{3}\\s*$")]
    pub currency_code: Option<String>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Prices exclude travel.", max_length = 10000)]
    pub notes: Option<Option<String>>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Half on signature, half on delivery.", max_length = 10000)]
    pub terms: Option<Option<String>>,
    /// Percent, 0–100, at most two decimal places. `null` or left out: unchanged.
    #[schema(value_type = Option<f64>, example = 19.0, minimum = 0, maximum = 100)]
    pub tax_rate: Option<Decimal>,
    /// Replaces every line (and recomputes the totals): at most 500 lines, the total below
    /// 10^12. `null` or left out: unchanged.
    #[schema(max_items = 500)]
    pub items: Option<Vec<LineInput>>,
}

/// A PATCH date: absent (`None`), `null` (`Some(None)`) or `YYYY-MM-DD`.
fn optional_date<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<Date>>, D::Error> {
    match double_option::<String, D>(de)? {
        Some(Some(text)) => parse_date(&text)
            .map(|d| Some(Some(d)))
            .map_err(serde::de::Error::custom),
        other => Ok(other.map(|_| None)),
    }
}

/// List the workspace's quotes, newest first.
#[utoipa::path(
    get, path = "/api/v1/quotes", tag = "quotes",
    params(PageParams, QuoteListFilter),
    security(("api_token" = ["read:quotes"])),
    responses(
        (status = 200, description = "One page of quotes", body = QuoteList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_quotes(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<QuoteListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = QuoteFilter {
        status: filter.status,
        client_id: filter.client_id,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "quotes.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (quotes, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(QuoteList {
                quotes,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get a quote with its lines.
#[utoipa::path(
    get, path = "/api/v1/quotes/{id}", tag = "quotes",
    params(("id" = Uuid, Path, description = "Quote id")),
    security(("api_token" = ["read:quotes"])),
    responses(
        (status = 200, body = QuoteEnvelope),
        (status = 404, description = "No such quote in this workspace", body = ErrorBody),
    )
)]
async fn get_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "quotes.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let quote = service::get(&app.db, &acting, id).await?;
            Ok(QuoteEnvelope { quote })
        })
        .await
}

/// Create a quote, numbered `QUO-YYYYMMDD-NNN`, optionally with its lines.
#[utoipa::path(
    post, path = "/api/v1/quotes", tag = "quotes",
    request_body = CreateQuote,
    security(("api_token" = ["write:quotes"])),
    responses(
        (status = 201, body = QuoteChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create_quote(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateQuote>,
) -> Result<(StatusCode, Json<QuoteChanged>), ApiError> {
    let new = NewQuote {
        client_id: body.client_id,
        title: body.title,
        description: body.description,
        status: body.status,
        valid_until: body.valid_until,
        currency_code: body.currency_code,
        notes: body.notes,
        terms: body.terms,
        tax_rate: body.tax_rate,
        items: body.items,
    };
    let quote = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(QuoteChanged {
            message: "Quote created successfully".into(),
            quote,
        }),
    ))
}

/// Update a quote (`PUT` and `PATCH` both change only the fields sent; `items` replaces
/// every line).
#[utoipa::path(
    method(put, patch), path = "/api/v1/quotes/{id}", tag = "quotes",
    params(("id" = Uuid, Path, description = "Quote id")),
    request_body = UpdateQuote,
    security(("api_token" = ["write:quotes"])),
    responses(
        (status = 200, body = QuoteChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such quote in this workspace", body = ErrorBody),
    )
)]
async fn update_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateQuote>,
) -> Result<Json<QuoteChanged>, ApiError> {
    let changes = QuoteChanges {
        client_id: body.client_id,
        title: body.title,
        description: body.description,
        status: body.status,
        valid_until: body.valid_until,
        currency_code: body.currency_code,
        notes: body.notes,
        terms: body.terms,
        tax_rate: body.tax_rate,
        items: body.items,
    };
    let quote = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(QuoteChanged {
        message: "Quote updated successfully".into(),
        quote,
    }))
}

/// Delete a quote and its lines.
#[utoipa::path(
    delete, path = "/api/v1/quotes/{id}", tag = "quotes",
    params(("id" = Uuid, Path, description = "Quote id")),
    security(("api_token" = ["write:quotes"])),
    responses(
        (status = 200, description = "The deleted quote", body = QuoteChanged),
        (status = 404, description = "No such quote in this workspace", body = ErrorBody),
    )
)]
async fn delete_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<QuoteChanged>, ApiError> {
    let quote = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(QuoteChanged {
        message: "Quote deleted successfully".into(),
        quote,
    }))
}
