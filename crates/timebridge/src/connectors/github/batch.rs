//! Group commit for GitHub deliveries. Each delivery is applied in a transaction with its
//! ledger row, and on SQLite every transaction rewrites the pages it touched into the WAL: one
//! transaction per delivery spends most of its time writing the same index pages again. So the
//! receiver hands verified deliveries to one task that applies whatever is waiting, up to
//! [`MAX_BATCH`] deliveries of one integration, in a single change, and answers each delivery
//! only after that change commits. If any delivery of a batch fails, the batch is rolled back
//! and its deliveries are applied one by one, so one bad delivery never takes others down.

use std::collections::HashSet;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::webhook::apply;
use crate::{
    connectors::{
        Provider,
        ledger::{self, Received, Seen},
        store::Integration,
    },
    platform::{changes::WorkspaceChange, db::Db, error::ApiError, outbox::Actor},
};

/// Deliveries applied in one transaction at most.
pub const MAX_BATCH: usize = 64;

/// A verified, parsed delivery waiting to be applied.
pub struct Delivery {
    pub integration: Integration,
    pub delivery_id: String,
    pub event: String,
    pub headers: HeaderMap,
    pub text: String,
    pub payload: Value,
}

impl Delivery {
    fn received(&self) -> Received<'_> {
        Received {
            provider: Provider::Github,
            delivery_id: &self.delivery_id,
            integration_id: Some(self.integration.record.id),
            workspace_id: Some(self.integration.record.workspace_id),
            event_type: &self.event,
            headers: &self.headers,
            payload: &self.text,
        }
    }
}

struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Value, ApiError>>,
}

/// The handle the receiver sends deliveries through.
#[derive(Clone)]
pub struct Batcher(mpsc::Sender<Job>);

impl Batcher {
    /// Starts the applying task; it ends when the last handle is dropped.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(db, rx));
        Self(tx)
    }

    /// Applies a delivery (once), answering after its transaction committed.
    pub async fn apply(&self, delivery: Delivery) -> Result<Value, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Job { delivery, reply })
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("the GitHub applier stopped")))?;
        answer.await.map_err(|_| {
            ApiError::Internal(anyhow::anyhow!("the GitHub applier dropped a delivery"))
        })?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // One change per integration: one workspace, one actor. Arrival order is kept.
        let mut groups: Vec<Vec<Job>> = Vec::new();
        for job in jobs {
            let id = job.delivery.integration.record.id;
            match groups
                .iter_mut()
                .find(|g| g[0].delivery.integration.record.id == id)
            {
                Some(group) => group.push(job),
                None => groups.push(vec![job]),
            }
        }
        for group in groups {
            run_group(&db, group).await;
        }
    }
}

async fn run_group(db: &Db, group: Vec<Job>) {
    if group.len() > 1 {
        let deliveries: Vec<&Delivery> = group.iter().map(|j| &j.delivery).collect();
        match apply_all(db, &deliveries).await {
            Ok(replies) => {
                for (job, reply) in group.into_iter().zip(replies) {
                    let _ = job.reply.send(Ok(reply));
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, "a GitHub batch failed; applying one by one"),
        }
    }
    for job in group {
        let result = apply_all(db, &[&job.delivery])
            .await
            .map(|mut r| r.remove(0));
        let _ = job.reply.send(result);
    }
}

/// Applies deliveries of one integration in one change, each with its ledger row; a delivery
/// applied before (or earlier in this batch) is answered as a duplicate.
async fn apply_all(db: &Db, deliveries: &[&Delivery]) -> Result<Vec<Value>, ApiError> {
    let integration = &deliveries[0].integration;
    let actor = Actor::integration("github", Some(integration.record.user_id));
    let mut change = WorkspaceChange::begin(db, integration.record.workspace_id, actor).await?;
    let mut here = HashSet::new();
    let mut replies = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        if !here.insert(d.delivery_id.as_str()) {
            replies.push(json!({"ok": true, "duplicate": true, "status": ledger::APPLIED}));
            continue;
        }
        let seen = ledger::seen(&*change, Provider::Github, &d.delivery_id).await?;
        if let Seen::Done(status) = &seen {
            replies.push(json!({"ok": true, "duplicate": true, "status": status}));
            continue;
        }
        let (status, reply) = apply(&mut change, &d.integration, &d.event, &d.payload).await?;
        ledger::record(&*change, &d.received(), &seen, status, None).await?;
        replies.push(reply);
    }
    change.commit().await?;
    Ok(replies)
}
