//! Purging old webhook history: finished deliveries (with their payloads and attempt logs)
//! older than `WEBHOOK_LOG_RETENTION_DAYS`, so the tables do not grow without bound.
//! Pending deliveries are never purged.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entity::{DeliveryStatus, attempt, delivery};
use crate::platform::{db::Db, time};

/// Rows removed per statement, so a large purge never holds the write lock for long.
const CHUNK: u64 = 1000;

/// Deletes finished deliveries completed more than `days` ago; returns how many.
pub async fn purge(db: &Db, days: u32) -> Result<u64, DbErr> {
    let cutoff = time::now() - ::time::Duration::days(i64::from(days));
    let mut purged = 0;
    loop {
        let ids: Vec<Uuid> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(delivery::Column::Status.ne(DeliveryStatus::Pending))
            .filter(delivery::Column::CompletedAt.lt(cutoff))
            .limit(CHUNK)
            .into_tuple()
            .all(db.conn())
            .await?;
        if ids.is_empty() {
            return Ok(purged);
        }
        attempt::Entity::delete_many()
            .filter(attempt::Column::DeliveryId.is_in(ids.clone()))
            .exec(db.conn())
            .await?;
        purged += delivery::Entity::delete_many()
            .filter(delivery::Column::Id.is_in(ids))
            .exec(db.conn())
            .await?
            .rows_affected;
    }
}
