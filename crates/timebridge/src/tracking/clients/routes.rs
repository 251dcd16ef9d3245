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
    #[schema(example = "Acme Corp")]
    pub name: String,
    pub email: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Non-negative, at most two decimal places. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 75.0)]
    pub default_hourly_rate: Option<Decimal>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateClient {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_person: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
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
