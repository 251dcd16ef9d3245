//! The tags of time entries: names in, tag rows found or created, links replaced.

use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use crate::{
    platform::{
        changes::WorkspaceChange,
        error::{ApiError, FieldErrors},
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
    crate::tracking::tags::service::find_or_create_by_names(change, workspace_id, names).await
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

/// Links an entry to those of these tags that still exist (a restored entry does not bring
/// back a tag deleted since); returns their names as stored.
pub async fn link_existing(
    change: &WorkspaceChange,
    entry_id: Uuid,
    names: &[String],
) -> Result<Vec<String>, ApiError> {
    let workspace_id = change
        .workspace_id()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("tags linked outside a workspace")))?;
    let mut found = Vec::new();
    for name in names {
        if let Some(tag) = find_existing(&**change, workspace_id, name).await? {
            found.push(tag);
        }
    }
    if !found.is_empty() {
        let links = found.iter().map(|t| entry_tag::ActiveModel {
            time_entry_id: Set(entry_id),
            tag_id: Set(t.id),
        });
        entry_tag::Entity::insert_many(links)
            .exec(&**change)
            .await?;
    }
    Ok(found.into_iter().map(|t| t.name).collect())
}
