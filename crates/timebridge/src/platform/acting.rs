//! Who is acting, in which workspace: what every service call needs besides its input.

use uuid::Uuid;

use super::outbox::Actor;

/// The acting user in their workspace, and the author recorded on the events of their changes.
#[derive(Clone, Debug)]
pub struct Acting {
    pub workspace_id: Uuid,
    /// The user the action is for: the token's user, or the user a connector acts for.
    pub user_id: Uuid,
    /// Admins see and change everyone's time data; members only their own.
    pub is_admin: bool,
    pub actor: Actor,
}

impl Acting {
    /// Timebridge itself acting in a workspace (a scheduled job, the CLI, a connector with no
    /// matching user): admin rights, no user.
    pub fn system(workspace_id: Uuid, actor: Actor) -> Self {
        Self {
            workspace_id,
            user_id: Uuid::nil(),
            is_admin: true,
            actor,
        }
    }

    /// Whether this caller may see and change data owned by `owner`.
    pub fn may_access(&self, owner: Uuid) -> bool {
        self.is_admin || owner == self.user_id
    }

    /// The user whose data a list shows: members always see their own; admins see `asked`
    /// (or everyone's, when `None`). A member asking for someone else is refused.
    pub fn visible_user(
        &self,
        asked: Option<Uuid>,
    ) -> Result<Option<Uuid>, super::error::ApiError> {
        match asked {
            _ if self.is_admin => Ok(asked),
            Some(other) if other != self.user_id => Err(super::error::ApiError::Forbidden(
                "Only admins can see other users' data".into(),
            )),
            _ => Ok(Some(self.user_id)),
        }
    }
}
