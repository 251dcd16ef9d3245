//! The tags of time entries: names in, tag rows found or created, links replaced.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    platform::{
        changes::WorkspaceChange,
        error::{ApiError, FieldErrors},
        outbox::EventType,
        time,
    },
    tracking::tags::entity::{self as tag, entry_tag},
};

/// Longest tag name.
const MAX_NAME: usize = 100;

/// Trimmed, non-empty names, each once (case-insensitively), in the order given.
pub fn check_names(errors: &mut FieldErrors, names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let name = name.trim().to_owned();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_NAME {
            errors.add(
                "tags",
                format!("a tag name must be at most {MAX_NAME} characters"),
            );
            continue;
        }
        if seen.insert(name.to_lowercase()) {
            out.push(name);
        }
    }
    out
}

/// Splits TimeTracker's comma-separated tag string.
pub fn split(text: &str) -> Vec<String> {
    text.split(',').map(|t| t.trim().to_owned()).collect()
}

/// The workspace's tags with these names, created (with `tag.created` events) when missing.
pub async fn find_or_create(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    names: &[String],
) -> Result<Vec<tag::Model>, ApiError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let existing = tag::Entity::find()
        .filter(tag::Column::WorkspaceId.eq(workspace_id))
        .filter(Expr::expr(Func::lower(Expr::col(tag::Column::Name))).is_in(lowered.clone()))
        .all(&**change)
        .await?;
    let mut by_name: HashMap<String, tag::Model> = existing
        .into_iter()
        .map(|t| (t.name.to_lowercase(), t))
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for (name, key) in names.iter().zip(lowered) {
        if let Some(found) = by_name.get(&key) {
            out.push(found.clone());
            continue;
        }
        let now = time::now();
        let created = tag::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(workspace_id),
            name: Set(name.clone()),
            color: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&**change)
        .await?;
        let view = json!({
            "id": created.id, "name": created.name, "color": created.color,
            "created_at": created.created_at.format(&time::Rfc3339).unwrap_or_default(),
            "updated_at": created.updated_at.format(&time::Rfc3339).unwrap_or_default(),
        });
        change.record(EventType::TagCreated, created.id, &view)?;
        by_name.insert(key, created.clone());
        out.push(created);
    }
    Ok(out)
}

/// Replaces an entry's tags with these names; returns the names as stored.
pub async fn set_tags(
    change: &mut WorkspaceChange,
    entry_id: Uuid,
    names: &[String],
) -> Result<Vec<String>, ApiError> {
    let workspace_id = change
        .workspace_id()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("tags set outside a workspace")))?;
    let tags = find_or_create(change, workspace_id, names).await?;
    entry_tag::Entity::delete_many()
        .filter(entry_tag::Column::TimeEntryId.eq(entry_id))
        .exec(&**change)
        .await?;
    if !tags.is_empty() {
        let links = tags.iter().map(|t| entry_tag::ActiveModel {
            time_entry_id: Set(entry_id),
            tag_id: Set(t.id),
        });
        entry_tag::Entity::insert_many(links)
            .exec(&**change)
            .await?;
    }
    Ok(tags.into_iter().map(|t| t.name).collect())
}

/// The workspace's tag with this name (case-insensitively), if any.
pub async fn find_existing<C: sea_orm::ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    name: &str,
) -> Result<Option<tag::Model>, ApiError> {
    Ok(tag::Entity::find()
        .filter(tag::Column::WorkspaceId.eq(workspace_id))
        .filter(
            Expr::expr(Func::lower(Expr::col(tag::Column::Name))).eq(name.trim().to_lowercase()),
        )
        .one(db)
        .await?)
}
