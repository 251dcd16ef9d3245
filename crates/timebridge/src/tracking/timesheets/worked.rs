//! What the owner worked within a period: the time entries that start on one of its days
//! (UTC). Read from the time entries' table, in one query per question.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Alias, Expr, Func},
};
use time::{Duration, OffsetDateTime, Time};
use uuid::Uuid;

use super::entity as period;
use crate::{platform::db::count as count_rows, tracking::time_entries::entity as time_entry};

/// The period as a half-open range of instants: `[first day 00:00, day after last 00:00)` UTC.
pub fn bounds(p: &period::Model) -> (OffsetDateTime, OffsetDateTime) {
    let from = p.period_start.with_time(Time::MIDNIGHT).assume_utc();
    let to = p.period_end.with_time(Time::MIDNIGHT).assume_utc() + Duration::DAY;
    (from, to)
}

/// The owner's entries starting within the period (finished or running).
fn entries_within(p: &period::Model) -> Condition {
    let (from, to) = bounds(p);
    Condition::all()
        .add(time_entry::Column::WorkspaceId.eq(p.workspace_id))
        .add(time_entry::Column::UserId.eq(p.user_id))
        .add(time_entry::Column::StartTime.gte(from))
        .add(time_entry::Column::StartTime.lt(to))
}

/// Seconds of the owner's finished entries within the period: one `SUM`.
pub async fn seconds<C: ConnectionTrait>(db: &C, p: &period::Model) -> Result<i64, DbErr> {
    // PostgreSQL sums a BIGINT to a NUMERIC; cast it back so both backends answer an integer.
    let sum = Func::cast_as(
        Func::sum(Expr::col(time_entry::Column::DurationSeconds)),
        Alias::new("BIGINT"),
    );
    let total: Option<Option<i64>> = time_entry::Entity::find()
        .select_only()
        .column_as(Expr::from(sum), "total")
        .filter(entries_within(p))
        .filter(time_entry::Column::EndTime.is_not_null())
        .into_tuple()
        .one(db)
        .await?;
    Ok(total.flatten().unwrap_or(0))
}

/// Seconds worked in each of these periods (by period id), in one query over exactly the
/// periods' entries.
pub async fn seconds_each<C: ConnectionTrait>(
    db: &C,
    periods: &[period::Model],
) -> Result<HashMap<Uuid, i64>, DbErr> {
    let mut totals: HashMap<Uuid, i64> = periods.iter().map(|p| (p.id, 0)).collect();
    if periods.is_empty() {
        return Ok(totals);
    }
    let any_period = periods
        .iter()
        .fold(Condition::any(), |any, p| any.add(entries_within(p)));
    let rows: Vec<(Uuid, OffsetDateTime, Option<i64>)> = time_entry::Entity::find()
        .select_only()
        .column(time_entry::Column::UserId)
        .column(time_entry::Column::StartTime)
        .column(time_entry::Column::DurationSeconds)
        .filter(any_period)
        .filter(time_entry::Column::EndTime.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut by_user: HashMap<Uuid, Vec<(Uuid, OffsetDateTime, OffsetDateTime)>> = HashMap::new();
    for p in periods {
        let (from, to) = bounds(p);
        by_user.entry(p.user_id).or_default().push((p.id, from, to));
    }
    for (user, start, seconds) in rows {
        for (id, from, to) in by_user.get(&user).into_iter().flatten() {
            if (*from..*to).contains(&start)
                && let Some(total) = totals.get_mut(id)
            {
                *total += seconds.unwrap_or(0);
            }
        }
    }
    Ok(totals)
}

/// Whether the owner has a running timer that started within the period.
pub async fn has_running_timer<C: ConnectionTrait>(
    db: &C,
    p: &period::Model,
) -> Result<bool, DbErr> {
    let running = time_entry::Entity::find()
        .filter(entries_within(p))
        .filter(time_entry::Column::EndTime.is_null());
    Ok(count_rows(running, db).await? > 0)
}
