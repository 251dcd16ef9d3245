//! Deleted records kept for a while so they can be restored. A capability that deletes a row
//! moves a copy of it here, in the change that deletes it, and takes the copy back out to
//! restore it. The row itself is gone from its table, so every list, report and query of
//! that table stops seeing it without knowing about deletion at all. Records older than the
//! capability's retention window are purged by its retention job.
//!
//! Generic: the resource type (`"time_entry"`) and the JSON shape of the copy are the
//! caller's; this module names no capability.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;
use uuid::Uuid;

/// The `deleted_records` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deleted_records")]
    pub struct Model {
        /// The deleted record's own id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        /// What it was, in the deleting capability's words (`time_entry`).
        pub resource_type: String,
        /// Whose it was, for who may restore it.
        pub owner_id: Option<Uuid>,
        /// The copy, as JSON of the capability's own shape.
        pub data: String,
        pub deleted_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One record to keep.
pub struct Kept<T> {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub data: T,
}

/// Keeps copies of records of one workspace deleted at `deleted_at` (replacing an older copy
/// with the same id: a record deleted, restored and deleted again).
pub async fn keep<C: ConnectionTrait, T: Serialize>(
    db: &C,
    workspace_id: Uuid,
    resource_type: &str,
    records: Vec<Kept<T>>,
    deleted_at: OffsetDateTime,
) -> Result<(), DbErr> {
    let mut rows = Vec::with_capacity(records.len());
    for record in records {
        rows.push((
            record.id,
            entity::ActiveModel {
                id: Set(record.id),
                workspace_id: Set(workspace_id),
                resource_type: Set(resource_type.to_owned()),
                owner_id: Set(record.owner_id),
                data: Set(
                    serde_json::to_string(&record.data).map_err(|e| DbErr::Json(e.to_string()))?
                ),
                deleted_at: Set(deleted_at),
            },
        ));
    }
    // 6 columns a row: far below SQLite's limit of bound variables.
    for chunk in rows.chunks(1000) {
        entity::Entity::delete_many()
            .filter(entity::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .exec(db)
            .await?;
        entity::Entity::insert_many(chunk.iter().map(|(_, row)| row.clone()))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// A kept record of the workspace, with its copy read back.
pub struct Found<T> {
    pub owner_id: Option<Uuid>,
    pub deleted_at: OffsetDateTime,
    pub data: T,
}

/// The kept copy of a deleted record of this type in the workspace, if there is one.
pub async fn find<C: ConnectionTrait, T: DeserializeOwned>(
    db: &C,
    workspace_id: Uuid,
    resource_type: &str,
    id: Uuid,
) -> Result<Option<Found<T>>, DbErr> {
    let Some(row) = entity::Entity::find_by_id(id)
        .filter(entity::Column::WorkspaceId.eq(workspace_id))
        .filter(entity::Column::ResourceType.eq(resource_type))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let data = serde_json::from_str(&row.data)
        .map_err(|e| DbErr::Json(format!("deleted {resource_type} {id}: {e}")))?;
    Ok(Some(Found {
        owner_id: row.owner_id,
        deleted_at: row.deleted_at,
        data,
    }))
}

/// Forgets a kept record (it was restored).
pub async fn forget<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    entity::Entity::delete_by_id(id).exec(db).await.map(|_| ())
}

/// Purges the kept records of this type deleted before `before`; returns how many.
pub async fn purge<C: ConnectionTrait>(
    db: &C,
    resource_type: &str,
    before: OffsetDateTime,
) -> Result<u64, DbErr> {
    let done = entity::Entity::delete_many()
        .filter(entity::Column::ResourceType.eq(resource_type))
        .filter(entity::Column::DeletedAt.lt(before))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
