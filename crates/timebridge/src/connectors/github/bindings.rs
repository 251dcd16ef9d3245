//! GitHub's side of data sync bindings: a repository's open issues (its label filter
//! applies), pulled into the tasks of a project. GitHub's own sync is such a binding (made by
//! the first sync from the integration's `repo` and `project_id`), with a mapping that does
//! what the sync always did: the title, the issue's URL then its body, the priority its
//! labels name.

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use super::{
    GithubConnector, external_ref, sync::fetch_open_issues, valid_repo, webhook::IssueFields,
};
use crate::{
    connectors::{
        bindings::{
            Bindable, BindingSource, Context, Direction, EntityKind, RemoteItem, SideField,
            ValueKind,
        },
        store::Integration,
    },
    platform::consumers::BoxFuture,
    tracking::tasks::service as tasks,
};

const ISSUE: &[SideField] = &[
    SideField::new("title", ValueKind::Text, "The issue's title.").read_only(),
    SideField::new(
        "description",
        ValueKind::Text,
        "The issue's URL, then its body.",
    )
    .read_only(),
    SideField::new("body", ValueKind::Text, "The issue's body as written.")
        .read_only()
        .nullable(),
    SideField::new(
        "priority",
        ValueKind::Choice(Some(&["low", "medium", "high", "urgent"])),
        "The priority its labels name (urgent/critical/blocker/p0, high/p1, medium/p2, low/minor/p3), if any.",
    )
    .read_only()
    .nullable(),
    SideField::new("url", ValueKind::Text, "The issue's page.").read_only(),
];

const BINDABLES: &[Bindable] = &[Bindable {
    entity: EntityKind::Task,
    collection: "a repository, `owner/name`",
    directions: &[Direction::Pull],
    fields: ISSUE,
    default_mapping: r#"{"name": "title", "description": "description", "priority": "priority"}"#,
}];

impl BindingSource for GithubConnector {
    fn bindables(&self) -> &'static [Bindable] {
        BINDABLES
    }

    fn check_collection<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<(), String>> {
        let ok = valid_repo(&cx.binding.collection);
        Box::pin(async move {
            ok.then_some(())
                .ok_or_else(|| "must be a GitHub repository, owner/name".to_owned())
        })
    }

    fn list<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<Vec<RemoteItem>, String>> {
        Box::pin(async move {
            let issues = fetch_open_issues(cx.app, cx.integration, &cx.binding.collection).await?;
            Ok(issues.iter().filter_map(item).collect())
        })
    }

    fn create<'a>(
        &'a self,
        _cx: &'a Context<'a>,
        _fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>> {
        Box::pin(async { Err("GitHub bindings pull only".to_owned()) })
    }

    fn update<'a>(
        &'a self,
        _cx: &'a Context<'a>,
        _id: &'a str,
        _fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>> {
        Box::pin(async { Err("GitHub bindings pull only".to_owned()) })
    }

    fn known_local<'a>(
        &'a self,
        cx: &'a Context<'a>,
        entity: EntityKind,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Option<Uuid>> {
        Box::pin(async move {
            let number = remote_id.parse::<u64>().ok()?;
            if entity != EntityKind::Task {
                return None;
            }
            tasks::find_by_external_ref(
                cx.app.db.conn(),
                cx.binding.workspace_id,
                &external_ref(number),
            )
            .await
            .ok()
            .flatten()
            .map(|t| t.id)
        })
    }

    fn default_project(&self, integration: &Integration) -> Option<Uuid> {
        integration.uuid("project_id")
    }

    fn external_ref(&self, entity: EntityKind, remote_id: &str) -> Option<String> {
        let number = remote_id.parse::<u64>().ok()?;
        (entity == EntityKind::Task).then(|| external_ref(number))
    }
}

/// An issue as a binding sees it (its number is its id).
fn item(issue: &Value) -> Option<RemoteItem> {
    let number = issue["number"].as_u64()?;
    let fields = IssueFields::of(issue);
    let body = issue["body"].as_str().filter(|b| !b.trim().is_empty());
    let map = json!({
        "title": fields.title,
        "description": fields.description,
        "body": body,
        "priority": fields.priority,
        "url": issue["html_url"],
    });
    Some(RemoteItem {
        id: number.to_string(),
        fields: map.as_object().cloned().unwrap_or_default(),
        updated_at: issue["updated_at"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
        ..RemoteItem::default()
    })
}
