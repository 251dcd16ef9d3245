//! `/api/v1/users/me` and `/api/v1/users`.

use axum::{extract::State, response::Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    service,
    view::{UserView, WorkspaceView},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::Query,
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current_user))
        .routes(routes!(list_users))
}

#[derive(Serialize, ToSchema)]
pub struct CurrentUser {
    pub user: UserView,
    pub workspace: WorkspaceView,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
    pub pagination: Pagination,
}

/// The token's user, with their role and workspace.
#[utoipa::path(
    get, path = "/api/v1/users/me", tag = "users",
    security(("api_token" = ["read:users"])),
    responses((status = 200, body = CurrentUser))
)]
async fn current_user(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "users.me", caller.user_id.to_string());
    app.reads
        .json(key, || async {
            let member = service::member(&app.db, caller.workspace_id, caller.user_id)
                .await?
                .ok_or(ApiError::NotFound("User"))?;
            Ok(CurrentUser {
                user: UserView::new(member.user, member.role),
                workspace: member.workspace.into(),
            })
        })
        .await
}

/// Every member of the workspace (admins only: requires `admin:all`).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(PageParams),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, body = UserList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let key = ReadKey::new(caller.workspace_id, "users.list", format!("{page:?}"));
    app.reads
        .json(key, || async {
            let (rows, total) = service::list_members(&app.db, caller.workspace_id, page).await?;
            Ok(UserList {
                users: rows
                    .into_iter()
                    .map(|(u, role)| UserView::new(u, role))
                    .collect(),
                pagination: Pagination::new(page, total),
            })
        })
        .await
}
