//! Expiring leases on rows: how several instances share background work without a
//! coordinator. A worker claims due rows by writing its name and an expiry into them, in one
//! `UPDATE … RETURNING` whose subquery picks the rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! so concurrent claimers never wait on each other or take the same row; on SQLite the write
//! lock makes the claim atomic). A row is free when nobody holds it or its lease has expired,
//! so the work of a crashed instance is taken over once its leases run out. The job runner and
//! the webhook delivery worker both claim this way.

use std::time::Duration;

use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, Order, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query, SimpleExpr},
};

use super::{db::Db, time};

/// A table whose rows can be leased: its id, lease-owner and lease-expiry columns.
pub trait Leased: EntityTrait {
    const ID: Self::Column;
    const OWNER: Self::Column;
    const EXPIRES: Self::Column;
}

/// What to claim.
pub struct Claim<'a, E: Leased> {
    /// Which rows are due (the helper adds "and free").
    pub due: Condition,
    /// Oldest first by this column.
    pub order_by: E::Column,
    /// At most this many rows.
    pub limit: u64,
    /// Who claims (an instance's worker name).
    pub owner: &'a str,
    /// How long the lease lasts unless renewed.
    pub lease: Duration,
    /// Further columns set by the claim (a status, an attempt count).
    pub also: Vec<(E::Column, SimpleExpr)>,
}

/// Leases up to `claim.limit` due, free rows to `claim.owner` and returns them as claimed.
pub async fn claim<E>(db: &Db, claim: Claim<'_, E>) -> Result<Vec<E::Model>, DbErr>
where
    E: Leased,
    E::Model: Send + Sync,
{
    let now = time::now();
    let free = Condition::any()
        .add(Expr::col(E::OWNER).is_null())
        .add(Expr::col(E::EXPIRES).lt(now));
    let mut due = Query::select();
    due.column(E::ID)
        .from(E::default())
        .cond_where(claim.due.add(free))
        .order_by(claim.order_by, Order::Asc)
        .limit(claim.limit);
    // A plain read first: when nothing is due (the common case for a wake-up while every due
    // row is already held), no write lock is taken.
    let any: Option<i32> = E::find()
        .select_only()
        .column_as(Expr::val(1), "one")
        .filter(Expr::col(E::ID).in_subquery(due.clone()))
        .limit(1)
        .into_tuple()
        .one(db.conn())
        .await?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    if !db.is_sqlite() {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut update = E::update_many()
        .col_expr(E::OWNER, Expr::val(claim.owner))
        .col_expr(E::EXPIRES, Expr::val(now + claim.lease));
    for (column, value) in claim.also {
        update = update.col_expr(column, value);
    }
    let _turn = db.write_turn().await;
    update
        .filter(Expr::col(E::ID).in_subquery(due))
        .exec_with_returning(db.conn())
        .await
}

/// Extends `owner`'s lease on the row `id`. `false` when the lease was lost (it expired and
/// another instance took the row over).
pub async fn renew<E: Leased>(
    db: &Db,
    id: impl Into<sea_orm::Value>,
    owner: &str,
    lease: Duration,
) -> Result<bool, DbErr> {
    let _turn = db.write_turn().await;
    let updated = E::update_many()
        .col_expr(E::EXPIRES, Expr::val(time::now() + lease))
        .filter(E::ID.eq(id))
        .filter(E::OWNER.eq(owner))
        .exec(db.conn())
        .await?;
    Ok(updated.rows_affected > 0)
}

/// The condition "`owner` holds the row `id`", for updates that must not touch a row
/// another instance has taken over.
pub fn held_by<E: Leased>(id: impl Into<sea_orm::Value>, owner: &str) -> Condition {
    Condition::all().add(E::ID.eq(id)).add(E::OWNER.eq(owner))
}

/// The columns that let a row go.
pub fn release_columns<E: Leased>() -> [(E::Column, SimpleExpr); 2] {
    [
        (E::OWNER, Expr::val(None::<String>)),
        (E::EXPIRES, Expr::val(None::<::time::OffsetDateTime>)),
    ]
}

/// Lets go of every row `owner` holds (at shutdown), so other instances need not wait for
/// the leases to expire.
pub async fn release_all<E: Leased>(db: &Db, owner: &str) -> Result<u64, DbErr> {
    let mut update = E::update_many();
    for (column, value) in release_columns::<E>() {
        update = update.col_expr(column, value);
    }
    let _turn = db.write_turn().await;
    let done = update.filter(E::OWNER.eq(owner)).exec(db.conn()).await?;
    Ok(done.rows_affected)
}
