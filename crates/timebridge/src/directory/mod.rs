//! Workspaces, users and their memberships: who exists, where, and with which role.
//!
//! A workspace has a plan (which sets its API rate limits); a user belongs to workspaces
//! through memberships, each with a role (`admin` or `member`). An API token is bound to one
//! user in one workspace, so "is this caller an admin" is the role of that membership.
//!
//! - [`service`] creates users and their workspace, and finds members.
//! - [`members`] is what admins (and the operator) do to members: role, deactivation, name
//!   and email, adding, removing; each with its `user.*` event.
//! - [`workspaces`] is the operator's list of workspaces and their plans.
//! - [`routes`] answers `/api/v1/users…`.

pub mod entity;
pub mod members;
pub mod routes;
pub mod service;
pub mod view;
pub mod workspaces;

pub use entity::{Plan, Role};
pub use service::{Member, NewUser};

use crate::platform::constraints::{Answer, ConstraintRule, UniqueKey};

/// What breaking one of the directory's database constraints answers (registered at start-up;
/// see `platform::constraints`).
pub const CONSTRAINTS: &[ConstraintRule] = &[
    ConstraintRule::duplicate(
        service::EMAIL_KEY,
        Answer::Conflict("A user with this email already exists"),
    ),
    ConstraintRule::duplicate(
        UniqueKey::new(
            "ux_memberships_workspace_user",
            "memberships",
            &["workspace_id", "user_id"],
        ),
        Answer::Conflict("The user is already a member of this workspace"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_declared_constraint_is_in_the_migrated_schema() {
        let keys = [service::EMAIL_KEY];
        let absent = crate::platform::constraints::absent_from_schema(CONSTRAINTS, &keys).await;
        assert!(absent.is_empty(), "{absent:?}");
    }
}
