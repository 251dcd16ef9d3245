//! Sync: the repository's open issues (every page of 50, optionally one label) upserted as
//! tasks by `external_ref`, in one change.

use serde_json::{Value, json};

use super::{external_ref, failure, get, webhook::IssueFields};
use crate::{
    app::AppState,
    connectors::{
        Provider, Reply,
        outbound::describe,
        store::{self, Integration},
    },
    platform::{changes::WorkspaceChange, outbox::Actor},
    tracking::tasks::service as tasks,
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
    let issues = match fetch_open_issues(app, integration, repo).await {
        Ok(issues) => issues,
        Err(error) => return Reply::error(error),
    };
    let actor = Actor::integration(
        Provider::Github.actor_name(),
        Some(integration.record.user_id),
    );
    let result = async {
        let mut change =
            WorkspaceChange::begin(&app.db, integration.record.workspace_id, actor).await?;
        let (mut created, mut updated) = (0, 0);
        for issue in &issues {
            let Some(number) = issue["number"].as_u64() else {
                continue;
            };
            let fields = IssueFields::of(issue);
            let before = change.pending_events();
            let (_, was_created) = tasks::upsert_by_external_ref_in(
                &mut change,
                project_id,
                &external_ref(number),
                fields.title,
                Some(&fields.description),
                fields.priority,
            )
            .await?;
            if was_created {
                created += 1;
            } else if change.pending_events() > before {
                updated += 1;
            }
        }
        change.commit().await?;
        Ok::<_, crate::platform::error::ApiError>((created, updated))
    }
    .await;
    match result {
        Ok((created, updated)) => Reply::ok(json!({
            "issues": issues.len(),
            "created": created,
            "updated": updated,
            "unchanged": issues.len() - created - updated,
        })),
        Err(e) => Reply::failure(e),
    }
}

/// Every open issue (pull requests left out), page by page.
async fn fetch_open_issues(
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
