//! Connecting to the database — SQLite or PostgreSQL, chosen by the URL's scheme — and
//! applying the migrations. Everything above this module is backend-neutral.

use std::{collections::HashMap, ops::Deref, sync::Arc, sync::RwLock, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    sea_query::{Alias, Expr, Query},
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use uuid::Uuid;

use super::{consumers::Consumers, signal::Signals};
use crate::config::Config;

/// The connection pool, and what this process knows of each workspace's data version.
/// Dereferences to the pool, so queries take `&db` as they would a `DatabaseConnection`.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    versions: Arc<DataVersions>,
    signals: Arc<Signals>,
    consumers: Arc<Consumers>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A turn at writing (see [`Db::write_turn`]); the turn ends when this is dropped.
pub type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl Db {
    pub fn new(conn: DatabaseConnection) -> Self {
        Self {
            conn,
            versions: Arc::default(),
            signals: Arc::default(),
            consumers: Arc::default(),
            writer: Arc::default(),
        }
    }

    /// The pool itself.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The data versions this process has seen committed.
    pub fn versions(&self) -> &DataVersions {
        &self.versions
    }

    /// A shared handle on the versions, for values that outlive a borrow of `self`.
    pub fn versions_handle(&self) -> Arc<DataVersions> {
        self.versions.clone()
    }

    /// The named wake-ups between writers and background workers (see [`Signals`]).
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// The event consumers every change of this database is handed to.
    pub fn consumers(&self) -> &Consumers {
        &self.consumers
    }

    pub(crate) fn consumers_handle(&self) -> Arc<Consumers> {
        self.consumers.clone()
    }

    /// On SQLite, this process's turn at the database's single write lock. Writers queue
    /// here, first come first served, and are woken the moment the previous one is done;
    /// without it they would collide on SQLite's lock and sleep in its busy handler (naps of
    /// 1 to 100 ms), which under load costs far more than the writes. Take it before beginning
    /// a write transaction (or a lone write statement) and hold it until the commit; never
    /// take it twice in one task. On PostgreSQL writers do not exclude each other: no turn.
    pub async fn write_turn(&self) -> WriteTurn {
        if self.is_sqlite() {
            Some(self.writer.clone().lock_owned().await)
        } else {
            None
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.conn.get_database_backend() == DatabaseBackend::Sqlite
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

impl Deref for Db {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// The highest `workspaces.data_version` this process has seen for each workspace. Versions
/// only grow, so recording one is a `max`: out-of-order observations are harmless.
#[derive(Debug, Default)]
pub struct DataVersions(RwLock<HashMap<Uuid, i64>>);

impl DataVersions {
    /// The newest version seen for the workspace, if any.
    pub fn known(&self, workspace_id: Uuid) -> Option<i64> {
        // A poisoned lock only means a writer panicked between two plain integer stores.
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(&workspace_id).copied()
    }

    /// Records a version seen committed.
    pub fn observe(&self, workspace_id: Uuid, version: i64) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(workspace_id).or_insert(version);
        *entry = (*entry).max(version);
    }

    /// The workspaces whose version is known.
    pub fn workspaces(&self) -> Vec<Uuid> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }
}

/// The committed data version of one workspace (0 for an unknown workspace).
pub async fn data_version<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> Result<i64, DbErr> {
    let query = Query::select()
        .expr(Expr::col(Alias::new("data_version")))
        .from(Alias::new("workspaces"))
        .and_where(sea_orm::sea_query::ExprTrait::eq(
            Expr::col(Alias::new("id")),
            workspace_id,
        ))
        .take();
    let row = db.query_one(&query).await?;
    Ok(match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    })
}

/// The committed data versions of these workspaces.
pub async fn data_versions<C: ConnectionTrait>(
    db: &C,
    workspaces: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    let mut found = Vec::with_capacity(workspaces.len());
    for chunk in workspaces.chunks(500) {
        let query = Query::select()
            .columns([Alias::new("id"), Alias::new("data_version")])
            .from(Alias::new("workspaces"))
            .and_where(sea_orm::sea_query::ExprTrait::is_in(
                Expr::col(Alias::new("id")),
                chunk.iter().copied(),
            ))
            .take();
        for row in db.query_all(&query).await? {
            found.push((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
        }
    }
    Ok(found)
}

/// Why the database `DATABASE_URL` names could not be opened, said so that the operator
/// knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Nothing answers at the address: refused, unknown host, or silent.
    #[error(
        "PostgreSQL at {address} cannot be reached: {reason}. Is it running and accepting \
         TCP connections there?"
    )]
    Unreachable { address: String, reason: String },
    /// PostgreSQL answered, and refused: authentication, an unknown database, TLS.
    #[error("PostgreSQL at {address} refused the connection: {reason}")]
    Refused { address: String, reason: String },
    #[error("cannot open the SQLite database {path}: {reason}")]
    Sqlite { path: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How long the first connection to PostgreSQL may take before it counts as unreachable.
const FIRST_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool. SQLite runs in WAL mode with a busy timeout, so readers never block the
/// writer and concurrent writers wait instead of failing.
pub async fn connect(config: &Config) -> Result<Db, OpenError> {
    connect_pool(config).await.map(Db::new)
}

/// Opens the pool after one plain connection has shown the database answers: the pool
/// retries a refused connection until its acquire timeout (10 s) and then reports only that
/// it timed out, where one attempt says at once what is wrong, and where.
async fn connect_pool(config: &Config) -> Result<DatabaseConnection, OpenError> {
    if config.is_sqlite() {
        return open_pool(config).await.map_err(|e| match e {
            DbErr::Conn(reason) => OpenError::Sqlite {
                path: crate::config::sqlite_path(&config.database_url)
                    .unwrap_or(":memory:")
                    .to_owned(),
                reason: reason.to_string(),
            },
            other => other.into(),
        });
    }
    first_postgres_connection(&config.database_url).await?;
    Ok(open_pool(config).await?)
}

/// Connects to PostgreSQL once, without retries, and says what went wrong if it did.
async fn first_postgres_connection(url: &str) -> Result<(), OpenError> {
    use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _, postgres::PgConnectOptions};
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| OpenError::Db(DbErr::Custom(format!("not a PostgreSQL URL: {e}"))))?;
    let address = format!("{}:{}", options.get_host(), options.get_port());
    match tokio::time::timeout(FIRST_CONNECTION_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Io(e))) => Err(OpenError::Unreachable {
            address,
            reason: e.to_string(),
        }),
        Ok(Err(e)) => Err(OpenError::Refused {
            address,
            // PostgreSQL's own words ("database \"tb\" does not exist"), without sqlx's frame.
            reason: e
                .as_database_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
        }),
        Err(_) => Err(OpenError::Unreachable {
            address,
            reason: format!("no answer within {} s", FIRST_CONNECTION_TIMEOUT.as_secs()),
        }),
    }
}

async fn open_pool(config: &Config) -> Result<DatabaseConnection, DbErr> {
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
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_connect(|_, _| {
                Box::pin(async {
                    tcp_nodelay_everywhere();
                    Ok(())
                })
            })
        })
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Turns on TCP_NODELAY for every TCP socket of this process (Linux; elsewhere nothing).
///
/// sqlx 0.9 opens PostgreSQL connections without TCP_NODELAY and offers no way to set it. A
/// statement larger than what the socket sends at once then ends in a small segment that
/// Nagle's algorithm holds back until PostgreSQL acknowledges the rest, which it delays by up
/// to 40 ms. Measured: a 31-row insert took 43 ms; with this, a batch of GitHub deliveries
/// went from 366 to 2,100 a second. It runs after each new PostgreSQL connection, so that
/// connection is covered. Every TCP socket of this server wants the option (its HTTP sockets
/// have it already); on anything that is not a TCP socket, or no longer open, the call fails
/// and changes nothing.
fn tcp_nodelay_everywhere() {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let on: libc::c_int = 1;
            // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `on`, which lives on the
            // stack for the call; it touches no Rust-owned memory, and on an fd of another kind
            // it only returns an error.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
}

/// Applies every pending migration. On PostgreSQL, several instances may start at once: the
/// migration runs on one dedicated connection holding an advisory lock, so exactly one applies
/// each migration and the others wait, then find nothing to do.
pub async fn migrate(config: &Config) -> Result<(), OpenError> {
    if config.is_sqlite() {
        let db = connect_pool(config).await?;
        let result = Migrator::up(&db, None).await;
        db.close().await?;
        return Ok(result?);
    }
    let mut single = config.clone();
    single.database_max_connections = 1;
    let db = connect_pool(&single).await?;
    db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .await?;
    let result = Migrator::up(&db, None).await;
    let unlocked = db
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await;
    db.close().await?;
    Ok(result.and(unlocked.map(|_| ()))?)
}

/// Advisory lock key guarding migrations ("timebrid" in ASCII).
const MIGRATION_LOCK: i64 = 0x7469_6d65_6272_6964;

/// A cheap round trip proving the database answers, for `/health`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// A case-insensitive `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` in the
/// text matching themselves (sea-query escapes with `\`). Compare it to `LOWER(column)`.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
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
