//! A stand-in for the ClickUp API v2 on 127.0.0.1, speaking the protocol as ClickUp documents it
//! (https://developer.clickup.com/reference and https://developer.clickup.com/docs). `base` plays
//! `https://api.clickup.com/api/v2`:
//!
//! - `POST /oauth/token` with `client_id`, `client_secret` and `code` as query parameters (as
//!   documented; a form or JSON body is accepted too): `{"access_token": …}`. ClickUp's access
//!   tokens do not expire and come without a refresh token. Codes are granted by the test and
//!   are single use.
//! - `GET /team` (the authorized Workspaces), `GET /team/{team_id}/space`,
//!   `GET /space/{space_id}/folder`, `GET /folder/{folder_id}/list`, `GET /space/{space_id}/list`
//!   (folderless lists), each honouring `archived`.
//! - `GET /list/{list_id}/task`: 100 tasks a page (`page` from 0) with `last_page`; honours
//!   `archived`, `include_closed`, `subtasks`, `statuses[]`, `date_updated_gt|lt`,
//!   `date_created_gt|lt`, `order_by` (`created`, `updated`, `id`) and `reverse`.
//! - `POST /list/{list_id}/task` (JSON): creates a task; `GET /task/{task_id}`.
//! - `PUT /task/{task_id}` (JSON): Update Task with `name`, `description` (`markdown_content`, or
//!   the older `markdown_description`, wins over it), `status` (a space status, any case),
//!   `priority` (1–4 or `null`), `due_date` and `start_date` (ms or `null`) and `archived`; the
//!   answer is the whole task, as `GET /task/{task_id}` then answers it. `date_updated` moves on;
//!   entering a closed status sets `date_closed` and `date_done`, leaving it clears them.
//! - `POST /team/{team_id}/webhook`: stores the webhook with its `events` as sent (any name,
//!   `taskStatusUpdated`, `taskTimeTrackedUpdated`, `*`…) and answers `{id, webhook}` with the
//!   `secret`.
//! - `GET /team/{team_id}/time_entries` (Get time entries within a date range): `start_date` and
//!   `end_date` in ms (`end_date` defaults to now, `start_date` to 30 days before `end_date`),
//!   `assignee` (user ids, comma-separated), at most one of `space_id`, `folder_id`, `list_id` and
//!   `task_id`, `include_task_tags` and `include_location_names`. `{"data": […]}`, earliest
//!   `start` first; `start`, `end`, `duration` and `at` are ms strings and `task_location`'s ids
//!   numbers, as ClickUp's reference shows them. Entries are made by the test (`add_time_entry`,
//!   `update_time_entry`), which can also build the `taskTimeTrackedUpdated` webhook body.
//!
//! Every request but the token exchange needs `Authorization: <token>` (raw, as ClickUp wants
//! it; `Bearer <token>` is accepted too). A missing header is `400 OAUTH_017`, an unknown or
//! revoked token `401 OAUTH_025`; errors are ClickUp's `{"err", "ECODE"}` bodies, answers carry
//! `X-RateLimit-Limit|Remaining|Reset`. Tests can rate-limit (429 `APP_002`), fail the next
//! requests, and lose a task creation's response after storing the task (502).
//!
//! Deliberate simplifications (ClickUp's real behaviour is richer or undocumented):
//! - ECODEs ClickUp does not document are representative, not verified: the token exchange's
//!   (`OAUTH_019` unknown client, `OAUTH_010` no code, `OAUTH_014` unknown or used code), the
//!   `ITEM_0xx` of unknown spaces, folders, lists and tasks (answered 404; ClickUp sometimes
//!   answers 401 for things the token cannot see), `INPUT_018` for a bad priority, `INPUT_003`
//!   for a bad page, `INPUT_004` for two location filters on time entries, Update Task's for an
//!   unknown status (creation's `400 Status not found CRTSK_001`) or a bad name (creation's
//!   `INPUT_005`), and `fail_next`'s (`SHD_001` for 5xx, `APP_001` for other 4xx). Verified ones:
//!   `OAUTH_017`, `OAUTH_025`, `OAUTH_027`, `APP_001` (route), `APP_002`, and `INPUT_005` and
//!   `CRTSK_001` on task creation.
//! - A lost task creation answers the gateway's HTML `502 Bad Gateway` page, not JSON.
//! - Every token sees every Workspace; the rate-limit window is the stand-in's, not per token,
//!   and it never limits on its own (`X-RateLimit-Remaining` stops at 1) — only
//!   `rate_limit_next` answers 429.
//! - Statuses live on the space (no list overrides): `to do` (open), `in progress` (custom),
//!   `complete` (closed). A folderless list's hidden folder gets the id `{space_id}0`.
//! - Tasks are listed oldest first (ClickUp does not document its base order); descriptions
//!   are stored as sent (Markdown is not rendered to rich text). Update Task ignores
//!   assignees, watchers, `parent`, `points`, `time_estimate` and custom fields.
//! - Time entries: without `assignee` everyone's are answered (ClickUp answers only the token
//!   owner's, and other users' need an owner or admin token). An entry is in the range when its
//!   `start` is (ClickUp does not say whether it matches starts or overlaps). No timer runs:
//!   ClickUp answers a running one with a negative `duration`; here durations are ≥ 0 and `end`
//!   is `start + duration`. Entries are not billable, carry no tags and no approval fields,
//!   `source` is `clickup`; `task_tags` come only with `include_task_tags`. Members other than
//!   the token's owner (183, `ada@example.com`) get ids 184, 185… in order of first appearance
//!   and a name made from their email (`grace.hopper@…` → `Grace Hopper`). Tracked time sets
//!   the task's `time_spent` (ms), not its `date_updated`.
//! - The `taskTimeTrackedUpdated` body follows the one example found (Apache Camel's ClickUp
//!   component's test data; ClickUp's payload page shows none we could read): one history item,
//!   `field` `time_spent`, `data` `{total_time, rollup_time}` and `after`
//!   `{id, start, end, time, source, date_added}` all ms strings, top-level `data`
//!   `{description: "Time Tracking Created", interval_id}`. Not verified: an edit's description
//!   `Time Tracking Edited` (Camel's constant; it also knows `Time Tracking Deleted`, not made
//!   here), its `before` having `after`'s shape (as clickup-go models it), `interval_id` being
//!   the entry id (Camel's example has two digits swapped, likely by anonymising),
//!   `rollup_time` equal to `total_time` (no subtasks rolled up) and `parent_id` being the
//!   task's list.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::oneshot;

pub const CLIENT_ID: &str = "QK3L9YV2T8WZJH0RX5CM1NB7DF4GPSA6";
pub const CLIENT_SECRET: &str = "C9R2XW7KQJ4M8T1VZ6HN3B0YPLF5DSGA2E7UQ9WK4R8T1XMZ6VNJ3HB0CLYPSFDG";

/// The requests-per-minute a token gets on ClickUp's Free Forever, Unlimited and Business plans.
const RATE_LIMIT: u64 = 100;
/// Tasks per page of `GET /list/{list_id}/task`, whatever is asked for.
const PAGE_SIZE: usize = 100;
/// The range `GET /team/{team_id}/time_entries` answers without `start_date`: 30 days.
const DEFAULT_RANGE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct ClickUpRequest {
    pub method: String,
    /// The path as sent, relative to `base`, e.g. `/list/901/task`.
    pub path: String,
    /// The query pairs, decoded, in order (repeated keys repeat).
    pub query: Vec<(String, String)>,
    /// The `Authorization` header as sent, `""` without one.
    pub authorization: String,
    /// The JSON body, `Null` without one (a form body becomes an object of strings; anything
    /// else is kept as a string).
    pub body: Value,
}

struct List {
    space_id: String,
    folder_id: Option<String>,
    id: String,
    name: String,
    orderindex: usize,
}

struct TimeEntry {
    id: String,
    task_id: String,
    user_id: u64,
    email: String,
    start: u64,
    duration: u64,
    description: String,
    /// When the entry was added and when it last changed (ms).
    added: u64,
    at: u64,
    /// `(start, duration)` before the last `update_time_entry`.
    before: Option<(u64, u64)>,
}

#[derive(Default)]
struct Inner {
    codes: HashSet<String>,
    tokens: HashSet<String>,
    issued: u64,
    /// `(id, name)`.
    teams: Vec<(String, String)>,
    /// `(team_id, id, name)`.
    spaces: Vec<(String, String, String)>,
    /// `(space_id, id, name)`.
    folders: Vec<(String, String, String)>,
    lists: Vec<List>,
    /// `(list_id, task)`.
    tasks: Vec<(String, Value)>,
    requests: Vec<ClickUpRequest>,
    /// Webhooks created through the API, as ClickUp answered them (`webhook` objects).
    webhooks: Vec<Value>,
    time_entries: Vec<TimeEntry>,
    /// Emails of the members other than the token's owner, in order of first appearance.
    members: Vec<String>,
    created: usize,
    rate_limited: usize,
    rate_reset_in: u64,
    failing: usize,
    fail_status: u16,
    lose_next_create: bool,
    /// Start of the current rate-limit window (Unix seconds) and the requests counted in it.
    window: (u64, u64),
    last_stamp: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// The ClickUp API stand-in; stops when dropped.
pub struct ClickUp {
    pub base: String,
    inner: Shared,
    _stop: oneshot::Sender<()>,
}

impl ClickUp {
    pub async fn start() -> Self {
        let inner = Shared::default();
        let router = Router::new()
            .route("/oauth/token", post(token))
            .route("/team", get(teams))
            .route("/team/{team_id}/space", get(spaces))
            .route("/team/{team_id}/webhook", post(create_webhook))
            .route("/team/{team_id}/time_entries", get(team_time_entries))
            .route("/space/{space_id}/folder", get(folders))
            .route("/space/{space_id}/list", get(folderless_lists))
            .route("/folder/{folder_id}/list", get(folder_lists))
            .route("/list/{list_id}/task", get(list_tasks).post(create_task))
            .route("/task/{task_id}", get(get_task).put(put_task))
            .fallback(fallback)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            inner,
            _stop: tx,
        }
    }

    /// The settings that point a server at this stand-in with its OAuth app.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLICKUP_API_URL", self.base.clone()),
            ("CLICKUP_CLIENT_ID", CLIENT_ID.to_owned()),
            ("CLICKUP_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }

    /// What ClickUp's consent page does: the next token exchange with `code` succeeds, once.
    pub fn grant_code(&self, code: &str) {
        self.inner.lock().unwrap().codes.insert(code.to_owned());
    }

    /// A token valid as if exchanged (e.g. a pasted personal `pk_…` token).
    pub fn issue_token(&self, token: &str) {
        self.inner.lock().unwrap().tokens.insert(token.to_owned());
    }

    /// The member removed the app (or regenerated their token): every token answers 401.
    pub fn revoke_tokens(&self) {
        self.inner.lock().unwrap().tokens.clear();
    }

    pub fn add_team(&self, id: &str, name: &str) {
        let mut state = self.inner.lock().unwrap();
        assert!(
            !state.teams.iter().any(|(t, _)| t == id),
            "team {id} exists"
        );
        state.teams.push((id.to_owned(), name.to_owned()));
    }

    pub fn add_space(&self, team_id: &str, id: &str, name: &str) {
        let mut state = self.inner.lock().unwrap();
        assert!(
            state.teams.iter().any(|(t, _)| t == team_id),
            "no team {team_id}"
        );
        assert!(state.space(id).is_none(), "space {id} exists");
        state
            .spaces
            .push((team_id.to_owned(), id.to_owned(), name.to_owned()));
    }

    pub fn add_folder(&self, space_id: &str, id: &str, name: &str) {
        let mut state = self.inner.lock().unwrap();
        assert!(state.space(space_id).is_some(), "no space {space_id}");
        assert!(state.folder(id).is_none(), "folder {id} exists");
        state
            .folders
            .push((space_id.to_owned(), id.to_owned(), name.to_owned()));
    }

    /// A list in a folder of the space, or folderless with `None`.
    pub fn add_list(&self, space_id: &str, folder_id: Option<&str>, id: &str, name: &str) {
        let mut state = self.inner.lock().unwrap();
        assert!(state.space(space_id).is_some(), "no space {space_id}");
        if let Some(folder) = folder_id {
            let (space, _, _) = state.folder(folder).expect("no such folder");
            assert_eq!(space, space_id, "folder {folder} is in another space");
        }
        assert!(state.list(id).is_none(), "list {id} exists");
        let orderindex = state
            .lists
            .iter()
            .filter(|l| l.space_id == space_id && l.folder_id.as_deref() == folder_id)
            .count();
        state.lists.push(List {
            space_id: space_id.to_owned(),
            folder_id: folder_id.map(str::to_owned),
            id: id.to_owned(),
            name: name.to_owned(),
            orderindex,
        });
    }

    /// Adds a task as if created in ClickUp's UI. `task` takes Create Task's fields (`name`,
    /// `description`, `status` as a name, `priority` 1–4, `tags` as names, `due_date` in ms…)
    /// and any Task field to set as is (`id`, `custom_id`, `date_updated`, `parent`,
    /// `archived`, `status` as an object…); the rest is filled in. Returns the id.
    pub fn add_task(&self, list_id: &str, task: Value) -> String {
        let mut state = self.inner.lock().unwrap();
        assert!(state.list(list_id).is_some(), "no list {list_id}");
        let mut built = state
            .build_task(list_id, &task)
            .unwrap_or_else(|(_, err, _)| panic!("task refused: {err}"));
        let fields = built.as_object_mut().unwrap();
        for (key, value) in task.as_object().expect("a task is a JSON object") {
            let transformed = matches!(
                key.as_str(),
                "description"
                    | "markdown_content"
                    | "markdown_description"
                    | "assignees"
                    | "notify_all"
                    | "links_to"
                    | "check_required_custom_fields"
            ) || (key == "status" && value.is_string())
                || (key == "priority" && value.is_number())
                || (key == "tags" && value[0].is_string())
                || (["due_date", "start_date"].contains(&key.as_str()) && value.is_number());
            if !transformed {
                fields.insert(key.clone(), value.clone());
            }
        }
        if let Some(id) = task["id"].as_str() {
            assert!(state.task(id).is_none(), "task {id} exists");
            built["url"] = json!(format!("https://app.clickup.com/t/{id}"));
        }
        let id = built["id"].as_str().expect("a task id").to_owned();
        state.tasks.push((list_id.to_owned(), built));
        id
    }

    /// Every task of the list (archived and closed ones too), oldest first.
    pub fn tasks(&self, list_id: &str) -> Vec<Value> {
        let state = self.inner.lock().unwrap();
        state
            .tasks
            .iter()
            .filter(|(l, _)| l == list_id)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Time tracked on the task as if in ClickUp's UI, by the member with this email (the
    /// token's owner for `ada@example.com`); never a running timer. Returns the entry's id.
    pub fn add_time_entry(
        &self,
        task_id: &str,
        start_ms: u64,
        duration_ms: u64,
        user_email: &str,
        description: &str,
    ) -> String {
        let mut state = self.inner.lock().unwrap();
        assert!(state.task(task_id).is_some(), "no task {task_id}");
        let user_id = state.member_id(user_email);
        let mut id = new_entry_id();
        while state.time_entries.iter().any(|e| e.id == id) {
            id = new_entry_id();
        }
        let at = state.stamp();
        state.time_entries.push(TimeEntry {
            id: id.clone(),
            task_id: task_id.to_owned(),
            user_id,
            email: user_email.to_owned(),
            start: start_ms,
            duration: duration_ms,
            description: description.to_owned(),
            added: at,
            at,
            before: None,
        });
        state.track(task_id);
        id
    }

    /// The member moves the entry's interval in ClickUp's UI; the interval it had becomes the
    /// `before` of `task_time_tracked_updated_payload`.
    pub fn update_time_entry(&self, entry_id: &str, start_ms: u64, duration_ms: u64) {
        let mut state = self.inner.lock().unwrap();
        let at = state.stamp();
        let entry = state
            .time_entries
            .iter_mut()
            .find(|e| e.id == entry_id)
            .expect("no such time entry");
        entry.before = Some((entry.start, entry.duration));
        (entry.start, entry.duration, entry.at) = (start_ms, duration_ms, at);
        let task_id = entry.task_id.clone();
        state.track(&task_id);
    }

    /// Every time entry, in the order added, as `GET /team/{team_id}/time_entries` answers it.
    pub fn time_entries(&self) -> Vec<Value> {
        let state = self.inner.lock().unwrap();
        state
            .time_entries
            .iter()
            .map(|e| state.entry_json(e, false, false))
            .collect()
    }

    /// The `taskTimeTrackedUpdated` webhook body ClickUp sends for the entry's latest change:
    /// `Time Tracking Created` after `add_time_entry`, `Time Tracking Edited` with the former
    /// interval as `before` after `update_time_entry` (see the module notes for what is not
    /// verified).
    pub fn task_time_tracked_updated_payload(&self, webhook_id: &str, entry_id: &str) -> Value {
        let state = self.inner.lock().unwrap();
        let entry = state
            .time_entries
            .iter()
            .find(|e| e.id == entry_id)
            .expect("no such time entry");
        let (list_id, _) = &state.tasks[state.task(&entry.task_id).expect("a task")];
        let total = state.tracked(&entry.task_id).to_string();
        let interval = |start: u64, duration: u64| {
            json!({
                "id": entry.id,
                "start": start.to_string(),
                "end": (start + duration).to_string(),
                "time": duration.to_string(),
                "source": "clickup",
                "date_added": entry.added.to_string(),
            })
        };
        let (description, before) = match entry.before {
            None => ("Time Tracking Created", Value::Null),
            Some((start, duration)) => ("Time Tracking Edited", interval(start, duration)),
        };
        json!({
            "event": "taskTimeTrackedUpdated",
            "history_items": [{
                "id": history_item_id(),
                "type": 1,
                "date": entry.at.to_string(),
                "field": "time_spent",
                "parent_id": list_id,
                "data": {"total_time": total, "rollup_time": total},
                "source": null,
                "user": member_json(entry.user_id, &entry.email),
                "before": before,
                "after": interval(entry.start, entry.duration),
            }],
            "task_id": entry.task_id,
            "data": {"description": description, "interval_id": entry.id},
            "webhook_id": webhook_id,
        })
    }

    /// Webhooks created through the API (each with its `secret` and `endpoint`).
    pub fn webhooks(&self) -> Vec<Value> {
        self.inner.lock().unwrap().webhooks.clone()
    }

    /// Successful `POST /list/{list_id}/task`s (a lost response counts).
    pub fn created(&self) -> usize {
        self.inner.lock().unwrap().created
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<ClickUpRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Requests with this method whose path starts with `path_prefix`.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.starts_with(path_prefix))
            .count()
    }

    /// The next `n` requests (any endpoint) answer `429 APP_002` with
    /// `X-RateLimit-Reset` `reset_in_secs` from now, without doing anything.
    pub fn rate_limit_next(&self, n: usize, reset_in_secs: u64) {
        let mut state = self.inner.lock().unwrap();
        state.rate_limited = n;
        state.rate_reset_in = reset_in_secs;
    }

    /// The next `n` requests (any endpoint) answer `status` with a ClickUp error body, without
    /// doing anything.
    pub fn fail_next(&self, n: usize, status: u16) {
        assert!(
            StatusCode::from_u16(status).is_ok_and(|s| s.is_client_error() || s.is_server_error())
        );
        let mut state = self.inner.lock().unwrap();
        state.failing = n;
        state.fail_status = status;
    }

    /// The next task creation is stored, but answered `502 Bad Gateway` (the gateway's page).
    pub fn lose_next_create_response(&self) {
        self.inner.lock().unwrap().lose_next_create = true;
    }
}

/// ClickUp's `X-Signature` for a webhook body: lowercase hex HMAC-SHA256 under the webhook's
/// secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `taskStatusUpdated` webhook body as ClickUp sends it
/// (https://developer.clickup.com/docs/webhooktaskpayloads), for a status change made by the
/// member in the UI. Statuses are read as the stand-in's defaults (`to do`, `in progress`,
/// `complete`; `closed`/`done` are closed/done, any other name is custom).
pub fn task_status_updated_payload(
    webhook_id: &str,
    task_id: &str,
    before: &str,
    after: &str,
) -> Value {
    let after_status = status_object(after);
    json!({
        "event": "taskStatusUpdated",
        "history_items": [{
            "id": history_item_id(),
            "type": 1,
            "date": now_ms().to_string(),
            "field": "status",
            "parent_id": "162641062",
            "data": {"status_type": after_status["type"]},
            "source": null,
            "user": member_json(USER_ID, EMAIL),
            "before": status_object(before),
            "after": after_status,
        }],
        "task_id": task_id,
        "webhook_id": webhook_id,
    })
}

// ---------------------------------------------------------------------------------------------
// Shapes

const USER_ID: u64 = 183;
const USERNAME: &str = "Ada Lovelace";
const EMAIL: &str = "ada@example.com";

fn user() -> Value {
    json!({
        "id": USER_ID,
        "username": USERNAME,
        "email": EMAIL,
        "color": "#7b68ee",
        "profilePicture": null,
    })
}

/// A user as time entries and webhooks show one; a member's name comes from their email
/// (`grace.hopper@…` → `Grace Hopper`).
fn member_json(id: u64, email: &str) -> Value {
    let username = if email == EMAIL {
        USERNAME.to_owned()
    } else {
        let local = email.split('@').next().unwrap_or_default();
        let words: Vec<String> = local
            .split(['.', '_', '-', '+'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            })
            .collect();
        words.join(" ")
    };
    let initials: String = username
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    json!({
        "id": id,
        "username": username,
        "email": email,
        "color": "#7b68ee",
        "initials": initials.to_uppercase(),
        "profilePicture": null,
    })
}

/// The space's statuses: `(name, type, color)` in order.
const STATUSES: &[(&str, &str, &str)] = &[
    ("to do", "open", "#d3d3d3"),
    ("in progress", "custom", "#4194f6"),
    ("complete", "closed", "#6bc950"),
];

fn status_object(name: &str) -> Value {
    let name = name.to_lowercase();
    if let Some(i) = STATUSES.iter().position(|(n, _, _)| *n == name) {
        let (n, kind, color) = STATUSES[i];
        return json!({"status": n, "color": color, "type": kind, "orderindex": i});
    }
    match name.as_str() {
        "closed" => json!({"status": name, "color": "#6bc950", "type": "closed", "orderindex": 3}),
        "done" => json!({"status": name, "color": "#008844", "type": "done", "orderindex": 2}),
        _ => json!({"status": name, "color": "#7c4dff", "type": "custom", "orderindex": 1}),
    }
}

/// The space status `name` names, in any case.
fn space_status(name: &str) -> Option<Value> {
    let name = name.to_lowercase();
    STATUSES
        .iter()
        .any(|(n, _, _)| *n == name)
        .then(|| status_object(&name))
}

fn is_closed(status: &Value) -> bool {
    matches!(status["type"].as_str(), Some("closed" | "done"))
}

fn priority_object(priority: u64) -> Value {
    let (name, color) = match priority {
        1 => ("urgent", "#f50000"),
        2 => ("high", "#ffcc00"),
        3 => ("normal", "#6fddff"),
        _ => ("low", "#d8d8d8"),
    };
    json!({"id": priority.to_string(), "priority": name, "color": color, "orderindex": priority.to_string()})
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn now_secs() -> u64 {
    now_ms() / 1000
}

/// A history item id as ClickUp's webhooks carry them.
fn history_item_id() -> String {
    format!("28007873263923{:05}", rand::random::<u16>())
}

/// A time entry id as ClickUp makes them: 19 digits.
fn new_entry_id() -> String {
    format!(
        "4{:018}",
        rand::random_range(0..1_000_000_000_000_000_000u64)
    )
}

/// An id as a JSON number when it is one (`task_location`'s are).
fn numeric(id: &str) -> Value {
    id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// An id from JSON, a string or a number, as text.
fn id_text(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_owned)
}

/// A task id as ClickUp makes them now: `86` and seven base-36 characters.
fn new_task_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let tail: String = (0..7)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("86{tail}")
}

type Failure = (StatusCode, &'static str, &'static str);

fn task_name(name: &Value) -> Result<String, Failure> {
    match name {
        Value::String(name) if !name.trim().is_empty() && name.chars().count() <= 2048 => {
            Ok(name.clone())
        }
        _ => Err((StatusCode::BAD_REQUEST, "Task name invalid", "INPUT_005")),
    }
}

/// The description a Create or Update Task body sets: Markdown wins over `description`.
fn description_of(fields: &Map<String, Value>) -> Option<&str> {
    ["markdown_content", "markdown_description", "description"]
        .iter()
        .find_map(|key| fields.get(*key).and_then(Value::as_str))
}

/// A priority (1–4 or `null`) as the task stores it.
fn priority_field(priority: Option<&Value>) -> Result<Value, Failure> {
    match priority {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(p) => match p.as_u64() {
            Some(p @ 1..=4) => Ok(priority_object(p)),
            _ => Err((StatusCode::BAD_REQUEST, "Priority invalid", "INPUT_018")),
        },
    }
}

/// A `*_date` field (ms, as a number or a string, or `null`) as the task stores it.
fn ms_field(ms: Option<&Value>) -> Value {
    match ms {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::String(s)) => json!(s),
        _ => Value::Null,
    }
}

impl Inner {
    fn space(&self, id: &str) -> Option<&(String, String, String)> {
        self.spaces.iter().find(|(_, s, _)| s == id)
    }

    fn folder(&self, id: &str) -> Option<&(String, String, String)> {
        self.folders.iter().find(|(_, f, _)| f == id)
    }

    fn list(&self, id: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.id == id)
    }

    fn task(&self, id: &str) -> Option<usize> {
        self.tasks.iter().position(|(_, t)| t["id"] == id)
    }

    /// A `date_*` stamp in ms, strictly later than the previous one.
    fn stamp(&mut self) -> u64 {
        let stamp = now_ms().max(self.last_stamp + 1);
        self.last_stamp = stamp;
        stamp
    }

    fn team_json(&self, id: &str, name: &str) -> Value {
        json!({
            "id": id,
            "name": name,
            "color": "#7B68EE",
            "avatar": null,
            "members": [{"user": {
                "id": USER_ID,
                "username": USERNAME,
                "email": EMAIL,
                "color": "#7b68ee",
                "profilePicture": null,
                "initials": "AL",
                "role": 1,
                "custom_role": null,
                "last_active": "1764579600000",
                "date_joined": "1701388800000",
                "date_invited": "1701388800000",
            }}],
        })
    }

    fn space_json(&self, id: &str, name: &str) -> Value {
        let statuses: Vec<Value> = STATUSES
            .iter()
            .enumerate()
            .map(|(i, (status, kind, color))| {
                json!({"id": format!("p{id}_{i}"), "status": status, "type": kind, "orderindex": i, "color": color})
            })
            .collect();
        json!({
            "id": id,
            "name": name,
            "color": null,
            "private": false,
            "avatar": null,
            "admin_can_manage": false,
            "statuses": statuses,
            "multiple_assignees": true,
            "features": {
                "due_dates": {"enabled": true, "start_date": true, "remap_due_dates": false, "remap_closed_due_date": false},
                "sprints": {"enabled": false},
                "time_tracking": {"enabled": true, "harvest": false, "rollup": false},
                "points": {"enabled": false},
                "custom_items": {"enabled": false},
                "priorities": {"enabled": true, "priorities": [
                    priority_object(1), priority_object(2), priority_object(3), priority_object(4),
                ]},
                "tags": {"enabled": true},
                "check_unresolved": {"enabled": true, "subtasks": null, "checklists": null, "comments": null},
                "time_estimates": {"enabled": true, "rollup": false, "per_assignee": false},
                "milestones": {"enabled": false},
                "custom_fields": {"enabled": true},
                "remap_dependencies": {"enabled": true},
                "dependency_warning": {"enabled": true},
                "status_pies": {"enabled": false},
                "multiple_assignees": {"enabled": true},
                "emails": {"enabled": true},
            },
            "archived": false,
        })
    }

    fn task_count(&self, list_id: &str) -> usize {
        self.tasks.iter().filter(|(l, _)| l == list_id).count()
    }

    /// The `folder` of a list: its folder, or the space's hidden one.
    fn list_folder(&self, list: &List) -> Value {
        match &list.folder_id {
            Some(folder) => {
                let (_, id, name) = self.folder(folder).unwrap();
                json!({"id": id, "name": name, "hidden": false, "access": true})
            }
            None => {
                json!({"id": format!("{}0", list.space_id), "name": "hidden", "hidden": true, "access": true})
            }
        }
    }

    fn list_json(&self, list: &List) -> Value {
        let (_, space_id, space_name) = self.space(&list.space_id).unwrap();
        json!({
            "id": list.id,
            "name": list.name,
            "orderindex": list.orderindex,
            "content": "",
            "status": null,
            "priority": null,
            "assignee": null,
            "task_count": self.task_count(&list.id),
            "due_date": null,
            "start_date": null,
            "folder": self.list_folder(list),
            "space": {"id": space_id, "name": space_name, "access": true},
            "archived": false,
            "override_statuses": false,
            "permission_level": "create",
        })
    }

    fn folder_json(&self, index: usize) -> Value {
        let (space_id, id, name) = &self.folders[index];
        let (_, _, space_name) = self.space(space_id).unwrap();
        let lists: Vec<&List> = self
            .lists
            .iter()
            .filter(|l| l.folder_id.as_deref() == Some(id.as_str()))
            .collect();
        let count: usize = lists.iter().map(|l| self.task_count(&l.id)).sum();
        let orderindex = self.folders[..index]
            .iter()
            .filter(|(s, _, _)| s == space_id)
            .count();
        json!({
            "id": id,
            "name": name,
            "orderindex": orderindex,
            "override_statuses": false,
            "hidden": false,
            "space": {"id": space_id, "name": space_name},
            "task_count": count.to_string(),
            "archived": false,
            "statuses": [],
            "lists": lists.iter().map(|l| self.list_json(l)).collect::<Vec<_>>(),
            "permission_level": "create",
        })
    }

    /// A task from Create Task's fields, or the error ClickUp answers.
    fn build_task(&mut self, list_id: &str, input: &Value) -> Result<Value, Failure> {
        let Some(fields) = input.as_object() else {
            return Err((StatusCode::BAD_REQUEST, "Task name invalid", "INPUT_005"));
        };
        let name = task_name(fields.get("name").unwrap_or(&Value::Null))?;
        let status = match fields.get("status") {
            None | Some(Value::Null) => status_object(STATUSES[0].0),
            Some(other @ Value::Object(_)) => other.clone(),
            Some(s) => s.as_str().and_then(space_status).ok_or((
                StatusCode::BAD_REQUEST,
                "Status not found",
                "CRTSK_001",
            ))?,
        };
        let priority = priority_field(fields.get("priority"))?;
        let tags: Vec<Value> = fields
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(|t| json!({"name": t.to_lowercase(), "tag_fg": "#800000", "tag_bg": "#800000", "creator": USER_ID}))
                    .collect()
            })
            .unwrap_or_default();
        let assignees: Vec<Value> = fields
            .get("assignees")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_u64)
                    .map(|id| {
                        let mut u = user();
                        u["id"] = json!(id);
                        u["initials"] = json!("AL");
                        u
                    })
                    .collect()
            })
            .unwrap_or_default();
        let description = description_of(fields).unwrap_or_default().to_owned();
        let list = self.list(list_id).expect("a list");
        let list_ref = json!({"id": list.id, "name": list.name, "access": true});
        let folder = self.list_folder(list);
        let space = json!({"id": list.space_id});
        let stamp = self.stamp().to_string();
        let closed = is_closed(&status);
        let mut id = new_task_id();
        while self.task(&id).is_some() {
            id = new_task_id();
        }
        let order = self.tasks.len() + 1;
        Ok(json!({
            "id": id,
            "custom_id": null,
            "custom_item_id": 0,
            "name": name,
            "text_content": description,
            "description": description,
            "status": status,
            "orderindex": format!("{order}.00000000000000000000000000000000"),
            "date_created": stamp,
            "date_updated": stamp,
            "date_closed": if closed { json!(stamp) } else { Value::Null },
            "date_done": if closed { json!(stamp) } else { Value::Null },
            "archived": false,
            "creator": user(),
            "assignees": assignees,
            "group_assignees": [],
            "watchers": [user()],
            "checklists": [],
            "tags": tags,
            "parent": fields.get("parent").cloned().unwrap_or(Value::Null),
            "top_level_parent": fields.get("parent").cloned().unwrap_or(Value::Null),
            "priority": priority,
            "due_date": ms_field(fields.get("due_date")),
            "start_date": ms_field(fields.get("start_date")),
            "points": fields.get("points").cloned().unwrap_or(Value::Null),
            "time_estimate": fields.get("time_estimate").cloned().unwrap_or(Value::Null),
            "time_spent": 0,
            "custom_fields": [],
            "dependencies": [],
            "linked_tasks": [],
            "locations": [],
            "team_id": self.spaces.iter().find(|(_, s, _)| *s == space["id"]).map(|(t, _, _)| t.clone()),
            "url": format!("https://app.clickup.com/t/{id}"),
            "sharing": {"public": false, "public_share_expires_on": null, "public_fields": [], "token": null, "seo_optimized": false},
            "permission_level": "create",
            "list": list_ref,
            "project": folder,
            "folder": folder,
            "space": space,
            "attachments": [],
        }))
    }

    /// Applies Update Task's fields to the task at `index` and answers the task, or ClickUp's
    /// error with nothing changed.
    fn update_task(&mut self, index: usize, input: &Value) -> Result<Value, Failure> {
        let no_fields = Map::new();
        let fields = input.as_object().unwrap_or(&no_fields);
        let before = &self.tasks[index].1;
        let mut task = before.clone();
        if let Some(name) = fields.get("name") {
            task["name"] = json!(task_name(name)?);
        }
        if let Some(description) = description_of(fields) {
            task["description"] = json!(description);
            task["text_content"] = json!(description);
        }
        if let Some(status) = fields.get("status") {
            task["status"] = status.as_str().and_then(space_status).ok_or((
                StatusCode::BAD_REQUEST,
                "Status not found",
                "CRTSK_001",
            ))?;
        }
        if fields.contains_key("priority") {
            task["priority"] = priority_field(fields.get("priority"))?;
        }
        for key in ["due_date", "start_date"] {
            if fields.contains_key(key) {
                task[key] = ms_field(fields.get(key));
            }
        }
        if let Some(archived) = fields.get("archived").and_then(Value::as_bool) {
            task["archived"] = json!(archived);
        }
        let was_closed = is_closed(&before["status"]);
        let stamp = json!(self.stamp().to_string());
        if was_closed != is_closed(&task["status"]) {
            let closed = if was_closed {
                Value::Null
            } else {
                stamp.clone()
            };
            task["date_closed"] = closed.clone();
            task["date_done"] = closed;
        }
        task["date_updated"] = stamp;
        self.tasks[index].1 = task.clone();
        Ok(task)
    }

    /// The user id of the member with this email: the token's owner's for `EMAIL`, the next
    /// one for a new email.
    fn member_id(&mut self, email: &str) -> u64 {
        if email == EMAIL {
            return USER_ID;
        }
        let index = self
            .members
            .iter()
            .position(|m| m == email)
            .unwrap_or_else(|| {
                self.members.push(email.to_owned());
                self.members.len() - 1
            });
        USER_ID + 1 + index as u64
    }

    /// The ms tracked on the task.
    fn tracked(&self, task_id: &str) -> u64 {
        self.time_entries
            .iter()
            .filter(|e| e.task_id == task_id)
            .map(|e| e.duration)
            .sum()
    }

    /// Brings the task's `time_spent` up to date.
    fn track(&mut self, task_id: &str) {
        let tracked = self.tracked(task_id);
        let index = self.task(task_id).expect("a task");
        self.tasks[index].1["time_spent"] = json!(tracked);
    }

    /// A time entry as Get time entries answers it.
    fn entry_json(&self, entry: &TimeEntry, task_tags: bool, location_names: bool) -> Value {
        let (list_id, task) = &self.tasks[self.task(&entry.task_id).expect("a task")];
        let list = self.list(list_id).expect("a list");
        let (team_id, _, space_name) = self.space(&list.space_id).expect("a space");
        let folder = self.list_folder(list);
        let mut location = json!({
            "list_id": numeric(&list.id),
            "folder_id": numeric(&id_text(&folder["id"])),
            "space_id": numeric(&list.space_id),
        });
        if location_names {
            location["list_name"] = json!(list.name);
            location["folder_name"] = folder["name"].clone();
            location["space_name"] = json!(space_name);
        }
        let mut task_ref = json!({
            "id": task["id"], "name": task["name"], "status": task["status"], "custom_type": null,
        });
        if !task["custom_id"].is_null() {
            task_ref["custom_id"] = task["custom_id"].clone();
        }
        let mut json = json!({
            "id": entry.id,
            "task": task_ref,
            "wid": team_id,
            "user": member_json(entry.user_id, &entry.email),
            "billable": false,
            "start": entry.start.to_string(),
            "end": (entry.start + entry.duration).to_string(),
            "duration": entry.duration.to_string(),
            "description": entry.description,
            "tags": [],
            "source": "clickup",
            "at": entry.at.to_string(),
            "task_location": location,
            "task_url": task["url"],
        });
        if task_tags {
            json["task_tags"] = task["tags"].clone();
        }
        json
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

fn clickup_error(status: StatusCode, err: &str, ecode: &str) -> Response {
    (status, axum::Json(json!({"err": err, "ECODE": ecode}))).into_response()
}

fn failure((status, err, ecode): Failure) -> Response {
    clickup_error(status, err, ecode)
}

fn not_found(kind: &str, ecode: &str) -> Response {
    clickup_error(StatusCode::NOT_FOUND, &format!("{kind} not found"), ecode)
}

fn team_not_authorized() -> Response {
    clickup_error(StatusCode::UNAUTHORIZED, "Team not authorized", "OAUTH_027")
}

/// Adds the rate-limit headers ClickUp sends on every answer.
fn with_rate_headers(mut response: Response, remaining: u64, reset: u64) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    response
}

/// Records the request, then answers a pending rate limit or failure and (unless `public`) a
/// missing or unknown token. `Ok` carries the parsed query and body.
#[allow(clippy::result_large_err)]
fn admit(
    inner: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    raw_query: Option<String>,
    body: &Bytes,
    public: bool,
) -> Result<(Vec<(String, String)>, Value), Response> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let parsed = if body.is_empty() {
        Value::Null
    } else if is_form {
        Value::Object(
            form_urlencoded::parse(body)
                .into_owned()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    let mut state = inner.lock().unwrap();
    state.requests.push(ClickUpRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        authorization: authorization.clone(),
        body: parsed.clone(),
    });
    let now = now_secs();
    if now >= state.window.0 + 60 {
        state.window = (now, 0);
    }
    state.window.1 += 1;
    let reset = state.window.0 + 60;
    let remaining = RATE_LIMIT.saturating_sub(state.window.1).max(1);
    if state.rate_limited > 0 {
        state.rate_limited -= 1;
        let reset = now + state.rate_reset_in;
        return Err(with_rate_headers(
            clickup_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached",
                "APP_002",
            ),
            0,
            reset,
        ));
    }
    if state.failing > 0 {
        state.failing -= 1;
        let status = StatusCode::from_u16(state.fail_status).unwrap();
        let err = status.canonical_reason().unwrap_or("Error");
        let ecode = match status.as_u16() {
            429 => "APP_002",
            s if s >= 500 => "SHD_001",
            _ => "APP_001",
        };
        return Err(with_rate_headers(
            clickup_error(status, err, ecode),
            remaining,
            reset,
        ));
    }
    if !public {
        let token = authorization
            .strip_prefix("Bearer ")
            .unwrap_or(&authorization)
            .trim();
        if token.is_empty() {
            return Err(with_rate_headers(
                clickup_error(
                    StatusCode::BAD_REQUEST,
                    "Authorization header required",
                    "OAUTH_017",
                ),
                remaining,
                reset,
            ));
        }
        if !state.tokens.contains(token) {
            return Err(with_rate_headers(
                clickup_error(StatusCode::UNAUTHORIZED, "Token invalid", "OAUTH_025"),
                remaining,
                reset,
            ));
        }
    }
    Ok((query, parsed))
}

/// Runs `answer` on the admitted request and puts the rate-limit headers on its response.
macro_rules! handler {
    ($name:ident, $public:expr, |$state:ident, $path:ident: $path_ty:ty, $query:ident, $body:ident| $answer:block) => {
        #[allow(unused_variables, unused_mut)]
        async fn $name(
            State(inner): State<Shared>,
            Path($path): Path<$path_ty>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            RawQuery(raw): RawQuery,
            body: Bytes,
        ) -> Response {
            let ($query, $body) = match admit(&inner, &method, &uri, &headers, raw, &body, $public)
            {
                Ok(admitted) => admitted,
                Err(refusal) => return refusal,
            };
            let mut $state = inner.lock().unwrap();
            let response: Response = $answer;
            let (window, count) = $state.window;
            with_rate_headers(
                response,
                RATE_LIMIT.saturating_sub(count).max(1),
                window + 60,
            )
        }
    };
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(query: &[(String, String)], name: &str) -> bool {
    param(query, name) == Some("true")
}

/// Every parameter of the request that is a string (query, then a form or JSON body).
fn token_params(query: &[(String, String)], body: &Value) -> Vec<(String, String)> {
    let mut params = query.to_vec();
    if let Some(fields) = body.as_object() {
        for (k, v) in fields {
            if let Some(v) = v.as_str() {
                params.push((k.clone(), v.to_owned()));
            }
        }
    }
    params
}

async fn token(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let (query, body) = match admit(&inner, &method, &uri, &headers, raw, &body, true) {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let params = token_params(&query, &body);
    let mut state = inner.lock().unwrap();
    let response = if param(&params, "client_id") != Some(CLIENT_ID)
        || param(&params, "client_secret") != Some(CLIENT_SECRET)
    {
        clickup_error(StatusCode::UNAUTHORIZED, "Client not found", "OAUTH_019")
    } else {
        match param(&params, "code").map(str::to_owned) {
            None => clickup_error(StatusCode::BAD_REQUEST, "Code required", "OAUTH_010"),
            Some(code) if !state.codes.remove(&code) => {
                clickup_error(StatusCode::BAD_REQUEST, "Code not found", "OAUTH_014")
            }
            Some(_) => {
                state.issued += 1;
                let seed: u128 = rand::random();
                let token = format!("{USER_ID}_{seed:032x}{:032x}", state.issued);
                state.tokens.insert(token.clone());
                axum::Json(json!({"access_token": token})).into_response()
            }
        }
    };
    let (window, count) = state.window;
    with_rate_headers(
        response,
        RATE_LIMIT.saturating_sub(count).max(1),
        window + 60,
    )
}

async fn teams(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = admit(&inner, &method, &uri, &headers, raw, &body, false) {
        return refusal;
    }
    let state = inner.lock().unwrap();
    let teams: Vec<Value> = state
        .teams
        .iter()
        .map(|(id, name)| state.team_json(id, name))
        .collect();
    let (window, count) = state.window;
    with_rate_headers(
        axum::Json(json!({"teams": teams})).into_response(),
        RATE_LIMIT.saturating_sub(count).max(1),
        window + 60,
    )
}

handler!(spaces, false, |state, team_id: String, query, body| {
    if !state.teams.iter().any(|(t, _)| *t == team_id) {
        team_not_authorized()
    } else if flag(&query, "archived") {
        axum::Json(json!({"spaces": []})).into_response()
    } else {
        let spaces: Vec<Value> = state
            .spaces
            .iter()
            .filter(|(t, _, _)| *t == team_id)
            .map(|(_, id, name)| state.space_json(id, name))
            .collect();
        axum::Json(json!({"spaces": spaces})).into_response()
    }
});

handler!(
    create_webhook,
    false,
    |state, team_id: String, query, body| {
        if !state.teams.iter().any(|(t, _)| *t == team_id) {
            team_not_authorized()
        } else {
            let n = state.webhooks.len() + 1;
            let id = format!(
                "4b67ac88-e506-4a29-9d42-{:08x}{n:04}",
                rand::random::<u32>()
            );
            // Random, as ClickUp's are (tests share one PostgreSQL database).
            let secret: String = (0..64)
                .map(|_| {
                    char::from(
                        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rand::random::<u8>() as usize % 36],
                    )
                })
                .collect();
            let webhook = json!({
                "id": id, "userid": 183, "team_id": team_id.parse::<u64>().unwrap_or(0),
                "endpoint": body["endpoint"], "client_id": CLIENT_ID,
                "events": body["events"], "task_id": null, "list_id": null, "folder_id": null, "space_id": null,
                "health": {"status": "active", "fail_count": 0},
                "secret": secret,
            });
            state.webhooks.push(webhook.clone());
            axum::Json(json!({"id": id, "webhook": webhook})).into_response()
        }
    }
);

handler!(folders, false, |state, space_id: String, query, body| {
    if state.space(&space_id).is_none() {
        not_found("Space", "ITEM_021")
    } else if flag(&query, "archived") {
        axum::Json(json!({"folders": []})).into_response()
    } else {
        let folders: Vec<Value> = (0..state.folders.len())
            .filter(|&i| state.folders[i].0 == space_id)
            .map(|i| state.folder_json(i))
            .collect();
        axum::Json(json!({"folders": folders})).into_response()
    }
});

handler!(
    folderless_lists,
    false,
    |state, space_id: String, query, body| {
        if state.space(&space_id).is_none() {
            not_found("Space", "ITEM_021")
        } else if flag(&query, "archived") {
            axum::Json(json!({"lists": []})).into_response()
        } else {
            let lists: Vec<Value> = state
                .lists
                .iter()
                .filter(|l| l.space_id == space_id && l.folder_id.is_none())
                .map(|l| state.list_json(l))
                .collect();
            axum::Json(json!({"lists": lists})).into_response()
        }
    }
);

handler!(folder_lists, false, |state,
                               folder_id: String,
                               query,
                               body| {
    if state.folder(&folder_id).is_none() {
        not_found("Folder", "ITEM_016")
    } else if flag(&query, "archived") {
        axum::Json(json!({"lists": []})).into_response()
    } else {
        let lists: Vec<Value> = state
            .lists
            .iter()
            .filter(|l| l.folder_id.as_deref() == Some(folder_id.as_str()))
            .map(|l| state.list_json(l))
            .collect();
        axum::Json(json!({"lists": lists})).into_response()
    }
});

/// The ms stamp of a task's `date_*` field.
fn stamp_of(task: &Value, field: &str) -> u64 {
    task[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

handler!(list_tasks, false, |state, list_id: String, query, body| {
    if state.list(&list_id).is_none() {
        not_found("List", "ITEM_015")
    } else {
        let page: Option<usize> = match param(&query, "page") {
            None => Some(0),
            Some(p) => p.parse().ok(),
        };
        match page {
            None => clickup_error(StatusCode::BAD_REQUEST, "Page invalid", "INPUT_003"),
            Some(page) => {
                let archived = flag(&query, "archived");
                let include_closed = flag(&query, "include_closed");
                let subtasks = flag(&query, "subtasks");
                let statuses: Vec<String> = query
                    .iter()
                    .filter(|(k, _)| k == "statuses[]" || k == "statuses")
                    .map(|(_, v)| v.to_lowercase())
                    .collect();
                let bound = |name: &str| param(&query, name).and_then(|v| v.parse::<u64>().ok());
                let bounds = [
                    (
                        "date_updated",
                        bound("date_updated_gt"),
                        bound("date_updated_lt"),
                    ),
                    (
                        "date_created",
                        bound("date_created_gt"),
                        bound("date_created_lt"),
                    ),
                ];
                let mut matching: Vec<&Value> = state
                    .tasks
                    .iter()
                    .filter(|(l, _)| *l == list_id)
                    .map(|(_, t)| t)
                    .filter(|t| t["archived"].as_bool().unwrap_or(false) == archived)
                    .filter(|t| include_closed || t["status"]["type"] != "closed")
                    .filter(|t| subtasks || t["parent"].is_null())
                    .filter(|t| {
                        statuses.is_empty()
                            || t["status"]["status"]
                                .as_str()
                                .is_some_and(|s| statuses.contains(&s.to_lowercase()))
                    })
                    .filter(|t| {
                        bounds.iter().all(|(field, gt, lt)| {
                            let at = stamp_of(t, field);
                            gt.is_none_or(|gt| at > gt) && lt.is_none_or(|lt| at < lt)
                        })
                    })
                    .collect();
                match param(&query, "order_by") {
                    Some("updated") => matching.sort_by_key(|t| stamp_of(t, "date_updated")),
                    Some("id") => matching.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str())),
                    _ => matching.sort_by_key(|t| stamp_of(t, "date_created")),
                }
                if flag(&query, "reverse") {
                    matching.reverse();
                }
                let tasks: Vec<Value> = matching
                    .iter()
                    .skip(page * PAGE_SIZE)
                    .take(PAGE_SIZE)
                    .map(|t| (*t).clone())
                    .collect();
                let last_page = (page + 1) * PAGE_SIZE >= matching.len();
                axum::Json(json!({"tasks": tasks, "last_page": last_page})).into_response()
            }
        }
    }
});

handler!(create_task, false, |state, list_id: String, query, body| {
    if state.list(&list_id).is_none() {
        not_found("List", "ITEM_015")
    } else {
        match state.build_task(&list_id, &body) {
            Err(refused) => failure(refused),
            Ok(task) => {
                state.tasks.push((list_id, task.clone()));
                state.created += 1;
                if std::mem::take(&mut state.lose_next_create) {
                    (
                        StatusCode::BAD_GATEWAY,
                        [("content-type", "text/html")],
                        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
                    )
                        .into_response()
                } else {
                    axum::Json(task).into_response()
                }
            }
        }
    }
});

handler!(get_task, false, |state, task_id: String, query, body| {
    match state.task(&task_id) {
        Some(index) => axum::Json(state.tasks[index].1.clone()).into_response(),
        None => not_found("Task", "ITEM_013"),
    }
});

handler!(put_task, false, |state, task_id: String, query, body| {
    match state.task(&task_id) {
        Some(index) => match state.update_task(index, &body) {
            Ok(task) => axum::Json(task).into_response(),
            Err(refused) => failure(refused),
        },
        None => not_found("Task", "ITEM_013"),
    }
});

handler!(
    team_time_entries,
    false,
    |state, team_id: String, query, body| {
        let location: Vec<(&str, &str)> = ["space_id", "folder_id", "list_id", "task_id"]
            .into_iter()
            .filter_map(|key| param(&query, key).map(|id| (key, id)))
            .collect();
        if !state.teams.iter().any(|(t, _)| *t == team_id) {
            team_not_authorized()
        } else if location.len() > 1 {
            clickup_error(
                StatusCode::BAD_REQUEST,
                "Only one location filter can be used",
                "INPUT_004",
            )
        } else {
            let bound = |name: &str| param(&query, name).and_then(|v| v.parse::<u64>().ok());
            let end = bound("end_date").unwrap_or_else(now_ms);
            let start = bound("start_date").unwrap_or(end.saturating_sub(DEFAULT_RANGE_MS));
            let assignees: Option<Vec<u64>> = param(&query, "assignee").map(|ids| {
                ids.split(',')
                    .filter_map(|id| id.trim().parse().ok())
                    .collect()
            });
            let mut entries: Vec<&TimeEntry> = state
                .time_entries
                .iter()
                .filter(|e| (start..=end).contains(&e.start))
                .filter(|e| assignees.as_ref().is_none_or(|a| a.contains(&e.user_id)))
                .collect();
            entries.sort_by_key(|e| e.start);
            let (tags, names) = (
                flag(&query, "include_task_tags"),
                flag(&query, "include_location_names"),
            );
            let data: Vec<Value> = entries
                .into_iter()
                .map(|e| state.entry_json(e, tags, names))
                .filter(|e| e["wid"] == team_id.as_str())
                .filter(|e| {
                    location.iter().all(|(key, id)| {
                        let at = match *key {
                            "task_id" => &e["task"]["id"],
                            _ => &e["task_location"][*key],
                        };
                        id_text(at) == *id
                    })
                })
                .collect();
            axum::Json(json!({"data": data})).into_response()
        }
    }
);

async fn fallback(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = admit(&inner, &method, &uri, &headers, raw, &body, false) {
        return refusal;
    }
    clickup_error(StatusCode::NOT_FOUND, "Route not found", "APP_001")
}

// ---------------------------------------------------------------------------------------------
// Self-tests

#[cfg(test)]
mod tests {
    use super::*;

    struct Client {
        http: reqwest::Client,
        base: String,
        token: String,
    }

    impl Client {
        fn new(clickup: &ClickUp, token: &str) -> Self {
            Self {
                http: reqwest::Client::new(),
                base: clickup.base.clone(),
                token: token.to_owned(),
            }
        }

        async fn send(&self, request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
            let response = request
                .header("authorization", &self.token)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.expect("body");
            (
                status,
                headers,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }

        async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
            let (status, _, body) = self
                .send(self.http.get(format!("{}{path}", self.base)).query(query))
                .await;
            (status, body)
        }

        async fn create(&self, list_id: &str, task: Value) -> (u16, Value) {
            let url = format!("{}/list/{list_id}/task", self.base);
            let (status, _, body) = self.send(self.http.post(url).json(&task)).await;
            (status, body)
        }

        async fn update(&self, task_id: &str, fields: Value) -> (u16, Value) {
            let url = format!("{}/task/{task_id}", self.base);
            let (status, _, body) = self.send(self.http.put(url).json(&fields)).await;
            (status, body)
        }
    }

    fn workspace(clickup: &ClickUp) {
        clickup.add_team("9011", "Acme");
        clickup.add_space("9011", "90110001", "Engineering");
        clickup.add_folder("90110001", "90110002", "Roadmap");
        clickup.add_list("90110001", Some("90110002"), "901100003", "Sprint 1");
        clickup.add_list("90110001", None, "901100004", "Inbox");
    }

    #[tokio::test]
    async fn clickup_stand_in_token_exchange() {
        let clickup = ClickUp::start().await;
        let env = clickup.env();
        assert_eq!(env[0], ("CLICKUP_API_URL", clickup.base.clone()));
        assert_eq!(env[1].1, CLIENT_ID);
        assert_eq!(env[2].1, CLIENT_SECRET);
        clickup.grant_code("B4F2C7");
        let http = reqwest::Client::new();
        let url = format!("{}/oauth/token", clickup.base);
        let exchange = |code: &str, secret: &str| {
            http.post(&url)
                .query(&[
                    ("client_id", CLIENT_ID),
                    ("client_secret", secret),
                    ("code", code),
                ])
                .send()
        };

        let wrong = exchange("B4F2C7", "nope").await.unwrap();
        assert_eq!(wrong.status(), 401);
        let body: Value = wrong.json().await.unwrap();
        assert_eq!(body["ECODE"], "OAUTH_019");

        let ok = exchange("B4F2C7", CLIENT_SECRET).await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().contains_key("x-ratelimit-reset"));
        let body: Value = ok.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("183_"), "{token}");
        assert_eq!(body.as_object().unwrap().len(), 1);

        let reused = exchange("B4F2C7", CLIENT_SECRET).await.unwrap();
        assert_eq!(reused.status(), 400);
        let body: Value = reused.json().await.unwrap();
        assert_eq!(body["err"], "Code not found");
        assert!(body["ECODE"].as_str().unwrap().starts_with("OAUTH_"));

        // A form body works too.
        clickup.grant_code("F0RM");
        let form = http
            .post(&url)
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", "F0RM"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 200);

        // The token works, raw or as a bearer.
        clickup.add_team("9011", "Acme");
        let (status, teams) = Client::new(&clickup, &token).get("/team", &[]).await;
        assert_eq!(status, 200, "{teams}");
        let bearer = format!("Bearer {token}");
        let (status, _) = Client::new(&clickup, &bearer).get("/team", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(clickup.count("POST", "/oauth/token"), 4);
        assert_eq!(
            clickup.requests()[0].query[2],
            ("code".into(), "B4F2C7".into())
        );
    }

    #[tokio::test]
    async fn clickup_stand_in_needs_a_token() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        let url = format!("{}/team", clickup.base);
        let none = reqwest::get(&url).await.unwrap();
        assert_eq!(none.status(), 400);
        let body: Value = none.json().await.unwrap();
        assert_eq!(
            body,
            json!({"err": "Authorization header required", "ECODE": "OAUTH_017"})
        );

        let (status, body) = Client::new(&clickup, "pk_183_UNKNOWN")
            .get("/team", &[])
            .await;
        assert_eq!(status, 401);
        assert_eq!(body, json!({"err": "Token invalid", "ECODE": "OAUTH_025"}));

        clickup.issue_token("pk_183_PASTED");
        let client = Client::new(&clickup, "pk_183_PASTED");
        assert_eq!(client.get("/team", &[]).await.0, 200);
        let (status, body) = client.get("/nowhere", &[]).await;
        assert_eq!((status, body["ECODE"].as_str()), (404, Some("APP_001")));
        clickup.revoke_tokens();
        let (status, body) = client.get("/team", &[]).await;
        assert_eq!((status, body["ECODE"].as_str()), (401, Some("OAUTH_025")));
        let recorded = clickup.requests();
        assert_eq!(recorded.last().unwrap().authorization, "pk_183_PASTED");
        assert_eq!(recorded[0].authorization, "");
        assert_eq!(clickup.count("get", "/team"), 4);
    }

    #[tokio::test]
    async fn clickup_stand_in_walks_the_hierarchy() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.issue_token("pk_183_W");
        let client = Client::new(&clickup, "pk_183_W");
        let first = clickup.add_task(
            "901100003",
            json!({"name": "Write the spec", "priority": 2}),
        );
        for i in 0..150 {
            clickup.add_task("901100003", json!({"name": format!("Task {i}")}));
        }
        clickup.add_task(
            "901100003",
            json!({"name": "Shipped", "status": "complete"}),
        );
        clickup.add_task("901100003", json!({"name": "A subtask", "parent": first}));

        let (status, teams) = client.get("/team", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(teams["teams"][0]["id"], "9011");
        assert_eq!(teams["teams"][0]["name"], "Acme");
        assert_eq!(teams["teams"][0]["members"][0]["user"]["id"], USER_ID);

        let (_, spaces) = client
            .get("/team/9011/space", &[("archived", "false")])
            .await;
        let space = &spaces["spaces"][0];
        assert_eq!(space["id"], "90110001");
        assert_eq!(space["statuses"][2]["type"], "closed");
        assert_eq!(space["archived"], false);
        let (status, body) = client.get("/team/404/space", &[]).await;
        assert_eq!((status, body["ECODE"].as_str()), (401, Some("OAUTH_027")));

        let (_, folders) = client
            .get("/space/90110001/folder", &[("archived", "false")])
            .await;
        let folder = &folders["folders"][0];
        assert_eq!(folder["id"], "90110002");
        assert_eq!(folder["space"]["id"], "90110001");
        assert_eq!(folder["task_count"], "153");
        assert_eq!(folder["lists"][0]["id"], "901100003");

        let (_, lists) = client.get("/folder/90110002/list", &[]).await;
        assert_eq!(lists["lists"][0]["name"], "Sprint 1");
        assert_eq!(lists["lists"][0]["folder"]["hidden"], false);
        let (_, lists) = client.get("/space/90110001/list", &[]).await;
        assert_eq!(lists["lists"].as_array().unwrap().len(), 1);
        let inbox = &lists["lists"][0];
        assert_eq!(inbox["id"], "901100004");
        assert_eq!(inbox["folder"]["hidden"], true);
        assert_eq!(inbox["space"]["id"], "90110001");
        assert_eq!(inbox["permission_level"], "create");

        // 151 open top-level tasks: two pages.
        let (_, page0) = client
            .get(
                "/list/901100003/task",
                &[("page", "0"), ("archived", "false")],
            )
            .await;
        assert_eq!(page0["tasks"].as_array().unwrap().len(), 100);
        assert_eq!(page0["last_page"], false);
        assert_eq!(page0["tasks"][0]["id"], first.as_str());
        assert_eq!(page0["tasks"][0]["priority"]["priority"], "high");
        let (_, page1) = client.get("/list/901100003/task", &[("page", "1")]).await;
        assert_eq!(page1["tasks"].as_array().unwrap().len(), 51);
        assert_eq!(page1["last_page"], true);
        let (_, all) = client
            .get(
                "/list/901100003/task",
                &[
                    ("page", "1"),
                    ("include_closed", "true"),
                    ("subtasks", "true"),
                ],
            )
            .await;
        assert_eq!(all["tasks"].as_array().unwrap().len(), 53);
        let (_, done) = client
            .get(
                "/list/901100003/task",
                &[("include_closed", "true"), ("statuses[]", "complete")],
            )
            .await;
        assert_eq!(done["tasks"][0]["name"], "Shipped");
        assert!(done["tasks"][0]["date_closed"].is_string());
        let (status, body) = client.get("/list/1/task", &[]).await;
        assert_eq!(
            (status, body["err"].as_str()),
            (404, Some("List not found"))
        );
        assert_eq!(clickup.tasks("901100003").len(), 153);
    }

    #[tokio::test]
    async fn clickup_stand_in_creates_and_gets_tasks() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.issue_token("pk_183_C");
        let client = Client::new(&clickup, "pk_183_C");
        let (status, task) = client
            .create(
                "901100004",
                json!({
                    "name": "Invoice Acme",
                    "markdown_description": "Send **the** invoice",
                    "priority": 1,
                    "status": "In Progress",
                    "tags": ["Billing"],
                    "due_date": 1_767_225_600_000u64,
                }),
            )
            .await;
        assert_eq!(status, 200, "{task}");
        let id = task["id"].as_str().unwrap();
        assert_eq!(id.len(), 9);
        assert!(id.starts_with("86") && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(task["url"], format!("https://app.clickup.com/t/{id}"));
        assert_eq!(task["status"]["status"], "in progress");
        assert_eq!(task["status"]["type"], "custom");
        assert_eq!(task["priority"]["priority"], "urgent");
        assert_eq!(task["tags"][0]["name"], "billing");
        assert_eq!(task["due_date"], "1767225600000");
        assert_eq!(
            task["list"],
            json!({"id": "901100004", "name": "Inbox", "access": true})
        );
        assert_eq!(task["space"]["id"], "90110001");
        assert_eq!(task["creator"]["id"], USER_ID);
        assert!(task["custom_id"].is_null());
        let created: u64 = task["date_created"].as_str().unwrap().parse().unwrap();
        assert!(created > 1_700_000_000_000);

        let (status, fetched) = client.get(&format!("/task/{id}"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(fetched, task);
        assert_eq!(clickup.created(), 1);
        assert_eq!(clickup.requests()[0].body["name"], "Invoice Acme");

        let (status, body) = client
            .create("901100004", json!({"description": "x"}))
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"err": "Task name invalid", "ECODE": "INPUT_005"})
        );
        let (status, body) = client
            .create("901100004", json!({"name": "x", "status": "blocked"}))
            .await;
        assert_eq!((status, body["ECODE"].as_str()), (400, Some("CRTSK_001")));
        let (status, _) = client
            .create("901100004", json!({"name": "x", "priority": 7}))
            .await;
        assert_eq!(status, 400);
        let (status, _) = client.create("404", json!({"name": "x"})).await;
        assert_eq!(status, 404);
        let (status, body) = client.get("/task/86zzzzzzz", &[]).await;
        assert_eq!((status, body["ECODE"].as_str()), (404, Some("ITEM_013")));
        assert_eq!(clickup.created(), 1);
        assert_eq!(clickup.tasks("901100004").len(), 1);
    }

    #[tokio::test]
    async fn clickup_stand_in_rate_limits_and_failures() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.issue_token("pk_183_R");
        let client = Client::new(&clickup, "pk_183_R");
        let url = format!("{}/team", clickup.base);

        let (status, headers, _) = client.send(client.http.get(&url)).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-ratelimit-limit"], "100");
        assert_eq!(headers["x-ratelimit-remaining"], "99");

        clickup.rate_limit_next(2, 30);
        let before = now_secs();
        for _ in 0..2 {
            let (status, headers, body) = client.send(client.http.get(&url)).await;
            assert_eq!(status, 429);
            assert_eq!(
                body,
                json!({"err": "Rate limit reached", "ECODE": "APP_002"})
            );
            assert_eq!(headers["x-ratelimit-remaining"], "0");
            let reset: u64 = headers["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((before + 30..=before + 31).contains(&reset), "{reset}");
        }
        assert_eq!(client.get("/team", &[]).await.0, 200);

        clickup.fail_next(2, 500);
        let (status, body) = client.create("901100004", json!({"name": "x"})).await;
        assert_eq!(status, 500);
        assert_eq!(body["err"], "Internal Server Error");
        assert!(body["ECODE"].is_string());
        assert_eq!(client.get("/team", &[]).await.0, 500);
        assert_eq!(client.get("/team", &[]).await.0, 200);
        assert_eq!(clickup.created(), 0);

        clickup.lose_next_create_response();
        let (status, _) = client.create("901100004", json!({"name": "Lost"})).await;
        assert_eq!(status, 502);
        assert_eq!(clickup.created(), 1);
        let stored = clickup.tasks("901100004");
        assert_eq!(stored[0]["name"], "Lost");
        let (status, again) = client.create("901100004", json!({"name": "Found"})).await;
        assert_eq!(status, 200);
        assert_ne!(again["id"], stored[0]["id"]);
        assert_eq!(clickup.created(), 2);
        assert_eq!(clickup.count("POST", "/list/901100004/task"), 3);
    }

    #[test]
    fn clickup_stand_in_signs_webhooks() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let payload = task_status_updated_payload(
            "7fa3ec74-69a8-4530-a251-8a13730bd204",
            "86a0x3k2v",
            "to do",
            "complete",
        );
        assert_eq!(payload["event"], "taskStatusUpdated");
        assert_eq!(payload["task_id"], "86a0x3k2v");
        assert_eq!(
            payload["webhook_id"],
            "7fa3ec74-69a8-4530-a251-8a13730bd204"
        );
        let item = &payload["history_items"][0];
        assert_eq!(item["type"], 1);
        assert_eq!(item["field"], "status");
        assert_eq!(item["data"]["status_type"], "closed");
        assert_eq!(item["before"]["status"], "to do");
        assert_eq!(item["before"]["type"], "open");
        assert_eq!(
            item["after"],
            json!({"status": "complete", "color": "#6bc950", "type": "closed", "orderindex": 2})
        );
        assert!(item["date"].as_str().unwrap().parse::<u64>().is_ok());
        assert!(item["source"].is_null());
        let body = serde_json::to_vec(&payload).unwrap();
        assert_eq!(sign("s3cret", &body).len(), 64);
    }
    #[tokio::test]
    async fn clickup_stand_in_updates_tasks() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.issue_token("pk_183_U");
        let client = Client::new(&clickup, "pk_183_U");
        let id = clickup.add_task(
            "901100003",
            json!({"name": "Draft", "priority": 2, "due_date": 1_767_225_600_000u64}),
        );
        let created = clickup.tasks("901100003")[0]["date_updated"].clone();

        let (status, task) = client
            .update(
                &id,
                json!({"name": "Final", "markdown_content": "**Done**", "status": "Complete", "priority": null, "due_date": null}),
            )
            .await;
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["name"], "Final");
        assert_eq!(task["description"], "**Done**");
        assert_eq!(task["status"]["status"], "complete");
        assert!(task["priority"].is_null() && task["due_date"].is_null());
        assert_eq!(task["date_closed"], task["date_updated"]);
        assert!(stamp_of(&task, "date_updated") > created.as_str().unwrap().parse().unwrap());
        assert_eq!(client.get(&format!("/task/{id}"), &[]).await.1, task);

        let (_, reopened) = client
            .update(&id, json!({"status": "in progress", "archived": true}))
            .await;
        assert!(reopened["date_closed"].is_null() && reopened["date_done"].is_null());
        assert_eq!(reopened["archived"], true);
        assert!(stamp_of(&reopened, "date_updated") > stamp_of(&task, "date_updated"));

        let (status, body) = client.update(&id, json!({"status": "blocked"})).await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"err": "Status not found", "ECODE": "CRTSK_001"})
            )
        );
        let (status, _) = client.update(&id, json!({"priority": 5})).await;
        assert_eq!(status, 400);
        assert_eq!(clickup.tasks("901100003")[0], reopened);
        let (status, body) = client.update("86zzzzzzz", json!({"name": "x"})).await;
        assert_eq!((status, body["ECODE"].as_str()), (404, Some("ITEM_013")));
        assert_eq!(clickup.count("PUT", "/task/"), 5);
    }

    #[tokio::test]
    async fn clickup_stand_in_tracks_time() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.add_team("9022", "Other");
        clickup.issue_token("pk_183_T");
        let client = Client::new(&clickup, "pk_183_T");
        let spec = clickup.add_task(
            "901100003",
            json!({"name": "Spec", "tags": ["Billing"], "custom_id": "ENG-7"}),
        );
        let inbox = clickup.add_task("901100004", json!({"name": "Inbox"}));
        let hour = 3_600_000;
        let now = now_ms();
        let ada = clickup.add_time_entry(&spec, now - 3 * hour, hour, EMAIL, "Writing");
        let grace = clickup.add_time_entry(
            &inbox,
            now - 5 * hour,
            2 * hour,
            "grace.hopper@example.com",
            "",
        );
        let old = clickup.add_time_entry(&spec, now - 40 * 24 * hour, hour, EMAIL, "Long ago");

        let (status, all) = client.get("/team/9011/time_entries", &[]).await;
        assert_eq!(status, 200, "{all}");
        let data = all["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(
            (data[0]["id"].as_str(), data[1]["id"].as_str()),
            (Some(grace.as_str()), Some(ada.as_str()))
        );
        let entry = &data[1];
        assert_eq!(entry["task"]["custom_id"], "ENG-7");
        assert_eq!(entry["task"]["status"]["status"], "to do");
        assert_eq!(entry["wid"], "9011");
        assert_eq!(entry["user"]["id"], USER_ID);
        assert_eq!(entry["start"], (now - 3 * hour).to_string());
        assert_eq!(entry["end"], (now - 2 * hour).to_string());
        assert_eq!(entry["duration"], hour.to_string());
        assert_eq!(
            entry["task_location"],
            json!({"list_id": 901100003u64, "folder_id": 90110002u64, "space_id": 90110001u64})
        );
        assert!(entry.get("task_tags").is_none());
        assert_eq!(
            entry["task_url"],
            format!("https://app.clickup.com/t/{spec}")
        );
        let user = &data[0]["user"];
        assert_eq!(
            (
                user["id"].as_u64(),
                user["username"].as_str(),
                user["initials"].as_str()
            ),
            (Some(USER_ID + 1), Some("Grace Hopper"), Some("GH"))
        );
        assert!(data[0]["task"].get("custom_id").is_none());
        assert_eq!(data[0]["task_location"]["folder_id"], 901100010u64);
        assert_eq!(clickup.time_entries().len(), 3);

        let end = now.to_string();
        let (_, ranged) = client
            .get(
                "/team/9011/time_entries",
                &[("start_date", "0"), ("end_date", &end)],
            )
            .await;
        assert_eq!(ranged["data"].as_array().unwrap().len(), 3);
        let (_, mine) = client
            .get(
                "/team/9011/time_entries",
                &[
                    ("assignee", "183"),
                    ("include_task_tags", "true"),
                    ("include_location_names", "true"),
                ],
            )
            .await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        assert_eq!(mine["data"][0]["task_tags"][0]["name"], "billing");
        assert_eq!(mine["data"][0]["task_location"]["folder_name"], "Roadmap");
        assert_eq!(
            mine["data"][0]["task_location"]["space_name"],
            "Engineering"
        );
        let (_, listed) = client
            .get("/team/9011/time_entries", &[("list_id", "901100004")])
            .await;
        assert_eq!(listed["data"][0]["id"], grace.as_str());
        let (_, by_task) = client
            .get("/team/9011/time_entries", &[("task_id", inbox.as_str())])
            .await;
        assert_eq!(by_task["data"].as_array().unwrap().len(), 1);
        let (status, body) = client
            .get(
                "/team/9011/time_entries",
                &[("list_id", "901100004"), ("space_id", "90110001")],
            )
            .await;
        assert_eq!((status, body["ECODE"].as_str()), (400, Some("INPUT_004")));
        let (_, other) = client.get("/team/9022/time_entries", &[]).await;
        assert_eq!(other["data"], json!([]));
        let (status, _) = client.get("/team/404/time_entries", &[]).await;
        assert_eq!(status, 401);

        clickup.update_time_entry(&old, now - hour, hour / 2);
        assert_eq!(clickup.tasks("901100003")[0]["time_spent"], 3 * hour / 2);
        let (_, moved) = client
            .get("/team/9011/time_entries", &[("task_id", spec.as_str())])
            .await;
        assert_eq!(moved["data"][1]["id"], old.as_str());
        assert_eq!(moved["data"][1]["duration"], (hour / 2).to_string());
    }

    #[tokio::test]
    async fn clickup_stand_in_time_tracked_webhooks() {
        let clickup = ClickUp::start().await;
        workspace(&clickup);
        clickup.issue_token("pk_183_H");
        let client = Client::new(&clickup, "pk_183_H");
        let url = format!("{}/team/9011/webhook", clickup.base);
        let request = client.http.post(url).json(
            &json!({"endpoint": "https://example.com/hook", "events": ["taskStatusUpdated", "taskTimeTrackedUpdated"]}),
        );
        let (status, _, created) = client.send(request).await;
        assert_eq!(status, 200);
        assert_eq!(created["webhook"]["events"][1], "taskTimeTrackedUpdated");
        let webhook_id = created["id"].as_str().unwrap();

        let task = clickup.add_task("901100003", json!({"name": "Spec"}));
        let entry = clickup.add_time_entry(&task, 1_726_646_571_335, 7_200_000, EMAIL, "");
        let payload = clickup.task_time_tracked_updated_payload(webhook_id, &entry);
        assert_eq!(payload["event"], "taskTimeTrackedUpdated");
        assert_eq!(payload["task_id"], task.as_str());
        assert_eq!(payload["webhook_id"], webhook_id);
        assert_eq!(
            payload["data"],
            json!({"description": "Time Tracking Created", "interval_id": entry})
        );
        let item = &payload["history_items"][0];
        assert_eq!(
            (item["field"].as_str(), item["parent_id"].as_str()),
            (Some("time_spent"), Some("901100003"))
        );
        assert_eq!(
            item["data"],
            json!({"total_time": "7200000", "rollup_time": "7200000"})
        );
        assert!(item["before"].is_null());
        assert_eq!(item["user"]["email"], EMAIL);
        let added = item["after"]["date_added"].clone();
        assert_eq!(item["date"], added);
        assert_eq!(
            item["after"],
            json!({"id": entry, "start": "1726646571335", "end": "1726653771335", "time": "7200000", "source": "clickup", "date_added": added})
        );

        clickup.update_time_entry(&entry, 1_726_646_571_335, 3_600_000);
        let edited = clickup.task_time_tracked_updated_payload(webhook_id, &entry);
        assert_eq!(edited["data"]["description"], "Time Tracking Edited");
        let item = &edited["history_items"][0];
        assert_eq!(item["before"]["time"], "7200000");
        assert_eq!(item["after"]["time"], "3600000");
        assert_eq!(item["after"]["date_added"], added);
        assert_eq!(item["data"]["total_time"], "3600000");
        assert!(stamp_of(item, "date") > added.as_str().unwrap().parse().unwrap());
    }
}
