//! The columns that hold values sealed with the server's keys, and moving them to the current
//! key (`timebridge secrets rotate`) or counting them by key (`timebridge secrets status`).
//!
//! Each capability registers its sealed columns (`Capabilities::sealed`); the platform names
//! none. Rotation reads a column in batches by id, outside any transaction, and writes each
//! batch in one transaction where every row is updated only if it still holds the value read
//! (compare-and-swap on the old ciphertext): a server writing at the same time is never
//! overwritten, and a value no configured key opens is reported, never changed.

use std::collections::BTreeMap;

use sea_orm::{
    ConnectionTrait, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};
use serde::Serialize;
use uuid::Uuid;

use super::{
    crypto::{Keyring, sealed_key_id},
    db::Db,
};

/// Rows read, and written in one transaction, at a time.
pub const BATCH_ROWS: u64 = 200;

/// A column of sealed values: its table, the table's UUID primary key, and the purpose (the
/// associated data) every value in the column is sealed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub purpose: &'static str,
}

impl SealedColumn {
    /// A sealed column of a table whose primary key is a UUID `id`.
    pub const fn new(table: &'static str, column: &'static str, purpose: &'static str) -> Self {
        Self {
            table,
            id_column: "id",
            column,
            purpose,
        }
    }

    /// `table.column`, as reports name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// How many values of a column each key sealed (`malformed` for values that are not sealed
/// values at all).
#[derive(Clone, Debug, Serialize)]
pub struct ColumnStatus {
    pub column: String,
    pub values: u64,
    pub by_key: BTreeMap<String, u64>,
}

/// The key ids under which every registered column's values are sealed.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub current_key: String,
    pub previous_keys: Vec<String>,
    /// Values sealed under the current key.
    pub current: u64,
    /// Values sealed under a previous key: while this is not 0, no previous key may be dropped.
    pub previous: u64,
    /// Values no configured key opens (or malformed).
    pub unknown: u64,
    pub columns: Vec<ColumnStatus>,
}

/// Counts every registered column's values by key id.
pub async fn status(db: &Db, keys: &Keyring, columns: &[SealedColumn]) -> Result<Status, DbErr> {
    let mut status = Status {
        current_key: keys.current_id().to_owned(),
        previous_keys: keys.ids().skip(1).map(str::to_owned).collect(),
        current: 0,
        previous: 0,
        unknown: 0,
        columns: Vec::with_capacity(columns.len()),
    };
    for column in columns {
        let mut counted = ColumnStatus {
            column: column.name(),
            values: 0,
            by_key: BTreeMap::new(),
        };
        let mut after = None;
        loop {
            let rows = batch(db, column, after).await?;
            let Some((last, _)) = rows.last() else { break };
            after = Some(*last);
            for (_, value) in &rows {
                let id = sealed_key_id(value).unwrap_or("malformed");
                *counted.by_key.entry(id.to_owned()).or_default() += 1;
                counted.values += 1;
                match id {
                    _ if id == keys.current_id() => status.current += 1,
                    _ if keys.ids().any(|k| k == id) => status.previous += 1,
                    _ => status.unknown += 1,
                }
            }
        }
        status.columns.push(counted);
    }
    Ok(status)
}

/// What rotating one column did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ColumnRotation {
    pub column: String,
    /// Values sealed again under the current key.
    pub resealed: u64,
    /// Values already under the current key.
    pub already_current: u64,
    /// Values a concurrent write replaced between the read and the update (left as written).
    pub changed_meanwhile: u64,
    /// Rows whose value no configured key opens (unknown key, altered, malformed): left as
    /// they are.
    pub unreadable: u64,
    pub unreadable_ids: Vec<Uuid>,
}

/// Called after each batch with the column and the rows done of its total.
pub trait RotationProgress {
    fn batch_done(&self, column: &SealedColumn, done: u64, total: u64);
}

/// Seals every registered column's values that are not under the current key again under it.
pub async fn rotate(
    db: &Db,
    keys: &Keyring,
    columns: &[SealedColumn],
    progress: &dyn RotationProgress,
) -> Result<Vec<ColumnRotation>, DbErr> {
    let mut report = Vec::with_capacity(columns.len());
    for column in columns {
        report.push(rotate_column(db, keys, column, progress).await?);
    }
    Ok(report)
}

async fn rotate_column(
    db: &Db,
    keys: &Keyring,
    column: &SealedColumn,
    progress: &dyn RotationProgress,
) -> Result<ColumnRotation, DbErr> {
    let total = count(db, column).await?;
    let mut done = ColumnRotation {
        column: column.name(),
        ..Default::default()
    };
    let mut seen = 0;
    let mut after = None;
    loop {
        let rows = batch(db, column, after).await?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(*last);
        seen += rows.len() as u64;
        let mut updates = Vec::new();
        for (id, value) in rows {
            match keys.reseal(column.purpose, &value) {
                Ok(None) => done.already_current += 1,
                Ok(Some(resealed)) => updates.push((id, value, resealed)),
                Err(e) => {
                    tracing::warn!(column = %column.name(), %id, error = %e, "sealed value cannot be opened");
                    done.unreadable += 1;
                    done.unreadable_ids.push(id);
                }
            }
        }
        let written = swap(db, column, &updates).await?;
        done.resealed += written;
        done.changed_meanwhile += updates.len() as u64 - written;
        progress.batch_done(column, Ord::min(seen, total), total);
    }
    Ok(done)
}

/// One batch of a column's non-null values after the id `after`, by id.
async fn batch(
    db: &Db,
    column: &SealedColumn,
    after: Option<Uuid>,
) -> Result<Vec<(Uuid, String)>, DbErr> {
    let id = Alias::new(column.id_column);
    let mut query = Query::select();
    query
        .column(id.clone())
        .column(Alias::new(column.column))
        .from(Alias::new(column.table))
        .and_where(Expr::col(Alias::new(column.column)).is_not_null())
        .order_by(id.clone(), Order::Asc)
        .limit(BATCH_ROWS);
    if let Some(after) = after {
        query.and_where(Expr::col(id).gt(after));
    }
    let rows = db.query_all(&query).await?;
    rows.iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

/// The column's non-null values.
async fn count(db: &Db, column: &SealedColumn) -> Result<u64, DbErr> {
    let query = Query::select()
        .expr(Expr::col(Alias::new(column.column)).count())
        .from(Alias::new(column.table))
        .take();
    let row = db.query_one(&query).await?;
    let count: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Writes each `(id, old, new)` in one transaction, each only where the row still holds `old`;
/// returns how many rows were written.
async fn swap(
    db: &Db,
    column: &SealedColumn,
    updates: &[(Uuid, String, String)],
) -> Result<u64, DbErr> {
    if updates.is_empty() {
        return Ok(0);
    }
    let _turn = db.write_turn().await;
    let txn = db
        .conn()
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    let mut written = 0;
    for (id, old, new) in updates {
        let update = Query::update()
            .table(Alias::new(column.table))
            .value(Alias::new(column.column), new.as_str())
            .and_where(Expr::col(Alias::new(column.id_column)).eq(*id))
            .and_where(Expr::col(Alias::new(column.column)).eq(old.as_str()))
            .take();
        written += txn.execute(&update).await?.rows_affected();
    }
    txn.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use sea_orm::Database;

    use super::*;

    const PURPOSE: &str = "thing.secret";
    const COLUMN: SealedColumn = SealedColumn::new("things", "secret", PURPOSE);

    fn keys(bytes: &[u8]) -> Keyring {
        use base64::{Engine, engine::general_purpose::STANDARD};
        let text: Vec<String> = bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        Keyring::parse(&text.join(",")).expect("valid keys")
    }

    /// An in-memory database with `things(id, secret)`: `n` secrets sealed under `sealing`.
    async fn things(sealing: &Keyring, n: usize) -> (Db, Vec<Uuid>) {
        let conn = Database::connect("sqlite::memory:").await.expect("sqlite");
        conn.execute_unprepared("CREATE TABLE things (id uuid PRIMARY KEY, secret text)")
            .await
            .expect("table");
        let db = Db::new(conn);
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::now_v7();
            let insert = Query::insert()
                .into_table(Alias::new("things"))
                .columns([Alias::new("id"), Alias::new("secret")])
                .values_panic([
                    id.into(),
                    sealing.seal(PURPOSE, format!("s{i}").as_bytes()).into(),
                ])
                .take();
            db.execute(&insert).await.expect("insert");
            ids.push(id);
        }
        (db, ids)
    }

    struct Silent;
    impl RotationProgress for Silent {
        fn batch_done(&self, _: &SealedColumn, _: u64, _: u64) {}
    }

    #[tokio::test]
    async fn rotation_walks_every_batch_and_moves_each_value_to_the_current_key() {
        let (db, _) = things(&keys(&[1]), BATCH_ROWS as usize * 2 + 5).await;
        let rotated = keys(&[2, 1]);
        let report = rotate(&db, &rotated, &[COLUMN], &Silent).await.unwrap();
        assert_eq!(report[0].resealed, BATCH_ROWS * 2 + 5);
        let status = status(&db, &keys(&[2]), &[COLUMN]).await.unwrap();
        assert_eq!((status.current, status.unknown), (BATCH_ROWS * 2 + 5, 0));
        let again = rotate(&db, &rotated, &[COLUMN], &Silent).await.unwrap();
        assert_eq!(
            (again[0].resealed, again[0].already_current),
            (0, BATCH_ROWS * 2 + 5)
        );
    }

    #[tokio::test]
    async fn a_value_written_since_it_was_read_is_not_overwritten() {
        let old = keys(&[1]);
        let (db, ids) = things(&old, 1).await;
        let read = batch(&db, &COLUMN, None).await.unwrap().remove(0).1;
        // A server saves a new secret between the read and the write.
        let rotated = keys(&[2, 1]);
        let saved = rotated.seal(PURPOSE, b"saved meanwhile");
        let update = Query::update()
            .table(Alias::new("things"))
            .value(Alias::new("secret"), saved.as_str())
            .take();
        db.execute(&update).await.unwrap();
        let resealed = rotated.reseal(PURPOSE, &read).unwrap().unwrap();
        let written = swap(&db, &COLUMN, &[(ids[0], read, resealed)])
            .await
            .unwrap();
        assert_eq!(written, 0);
        let now = batch(&db, &COLUMN, None).await.unwrap().remove(0).1;
        assert_eq!(now, saved);
    }
}
