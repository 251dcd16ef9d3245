//! ClickUp's side of data sync bindings:
//!
//! - **tasks** of a list ↔ Timebridge tasks of a project, any direction (ClickUp's closed
//!   tasks included, so a status flows both ways); tasks pulled from ClickUp carry
//!   `external_ref = clickup_task_{id}`, and tasks made with `POST /tasks/{id}/clickup-task`
//!   are already paired;
//! - **time entries** of a team (ClickUp workspace) → Timebridge time entries, pull only: the
//!   time tracked on ClickUp tasks paired with Timebridge tasks, for the member with the
//!   ClickUp user's email. Besides runs, each `taskTimeTrackedUpdated` webhook applies at once
//!   (`webhook.rs`). Having such a binding is the opt-in to importing ClickUp's time;
//! - **clients** ← the team's spaces (the seed's customers), pull only; a client assigned a
//!   space is already paired with it.

use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{
    ClickUpConnector,
    api::{ClickUp, ClickUpError},
    client_for,
    entity::{client_space, task_link},
    spaces::text,
};
use crate::{
    connectors::bindings::{
        Bindable, BindingSource, Context, Direction, EntityKind, RemoteItem, SideField, ValueKind,
        fields_of, instant_value,
    },
    platform::consumers::BoxFuture,
    tracking::tasks::service as tasks,
};

const PRIORITIES: &[&str] = &["urgent", "high", "normal", "low"];

const TASK: &[SideField] = &[
    SideField::new("name", ValueKind::Text, "The task's name."),
    SideField::new(
        "description",
        ValueKind::Text,
        "Its description (plain text).",
    )
    .nullable(),
    SideField::new(
        "status",
        ValueKind::Choice(None),
        "Its status, by name (each list has its own, e.g. `to do`, `in progress`, `complete`).",
    ),
    SideField::new(
        "priority",
        ValueKind::Choice(Some(PRIORITIES)),
        "Its priority.",
    )
    .nullable(),
    SideField::new("due_date", ValueKind::Date, "Its due date (UTC).").nullable(),
    SideField::new("url", ValueKind::Text, "Its page in ClickUp.").read_only(),
];

const TIME_ENTRY: &[SideField] = &[
    SideField::new("description", ValueKind::Text, "What the time was for.")
        .nullable()
        .read_only(),
    SideField::new("start", ValueKind::DateTime, "When it started.").read_only(),
    SideField::new("end", ValueKind::DateTime, "When it ended.").read_only(),
    SideField::new("billable", ValueKind::Bool, "Whether it is billable.").read_only(),
];

const SPACE: &[SideField] =
    &[SideField::new("name", ValueKind::Text, "The space's name.").read_only()];

const BINDABLES: &[Bindable] = &[
    Bindable {
        entity: EntityKind::Task,
        collection: "a ClickUp list id",
        directions: &[Direction::Both, Direction::Pull, Direction::Push],
        fields: TASK,
        default_mapping: r#"{"name": "name", "description": "description",
            "status": {"field": "status", "map": {"todo": "to do", "in_progress": "in progress", "done": "complete"}},
            "priority": {"field": "priority", "map": {"urgent": "urgent", "high": "high", "medium": "normal", "low": "low"}},
            "due_date": "due_date"}"#,
    },
    Bindable {
        entity: EntityKind::TimeEntry,
        collection: "a ClickUp team (workspace) id",
        directions: &[Direction::Pull],
        fields: TIME_ENTRY,
        default_mapping: r#"{"notes": "description", "start_time": "start", "end_time": "end", "billable": "billable"}"#,
    },
    Bindable {
        entity: EntityKind::Client,
        collection: "a ClickUp team (workspace) id",
        directions: &[Direction::Pull],
        fields: SPACE,
        default_mapping: r#"{"name": "name"}"#,
    },
];

/// How far back a time-entry run reads (ClickUp's own default range).
const TIME_WINDOW_DAYS: i64 = 30;

fn shown(e: ClickUpError) -> String {
    e.to_string()
}

async fn api<'a>(cx: &'a Context<'a>) -> Result<ClickUp<'a>, String> {
    client_for(cx.app, cx.binding.workspace_id)
        .await
        .map_err(shown)
}

impl BindingSource for ClickUpConnector {
    fn bindables(&self) -> &'static [Bindable] {
        BINDABLES
    }

    fn check_collection<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let api = api(cx).await?;
            let wanted = cx.binding.collection.as_str();
            let teams = api.teams().await.map_err(shown)?;
            if cx.binding.entity != EntityKind::Task {
                return teams
                    .iter()
                    .any(|t| text(&t["id"]) == wanted)
                    .then_some(())
                    .ok_or_else(|| format!("the connected ClickUp has no team '{wanted}'"));
            }
            for team in &teams {
                for space in api.spaces(&text(&team["id"])).await.map_err(shown)? {
                    let space_id = text(&space["id"]);
                    let mut lists = api.folderless_lists(&space_id).await.map_err(shown)?;
                    for folder in api.folders(&space_id).await.map_err(shown)? {
                        lists.extend(
                            api.folder_lists(&text(&folder["id"]))
                                .await
                                .map_err(shown)?,
                        );
                    }
                    if lists.iter().any(|l| text(&l["id"]) == wanted) {
                        return Ok(());
                    }
                }
            }
            Err(format!("the connected ClickUp has no list '{wanted}'"))
        })
    }

    fn list<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<Vec<RemoteItem>, String>> {
        Box::pin(async move {
            let api = api(cx).await?;
            let collection = cx.binding.collection.as_str();
            match cx.binding.entity {
                EntityKind::Task => list_tasks(&api, collection).await,
                EntityKind::TimeEntry => time_entries(&api, collection, &[]).await,
                EntityKind::Client => Ok(api
                    .spaces(collection)
                    .await
                    .map_err(shown)?
                    .iter()
                    .map(|s| RemoteItem {
                        id: text(&s["id"]),
                        fields: fields_of(json!({"name": s["name"]})),
                        ..RemoteItem::default()
                    })
                    .collect()),
                EntityKind::Project => Ok(Vec::new()),
            }
        })
    }

    fn create<'a>(
        &'a self,
        cx: &'a Context<'a>,
        fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>> {
        Box::pin(async move {
            let api = api(cx).await?;
            let made = api
                .create_task(&cx.binding.collection, &Value::Object(to_clickup(&fields)))
                .await
                .map_err(shown)?;
            Ok(task_item(&made))
        })
    }

    fn update<'a>(
        &'a self,
        cx: &'a Context<'a>,
        id: &'a str,
        fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>> {
        Box::pin(async move {
            let api = api(cx).await?;
            let body = Value::Object(to_clickup(&fields));
            let updated = api
                .call(Method::PUT, &["task", id], &[], Some(&body))
                .await
                .map_err(shown)?;
            Ok(task_item(&updated))
        })
    }

    fn known_local<'a>(
        &'a self,
        cx: &'a Context<'a>,
        entity: EntityKind,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Option<Uuid>> {
        Box::pin(async move {
            let db = cx.app.db.conn();
            let workspace_id = cx.binding.workspace_id;
            match entity {
                EntityKind::Task => {
                    let made = task_link::Entity::find()
                        .filter(task_link::Column::WorkspaceId.eq(workspace_id))
                        .filter(task_link::Column::ClickupTaskId.eq(remote_id))
                        .one(db)
                        .await
                        .ok()
                        .flatten();
                    if let Some(made) = made {
                        return Some(made.task_id);
                    }
                    tasks::find_by_external_ref(db, workspace_id, &external_ref(remote_id))
                        .await
                        .ok()
                        .flatten()
                        .map(|t| t.id)
                }
                EntityKind::Client => client_space::Entity::find()
                    .filter(client_space::Column::WorkspaceId.eq(workspace_id))
                    .filter(client_space::Column::SpaceId.eq(remote_id))
                    .one(db)
                    .await
                    .ok()
                    .flatten()
                    .map(|a| a.client_id),
                _ => None,
            }
        })
    }

    fn known_remote<'a>(
        &'a self,
        cx: &'a Context<'a>,
        entity: EntityKind,
        local_id: Uuid,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if entity != EntityKind::Task {
                return None;
            }
            task_link::Entity::find_by_id(local_id)
                .one(cx.app.db.conn())
                .await
                .ok()
                .flatten()
                .and_then(|l| l.clickup_task_id)
        })
    }

    fn external_ref(&self, entity: EntityKind, remote_id: &str) -> Option<String> {
        (entity == EntityKind::Task).then(|| external_ref(remote_id))
    }
}

/// The `external_ref` of a task pulled from ClickUp.
pub fn external_ref(clickup_task_id: &str) -> String {
    format!("clickup_task_{clickup_task_id}")
}

fn instant(ms: &Value) -> Option<OffsetDateTime> {
    let ms: i128 = text(ms).parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()
}

/// A ClickUp task as a binding sees it.
pub fn task_item(task: &Value) -> RemoteItem {
    let due = instant(&task["due_date"]).map(|t| t.date().to_string());
    RemoteItem {
        id: text(&task["id"]),
        fields: fields_of(json!({
            "name": task["name"],
            "description": task["description"],
            "status": task["status"]["status"],
            "priority": task.pointer("/priority/priority").cloned().unwrap_or(Value::Null),
            "due_date": due,
            "url": task["url"],
        })),
        updated_at: instant(&task["date_updated"]),
        ..RemoteItem::default()
    }
}

/// Binding fields as ClickUp's Create/Update Task body.
fn to_clickup(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, value) in fields {
        let value = match name.as_str() {
            "priority" => match value.as_str() {
                Some(p) => PRIORITIES
                    .iter()
                    .position(|x| *x == p)
                    .map_or(Value::Null, |i| json!(i + 1)),
                None => Value::Null,
            },
            "due_date" => value
                .as_str()
                .and_then(|d| {
                    Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
                })
                .map_or(Value::Null, |d| {
                    json!(d.midnight().assume_utc().unix_timestamp() * 1000)
                }),
            "description" => json!(value.as_str().unwrap_or_default()),
            _ => value.clone(),
        };
        body.insert(name.clone(), value);
    }
    if body.contains_key("due_date") {
        body.insert("due_date_time".into(), json!(false));
    }
    body
}

/// Every task of a list, closed ones too, page by page.
async fn list_tasks(api: &ClickUp<'_>, list_id: &str) -> Result<Vec<RemoteItem>, String> {
    let mut items = Vec::new();
    for page in 0..100u32 {
        let answer = api
            .call(
                Method::GET,
                &["list", list_id, "task"],
                &[
                    ("page", page.to_string()),
                    ("archived", "false".into()),
                    ("include_closed", "true".into()),
                ],
                None,
            )
            .await
            .map_err(shown)?;
        let batch = answer["tasks"].as_array().cloned().unwrap_or_default();
        items.extend(batch.iter().map(task_item));
        if batch.is_empty() || answer["last_page"].as_bool().unwrap_or(true) {
            break;
        }
    }
    Ok(items)
}

/// The team's time entries of the last 30 days, everyone's (ClickUp answers only the token
/// owner's unless asked for each member), finished ones only. `filter` narrows the query
/// (`task_id`, a range).
pub async fn time_entries(
    api: &ClickUp<'_>,
    team_id: &str,
    filter: &[(&str, String)],
) -> Result<Vec<RemoteItem>, String> {
    let teams = api.teams().await.map_err(shown)?;
    let members: Vec<String> = teams
        .iter()
        .filter(|t| text(&t["id"]) == team_id)
        .flat_map(|t| t["members"].as_array().cloned().unwrap_or_default())
        .map(|m| text(&m["user"]["id"]))
        .filter(|id| !id.is_empty())
        .collect();
    let now = OffsetDateTime::now_utc();
    let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000).to_string();
    let mut query: Vec<(&str, String)> = vec![
        (
            "start_date",
            ms(now - time::Duration::days(TIME_WINDOW_DAYS)),
        ),
        ("end_date", ms(now)),
    ];
    if !members.is_empty() {
        query.push(("assignee", members.join(",")));
    }
    for (key, value) in filter {
        query.retain(|(k, _)| k != key);
        query.push((key, value.clone()));
    }
    let answer = api
        .call(
            Method::GET,
            &["team", team_id, "time_entries"],
            &query,
            None,
        )
        .await
        .map_err(shown)?;
    Ok(answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(entry_item)
        .collect())
}

/// A finished time entry as a binding sees it (a running timer has no end yet).
fn entry_item(entry: &Value) -> Option<RemoteItem> {
    let start = instant(&entry["start"])?;
    let end = instant(&entry["end"]).filter(|end| *end > start)?;
    Some(RemoteItem {
        id: text(&entry["id"]),
        fields: fields_of(json!({
            "description": entry["description"],
            "start": instant_value(start),
            "end": instant_value(end),
            "billable": entry["billable"].as_bool().unwrap_or(false),
        })),
        updated_at: instant(&entry["at"]),
        owner_email: entry["user"]["email"].as_str().map(str::to_owned),
        parent: Some(text(&entry["task"]["id"])).filter(|t| !t.is_empty()),
    })
}
