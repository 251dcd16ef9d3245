//! Rules of the directory: creating users (and their workspace), finding members. Managing
//! members once they exist is [`super::members`]; workspaces and their plans,
//! [`super::workspaces`].

use std::collections::HashMap;

use argon2::{
    Argon2, PasswordHasher,
    password_hash::{SaltString, rand_core::OsRng},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entity::{Plan, Role, membership, user, workspace};
use super::view::UserView;
use crate::platform::{
    changes::WorkspaceChange,
    constraints::{self, UniqueKey},
    db::{Db, count as count_rows},
    error::ApiError,
    outbox::{Actor, EventType},
    pagination::PageRequest,
    time,
};

/// The workspace a user lands in when none is named.
pub const DEFAULT_WORKSPACE: &str = "Default";

/// One user per email address (the column's own unique constraint).
pub const EMAIL_KEY: UniqueKey = UniqueKey::new("users_email_key", "users", &["email"]);

/// What `timebridge user create` asks for.
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: Option<String>,
    pub admin: bool,
    pub workspace: String,
    /// The plan of the workspace when this creates it (new workspaces default to `free`). An
    /// existing workspace keeps its plan: a different one here is refused
    /// ([`DirectoryError::PlanMismatch`]); `workspaces::set_plan` changes a plan.
    pub plan: Option<Plan>,
}

/// A user as a member of one workspace.
#[derive(Clone, Debug)]
pub struct Member {
    pub user: user::Model,
    pub workspace: workspace::Model,
    pub role: Role,
    /// False while an admin has deactivated the member in this workspace.
    pub active_here: bool,
}

impl Member {
    /// Whether the member may use the workspace: neither the account nor the membership is
    /// deactivated.
    pub fn is_active(&self) -> bool {
        self.user.is_active && self.active_here
    }
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("a user with email {0} already exists")]
    DuplicateEmail(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(
        "workspace {workspace:?} already exists on the {existing} plan: --plan applies only to a \
         workspace being created; change its plan with `timebridge workspace set-plan {workspace:?} {asked}`"
    )]
    PlanMismatch {
        workspace: String,
        existing: Plan,
        asked: Plan,
    },
    #[error("could not hash the password: {0}")]
    Password(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<DirectoryError> for ApiError {
    fn from(err: DirectoryError) -> Self {
        match err {
            DirectoryError::DuplicateEmail(_) => {
                ApiError::Conflict("A user with this email already exists".into())
            }
            DirectoryError::Invalid { field, message } => ApiError::invalid(field, message),
            DirectoryError::PlanMismatch { .. } => ApiError::Conflict(err.to_string()),
            DirectoryError::Password(m) => ApiError::Internal(anyhow::anyhow!(m)),
            DirectoryError::Db(e) => e.into(),
        }
    }
}

/// Normalises an email (trimmed, lower-case) and checks its shape.
pub fn normalize_email(email: &str) -> Result<String, DirectoryError> {
    let email = email.trim().to_lowercase();
    let invalid = |message: &str| DirectoryError::Invalid {
        field: "email",
        message: message.to_owned(),
    };
    if email.len() > 320 || email.chars().any(char::is_whitespace) {
        return Err(invalid("is not a valid email address"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.') =>
        {
            Ok(email)
        }
        _ => Err(invalid("is not a valid email address")),
    }
}

/// A trimmed name of 1 to `max` characters.
pub(crate) fn check_name(
    field: &'static str,
    name: &str,
    max: usize,
) -> Result<String, DirectoryError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > max {
        return Err(DirectoryError::Invalid {
            field,
            message: format!("must be 1 to {max} characters"),
        });
    }
    Ok(name.to_owned())
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, DirectoryError> {
    if password.chars().count() < 8 {
        return Err(DirectoryError::Invalid {
            field: "password",
            message: "must be at least 8 characters".into(),
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DirectoryError::Password(e.to_string()))
}

/// Creates a user and adds them to a workspace, creating the workspace when it does not exist.
/// Everything happens in one transaction: on any error nothing is written.
pub async fn create_user(db: &Db, new: NewUser) -> Result<Member, DirectoryError> {
    let email = normalize_email(&new.email)?;
    let name = check_name("name", &new.name, 200)?;
    let workspace_name = check_name("workspace", &new.workspace, 200)?;
    let password_hash = new.password.as_deref().map(hash_password).transpose()?;
    let now = time::now();

    let mut txn = WorkspaceChange::begin_unbound(db, Actor::system()).await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&*txn)
        .await?
        .is_some()
    {
        return Err(DirectoryError::DuplicateEmail(email));
    }
    let workspace = find_or_create_workspace(&*txn, &workspace_name, new.plan).await?;
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.clone()),
        name: Set(name),
        password_hash: Set(password_hash),
        is_active: Set(true),
        github_username: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if constraints::violated(&e, &EMAIL_KEY) {
            DirectoryError::DuplicateEmail(email.clone())
        } else {
            e.into()
        }
    })?;
    let role = if new.admin { Role::Admin } else { Role::Member };
    membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace.id),
        user_id: Set(user.id),
        role: Set(role),
        is_active: Set(true),
        created_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    txn.bind(workspace.id);
    txn.record(
        EventType::UserJoined,
        user.id,
        &UserView::new(user.clone(), role, true),
    )?;
    txn.commit().await?;
    Ok(Member {
        user,
        workspace,
        role,
        active_here: true,
    })
}

/// The workspace with this name, created on `plan` (default `free`) when missing. An existing
/// workspace keeps its plan: asking for another one is refused, never applied.
pub async fn find_or_create_workspace<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    plan: Option<Plan>,
) -> Result<workspace::Model, DirectoryError> {
    let existing = workspace::Entity::find()
        .filter(workspace::Column::Name.eq(name))
        .one(conn)
        .await?;
    if let Some(existing) = existing {
        return match plan {
            Some(asked) if asked != existing.plan => Err(DirectoryError::PlanMismatch {
                workspace: existing.name,
                existing: existing.plan,
                asked,
            }),
            _ => Ok(existing),
        };
    }
    let now = time::now();
    Ok(workspace::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        plan: Set(plan.unwrap_or(Plan::Free)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// The id of the workspace with this name, if any.
pub async fn workspace_by_name(db: &Db, name: &str) -> Result<Option<Uuid>, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::Name.eq(name))
        .select_only()
        .column(workspace::Column::Id)
        .into_tuple()
        .one(db.conn())
        .await
}

/// The user with this email (in any case), if any.
pub async fn find_user_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await
}

/// The email of each of these users (for lists that name users).
pub async fn emails_of(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut emails = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, String)> = user::Entity::find()
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Email)
            .into_tuple()
            .all(db)
            .await?;
        emails.extend(rows);
    }
    Ok(emails)
}

/// Every workspace's name, by id.
pub async fn workspace_names(db: &DatabaseConnection) -> Result<HashMap<Uuid, String>, DbErr> {
    let rows: Vec<(Uuid, String)> = workspace::Entity::find()
        .select_only()
        .column(workspace::Column::Id)
        .column(workspace::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Every workspace the user belongs to, oldest membership first.
pub async fn memberships_of(
    db: &DatabaseConnection,
    user: &user::Model,
) -> Result<Vec<Member>, DbErr> {
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id))
        .order_by_asc(membership::Column::CreatedAt)
        .find_also_related(workspace::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(m, w)| {
            w.map(|workspace| Member {
                user: user.clone(),
                workspace,
                role: m.role,
                active_here: m.is_active,
            })
        })
        .collect())
}

/// The active member of a workspace (active there and on the server) whose user has this
/// value in `column`, compared without regard to case: how connectors find the member a
/// provider names (by email, by GitHub login).
pub async fn active_member_by<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    column: user::Column,
    value: &str,
) -> Result<Option<Uuid>, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    if value.trim().is_empty() {
        return Ok(None);
    }
    membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .inner_join(user::Entity)
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::IsActive.eq(true))
        .filter(Expr::col((user::Entity, user::Column::IsActive)).eq(true))
        .filter(
            Expr::expr(Func::lower(Expr::col((user::Entity, column))))
                .eq(value.trim().to_lowercase()),
        )
        .into_tuple()
        .one(db)
        .await
}

/// The user as a member of the workspace, if they are one.
pub async fn member(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Member>, DbErr> {
    let Some(user) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let found = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .find_also_related(workspace::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(m, w)| {
        w.map(|workspace| Member {
            user,
            workspace,
            role: m.role,
            active_here: m.is_active,
        })
    }))
}

/// One page of a workspace's members (by name), as the API shows them, and how many there
/// are in all.
pub async fn list_members(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    page: PageRequest,
) -> Result<(Vec<UserView>, u64), DbErr> {
    let query = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .find_also_related(user::Entity);
    let total = count_rows(
        membership::Entity::find().filter(membership::Column::WorkspaceId.eq(workspace_id)),
        db,
    )
    .await?;
    let rows = query
        .order_by_asc(user::Column::Name)
        .order_by_asc(user::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .filter_map(|(m, u)| u.map(|u| UserView::new(u, m.role, m.is_active)))
            .collect(),
        total,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@localhost",
            "a@@b.c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_argon2id_hashed() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hash_password("short").is_err());
    }
}
