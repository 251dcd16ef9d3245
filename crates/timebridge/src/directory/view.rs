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
    pub email: String,
    pub name: String,
    /// The user's role in this workspace.
    pub role: Role,
    pub is_admin: bool,
    pub is_active: bool,
    /// GitHub login, set through the GitHub connector's config.
    pub github_username: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl UserView {
    pub fn new(user: user::Model, role: Role) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role,
            is_admin: role == Role::Admin,
            is_active: user.is_active,
            github_username: user.github_username,
            created_at: user.created_at,
        }
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
