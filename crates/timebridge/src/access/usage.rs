//! The API usage log, written off the request path.
//!
//! Requests hand a [`UsageRecord`] to a bounded channel and move on; one writer task inserts
//! the records in batches (every `API_USAGE_LOG_FLUSH_MS` or 500 records) and updates each
//! token's `last_used_at` once per batch. When the channel is full, records are dropped and
//! counted rather than slowing a request. Entries older than `API_USAGE_LOG_RETENTION_DAYS`
//! are purged hourly.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
    sea_query::Expr,
};
use time::OffsetDateTime;
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use super::entity::{api_token, api_usage_log};

const BATCH: usize = 500;
const CHANNEL_CAPACITY: usize = 20_000;
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// One API call by a token.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    pub token_id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration: Duration,
    pub ip: Option<IpAddr>,
    pub at: OffsetDateTime,
}

/// The request side of the usage log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct UsageRecorder {
    tx: mpsc::Sender<UsageRecord>,
    dropped: Arc<AtomicU64>,
}

impl UsageRecorder {
    /// Queues a record; drops it (and counts the drop) when the writer is behind.
    pub fn record(&self, record: UsageRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Starts the writer. It runs until every [`UsageRecorder`] clone is dropped, then writes what
/// is left and ends, so awaiting the handle after shutdown loses nothing.
pub fn start(
    db: DatabaseConnection,
    flush_every: Duration,
    retention_days: u32,
) -> (UsageRecorder, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let recorder = UsageRecorder {
        tx,
        dropped: Arc::new(AtomicU64::new(0)),
    };
    let handle = tokio::spawn(run_writer(db, rx, flush_every, retention_days));
    (recorder, handle)
}

async fn run_writer(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<UsageRecord>,
    flush_every: Duration,
    retention_days: u32,
) {
    let mut buf = Vec::with_capacity(BATCH);
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        if rx.recv_many(&mut buf, BATCH).await == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + flush_every;
        let mut closed = false;
        while buf.len() < BATCH {
            let room = BATCH - buf.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut buf, room)).await {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if let Err(err) = write_batch(&db, &buf).await {
            tracing::warn!(error = %err, records = buf.len(), "could not write API usage logs");
        }
        buf.clear();
        if closed {
            return;
        }
        if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            last_purge = Some(tokio::time::Instant::now());
            if let Err(err) = purge(&db, retention_days).await {
                tracing::warn!(error = %err, "could not purge old API usage logs");
            }
        }
    }
}

async fn write_batch(db: &DatabaseConnection, records: &[UsageRecord]) -> Result<(), DbErr> {
    let mut last_used: HashMap<Uuid, OffsetDateTime> = HashMap::new();
    let rows = records.iter().map(|r| {
        let entry = last_used.entry(r.token_id).or_insert(r.at);
        *entry = (*entry).max(r.at);
        api_usage_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            token_id: Set(r.token_id),
            workspace_id: Set(r.workspace_id),
            user_id: Set(r.user_id),
            method: Set(r.method.clone()),
            path: Set(truncate(&r.path, 2048)),
            status_code: Set(i32::from(r.status)),
            duration_ms: Set(i32::try_from(r.duration.as_millis()).unwrap_or(i32::MAX)),
            ip_address: Set(r.ip.map(|ip| ip.to_string())),
            created_at: Set(r.at),
        }
    });
    let rows: Vec<_> = rows.collect();
    let txn = db.begin().await?;
    api_usage_log::Entity::insert_many(rows).exec(&txn).await?;
    for (token_id, at) in last_used {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(at))
            .filter(api_token::Column::Id.eq(token_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

async fn purge(db: &DatabaseConnection, retention_days: u32) -> Result<(), DbErr> {
    let cutoff = crate::platform::time::now() - time::Duration::days(i64::from(retention_days));
    let result = api_usage_log::Entity::delete_many()
        .filter(api_usage_log::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    if result.rows_affected > 0 {
        tracing::info!(deleted = result.rows_affected, "purged old API usage logs");
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
