//! `/api/v1/users/me` and the admins' `/api/v1/users…`: listing, showing, adding, changing and
//! removing the members of their own workspace.

use axum::{extract::State, http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    Role,
    members::{self, MemberChanges, MemberOutcome},
    service,
    view::{UserView, WorkspaceView},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current_user))
        .routes(routes!(list_users, add_user))
        .routes(routes!(get_user, update_user, remove_user))
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

#[derive(Serialize, ToSchema)]
pub struct UserEnvelope {
    pub user: UserView,
}

/// A change's answer: what happened, and the member as they are now (or were, when removed).
#[derive(Serialize, ToSchema)]
pub struct UserChanged {
    #[schema(example = "User updated")]
    pub message: String,
    pub user: UserView,
}

/// An existing user to add to the workspace.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "grace@example.com", "role": "member"}))]
pub struct AddUser {
    /// The email of a user who exists on this server (any case; trimmed): `local@domain`
    /// with no spaces, a domain holding a `.` and not starting with one, at most 320 bytes.
    #[schema(
        example = "grace@example.com",
        min_length = 3,
        max_length = 320,
        pattern = "^\\s*[^\\s@]+@[^\\s@.][^\\s@]*\\.[^\\s@]*\\s*$"
    )]
    pub email: String,
    /// Their role here (default `member`).
    #[serde(default = "member")]
    pub role: Role,
}

fn member() -> Role {
    Role::Member
}

/// What to change; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"role": "admin"}))]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// 1 to 200 characters (trimmed; not only spaces). Only for a user who belongs to this
    /// workspace alone. `null` or left out: unchanged.
    #[schema(
        example = "Ada King",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// Unique on the server. Only for a user who belongs to this workspace alone. Stored in
    /// lower case, trimmed: `local@domain` with no spaces, a domain holding a `.` and not
    /// starting with one, at most 320 bytes. `null` or left out: unchanged.
    #[schema(
        example = "ada.king@example.com",
        min_length = 3,
        max_length = 320,
        pattern = "^\\s*[^\\s@]+@[^\\s@.][^\\s@]*\\.[^\\s@]*\\s*$"
    )]
    pub email: Option<String>,
    /// `admin` or `member`. Demoting revokes the member's tokens that hold admin-only scopes.
    pub role: Option<Role>,
    /// `false` deactivates the member in this workspace (their tokens here are refused from
    /// their next request); `true` reactivates them.
    pub is_active: Option<bool>,
}

/// Admin-only endpoints also check the caller is still an admin: a token keeps `admin:all`
/// only until its user is demoted, and this says so rather than act.
fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only workspace admins can manage users".into(),
        ))
    }
}

/// The member's tokens answer according to the change from their next request on.
fn forget_tokens(app: &AppState, outcome: &MemberOutcome) {
    for hash in &outcome.forget_tokens {
        app.tokens.forget(hash);
    }
}

/// The token's user, with their role and workspace.
#[utoipa::path(
    get, path = "/api/v1/users/me", tag = "users",
    security(("api_token" = ["read:users"])),
    responses((status = 200, description = "The caller", body = CurrentUser))
)]
async fn current_user(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "users.me", caller.user_id.to_string());
    app.reads
        .json(key, || async {
            let member = service::member(&app.db, caller.workspace_id, caller.user_id)
                .await?
                .ok_or(ApiError::NotFound("User"))?;
            let workspace = member.workspace.clone().into();
            Ok(CurrentUser {
                user: member.into(),
                workspace,
            })
        })
        .await
}

/// Every member of the workspace, deactivated ones included (admins only: requires
/// `admin:all`).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(PageParams),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "One page of members, by name", body = UserList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let page = PageRequest::from_params(&page)?;
    let key = ReadKey::new(caller.workspace_id, "users.list", format!("{page:?}"));
    app.reads
        .json(key, || async {
            let (users, total) = service::list_members(&app.db, caller.workspace_id, page).await?;
            Ok(UserList {
                users,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// One member of the workspace (admins only).
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "The member", body = UserEnvelope),
        (status = 404, description = "No such member in this workspace", body = ErrorBody),
    )
)]
async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let key = ReadKey::new(caller.workspace_id, "users.get", id.to_string());
    app.reads
        .json(key, || async {
            let user = members::get(&app.db, caller.workspace_id, id).await?;
            Ok(UserEnvelope { user })
        })
        .await
}

/// Add a user who already exists on this server (in another workspace) to this workspace
/// (admins only). Emits `user.joined`.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = AddUser,
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 201, description = "The user is now a member", body = UserChanged),
        (status = 400, description = "Invalid email or role", body = ErrorBody),
        (status = 404, description = "No user has this email on the server", body = ErrorBody),
        (status = 409, description = "The user is already a member", body = ErrorBody),
    )
)]
async fn add_user(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<AddUser>,
) -> Result<(StatusCode, Json<UserChanged>), ApiError> {
    require_admin(&caller)?;
    let outcome = members::add(&app.db, &caller.acting(), &body.email, body.role).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserChanged {
            message: "User added to the workspace".into(),
            user: outcome.user,
        }),
    ))
}

/// Change a member (admins only): `name` and `email` (`user.updated`, `user.email_changed`;
/// only for a user of this workspace alone), `role` (`user.updated`), `is_active`
/// (`user.deactivated`, `user.activated`; their tokens here stop or resume working from
/// their next request on this server, within `TIMEBRIDGE_TOKEN_CACHE_SECONDS` on others).
/// The workspace always keeps an active admin.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UpdateUser,
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "The member as they are now", body = UserChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such member in this workspace", body = ErrorBody),
        (status = 409, description = "`last_admin`: it would leave no active admin; `user_in_other_workspaces`: name and email of a user shared with other workspaces; or the email is taken", body = ErrorBody),
    )
)]
async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateUser>,
) -> Result<Json<UserChanged>, ApiError> {
    require_admin(&caller)?;
    let changes = MemberChanges {
        name: body.name,
        email: body.email,
        role: body.role,
        is_active: body.is_active,
    };
    let outcome = members::update(&app.db, &caller.acting(), id, changes).await?;
    forget_tokens(&app, &outcome);
    Ok(Json(UserChanged {
        message: "User updated".into(),
        user: outcome.user,
    }))
}

/// Remove a member from the workspace (admins only). Their tokens for this workspace are
/// revoked; their time entries and other data stay. Emits `user.removed`.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "The member as they were", body = UserChanged),
        (status = 404, description = "No such member in this workspace", body = ErrorBody),
        (status = 409, description = "`last_admin`: it would leave no active admin", body = ErrorBody),
    )
)]
async fn remove_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<UserChanged>, ApiError> {
    require_admin(&caller)?;
    let outcome = members::remove(&app.db, &caller.acting(), id).await?;
    forget_tokens(&app, &outcome);
    Ok(Json(UserChanged {
        message: "User removed from the workspace".into(),
        user: outcome.user,
    }))
}
