//! Tasks as time entries need them: the CSV import finds a project's task by name and creates
//! it when missing.

use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};
use serde_json::json;
use uuid::Uuid;

use crate::platform::{changes::WorkspaceChange, error::ApiError, outbox::EventType, time};

/// The project's task with this name (case-insensitively), created (`todo`, `medium`, with a
/// `task.created` event) when there is none.
pub async fn find_or_create(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    project_id: Uuid,
    name: &str,
) -> Result<Uuid, ApiError> {
    let col = |c: &str| Expr::col(Alias::new(c));
    let find = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("tasks"))
        .and_where(col("workspace_id").eq(workspace_id))
        .and_where(col("project_id").eq(project_id))
        .and_where(Expr::expr(Func::lower(col("name"))).eq(name.to_lowercase()))
        .take();
    if let Some(row) = change.query_one(&find).await? {
        return Ok(row.try_get_by_index(0)?);
    }
    let id = Uuid::now_v7();
    let now = time::now();
    let insert = Query::insert()
        .into_table(Alias::new("tasks"))
        .columns(
            [
                "id",
                "workspace_id",
                "project_id",
                "name",
                "status",
                "priority",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            id.into(),
            workspace_id.into(),
            project_id.into(),
            name.to_owned().into(),
            "todo".into(),
            "medium".into(),
            now.into(),
            now.into(),
        ])
        .take();
    change.execute(&insert).await?;
    let rfc = |t: ::time::OffsetDateTime| t.format(&time::Rfc3339).unwrap_or_default();
    let view = json!({
        "id": id, "project_id": project_id, "name": name, "status": "todo", "priority": "medium",
        "created_at": rfc(now), "updated_at": rfc(now),
    });
    change.record(EventType::TaskCreated, id, &view)?;
    Ok(id)
}
