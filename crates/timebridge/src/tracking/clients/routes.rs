//! `/api/v1/clients`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ClientStatus, ClientView,
    service::{self, ClientChanges, ClientFilter, NewClient},
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
        .routes(routes!(list_clients, create_client))
        .routes(routes!(get_client, update_client, delete_client))
}

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<ClientView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ClientEnvelope {
    pub client: ClientView,
}

/// A change's answer: what happened, and the client as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct ClientChanged {
    #[schema(example = "Client created successfully")]
    pub message: String,
    pub client: ClientView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientListFilter {
    /// Only clients with this status (default: all).
    pub status: Option<ClientStatus>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateClient {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "Acme Corp",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    /// At most 320 characters (trimmed), holding an `@`; empty is no email.
    #[schema(
        example = "billing@acme.example",
        max_length = 320,
        pattern = "@|^\\s*$"
    )]
    pub email: Option<String>,
    /// At most 200 characters (trimmed); empty is none.
    #[schema(example = "Jane Doe", max_length = 200)]
    pub contact_person: Option<String>,
    /// At most 64 characters (trimmed); empty is none.
    #[schema(example = "+1 555 0100", max_length = 64)]
    pub phone: Option<String>,
    /// At most 2000 characters (trimmed); empty is none.
    #[schema(example = "1 Main Street, Springfield", max_length = 2000)]
    pub address: Option<String>,
    /// Non-negative, at most two decimal places, below 10^12. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 75.0, minimum = 0, maximum = 999999999999.99)]
    pub default_hourly_rate: Option<Decimal>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateClient {
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Acme Corporation",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// At most 320 characters (trimmed), holding an `@`; `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "billing@acme.example", max_length = 320, pattern = "@|^\\s*$")]
    pub email: Option<Option<String>>,
    /// At most 200 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Jane Doe", max_length = 200)]
    pub contact_person: Option<Option<String>>,
    /// At most 64 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "+1 555 0100", max_length = 64)]
    pub phone: Option<Option<String>>,
    /// At most 2000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "1 Main Street, Springfield", max_length = 2000)]
    pub address: Option<Option<String>>,
    /// Non-negative, at most two decimal places, below 10^12; `null` clears it. A number or a
    /// decimal string.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>, example = 80.0, minimum = 0, maximum = 999999999999.99)]
    pub default_hourly_rate: Option<Option<Decimal>>,
    pub status: Option<ClientStatus>,
}

/// List clients.
#[utoipa::path(
    get, path = "/api/v1/clients", tag = "clients",
    params(PageParams, ClientListFilter),
    security(("api_token" = ["read:clients"])),
    responses(
        (status = 200, description = "One page of clients", body = ClientList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_clients(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ClientListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = ClientFilter {
        status: filter.status,
        search: filter.search,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "clients.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (clients, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(ClientList {
                clients,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get a client.
#[utoipa::path(
    get, path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    security(("api_token" = ["read:clients"])),
    responses(
        (status = 200, body = ClientEnvelope),
        (status = 404, description = "No such client in this workspace", body = ErrorBody),
    )
)]
async fn get_client(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "clients.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let client = service::get(&app.db, &acting, id).await?;
            Ok(ClientEnvelope { client })
        })
        .await
}

/// Create a client.
#[utoipa::path(
    post, path = "/api/v1/clients", tag = "clients",
    request_body = CreateClient,
    security(("api_token" = ["write:clients"])),
    responses(
        (status = 201, body = ClientChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 409, description = "A client with this name exists", body = ErrorBody),
    )
)]
async fn create_client(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateClient>,
) -> Result<(StatusCode, Json<ClientChanged>), ApiError> {
    let new = NewClient {
        name: body.name,
        email: body.email,
        contact_person: body.contact_person,
        phone: body.phone,
        address: body.address,
        default_hourly_rate: body.default_hourly_rate,
    };
    let client = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientChanged {
            message: "Client created successfully".into(),
            client,
        }),
    ))
}

/// Update a client (`PUT` and `PATCH` both change only the fields sent).
#[utoipa::path(
    method(put, patch), path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    request_body = UpdateClient,
    security(("api_token" = ["write:clients"])),
    responses(
        (status = 200, body = ClientChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such client in this workspace", body = ErrorBody),
        (status = 409, description = "A client with this name exists", body = ErrorBody),
    )
)]
async fn update_client(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateClient>,
) -> Result<Json<ClientChanged>, ApiError> {
    let changes = ClientChanges {
        name: body.name,
        email: body.email,
        contact_person: body.contact_person,
        phone: body.phone,
        address: body.address,
        default_hourly_rate: body.default_hourly_rate,
        status: body.status,
    };
    let client = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(ClientChanged {
        message: "Client updated successfully".into(),
        client,
    }))
}

/// Delete a client that has no projects or invoices (otherwise 409: make it inactive).
#[utoipa::path(
    delete, path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    security(("api_token" = ["write:clients"])),
    responses(
        (status = 200, description = "The deleted client", body = ClientChanged),
        (status = 404, description = "No such client in this workspace", body = ErrorBody),
        (status = 409, description = "The client still has projects or invoices", body = ErrorBody),
    )
)]
async fn delete_client(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ClientChanged>, ApiError> {
    let client = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(ClientChanged {
        message: "Client deleted successfully".into(),
        client,
    }))
}
