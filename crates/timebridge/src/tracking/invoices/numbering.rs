//! Document numbers: `INV-YYYYMMDD-NNN` and `QUO-YYYYMMDD-NNN`, NNN counting from 001 per day
//! in each workspace (and growing past 999 when it must).
//!
//! Two changes allocating at once must not pick the same number. On SQLite every change
//! holds the database's write lock from its start (`BEGIN IMMEDIATE`). On PostgreSQL the
//! workspace's row is locked here, before the day's numbers are read, so a second allocator
//! waits until the first commits and then sees its number. (The change would lock that row
//! anyway when it commits; this takes the lock a little earlier.)

use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use time::Date;
use uuid::Uuid;

use crate::platform::time::format_date;

/// The next number for `prefix` (`INV`, `QUO`) on `day` in the workspace, whose documents
/// live in `table` with `workspace_id` and `number` columns. Call it inside the change that
/// inserts the document.
pub async fn next_number<C: ConnectionTrait>(
    txn: &C,
    table: &'static str,
    workspace_id: Uuid,
    prefix: &str,
    day: Date,
) -> Result<String, DbErr> {
    lock_workspace(txn, workspace_id).await?;
    let stem = format!("{prefix}-{}-", format_date(day).replace('-', ""));
    let select = Query::select()
        .column(Alias::new("number"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(workspace_id))
        .and_where(Expr::col(Alias::new("number")).like(format!("{stem}%")))
        .take();
    let mut last = 0u64;
    for row in txn.query_all(&select).await? {
        let number: String = row.try_get_by_index(0)?;
        if let Some(n) = number.strip_prefix(&stem).and_then(|n| n.parse().ok()) {
            last = std::cmp::max(last, n);
        }
    }
    Ok(format!("{stem}{:03}", last + 1))
}

/// Takes the workspace row's write lock for the rest of the transaction (a no-op update).
async fn lock_workspace<C: ConnectionTrait>(txn: &C, workspace_id: Uuid) -> Result<(), DbErr> {
    let version = Alias::new("data_version");
    let update = Query::update()
        .table(Alias::new("workspaces"))
        .value(version.clone(), Expr::col(version))
        .and_where(Expr::col(Alias::new("id")).eq(workspace_id))
        .take();
    txn.execute(&update).await.map(|_| ())
}
