//! A change to one workspace's data: one database transaction that, when it commits, has also
//! written the change's events to the outbox, handed them to the registered event consumers
//! (see [`super::consumers`]) and advanced the workspace's data version. Every write to
//! workspace data goes through here, so neither the read cache nor an event consumer can miss
//! one, and a change that fails leaves no event behind.

use std::{ops::Deref, sync::Arc};

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde::Serialize;
use uuid::Uuid;

use super::{
    consumers::{ChangeEvent, ChangeEvents, Consumers},
    db::{DataVersions, Db, WriteTurn},
    outbox::{self, Actor, EventType, PendingEvent},
    signal::Signal,
    time,
};

/// An open write transaction on one workspace's data. Dereferences to the transaction, so
/// queries run on `&*change` (or `&change` where a `&impl ConnectionTrait` is expected).
/// Dropping it without [`commit`](Self::commit) rolls everything back.
pub struct WorkspaceChange {
    txn: DatabaseTransaction,
    /// Dropped after `txn` (fields drop in order): the turn outlives the transaction.
    _turn: WriteTurn,
    /// `None` until the workspace is known (see [`begin_unbound`](Self::begin_unbound)).
    workspace_id: Option<Uuid>,
    actor: Actor,
    events: Vec<PendingEvent>,
    versions: Arc<DataVersions>,
    consumers: Arc<Consumers>,
    /// Raised after the commit.
    wakes: Vec<Signal>,
}

impl WorkspaceChange {
    /// Begins the transaction as the only writer of the workspace's data until it ends: on
    /// SQLite by taking the database's write lock at once (`BEGIN IMMEDIATE`), on PostgreSQL by
    /// locking the workspace row. Rules that read before they write (one running timer, the
    /// next invoice number, a unique name) then hold without retries, and two changes of one
    /// workspace can never deadlock. Changes of different workspaces still run side by side
    /// on PostgreSQL.
    pub async fn begin(db: &Db, workspace_id: Uuid, actor: Actor) -> Result<Self, DbErr> {
        let mut change = Self::begin_unbound(db, actor).await?;
        change.workspace_id = Some(workspace_id);
        change.lock_workspace().await?;
        Ok(change)
    }

    /// Begins a change whose workspace is found (or created) inside the transaction; name it
    /// with [`bind`](Self::bind) before committing.
    pub async fn begin_unbound(db: &Db, actor: Actor) -> Result<Self, DbErr> {
        let turn = db.write_turn().await;
        let txn = db
            .conn()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Self {
            txn,
            _turn: turn,
            workspace_id: None,
            actor,
            events: Vec::new(),
            versions: db.versions_handle(),
            consumers: db.consumers_handle(),
            wakes: Vec::new(),
        })
    }

    /// The workspace this change writes to, once known.
    pub fn workspace_id(&self) -> Option<Uuid> {
        self.workspace_id
    }

    /// Names the workspace this change writes to.
    pub fn bind(&mut self, workspace_id: Uuid) {
        self.workspace_id = Some(workspace_id);
    }

    /// Makes this change the only writer of its workspace until it ends ([`begin`](Self::begin)
    /// already does). On SQLite every write transaction already is the only writer (`BEGIN
    /// IMMEDIATE`); on PostgreSQL this locks the workspace row `FOR NO KEY UPDATE`, which does
    /// not conflict with the key-share locks that inserting rows referencing the workspace
    /// takes. Locking again is harmless.
    pub async fn lock_workspace(&self) -> Result<(), DbErr> {
        let Some(workspace_id) = self.workspace_id else {
            return Ok(());
        };
        if self.txn.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let query = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("workspaces"))
            .and_where(Expr::col(Alias::new("id")).eq(workspace_id))
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .take();
        self.txn.query_one(&query).await.map(|_| ())
    }

    /// How many events the change has recorded so far.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Who is making the change.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Records an event about `resource_id`, carrying `data`: the resource exactly as the API
    /// returns it. Written when the change commits, and only then.
    pub fn record<T: Serialize>(
        &mut self,
        event_type: EventType,
        resource_id: Uuid,
        data: &T,
    ) -> Result<(), DbErr> {
        let data = serde_json::to_string(data).map_err(|e| DbErr::Json(e.to_string()))?;
        self.events.push(PendingEvent {
            id: Uuid::now_v7(),
            event_type,
            resource_id,
            data,
            occurred_at: time::now(),
        });
        Ok(())
    }

    /// Asks for `signal` to be raised once the change commits (a service that enqueued work
    /// for a background worker in this transaction).
    pub fn wake(&mut self, signal: Signal) {
        if !self.wakes.iter().any(|s| s.channel() == signal.channel()) {
            self.wakes.push(signal);
        }
    }

    /// Writes the recorded events, hands them to the in-transaction consumers, advances the
    /// workspace's data version (by one per event, at least one), commits, records the new
    /// version in this process, raises the signals the consumers asked for, and hands the
    /// events to the after-commit consumers. Returns the version.
    pub async fn commit(mut self) -> Result<i64, DbErr> {
        let workspace_id = self.workspace_id.ok_or_else(|| {
            DbErr::Custom("a workspace change was committed without its workspace".into())
        })?;
        let count = self.events.len().max(1) as i64;
        let version = advance(&self.txn, workspace_id, count).await?;
        let first_sequence = version - self.events.len() as i64 + 1;
        let change = ChangeEvents {
            workspace_id,
            actor: self.actor,
            events: self
                .events
                .into_iter()
                .enumerate()
                .map(|(i, e)| ChangeEvent {
                    id: e.id,
                    event_type: e.event_type,
                    resource_id: e.resource_id,
                    sequence: first_sequence + i as i64,
                    data: e.data,
                    occurred_at: e.occurred_at,
                })
                .collect(),
        };
        outbox::write(&self.txn, &change).await?;
        if !change.events.is_empty() {
            for consumer in self.consumers.in_transaction() {
                if let Some(signal) = consumer.consume(&self.txn, &change).await?
                    && !self.wakes.iter().any(|s| s.channel() == signal.channel())
                {
                    self.wakes.push(signal);
                }
            }
        }
        if self.txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // Wakes the workers of the other instances when this commits.
            for signal in &self.wakes {
                self.txn
                    .execute_unprepared(&format!("NOTIFY {}", signal.channel()))
                    .await?;
            }
        }
        self.txn.commit().await?;
        self.versions.observe(workspace_id, version);
        for signal in &self.wakes {
            signal.raise_locally();
        }
        if !change.events.is_empty() {
            self.consumers.after_commit(&change);
        }
        Ok(version)
    }
}

impl Deref for WorkspaceChange {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// `data_version += by`, returning the new value. On PostgreSQL the row stays locked until the
/// transaction ends, so versions commit in the order they are handed out.
async fn advance<C: ConnectionTrait>(txn: &C, workspace_id: Uuid, by: i64) -> Result<i64, DbErr> {
    let column = Alias::new("data_version");
    let update = Query::update()
        .table(Alias::new("workspaces"))
        .value(column.clone(), Expr::col(column.clone()).add(by))
        .and_where(Expr::col(Alias::new("id")).eq(workspace_id))
        .returning_col(column)
        .take();
    let row = txn
        .query_one(&update)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("workspace {workspace_id}")))?;
    row.try_get_by_index(0)
}
