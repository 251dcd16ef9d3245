//! Event consumers: how capabilities react to the changes of others without the platform
//! naming them. Each is registered once at start-up (where the application is assembled), and
//! [`WorkspaceChange::commit`](super::changes::WorkspaceChange::commit) hands every change's
//! events to all of them:
//!
//! * an [`InTransaction`] consumer writes in the change's own transaction, so what it writes
//!   (webhook deliveries, add-on deliveries) commits with the change or not at all; its error
//!   rolls the change back;
//! * an [`AfterCommit`] consumer runs after the commit in a task of its own (a Slack message):
//!   it can neither fail nor slow the change, and sees only committed events.

use std::sync::{Arc, RwLock};

use sea_orm::{DatabaseTransaction, DbErr};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    outbox::{Actor, EventType},
    signal::Signal,
};

/// A boxed, sendable future: what the platform's traits return, so they stay object-safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One event of a change, numbered.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub resource_id: Uuid,
    /// Position in the workspace's event stream.
    pub sequence: i64,
    /// The resource exactly as the API returns it (JSON).
    pub data: String,
    pub occurred_at: OffsetDateTime,
}

/// A change's events, with who made it and where.
#[derive(Debug)]
pub struct ChangeEvents {
    pub workspace_id: Uuid,
    pub actor: Actor,
    pub events: Vec<ChangeEvent>,
}

/// A consumer that writes in the change's own transaction.
pub trait InTransaction: Send + Sync {
    /// Writes what `change` calls for. Returns the signal to raise once the change commits
    /// (the worker that acts on what was written), if any.
    fn consume<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        change: &'a ChangeEvents,
    ) -> BoxFuture<'a, Result<Option<Signal>, DbErr>>;
}

/// A consumer that reacts after the commit, fire-and-forget.
pub trait AfterCommit: Send + Sync {
    /// Whether it wants events of this type (so a change it ignores costs no task).
    fn wants(&self, event_type: EventType) -> bool;

    /// Reacts to the committed change (only the events it wants are in it). Failures are its
    /// own to log.
    fn consume(&self, change: Arc<ChangeEvents>) -> BoxFuture<'static, ()>;
}

/// The consumers registered with one database.
#[derive(Default)]
pub struct Consumers {
    in_transaction: RwLock<Vec<Arc<dyn InTransaction>>>,
    after_commit: RwLock<Vec<Arc<dyn AfterCommit>>>,
}

impl std::fmt::Debug for Consumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumers").finish_non_exhaustive()
    }
}

impl Consumers {
    /// Registers a consumer that writes in each change's transaction (in registration order).
    pub fn add_in_transaction(&self, consumer: Arc<dyn InTransaction>) {
        write(&self.in_transaction).push(consumer);
    }

    /// Registers a consumer that reacts after each commit.
    pub fn add_after_commit(&self, consumer: Arc<dyn AfterCommit>) {
        write(&self.after_commit).push(consumer);
    }

    pub(super) fn in_transaction(&self) -> Vec<Arc<dyn InTransaction>> {
        read(&self.in_transaction).clone()
    }

    /// Hands the committed events to every after-commit consumer that wants some of them, each
    /// in its own task.
    pub(super) fn after_commit(&self, change: &ChangeEvents) {
        let consumers = read(&self.after_commit);
        for consumer in consumers.iter() {
            let events: Vec<ChangeEvent> = change
                .events
                .iter()
                .filter(|e| consumer.wants(e.event_type))
                .cloned()
                .collect();
            if events.is_empty() {
                continue;
            }
            let wanted = Arc::new(ChangeEvents {
                workspace_id: change.workspace_id,
                actor: change.actor.clone(),
                events,
            });
            tokio::spawn(consumer.consume(wanted));
        }
    }
}

// A poisoned lock only means a panic while pushing onto a Vec; the Vec is intact.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
