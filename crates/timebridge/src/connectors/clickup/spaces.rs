//! The space sync: every space of every team the workspace's ClickUp token reaches, kept in
//! `clickup_spaces` with when it was last seen; spaces ClickUp no longer lists are marked
//! archived (a client's assignment to one is kept, and shown as such).

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{api::ClickUpError, client_for, entity::space};
use crate::{app::AppState, platform::time};

#[derive(Debug, Default, Serialize)]
pub struct Synced {
    pub teams: u64,
    pub spaces: u64,
    pub archived: u64,
    /// The workspace's webhook was registered at ClickUp in this run.
    pub webhook_registered: bool,
}

pub async fn sync(app: &AppState, workspace_id: Uuid) -> Result<Synced, ClickUpError> {
    let client = client_for(app, workspace_id).await?;
    let db_error = |e: sea_orm::DbErr| {
        ClickUpError::Unavailable(crate::platform::error::ApiError::from(e).shown())
    };
    let now = time::now();
    let mut outcome = Synced::default();
    let mut seen = Vec::new();
    for team in client.teams().await? {
        outcome.teams += 1;
        let team_id = text(&team["id"]);
        if outcome.teams == 1 && super::webhook::ensure(&client, &team_id).await? {
            outcome.webhook_registered = true;
        }
        for found in client.spaces(&team_id).await? {
            let space_id = text(&found["id"]);
            if space_id.is_empty() {
                continue;
            }
            let row = space::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(workspace_id),
                team_id: Set(team_id.clone()),
                space_id: Set(space_id.clone()),
                name: Set(text(&found["name"]).chars().take(500).collect()),
                private: Set(found["private"].as_bool().unwrap_or(false)),
                archived: Set(found["archived"].as_bool().unwrap_or(false)),
                synced_at: Set(now),
                created_at: Set(now),
            };
            let _turn = app.db.write_turn().await;
            space::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([space::Column::WorkspaceId, space::Column::SpaceId])
                        .update_columns([
                            space::Column::TeamId,
                            space::Column::Name,
                            space::Column::Private,
                            space::Column::Archived,
                            space::Column::SyncedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(app.db.conn())
                .await
                .map_err(db_error)?;
            outcome.spaces += 1;
            seen.push(space_id);
        }
    }
    let _turn = app.db.write_turn().await;
    let gone = space::Entity::update_many()
        .col_expr(space::Column::Archived, Expr::val(true))
        .filter(space::Column::WorkspaceId.eq(workspace_id))
        .filter(space::Column::SpaceId.is_not_in(seen))
        .filter(space::Column::Archived.eq(false))
        .exec(app.db.conn())
        .await
        .map_err(db_error)?;
    outcome.archived = gone.rows_affected;
    Ok(outcome)
}

/// An id or name, whether ClickUp sent it as a string or a number.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}
