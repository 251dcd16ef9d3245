//! `POST /api/integrations/github/webhook`: verify, record, apply once.

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{batch::Delivery, external_ref, priority_from_labels, signature};
use crate::{
    app::AppState,
    connectors::{
        Provider, answer, fail, header,
        ledger::{self, InboundStatus, Received},
        refuse,
        store::Integration,
    },
    directory::entity::user,
    platform::{acting::Acting, changes::WorkspaceChange, error::ApiError, outbox::Actor},
    tracking::{
        tasks::{TaskStatus, service as tasks},
        time_entries::timer,
    },
};

/// Receives one delivery.
pub async fn receive(app: &AppState, headers: &HeaderMap, body: Bytes) -> Response {
    let Some(signature_header) = header(headers, "x-hub-signature-256") else {
        return refuse(StatusCode::UNAUTHORIZED, "Missing X-Hub-Signature-256");
    };
    let integrations = match app
        .integrations
        .get(&app.db, &app.secret_key, Provider::Github)
        .await
    {
        Ok(list) => list,
        Err(e) => return fail(ApiError::from(e)),
    };
    // The signature is checked before anything in the payload is read.
    let Some(integration) = integrations.iter().find(|i| {
        i.text("webhook_secret")
            .is_some_and(|secret| signature::verify(secret, &body, signature_header))
    }) else {
        tracing::warn!(
            "GitHub webhook refused: no active integration's secret matches its signature"
        );
        return refuse(StatusCode::UNAUTHORIZED, "Invalid signature");
    };
    let (Some(event), Some(delivery)) = (
        header(headers, "x-github-event"),
        header(headers, "x-github-delivery"),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Missing X-GitHub-Event or X-GitHub-Delivery",
        );
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let received = Received {
        provider: Provider::Github,
        delivery_id: delivery,
        integration_id: Some(integration.record.id),
        workspace_id: Some(integration.record.workspace_id),
        event_type: event,
        headers,
        payload: &text,
    };
    let Ok(payload) = serde_json::from_str::<Value>(&text) else {
        ledger::record_failure(&app.db, &received, "malformed JSON payload").await;
        return refuse(StatusCode::BAD_REQUEST, "Malformed JSON payload");
    };
    let delivery = Delivery {
        integration: integration.clone(),
        delivery_id: delivery.to_owned(),
        event: event.to_owned(),
        headers: headers.clone(),
        text: text.clone(),
        payload,
    };
    match app.github.apply(delivery).await {
        Ok(reply) => answer(StatusCode::OK, reply),
        Err(e) => {
            ledger::record_failure(&app.db, &received, &e.to_string()).await;
            fail(e)
        }
    }
}

/// What a delivery does, inside the change that records it.
pub(super) async fn apply(
    change: &mut WorkspaceChange,
    integration: &Integration,
    event: &str,
    payload: &Value,
) -> Result<(InboundStatus, Value), ApiError> {
    match event {
        "ping" => Ok((
            InboundStatus::Applied,
            json!({"ok": true, "message": "pong"}),
        )),
        "issues" => issue(change, integration, payload).await,
        other => Ok(ignored(format!("event '{other}' is not handled"))),
    }
}

fn ignored(why: String) -> (InboundStatus, Value) {
    (
        InboundStatus::Ignored,
        json!({"ok": true, "ignored": true, "message": why}),
    )
}

async fn issue(
    change: &mut WorkspaceChange,
    integration: &Integration,
    payload: &Value,
) -> Result<(InboundStatus, Value), ApiError> {
    let action = payload["action"].as_str().unwrap_or_default();
    let issue = &payload["issue"];
    let Some(number) = issue["number"].as_u64() else {
        return Err(ApiError::BadRequest(
            "issues payload without issue.number".into(),
        ));
    };
    let repo = payload["repository"]["full_name"]
        .as_str()
        .unwrap_or_default();
    let configured = integration.text("repo").unwrap_or_default();
    if !repo.eq_ignore_ascii_case(configured) {
        return Ok(ignored(format!(
            "repository '{repo}' is not the configured one"
        )));
    }
    if !matches!(
        action,
        "opened" | "reopened" | "edited" | "assigned" | "closed"
    ) {
        return Ok(ignored(format!("issues.{action} is not handled")));
    }
    let Some(project_id) = integration.uuid("project_id") else {
        return Err(ApiError::Unprocessable(
            "the integration has no project_id".into(),
        ));
    };
    let fields = IssueFields::of(issue);
    let reference = external_ref(number);
    let (task, created) = tasks::upsert_by_external_ref_in(
        change,
        project_id,
        &reference,
        fields.title,
        Some(&fields.description),
        fields.priority,
    )
    .await?;
    let mut reply =
        json!({"ok": true, "task_id": task.id, "external_ref": reference, "created": created});
    match action {
        "closed" => {
            tasks::set_status_by_external_ref_in(change, &reference, TaskStatus::Done).await?;
        }
        "reopened" => {
            tasks::set_status_by_external_ref_in(change, &reference, TaskStatus::Todo).await?;
        }
        "assigned" if integration.flag("auto_start_timer") == Some(true) => {
            let login = payload["assignee"]["login"]
                .as_str()
                .or_else(|| issue["assignee"]["login"].as_str())
                .unwrap_or_default();
            reply["timer"] =
                start_for_assignee(change, integration, project_id, task.id, login).await?;
        }
        _ => {}
    }
    Ok((InboundStatus::Applied, reply))
}

/// What a task takes from its issue.
pub(super) struct IssueFields<'a> {
    pub title: &'a str,
    /// The issue's URL, then its body.
    pub description: String,
    pub priority: Option<crate::tracking::tasks::TaskPriority>,
}

impl<'a> IssueFields<'a> {
    pub fn of(issue: &'a Value) -> Self {
        let url = issue["html_url"].as_str().unwrap_or_default();
        let description = match issue["body"].as_str().filter(|b| !b.trim().is_empty()) {
            Some(body) => format!("{url}\n\n{body}"),
            None => url.to_owned(),
        };
        let labels = issue["labels"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Self {
            title: issue["title"].as_str().unwrap_or("Untitled issue"),
            description,
            priority: priority_from_labels(labels),
        }
    }
}

/// Whether the delivery is an `issues.opened` of the configured repository: the common case,
/// which a batch applies in bulk. Answers the issue number.
pub(super) fn opened_issue(integration: &Integration, event: &str, payload: &Value) -> Option<u64> {
    let configured = integration.text("repo")?;
    let repo = payload["repository"]["full_name"].as_str()?;
    (event == "issues"
        && payload["action"] == "opened"
        && repo.eq_ignore_ascii_case(configured)
        && integration.uuid("project_id").is_some())
    .then(|| payload["issue"]["number"].as_u64())
    .flatten()
}

/// Starts a timer on the task for the member whose GitHub login is `login`. A member who
/// matches no one, or whose timer already runs, is reported, not an error.
async fn start_for_assignee(
    change: &mut WorkspaceChange,
    integration: &Integration,
    project_id: Uuid,
    task_id: Uuid,
    login: &str,
) -> Result<Value, ApiError> {
    let workspace_id = integration.record.workspace_id;
    // A deactivated member (here, or their whole account) gets no timer.
    let found = crate::directory::service::active_member_by(
        &**change,
        workspace_id,
        user::Column::GithubUsername,
        login,
    )
    .await?;
    let Some(user_id) = found else {
        return Ok(
            json!({"started": false, "reason": format!("no active member has the GitHub login '{login}'")}),
        );
    };
    let acting = Acting {
        workspace_id,
        user_id,
        is_admin: false,
        actor: Actor::integration("github", Some(user_id)),
    };
    if timer::running(&**change, workspace_id, user_id)
        .await?
        .is_some()
    {
        return Ok(
            json!({"started": false, "user_id": user_id, "reason": "a timer is already running"}),
        );
    }
    let notes = Some(format!("GitHub issue {}", task_id));
    let entry = timer::start_in(change, &acting, Some(project_id), Some(task_id), notes).await?;
    Ok(json!({"started": true, "user_id": user_id, "time_entry_id": entry.id}))
}
