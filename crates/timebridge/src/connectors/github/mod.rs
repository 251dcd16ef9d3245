//! The GitHub connector (seed 002): issues of one repository become tasks of one project.
//!
//! * `POST /api/integrations/github/webhook` checks `X-Hub-Signature-256` against each active
//!   GitHub integration's webhook secret before it reads the payload, then applies, once per
//!   `X-GitHub-Delivery`: `issues.opened` → a task (`external_ref = "github_issue_{n}"`,
//!   priority from the labels, `todo`); `issues.assigned` → the task, and (with
//!   `auto_start_timer`) a timer for the member whose `github_username` is the assignee;
//!   `issues.closed` → the task `done`; `ping`. Anything else is recorded and ignored.
//! * Sync (admins) pulls the open issues (`per_page=50`, every page, optional label) and
//!   upserts their tasks by `external_ref`.

pub mod batch;
mod bindings;
mod jobs;
mod login;
pub mod signature;
mod sync;
mod webhook;

pub use jobs::{register, sync_all};

use axum::{body::Bytes, http::HeaderMap, response::Response};
use serde_json::{Map, Value, json};

use super::{
    Connector, Field, FieldKind, Provider, Receiver, Reply,
    outbound::{self, describe},
    store::{self, Integration},
};
use crate::{
    app::AppState,
    platform::{acting::Acting, consumers::BoxFuture, error::FieldErrors},
    tracking::tasks::TaskPriority,
};

/// The connector.
pub struct GithubConnector;

const FIELDS: &[Field] = &[
    Field {
        name: "repo",
        kind: FieldKind::Text,
        required: true,
        description: "The repository, as `owner/name`.",
        example: "octo-org/website",
        pattern: Some(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"),
    },
    Field {
        name: "webhook_secret",
        kind: FieldKind::Secret,
        required: true,
        description: "The secret of the repository's webhook: every delivery's X-Hub-Signature-256 is checked against it.",
        example: "d6f1c0a4e9b8",
        pattern: None,
    },
    Field {
        name: "token",
        kind: FieldKind::Secret,
        required: false,
        description: "A token that can read the repository's issues (`ghp_…`), for sync and test.",
        example: "ghp_example00000000000000000000000000000",
        pattern: None,
    },
    Field {
        name: "project_id",
        kind: FieldKind::Uuid,
        required: true,
        description: "The project the issues become tasks in.",
        example: "01938f2a-7c4e-7d10-9a3b-5c6d7e8f9a0b",
        pattern: None,
    },
    Field {
        name: "auto_start_timer",
        kind: FieldKind::Bool,
        required: false,
        description: "When an issue is assigned, start a timer on its task for the member whose github_username is the assignee.",
        example: "true",
        pattern: None,
    },
    Field {
        name: "label_filter",
        kind: FieldKind::Text,
        required: false,
        description: "Sync only the open issues with this label.",
        example: "timebridge",
        pattern: None,
    },
];

const RECEIVERS: &[Receiver] = &[Receiver {
    name: "webhook",
    summary: "GitHub's webhook",
    description: "`X-Hub-Signature-256` is checked against each active GitHub integration's \
        webhook secret before the payload is read; each `X-GitHub-Delivery` is applied once.",
    request: "A GitHub webhook payload",
    responses: &[
        (
            200,
            "`{ok: true, …}`; `duplicate: true` for a delivery already applied; `ignored: true` for events not handled",
        ),
        (400, "Malformed payload or missing headers"),
        (401, "Missing or invalid signature"),
    ],
}];

/// GitHub's delivery headers worth recording in the inbound ledger (never its signatures).
pub const RECORDED_HEADERS: &[&str] = &[
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
];

/// The `external_ref` of an issue's task.
pub fn external_ref(number: u64) -> String {
    format!("github_issue_{number}")
}

/// The task priority the issue's labels ask for, if any.
pub fn priority_from_labels(labels: &[Value]) -> Option<TaskPriority> {
    let names: Vec<String> = labels
        .iter()
        .filter_map(|l| l.get("name").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect();
    let has = |words: &[&str]| names.iter().any(|n| words.iter().any(|w| n.contains(w)));
    if has(&["urgent", "critical", "blocker", "p0"]) {
        Some(TaskPriority::Urgent)
    } else if has(&["high", "p1"]) {
        Some(TaskPriority::High)
    } else if has(&["low", "minor", "p3"]) {
        Some(TaskPriority::Low)
    } else if has(&["medium", "p2"]) {
        Some(TaskPriority::Medium)
    } else {
        None
    }
}

fn valid_repo(repo: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(repo.split_once('/'), Some((owner, name)) if ok(owner) && ok(name))
}

/// A GET on the GitHub API with the integration's token.
fn get(app: &AppState, integration: &Integration, path: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", app.config.connectors.github_api_url);
    let mut request = outbound::client()
        .get(url)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28");
    if let Some(token) = integration.text("token") {
        request = request.bearer_auth(token);
    }
    request
}

/// GitHub's own message in an error answer.
async fn failure(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let message = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    format!("GitHub answered {status}: {message}")
}

impl GithubConnector {
    async fn check(
        app: &AppState,
        acting: &Acting,
        config: &Map<String, Value>,
        errors: &mut FieldErrors,
    ) -> Result<(), sea_orm::DbErr> {
        if let Some(repo) = config.get("repo").and_then(Value::as_str)
            && !valid_repo(repo)
        {
            errors.add("repo", "must be owner/name");
        }
        let project = config
            .get("project_id")
            .and_then(Value::as_str)
            .and_then(|s| uuid::Uuid::parse_str(s).ok());
        if let Some(project_id) = project {
            let found = crate::tracking::projects::service::find(
                app.db.conn(),
                acting.workspace_id,
                project_id,
            )
            .await;
            if found.is_err() {
                errors.add("project_id", "no such project in this workspace");
            }
        }
        Ok(())
    }

    async fn test_repository(app: &AppState, integration: &Integration) -> Reply {
        let Some(repo) = integration.text("repo") else {
            return Reply::not_configured();
        };
        let reply = match get(app, integration, &format!("/repos/{repo}"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                let body: Value = r.json().await.unwrap_or_default();
                Reply::ok(json!({"repository": body["full_name"], "private": body["private"]}))
            }
            Ok(r) => Reply::error(failure(r).await),
            Err(e) => Reply::error(describe(&e)),
        };
        let error = reply.0["error"].as_str();
        store::record_outcome(&app.db, integration.record.id, error, false).await;
        reply
    }

    async fn forget(app: &AppState, integration: &Integration) -> Reply {
        // GitHub has no revoke call for a personal token: forgetting it is all we can do.
        match store::delete(app, integration.record.id, Provider::Github).await {
            Ok(()) => Reply::ok(json!({"message": "GitHub integration removed"})),
            Err(e) => Reply::failure(e),
        }
    }
}

impl Connector for GithubConnector {
    fn provider(&self) -> Provider {
        Provider::Github
    }

    fn bindings(&self) -> Option<&dyn super::bindings::BindingSource> {
        Some(self)
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_config<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
        config: &'a Map<String, Value>,
        errors: &'a mut FieldErrors,
    ) -> BoxFuture<'a, Result<(), sea_orm::DbErr>> {
        Box::pin(Self::check(app, acting, config, errors))
    }

    fn test<'a>(&'a self, app: &'a AppState, integration: &'a Integration) -> BoxFuture<'a, Reply> {
        Box::pin(Self::test_repository(app, integration))
    }

    fn sync<'a>(
        &'a self,
        app: &'a AppState,
        _acting: &'a Acting,
        integration: &'a Integration,
        _params: &'a Value,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(sync::run(app, integration))
    }

    fn revoke<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(Self::forget(app, integration))
    }

    fn receivers(&self) -> &'static [Receiver] {
        RECEIVERS
    }

    fn receive<'a>(
        &'a self,
        app: &'a AppState,
        _receiver: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
    ) -> BoxFuture<'a, Response> {
        // One receiver: the webhook.
        Box::pin(webhook::receive(app, headers, body))
    }

    fn member_settings<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
    ) -> BoxFuture<'a, Result<Map<String, Value>, sea_orm::DbErr>> {
        Box::pin(login::load(app, acting))
    }

    fn member_fields(&self) -> &'static [Field] {
        &[Field {
            name: login::SETTING,
            kind: FieldKind::Text,
            required: false,
            description: "Your GitHub login: issues assigned to it start your timer. `null` forgets it.",
            example: "octocat",
            pattern: Some("^[A-Za-z0-9-]{1,39}$"),
        }]
    }

    fn take_member_settings(
        &self,
        changes: &mut Map<String, Value>,
        errors: &mut FieldErrors,
    ) -> Map<String, Value> {
        login::take(changes, errors)
    }

    fn save_member_settings<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
        settings: Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), sea_orm::DbErr>> {
        Box::pin(async move { login::save(app, acting, &settings).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_priorities() {
        let labels =
            |names: &[&str]| -> Vec<Value> { names.iter().map(|n| json!({"name": n})).collect() };
        assert_eq!(
            priority_from_labels(&labels(&["bug", "Priority: Critical"])),
            Some(TaskPriority::Urgent)
        );
        assert_eq!(
            priority_from_labels(&labels(&["high"])),
            Some(TaskPriority::High)
        );
        assert_eq!(
            priority_from_labels(&labels(&["good first issue", "low"])),
            Some(TaskPriority::Low)
        );
        assert_eq!(priority_from_labels(&labels(&["bug"])), None);
    }

    #[test]
    fn repos_are_owner_slash_name() {
        assert!(valid_repo("octo-org/hello.world"));
        assert!(!valid_repo("octo-org"));
        assert!(!valid_repo("octo org/x"));
        assert!(!valid_repo("a/b/c"));
    }
}
