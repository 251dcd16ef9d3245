//! Sync: the repository's open issues (every page of 50, optionally one label) pulled into
//! tasks through the integration's own data sync binding (`bindings.rs`), which keeps them
//! by `external_ref`. The answer counts what the binding's run did.

use serde_json::{Value, json};

use super::{failure, get};
use crate::{
    app::AppState,
    connectors::{
        Reply,
        bindings::{EntityKind, engine, service as bindings},
        outbound::describe,
        store::{self, Integration},
    },
};

/// Pages fetched at most (5,000 issues).
const MAX_PAGES: u32 = 100;
const PER_PAGE: usize = 50;

/// Runs one sync; records its outcome on the integration.
pub async fn run(app: &AppState, integration: &Integration) -> Reply {
    let reply = pull_and_upsert(app, integration).await;
    let error = reply.0["error"].as_str();
    store::record_outcome(&app.db, integration.record.id, error, reply.is_ok()).await;
    reply
}

async fn pull_and_upsert(app: &AppState, integration: &Integration) -> Reply {
    let (Some(repo), Some(project_id)) = (integration.text("repo"), integration.uuid("project_id"))
    else {
        return Reply::not_configured();
    };
    let binding =
        match bindings::managed(app, integration, EntityKind::Task, repo, Some(project_id)).await {
            Ok(binding) => binding,
            Err(e) => return Reply::failure(e),
        };
    let (run, seen) = match engine::run_counting(app, &binding, engine::Trigger::Manual).await {
        Ok(done) => done,
        Err(e) => return Reply::failure(e),
    };
    // As before bindings: a sync that could not apply every issue is a failed sync.
    if run.status != "ok" {
        let errors: Value = serde_json::from_str(&run.errors).unwrap_or_default();
        return Reply::error(errors[0]["message"].as_str().unwrap_or("the sync failed"));
    }
    let changed = usize::try_from(run.created + run.updated).unwrap_or_default();
    Reply::ok(json!({
        "issues": seen,
        "created": run.created,
        "updated": run.updated,
        "unchanged": seen.saturating_sub(changed),
        "binding_id": binding.id,
    }))
}

/// Every open issue (pull requests left out), page by page.
pub(super) async fn fetch_open_issues(
    app: &AppState,
    integration: &Integration,
    repo: &str,
) -> Result<Vec<Value>, String> {
    let mut issues = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut query = vec![
            ("state", "open".to_owned()),
            ("per_page", PER_PAGE.to_string()),
            ("page", page.to_string()),
        ];
        if let Some(label) = integration.text("label_filter") {
            query.push(("labels", label.to_owned()));
        }
        let response = get(app, integration, &format!("/repos/{repo}/issues"))
            .query(&query)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let batch: Vec<Value> = response
            .json()
            .await
            .map_err(|_| "GitHub's issue list could not be read".to_owned())?;
        let full = batch.len() >= PER_PAGE;
        issues.extend(
            batch
                .into_iter()
                .filter(|i| i.get("pull_request").is_none()),
        );
        if !full {
            break;
        }
    }
    Ok(issues)
}
