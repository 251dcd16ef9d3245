//! The GitHub connector's registration and background work: the `github_sync` job.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::sync;
use crate::{
    app::{AppState, Capabilities},
    connectors::{Provider, workspaces_with},
    platform::jobs::JobKind,
};

/// How often every active GitHub integration with a token is synced.
const EVERY: Duration = Duration::from_secs(30 * 60);

/// Plugs GitHub in: the connector, and the `github_sync` job.
pub fn register(c: &mut Capabilities) {
    c.connector(std::sync::Arc::new(super::GithubConnector));
    c.job(
        JobKind::new(
            "github_sync",
            "Every 30 minutes: syncs the open issues of each active GitHub integration of the workspace that has a token.",
            |app: AppState, job| async move {
                let workspace_id = job.workspace_id.ok_or("github_sync runs for a workspace")?;
                Ok(sync_all(&app, workspace_id).await)
            },
        )
        .every(EVERY, |app: AppState| async move {
            workspaces_with(&app, Provider::Github).await
        }),
    );
}

/// Syncs every active GitHub integration of the workspace that has a token. One
/// integration's failure is recorded on it and in the outcome, and never stops the others.
pub async fn sync_all(app: &AppState, workspace_id: Uuid) -> Value {
    let integrations = match app
        .integrations
        .get(&app.db, &app.secret_key, Provider::Github)
        .await
    {
        Ok(list) => list,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let (mut synced, mut failures) = (0, Vec::new());
    let mine = integrations
        .iter()
        .filter(|i| i.record.workspace_id == workspace_id && i.text("token").is_some());
    for integration in mine {
        let reply = sync::run(app, integration).await;
        if reply.is_ok() {
            synced += 1;
        } else {
            failures
                .push(json!({"integration_id": integration.record.id, "error": reply.0["error"]}));
        }
    }
    json!({"synced": synced, "failed": failures.len(), "failures": failures})
}
