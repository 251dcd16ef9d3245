//! Managing the members of a workspace: their role, whether they may use it, their name and
//! email, joining and leaving.
//!
//! Each action is one [`WorkspaceChange`] on the workspace acted in, recording its `user.*`
//! events there. An admin acts only inside their own workspace: a user's other memberships
//! are never touched, and their name and email (which every workspace they belong to shows)
//! change through the API only while this is their only workspace; the server's operator
//! changes them everywhere with [`update_profile`]. A workspace always keeps an active admin
//! (409 `last_admin`).

use axum::http::StatusCode;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set, sea_query::JoinType,
};
use uuid::Uuid;

use super::{
    Plan, Role,
    entity::{membership, user, workspace},
    service::{self, DirectoryError, Member},
    view::UserView,
};
use crate::{
    access,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, count as count_rows},
        error::{ApiError, FieldErrors},
        outbox::{Actor, EventType},
        time,
        validate::required_text,
    },
};

/// Changes to a member; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct MemberChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

/// What an action did: the member as the API shows them now (as they were, when removed),
/// and the hashes of their tokens in the workspace, which this process's token cache must
/// forget for the change to apply to their very next request.
pub struct MemberOutcome {
    pub user: UserView,
    pub forget_tokens: Vec<String>,
}

/// A new name and email, checked; `None` leaves one as it is.
#[derive(Debug, Default)]
struct Profile {
    name: Option<String>,
    email: Option<String>,
}

impl Profile {
    fn check(name: Option<String>, email: Option<String>) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let name = name.map(|n| required_text(&mut errors, "name", &n, 200));
        let email = email.and_then(|e| match service::normalize_email(&e) {
            Ok(email) => Some(email),
            Err(DirectoryError::Invalid { field, message }) => {
                errors.add(field, message);
                None
            }
            Err(other) => {
                errors.add("email", other.to_string());
                None
            }
        });
        errors.into_result()?;
        Ok(Self { name, email })
    }

    /// Only what differs from the user as they are.
    fn changes_to(self, user: &user::Model) -> Self {
        Self {
            name: self.name.filter(|n| *n != user.name),
            email: self.email.filter(|e| *e != user.email),
        }
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none()
    }
}

fn last_admin() -> ApiError {
    ApiError::coded(
        StatusCode::CONFLICT,
        "last_admin",
        "This would leave the workspace without an active admin: make another member admin first",
    )
}

fn shared_profile() -> ApiError {
    ApiError::coded(
        StatusCode::CONFLICT,
        "user_in_other_workspaces",
        "This user also belongs to other workspaces, which show the same name and email: \
         only the server's operator can change them (`timebridge user update`)",
    )
}

fn no_such_user() -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "not_found",
        "No user has this email on this server; the server's operator creates users \
         (`timebridge user create`)",
    )
}

/// Whether the member counts as the workspace's admin: an admin, active here and on the server.
fn is_working_admin(user: &user::Model, membership: &membership::Model) -> bool {
    membership.role == Role::Admin && membership.is_active && user.is_active
}

/// The user and their membership, when `user_id` belongs to the workspace.
async fn find_in<C: ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<(user::Model, membership::Model), ApiError> {
    let found = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user_id))
        .find_also_related(user::Entity)
        .one(conn)
        .await?;
    match found {
        Some((membership, Some(user))) => Ok((user, membership)),
        _ => Err(ApiError::NotFound("User")),
    }
}

/// Whether the workspace has a working admin besides `user_id`.
async fn has_other_admin<C: ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<bool, ApiError> {
    let others = membership::Entity::find()
        .join(JoinType::InnerJoin, membership::Relation::User.def())
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.ne(user_id))
        .filter(membership::Column::Role.eq(Role::Admin))
        .filter(membership::Column::IsActive.eq(true))
        .filter(user::Column::IsActive.eq(true));
    Ok(count_rows(others, conn).await? > 0)
}

/// Whether the user belongs to a workspace besides `workspace_id`.
async fn belongs_elsewhere<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    workspace_id: Uuid,
) -> Result<bool, ApiError> {
    let elsewhere = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::WorkspaceId.ne(workspace_id));
    Ok(count_rows(elsewhere, conn).await? > 0)
}

/// A member of the workspace as the API shows them.
pub async fn get(db: &Db, workspace_id: Uuid, user_id: Uuid) -> Result<UserView, ApiError> {
    let (user, membership) = find_in(db.conn(), workspace_id, user_id).await?;
    Ok(UserView::new(user, membership.role, membership.is_active))
}

/// Changes a member of the acting workspace: name and email (`user.updated`,
/// `user.email_changed`; only for a user of this workspace alone), role (`user.updated`;
/// a member demoted from admin loses their tokens holding admin-only scopes), and whether
/// they may use the workspace (`user.deactivated`, `user.activated`). Nothing that would
/// leave the workspace without a working admin.
pub async fn update(
    db: &Db,
    acting: &Acting,
    user_id: Uuid,
    changes: MemberChanges,
) -> Result<MemberOutcome, ApiError> {
    let requested = Profile::check(changes.name, changes.email)?;
    let workspace_id = acting.workspace_id;
    let mut change = WorkspaceChange::begin(db, workspace_id, acting.actor.clone()).await?;
    let (user, membership) = find_in(&*change, workspace_id, user_id).await?;
    let profile = requested.changes_to(&user);
    let role = changes.role.filter(|r| *r != membership.role);
    let is_active = changes.is_active.filter(|a| *a != membership.is_active);
    if profile.is_empty() && role.is_none() && is_active.is_none() {
        return Ok(MemberOutcome {
            user: UserView::new(user, membership.role, membership.is_active),
            forget_tokens: Vec::new(),
        });
    }
    if !profile.is_empty() && belongs_elsewhere(&*change, user_id, workspace_id).await? {
        return Err(shared_profile());
    }
    let stays_admin = role.unwrap_or(membership.role) == Role::Admin
        && is_active.unwrap_or(membership.is_active)
        && user.is_active;
    if is_working_admin(&user, &membership)
        && !stays_admin
        && !has_other_admin(&*change, workspace_id, user_id).await?
    {
        return Err(last_admin());
    }
    let user = apply_profile(&*change, user, &profile).await?;
    let membership = apply_standing(&*change, membership, role, is_active).await?;
    let mut forget_tokens = Vec::new();
    if role.is_some() || is_active.is_some() {
        if role == Some(Role::Member) {
            access::tokens::revoke_admin_only_tokens(&*change, workspace_id, user_id).await?;
        }
        forget_tokens =
            access::tokens::member_token_hashes(&*change, workspace_id, user_id).await?;
    }
    let view = UserView::new(user, membership.role, membership.is_active);
    record_profile(&mut change, &view, &profile, role.is_some())?;
    match is_active {
        Some(true) => change.record(EventType::UserActivated, user_id, &view)?,
        Some(false) => change.record(EventType::UserDeactivated, user_id, &view)?,
        None => {}
    }
    change.commit().await?;
    Ok(MemberOutcome {
        user: view,
        forget_tokens,
    })
}

/// `user.email_changed` for a new email, `user.updated` for a new name or role.
fn record_profile(
    change: &mut WorkspaceChange,
    view: &UserView,
    profile: &Profile,
    role_changed: bool,
) -> Result<(), ApiError> {
    if profile.email.is_some() {
        change.record(EventType::UserEmailChanged, view.id, view)?;
    }
    if profile.name.is_some() || role_changed {
        change.record(EventType::UserUpdated, view.id, view)?;
    }
    Ok(())
}

/// Writes a new name and email to the user's row (an email another user has is a 409).
async fn apply_profile<C: ConnectionTrait>(
    conn: &C,
    user: user::Model,
    profile: &Profile,
) -> Result<user::Model, ApiError> {
    if profile.is_empty() {
        return Ok(user);
    }
    if let Some(email) = &profile.email {
        let taken = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::Id.ne(user.id))
            .one(conn)
            .await?;
        if taken.is_some() {
            return Err(ApiError::Conflict(
                "A user with this email already exists".into(),
            ));
        }
    }
    let mut active: user::ActiveModel = user.into();
    if let Some(name) = &profile.name {
        active.name = Set(name.clone());
    }
    if let Some(email) = &profile.email {
        active.email = Set(email.clone());
    }
    active.updated_at = Set(time::now());
    Ok(active.update(conn).await?)
}

async fn apply_standing<C: ConnectionTrait>(
    conn: &C,
    membership: membership::Model,
    role: Option<Role>,
    is_active: Option<bool>,
) -> Result<membership::Model, ApiError> {
    if role.is_none() && is_active.is_none() {
        return Ok(membership);
    }
    let mut active: membership::ActiveModel = membership.into();
    if let Some(role) = role {
        active.role = Set(role);
    }
    if let Some(is_active) = is_active {
        active.is_active = Set(is_active);
    }
    Ok(active.update(conn).await?)
}

/// Adds an existing user (by email) to the acting workspace with `role` (`user.joined`).
pub async fn add(
    db: &Db,
    acting: &Acting,
    email: &str,
    role: Role,
) -> Result<MemberOutcome, ApiError> {
    let email = service::normalize_email(email)?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&*change)
        .await?
        .ok_or_else(no_such_user)?;
    let view = join(&mut change, user, acting.workspace_id, role).await?;
    change.commit().await?;
    Ok(MemberOutcome {
        user: view,
        forget_tokens: Vec::new(),
    })
}

/// Adds an existing user to the workspace named `workspace_name`, created on `plan` when
/// missing (an existing workspace keeps its plan; asking for another is refused). The
/// operator's `timebridge user add`.
pub async fn join_workspace(
    db: &Db,
    user_id: Uuid,
    workspace_name: &str,
    role: Role,
    plan: Option<Plan>,
) -> Result<Member, ApiError> {
    let workspace_name = service::check_name("workspace", workspace_name, 200)?;
    let mut change = WorkspaceChange::begin_unbound(db, Actor::system()).await?;
    let user = user::Entity::find_by_id(user_id)
        .one(&*change)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    let workspace = service::find_or_create_workspace(&*change, &workspace_name, plan).await?;
    change.bind(workspace.id);
    change.lock_workspace().await?;
    join(&mut change, user.clone(), workspace.id, role).await?;
    change.commit().await?;
    Ok(Member {
        user,
        workspace,
        role,
        active_here: true,
    })
}

/// Makes `user` a member of the change's workspace and records `user.joined`.
async fn join(
    change: &mut WorkspaceChange,
    user: user::Model,
    workspace_id: Uuid,
    role: Role,
) -> Result<UserView, ApiError> {
    let existing = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user.id))
        .one(&**change)
        .await?;
    if existing.is_some() {
        return Err(ApiError::Conflict(
            "The user is already a member of this workspace".into(),
        ));
    }
    membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        user_id: Set(user.id),
        role: Set(role),
        is_active: Set(true),
        created_at: Set(time::now()),
    }
    .insert(&**change)
    .await?;
    let view = UserView::new(user, role, true);
    change.record(EventType::UserJoined, view.id, &view)?;
    Ok(view)
}

/// Removes a member from the acting workspace (`user.removed`): their tokens there are
/// revoked; their time entries and other data stay. Never the last working admin.
pub async fn remove(db: &Db, acting: &Acting, user_id: Uuid) -> Result<MemberOutcome, ApiError> {
    let workspace_id = acting.workspace_id;
    let mut change = WorkspaceChange::begin(db, workspace_id, acting.actor.clone()).await?;
    let (user, membership) = find_in(&*change, workspace_id, user_id).await?;
    if is_working_admin(&user, &membership)
        && !has_other_admin(&*change, workspace_id, user_id).await?
    {
        return Err(last_admin());
    }
    membership::Entity::delete_by_id(membership.id)
        .exec(&*change)
        .await?;
    let forget_tokens =
        access::tokens::revoke_member_tokens(&*change, workspace_id, user_id).await?;
    let view = UserView::new(user, membership.role, membership.is_active);
    change.record(EventType::UserRemoved, user_id, &view)?;
    change.commit().await?;
    Ok(MemberOutcome {
        user: view,
        forget_tokens,
    })
}

/// Changes a user's name and email on the whole server (the operator's `timebridge user
/// update`): the row once, and in every workspace they belong to a change recording
/// `user.updated` / `user.email_changed` there, so each workspace's feed, webhooks and
/// cached reads follow.
pub async fn update_profile(
    db: &Db,
    user_id: Uuid,
    name: Option<String>,
    email: Option<String>,
) -> Result<user::Model, ApiError> {
    let requested = Profile::check(name, email)?;
    let user = user::Entity::find_by_id(user_id)
        .one(db.conn())
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    let profile = requested.changes_to(&user);
    if profile.is_empty() {
        return Ok(user);
    }
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::CreatedAt)
        .all(db.conn())
        .await?;
    let Some((first, rest)) = memberships.split_first() else {
        // In no workspace: no event to record, only the row to change.
        let _turn = db.write_turn().await;
        return apply_profile(db.conn(), user, &profile).await;
    };
    let mut change = WorkspaceChange::begin(db, first.workspace_id, Actor::system()).await?;
    let user = apply_profile(&*change, user, &profile).await?;
    let view = UserView::new(user.clone(), first.role, first.is_active);
    record_profile(&mut change, &view, &profile, false)?;
    change.commit().await?;
    for membership in rest {
        let mut change =
            WorkspaceChange::begin(db, membership.workspace_id, Actor::system()).await?;
        let view = UserView::new(user.clone(), membership.role, membership.is_active);
        record_profile(&mut change, &view, &profile, false)?;
        change.commit().await?;
    }
    Ok(user)
}

/// Every user with each of their memberships (of one workspace, when named), by email; and,
/// when no workspace is named, the users who belong to none.
pub async fn roster(
    db: &Db,
    workspace_id: Option<Uuid>,
) -> Result<(Vec<Member>, Vec<user::Model>), ApiError> {
    let mut query = membership::Entity::find()
        .find_also_related(user::Entity)
        .order_by_asc(user::Column::Email)
        .order_by_asc(membership::Column::CreatedAt);
    if let Some(id) = workspace_id {
        query = query.filter(membership::Column::WorkspaceId.eq(id));
    }
    let rows = query.all(db.conn()).await?;
    let workspaces: std::collections::HashMap<Uuid, workspace::Model> = workspace::Entity::find()
        .all(db.conn())
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    let members: Vec<Member> = rows
        .into_iter()
        .filter_map(|(m, user)| {
            Some(Member {
                user: user?,
                workspace: workspaces.get(&m.workspace_id)?.clone(),
                role: m.role,
                active_here: m.is_active,
            })
        })
        .collect();
    if workspace_id.is_some() {
        return Ok((members, Vec::new()));
    }
    let placed: std::collections::HashSet<Uuid> = members.iter().map(|m| m.user.id).collect();
    let unplaced = user::Entity::find()
        .order_by_asc(user::Column::Email)
        .all(db.conn())
        .await?
        .into_iter()
        .filter(|u| !placed.contains(&u.id))
        .collect();
    Ok((members, unplaced))
}
