//! Importing the same file twice must not double anyone's hours. A row repeats an entry when
//! the user, start, end, project and notes are the same: as an entry already in the workspace
//! (a re-import, or overlapping exports), or as an earlier row of the same file. Repeats are
//! skipped and reported; `?duplicates=allow` imports them anyway.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::{ProjectRef, ReadyRow};
use crate::{platform::error::ApiError, tracking::time_entries::entity as entry};

/// A row left out because it repeats an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SkippedRow {
    /// Its line in the file (the header is 1).
    pub row: usize,
    /// The entry already in the workspace it repeats.
    pub duplicate_of: Option<Uuid>,
    /// The earlier row of the file it repeats.
    pub same_as_row: Option<usize>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum ProjectKey {
    None,
    Id(Uuid),
    /// A project the import creates, by its name in any case.
    New(String),
}

/// What makes two entries the same.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    user: Uuid,
    start: i64,
    end: i64,
    project: ProjectKey,
    notes: Option<String>,
}

fn key_of(row: &ReadyRow) -> Option<Key> {
    let project = match &row.project {
        ProjectRef::None => ProjectKey::None,
        ProjectRef::Existing(p) => ProjectKey::Id(p.id),
        ProjectRef::New { name, .. } => ProjectKey::New(name.to_lowercase()),
    };
    Some(Key {
        user: row.user_id,
        start: row.row.start?.unix_timestamp(),
        end: row.row.end?.unix_timestamp(),
        project,
        notes: row.row.notes.clone(),
    })
}

/// The rows that repeat no entry, and the rows left out.
pub async fn drop_repeats<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    rows: Vec<ReadyRow>,
) -> Result<(Vec<ReadyRow>, Vec<SkippedRow>), ApiError> {
    let existing = existing_entries(db, workspace_id, &rows).await?;
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    let mut skipped = Vec::new();
    for row in rows {
        let Some(key) = key_of(&row) else {
            kept.push(row);
            continue;
        };
        let line = row.row.line;
        if let Some(id) = existing.get(&key) {
            skipped.push(SkippedRow {
                row: line,
                duplicate_of: Some(*id),
                same_as_row: None,
            });
        } else if let Some(first) = seen.get(&key) {
            skipped.push(SkippedRow {
                row: line,
                duplicate_of: None,
                same_as_row: Some(*first),
            });
        } else {
            seen.insert(key, line);
            kept.push(row);
        }
    }
    Ok((kept, skipped))
}

type Existing = (
    Uuid,
    Uuid,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<Uuid>,
    Option<String>,
);

/// The finished entries of the rows' users that start within the rows' span, by key.
async fn existing_entries<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    rows: &[ReadyRow],
) -> Result<HashMap<Key, Uuid>, ApiError> {
    let starts = rows.iter().filter_map(|r| r.row.start);
    let (Some(first), Some(last)) = (starts.clone().min(), starts.max()) else {
        return Ok(HashMap::new());
    };
    let mut users: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let mut found = HashMap::new();
    for users in users.chunks(500) {
        let entries: Vec<Existing> = entry::Entity::find()
            .filter(entry::Column::WorkspaceId.eq(workspace_id))
            .filter(entry::Column::UserId.is_in(users.iter().copied()))
            .filter(entry::Column::StartTime.gte(first))
            .filter(entry::Column::StartTime.lte(last))
            .filter(entry::Column::EndTime.is_not_null())
            .select_only()
            .columns([
                entry::Column::Id,
                entry::Column::UserId,
                entry::Column::StartTime,
                entry::Column::EndTime,
                entry::Column::ProjectId,
                entry::Column::Notes,
            ])
            .into_tuple()
            .all(db)
            .await?;
        for (id, user, start, end, project, notes) in entries {
            let Some(end) = end else { continue };
            let key = Key {
                user,
                start: start.unix_timestamp(),
                end: end.unix_timestamp(),
                project: project.map_or(ProjectKey::None, ProjectKey::Id),
                notes,
            };
            found.entry(key).or_insert(id);
        }
    }
    Ok(found)
}
