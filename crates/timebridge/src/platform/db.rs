//! Connecting to the database — SQLite or PostgreSQL, chosen by the URL's scheme — and
//! applying the migrations. Everything above this module is backend-neutral.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::Config;

/// Opens the pool. SQLite runs in WAL mode with a busy timeout, so readers never block the
/// writer and concurrent writers wait instead of failing.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        // A ping before each checkout would double the round trips of every request.
        .test_before_acquire(false)
        // Statements are not logged: they would swamp the logs and could carry secrets.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Applies every pending migration. On PostgreSQL, several instances may start at once: the
/// migration runs on one dedicated connection holding an advisory lock, so exactly one applies
/// each migration and the others wait, then find nothing to do.
pub async fn migrate(config: &Config) -> Result<(), DbErr> {
    if config.is_sqlite() {
        let db = connect(config).await?;
        let result = Migrator::up(&db, None).await;
        db.close().await?;
        return result;
    }
    let mut single = config.clone();
    single.database_max_connections = 1;
    let db = connect(&single).await?;
    db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .await?;
    let result = Migrator::up(&db, None).await;
    let unlocked = db
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await;
    db.close().await?;
    result.and(unlocked.map(|_| ()))
}

/// Advisory lock key guarding migrations ("timebrid" in ASCII).
const MIGRATION_LOCK: i64 = 0x7469_6d65_6272_6964;

/// A cheap round trip proving the database answers, for `/health`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Whether an error is a unique-constraint violation (a duplicate), on either backend.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// `SELECT COUNT(*)` with the select's filters, rather than `PaginatorTrait::count`'s subquery
/// over every column: the plan stays an index-only count on both backends.
pub async fn count<E, C>(select: sea_orm::Select<E>, db: &C) -> Result<u64, DbErr>
where
    E: sea_orm::EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::{QuerySelect, sea_query::Expr};
    let n: Option<i64> = select
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.unwrap_or(0).max(0) as u64)
}
