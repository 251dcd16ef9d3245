//! Rules and queries for tags. Every function is scoped to the caller's workspace: a tag of
//! another workspace is indistinguishable from one that does not exist.
//!
//! Names are unique case-insensitively: `Backend` and `backend` are one tag (the first
//! spelling is kept). The database's unique index covers the exact spelling; the case-blind
//! check runs under the workspace's write lock, so two changes cannot both pass it. (On SQLite,
//! `LOWER` folds ASCII letters only.)

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{TagView, entity as tag};
use crate::platform::{
    acting::Acting,
    changes::WorkspaceChange,
    db::{Db, contains_pattern, count as count_rows},
    error::{ApiError, FieldErrors},
    outbox::EventType,
    pagination::PageRequest,
    time,
    validate::required_text,
};

/// The longest tag name.
pub const NAME_MAX: usize = 100;

/// Filters of the tag list.
#[derive(Debug, Default)]
pub struct TagFilter {
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

/// Fields of a new tag.
#[derive(Debug, Default)]
pub struct NewTag {
    pub name: String,
    /// `#rrggbb`.
    pub color: Option<String>,
}

/// Changes to a tag; `None` leaves a field as it is, `Some(None)` clears the colour.
#[derive(Debug, Default)]
pub struct TagChanges {
    pub name: Option<String>,
    pub color: Option<Option<String>>,
}

/// A colour is `#rrggbb` (stored lower-case); empty means none.
fn check_color(errors: &mut FieldErrors, color: Option<String>) -> Option<String> {
    let color = color
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())?;
    let hex = color.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        errors.add("color", "must be a colour such as #1f6feb");
        return None;
    }
    Some(color.to_ascii_lowercase())
}

fn lower_name() -> Expr {
    Expr::expr(Func::lower(Expr::col(tag::Column::Name)))
}

fn duplicate(name: &str) -> ApiError {
    ApiError::Conflict(format!("A tag named '{name}' already exists"))
}

/// Refuses a name another tag of the workspace has, in any case.
async fn check_name_free<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<(), ApiError> {
    let mut query = tag::Entity::find()
        .filter(tag::Column::WorkspaceId.eq(workspace_id))
        .filter(lower_name().eq(Func::lower(Expr::val(name))));
    if let Some(id) = except {
        query = query.filter(tag::Column::Id.ne(id));
    }
    match query.one(db).await? {
        Some(other) => Err(duplicate(&other.name)),
        None => Ok(()),
    }
}

/// One page of the workspace's tags, by name regardless of case.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &TagFilter,
    page: PageRequest,
) -> Result<(Vec<TagView>, u64), ApiError> {
    let mut cond = Condition::all().add(tag::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        cond = cond.add(lower_name().like(contains_pattern(search)));
    }
    let total = count_rows(tag::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = tag::Entity::find()
        .filter(cond)
        .order_by(lower_name(), Order::Asc)
        .order_by_asc(tag::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(TagView::from).collect(), total))
}

/// The tag, when it exists in this workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<tag::Model, ApiError> {
    tag::Entity::find_by_id(id)
        .filter(tag::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Tag"))
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<TagView, ApiError> {
    find(db.conn(), acting.workspace_id, id)
        .await
        .map(TagView::from)
}

/// Creates a tag (`tag.created`); 409 when the workspace has one of that name in any case.
pub async fn create(db: &Db, acting: &Acting, new: NewTag) -> Result<TagView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, NAME_MAX);
    let color = check_color(&mut errors, new.color);
    errors.into_result()?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    change.lock_workspace().await?;
    check_name_free(&*change, acting.workspace_id, &name, None).await?;
    let view = TagView::from(insert(&change, acting.workspace_id, name, color).await?);
    change.record(EventType::TagCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

async fn insert(
    change: &WorkspaceChange,
    workspace_id: Uuid,
    name: String,
    color: Option<String>,
) -> Result<tag::Model, ApiError> {
    let now = time::now();
    tag::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        name: Set(name),
        color: Set(color),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await
    .map_err(ApiError::from)
}

/// Renames or recolours a tag (`tag.updated`). Entries carrying it show the new name.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: TagChanges,
) -> Result<TagView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = changes
        .name
        .map(|n| required_text(&mut errors, "name", &n, NAME_MAX));
    let color = changes.color.map(|c| check_color(&mut errors, c));
    errors.into_result()?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let mut active: tag::ActiveModel = find(&*change, acting.workspace_id, id).await?.into();
    if let Some(name) = name {
        change.lock_workspace().await?;
        check_name_free(&*change, acting.workspace_id, &name, Some(id)).await?;
        active.name = Set(name);
    }
    if let Some(color) = color {
        active.color = Set(color);
    }
    active.updated_at = Set(time::now());
    let updated = active.update(&*change).await?;
    let view = TagView::from(updated);
    change.record(EventType::TagUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Deletes a tag. The database takes it off every time entry; only `tag.deleted` is recorded
/// (no `time_entry.updated` for the entries that carried it).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<TagView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    tag::Entity::delete_by_id(id).exec(&*change).await?;
    let view = TagView::from(existing);
    change.record(EventType::TagDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Names trimmed, empties dropped, duplicates (in any case) dropped keeping the first
/// spelling, each keyed by its lower-case form.
fn distinct_names(names: &[String]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let key = name.to_lowercase();
        if !seen.iter().any(|(k, _)| *k == key) {
            seen.push((key, name.to_owned()));
        }
    }
    seen
}

/// The workspace's tags with any of these names, in any case, by lower-case name.
async fn existing_by_name<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    wanted: &[(String, String)],
) -> Result<HashMap<String, tag::Model>, DbErr> {
    let rows = tag::Entity::find()
        .filter(tag::Column::WorkspaceId.eq(workspace_id))
        .filter(lower_name().is_in(wanted.iter().map(|(_, n)| Func::lower(Expr::val(n)))))
        .order_by_asc(tag::Column::CreatedAt)
        .all(db)
        .await?;
    let mut by_name = HashMap::new();
    for row in rows {
        by_name.entry(row.name.to_lowercase()).or_insert(row);
    }
    Ok(by_name)
}

/// The tags with these names, in the order given, for time entries and imports: names are
/// trimmed, empty ones ignored, duplicates in any case merged; an existing tag is matched
/// case-insensitively, a missing one is created (each recorded as `tag.created` on the
/// change). A name over 100 characters is a 400 on `tags`.
///
/// When it must create a tag it takes the workspace's write lock: call it before the change
/// writes other rows (PostgreSQL would otherwise risk a deadlock with a concurrent change).
pub async fn find_or_create_by_names(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    names: &[String],
) -> Result<Vec<tag::Model>, ApiError> {
    let wanted = distinct_names(names);
    if let Some((_, long)) = wanted.iter().find(|(_, n)| n.chars().count() > NAME_MAX) {
        return Err(ApiError::invalid(
            "tags",
            format!("tag names must be at most {NAME_MAX} characters: '{long}' is longer"),
        ));
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = existing_by_name(&**change, workspace_id, &wanted).await?;
    if wanted.iter().any(|(key, _)| !found.contains_key(key)) {
        change.lock_workspace().await?;
        found = existing_by_name(&**change, workspace_id, &wanted).await?;
    }
    let mut tags = Vec::with_capacity(wanted.len());
    for (key, name) in wanted {
        let tag = match found.remove(&key) {
            Some(tag) => tag,
            None => {
                let created = insert(change, workspace_id, name, None).await?;
                change.record(
                    EventType::TagCreated,
                    created.id,
                    &TagView::from(created.clone()),
                )?;
                created
            }
        };
        tags.push(tag);
    }
    Ok(tags)
}
