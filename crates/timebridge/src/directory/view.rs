//! Users and workspaces as the API shows them (and as `user.*` events carry them).

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Plan, Role,
    entity::{user, workspace},
};

/// A user as a member of the caller's workspace.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// The user's role in this workspace.
    pub role: Role,
    pub is_admin: bool,
    /// False when the user is deactivated in this workspace (or on the whole server): their
    /// API tokens for this workspace are refused.
    pub is_active: bool,
    /// GitHub login, set through the GitHub connector's config.
    pub github_username: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl UserView {
    /// The user as a member with `role`; `active_here` is the membership's own switch.
    pub fn new(user: user::Model, role: Role, active_here: bool) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role,
            is_admin: role == Role::Admin,
            is_active: user.is_active && active_here,
            github_username: user.github_username,
            created_at: user.created_at,
        }
    }
}

impl From<super::Member> for UserView {
    fn from(member: super::Member) -> Self {
        Self::new(member.user, member.role, member.active_here)
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub plan: Plan,
}

impl From<workspace::Model> for WorkspaceView {
    fn from(w: workspace::Model) -> Self {
        Self {
            id: w.id,
            name: w.name,
            plan: w.plan,
        }
    }
}
