//! `/api/v1/clickup/…`: connecting the workspace's ClickUp, its spaces, and clients' spaces.

use ::time::OffsetDateTime;
use axum::{extract::State, response::Response};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ClickUpConnector,
    entity::{client_space, space},
};
use crate::{
    app::AppState,
    connectors::{Connector, store},
    oauth::routes::{CallbackParams, finish_in_browser},
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
        time,
    },
    tracking::clients::entity as client,
};

/// The token-authenticated routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clickup_connect))
        .routes(routes!(clickup_disconnect))
        .routes(routes!(list_spaces))
        .routes(routes!(
            get_client_space,
            put_client_space,
            delete_client_space
        ))
        .routes(routes!(get_clickup_task, create_clickup_task))
}

/// The page ClickUp sends the admin's browser to.
pub fn browser() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(clickup_callback))
}

/// Starts connecting the workspace's ClickUp team (admins): answers the URL of ClickUp's
/// consent screen. One ClickUp token serves the whole workspace.
#[utoipa::path(
    get, path = "/api/v1/clickup/oauth/connect", tag = "integrations",
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{authorization_url, state, expires_at}`", body = Object),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 422, description = "The operator has not set CLICKUP_CLIENT_ID and CLICKUP_CLIENT_SECRET", body = ErrorBody),
    )
)]
async fn clickup_connect(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        ClickUpConnector::connect_workspace(&app, &caller.acting()).await?,
    ))
}

/// Where ClickUp sends the admin's browser (`CLICKUP_REDIRECT_URI`): finishes the flow its
/// single-use `state` names and shows a page saying how it went.
#[utoipa::path(
    get, path = "/api/v1/clickup/oauth/callback", tag = "integrations",
    params(CallbackParams),
    responses(
        (status = 200, description = "Connected: a page for the admin", content_type = "text/html", body = String),
        (status = 400, description = "Bad, expired or used state, or ClickUp refused: a page saying so", content_type = "text/html", body = String),
    )
)]
async fn clickup_callback(
    State(app): State<AppState>,
    Query(params): Query<CallbackParams>,
) -> Response {
    finish_in_browser(&app, params).await
}

/// Disconnects the workspace's ClickUp (admins): forgets the token (ClickUp offers no
/// revocation) and the cached teams, spaces and lists.
#[utoipa::path(
    delete, path = "/api/v1/clickup/oauth/disconnect", tag = "integrations",
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok, message}`; `ok: false` when nothing was connected", body = Object),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
    )
)]
async fn clickup_disconnect(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden(
            "Only workspace admins disconnect ClickUp".into(),
        ));
    }
    let Some((record, _)) = super::workspace_connection(&app, caller.workspace_id).await? else {
        return Ok(Json(crate::connectors::Reply::not_configured().0));
    };
    let integration = store::open_record(&app.secret_key, record);
    Ok(Json(ClickUpConnector.revoke(&app, &integration).await.0))
}

/// A space of the workspace's ClickUp team.
#[derive(Serialize, ToSchema)]
pub struct SpaceView {
    #[schema(example = "90110123")]
    pub space_id: String,
    #[schema(example = "9011")]
    pub team_id: String,
    #[schema(example = "Client work")]
    pub name: String,
    pub private: bool,
    /// ClickUp no longer lists it.
    pub archived: bool,
    #[serde(with = "::time::serde::rfc3339")]
    pub synced_at: OffsetDateTime,
}

impl From<space::Model> for SpaceView {
    fn from(s: space::Model) -> Self {
        Self {
            space_id: s.space_id,
            team_id: s.team_id,
            name: s.name,
            private: s.private,
            archived: s.archived,
            synced_at: s.synced_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SpaceList {
    pub spaces: Vec<SpaceView>,
}

/// The spaces of the workspace's ClickUp team as last synced (hourly by `clickup_space_sync`,
/// or now with `POST /api/integrations/clickup/sync`).
#[utoipa::path(
    get, path = "/api/v1/clickup/spaces", tag = "integrations",
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = SpaceList))
)]
async fn list_spaces(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<SpaceList>, ApiError> {
    let rows = space::Entity::find()
        .filter(space::Column::WorkspaceId.eq(caller.workspace_id))
        .order_by_asc(space::Column::Name)
        .all(app.db.conn())
        .await?;
    Ok(Json(SpaceList {
        spaces: rows.into_iter().map(SpaceView::from).collect(),
    }))
}

/// A client's ClickUp space.
#[derive(Serialize, ToSchema)]
pub struct ClientSpace {
    pub client_id: Uuid,
    /// `null` when none is assigned.
    pub space: Option<SpaceView>,
}

async fn own_client(
    app: &AppState,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<client::Model, ApiError> {
    client::Entity::find_by_id(id)
        .filter(client::Column::WorkspaceId.eq(workspace_id))
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Client"))
}

async fn client_space_view(
    app: &AppState,
    workspace_id: Uuid,
    client_id: Uuid,
) -> Result<ClientSpace, ApiError> {
    let assigned = client_space::Entity::find_by_id(client_id)
        .one(app.db.conn())
        .await?;
    let space = match assigned {
        Some(a) => space::Entity::find()
            .filter(space::Column::WorkspaceId.eq(workspace_id))
            .filter(space::Column::SpaceId.eq(a.space_id))
            .one(app.db.conn())
            .await?
            .map(SpaceView::from),
        None => None,
    };
    Ok(ClientSpace { client_id, space })
}

/// The ClickUp space a client is assigned to.
#[utoipa::path(
    get, path = "/api/v1/clients/{id}/clickup-space", tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    security(("api_token" = ["read:clients"])),
    responses(
        (status = 200, body = ClientSpace),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
async fn get_client_space(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ClientSpace>, ApiError> {
    own_client(&app, caller.workspace_id, id).await?;
    Ok(Json(
        client_space_view(&app, caller.workspace_id, id).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct AssignSpace {
    /// A space of the workspace's ClickUp team (see `GET /api/v1/clickup/spaces`).
    #[schema(example = "90110123", min_length = 1, max_length = 64, pattern = "\\S")]
    pub space_id: String,
}

/// Assigns a client to a ClickUp space: ClickUp tasks made for the client's work go there.
#[utoipa::path(
    put, path = "/api/v1/clients/{id}/clickup-space", tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    request_body = AssignSpace,
    security(("api_token" = ["write:clients"])),
    responses(
        (status = 200, body = ClientSpace),
        (status = 400, description = "Not a synced space of the workspace's ClickUp team", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
async fn put_client_space(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<AssignSpace>,
) -> Result<Json<ClientSpace>, ApiError> {
    own_client(&app, caller.workspace_id, id).await?;
    let space_id = body.space_id.trim().to_owned();
    let known = space::Entity::find()
        .filter(space::Column::WorkspaceId.eq(caller.workspace_id))
        .filter(space::Column::SpaceId.eq(space_id.as_str()))
        .filter(space::Column::Archived.eq(false))
        .one(app.db.conn())
        .await?;
    if known.is_none() {
        return Err(ApiError::invalid(
            "space_id",
            "is not a space of the workspace's ClickUp team (sync the spaces first: POST /api/integrations/clickup/sync)",
        ));
    }
    {
        let _turn = app.db.write_turn().await;
        client_space::Entity::insert(client_space::ActiveModel {
            client_id: Set(id),
            workspace_id: Set(caller.workspace_id),
            space_id: Set(space_id),
            updated_at: Set(time::now()),
        })
        .on_conflict(
            OnConflict::column(client_space::Column::ClientId)
                .update_columns([
                    client_space::Column::SpaceId,
                    client_space::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(app.db.conn())
        .await?;
    }
    Ok(Json(
        client_space_view(&app, caller.workspace_id, id).await?,
    ))
}

/// Unassigns a client's ClickUp space.
#[utoipa::path(
    delete, path = "/api/v1/clients/{id}/clickup-space", tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    security(("api_token" = ["write:clients"])),
    responses(
        (status = 200, body = ClientSpace),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
async fn delete_client_space(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ClientSpace>, ApiError> {
    own_client(&app, caller.workspace_id, id).await?;
    {
        let _turn = app.db.write_turn().await;
        client_space::Entity::delete_by_id(id)
            .exec(app.db.conn())
            .await?;
    }
    Ok(Json(ClientSpace {
        client_id: id,
        space: None,
    }))
}

async fn own_task(app: &AppState, workspace_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    use crate::tracking::tasks::entity as task;
    task::Entity::find_by_id(id)
        .filter(task::Column::WorkspaceId.eq(workspace_id))
        .one(app.db.conn())
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound("Task"))
}

/// The ClickUp task of a task: `status` `none`, `pending` (its job with attempts and last
/// error), `failed` or `created` (with its ClickUp id and URL).
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/clickup-task", tag = "tasks",
    params(("id" = Uuid, Path, description = "The task")),
    security(("api_token" = ["read:tasks"])),
    responses(
        (status = 200, description = "`{task_id, status, clickup_task_id, url, list_id, job}`", body = Object),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
async fn get_clickup_task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    own_task(&app, caller.workspace_id, id).await?;
    Ok(Json(
        super::tasks::state(&app, caller.workspace_id, id).await?,
    ))
}

/// Makes the task's ClickUp task, in the space of the task's client, in the background: 202
/// with the job, or 200 when it has one already. Asking again never makes a second one.
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/clickup-task", tag = "tasks",
    params(("id" = Uuid, Path, description = "The task")),
    security(("api_token" = ["write:tasks"])),
    responses(
        (status = 200, description = "It has a ClickUp task already", body = Object),
        (status = 202, description = "The job that makes it (new, or the one already queued)", body = Object),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
async fn create_clickup_task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    own_task(&app, caller.workspace_id, id).await?;
    let job = super::tasks::request(&app, caller.workspace_id, id).await?;
    let state = super::tasks::state(&app, caller.workspace_id, id).await?;
    let status = if job.is_some() {
        axum::http::StatusCode::ACCEPTED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Json(state)))
}
