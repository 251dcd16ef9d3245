//! Workspaces as the server's operator sees them: each with its plan and members, and
//! changing a plan (which sets the rate limit of the workspace's tokens).

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Plan, Role,
    entity::{membership, workspace},
};
use crate::platform::{changes::WorkspaceChange, db::Db, error::ApiError, outbox::Actor, time};

/// A workspace with how many members and admins it has.
pub struct WorkspaceSummary {
    pub workspace: workspace::Model,
    pub members: u64,
    pub admins: u64,
}

/// Every workspace, by name.
pub async fn list(db: &Db) -> Result<Vec<WorkspaceSummary>, ApiError> {
    let counts: Vec<(Uuid, Role, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::WorkspaceId)
        .column(membership::Column::Role)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(membership::Column::WorkspaceId)
        .group_by(membership::Column::Role)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut by_workspace: HashMap<Uuid, (u64, u64)> = HashMap::new();
    for (id, role, n) in counts {
        let entry = by_workspace.entry(id).or_default();
        let n = n.max(0) as u64;
        entry.0 += n;
        if role == Role::Admin {
            entry.1 += n;
        }
    }
    let workspaces = workspace::Entity::find()
        .order_by_asc(workspace::Column::Name)
        .all(db.conn())
        .await?;
    Ok(workspaces
        .into_iter()
        .map(|workspace| {
            let (members, admins) = by_workspace.get(&workspace.id).copied().unwrap_or_default();
            WorkspaceSummary {
                workspace,
                members,
                admins,
            }
        })
        .collect())
}

/// Puts the workspace named `name` on `plan`; returns it and the plan it had. The change
/// advances the workspace's data version, so cached reads showing the plan are rebuilt; the
/// rate limit follows on each token's next verification (at once on a server that has not
/// cached the token, within `TIMEBRIDGE_TOKEN_CACHE_SECONDS` on the others).
pub async fn set_plan(
    db: &Db,
    name: &str,
    plan: Plan,
) -> Result<(workspace::Model, Plan), ApiError> {
    let found = workspace::Entity::find()
        .filter(workspace::Column::Name.eq(name))
        .one(db.conn())
        .await?
        .ok_or(ApiError::NotFound("Workspace"))?;
    let change = WorkspaceChange::begin(db, found.id, Actor::system()).await?;
    let current = workspace::Entity::find_by_id(found.id)
        .one(&*change)
        .await?
        .ok_or(ApiError::NotFound("Workspace"))?;
    let previous = current.plan;
    if previous == plan {
        return Ok((current, previous));
    }
    let mut active: workspace::ActiveModel = current.into();
    active.plan = Set(plan);
    active.updated_at = Set(time::now());
    let updated = active.update(&*change).await?;
    change.commit().await?;
    Ok((updated, previous))
}
