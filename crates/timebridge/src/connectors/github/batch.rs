//! Group commit for GitHub deliveries. Each delivery is applied in a transaction with its
//! ledger row. On SQLite every transaction rewrites the pages it touched into the WAL, and on
//! PostgreSQL one workspace's changes run one at a time, each waiting for its commit: one
//! transaction per delivery spends most of its time on the transaction, not the delivery. So the
//! receiver hands verified deliveries to one task that applies whatever is waiting, up to
//! [`MAX_BATCH`] deliveries of one integration, in a single change, and answers each delivery
//! only after that change commits. If any delivery of a batch fails, the batch is rolled back
//! and its deliveries are applied one by one, so one bad delivery never takes others down.

use std::collections::{HashMap, HashSet};

use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{
    external_ref,
    webhook::{IssueFields, apply, opened_issue},
};
use crate::{
    connectors::{
        Provider,
        ledger::{self, InboundStatus, Received, Seen},
        store::Integration,
    },
    platform::{changes::WorkspaceChange, db::Db, error::ApiError, outbox::Actor},
    tracking::tasks::service::{self as tasks, ConnectorTask},
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
/// applied before (or earlier in this batch) is answered as a duplicate. New issues opened
/// once in the batch (the common case) are applied in bulk: one query for the ledger, one for
/// existing tasks, one insert of the tasks, one of the ledger rows. Everything else is applied
/// one by one, in arrival order.
async fn apply_all(db: &Db, deliveries: &[&Delivery]) -> Result<Vec<Value>, ApiError> {
    let integration = &deliveries[0].integration;
    let workspace_id = integration.record.workspace_id;
    let actor = Actor::integration("github", Some(integration.record.user_id));
    let mut change = WorkspaceChange::begin(db, workspace_id, actor).await?;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.delivery_id.as_str()).collect();
    let seen = ledger::seen_many(&*change, Provider::Github, &ids).await?;
    let mut replies: Vec<Option<Value>> = vec![None; deliveries.len()];
    let mut here = HashSet::new();
    let mut issue_count: HashMap<u64, usize> = HashMap::new();
    for d in deliveries {
        if let Some(n) = d.payload["issue"]["number"].as_u64() {
            *issue_count.entry(n).or_default() += 1;
        }
    }
    let (mut bulk, mut one_by_one) = (Vec::new(), Vec::new());
    for (i, d) in deliveries.iter().enumerate() {
        if !here.insert(d.delivery_id.as_str()) {
            replies[i] = Some(duplicate(InboundStatus::Applied));
            continue;
        }
        match seen.get(&d.delivery_id) {
            Some(Seen::Done(status)) => replies[i] = Some(duplicate(*status)),
            Some(Seen::Failed(_)) => one_by_one.push(i),
            None | Some(Seen::New) => match opened_issue(&d.integration, &d.event, &d.payload) {
                Some(n) if issue_count.get(&n) == Some(&1) => bulk.push((i, n)),
                _ => one_by_one.push(i),
            },
        }
    }
    // An issue whose task exists already is an update: one by one.
    let refs: Vec<String> = bulk.iter().map(|(_, n)| external_ref(*n)).collect();
    let existing = tasks::existing_external_refs(&*change, workspace_id, &refs).await?;
    if !existing.is_empty() {
        let (new, known): (Vec<_>, Vec<_>) = bulk
            .into_iter()
            .partition(|(_, n)| !existing.contains(&external_ref(*n)));
        bulk = new;
        one_by_one.extend(known.into_iter().map(|(i, _)| i));
        one_by_one.sort_unstable();
    }
    for i in one_by_one {
        let d = deliveries[i];
        let seen = seen.get(&d.delivery_id).cloned().unwrap_or(Seen::New);
        let (status, reply) = apply(&mut change, &d.integration, &d.event, &d.payload).await?;
        ledger::record(&*change, &d.received(), &seen, status, None).await?;
        replies[i] = Some(reply);
    }
    if !bulk.is_empty() {
        let project_id = integration
            .uuid("project_id")
            .ok_or_else(|| ApiError::Unprocessable("the integration has no project_id".into()))?;
        let new_tasks = bulk
            .iter()
            .map(|(i, n)| {
                let fields = IssueFields::of(&deliveries[*i].payload["issue"]);
                ConnectorTask {
                    external_ref: external_ref(*n),
                    name: fields.title.to_owned(),
                    description: Some(fields.description),
                    priority: fields.priority,
                }
            })
            .collect();
        let views = tasks::insert_many_in(&mut change, project_id, new_tasks).await?;
        let received: Vec<Received<'_>> = bulk
            .iter()
            .map(|(i, _)| deliveries[*i].received())
            .collect();
        ledger::record_new_many(&*change, &received, InboundStatus::Applied).await?;
        for ((i, n), view) in bulk.iter().zip(views) {
            replies[*i] = Some(json!({
                "ok": true, "task_id": view.id, "external_ref": external_ref(*n), "created": true,
            }));
        }
    }
    change.commit().await?;
    Ok(replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| duplicate(InboundStatus::Applied)))
        .collect())
}

fn duplicate(status: InboundStatus) -> Value {
    json!({"ok": true, "duplicate": true, "status": status})
}
