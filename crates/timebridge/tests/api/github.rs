//! The GitHub connector against a local stand-in of api.github.com, with deliveries signed
//! exactly as GitHub signs them.

use serde_json::{Value, json};
use timebridge::connectors::github::signature;

use crate::{both, stand_ins::*, support::*, webhooks::admin_token};

const SECRET: &str = "It's a Secret to Everybody";
const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const REPO: &str = "octo-org/hello-world";

struct Setup {
    app: TestApp,
    admin: String,
    project_id: String,
    github: StandIn,
}

async fn setup(backend: Backend, issues: Vec<Value>) -> Setup {
    let github = StandIn::github(TOKEN, issues).await;
    // No scheduled sync: the test counts the calls GitHub receives.
    let app = TestApp::private(
        backend,
        &[
            ("GITHUB_API_URL", &github.base),
            ("TIMEBRIDGE_JOBS", "false"),
        ],
    )
    .await;
    let admin = admin_token(&app).await;
    let (status, project) = send(
        app.post(&admin, "/api/v1/projects")
            .json(&json!({"name": "Website"})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let project_id = project["project"]["id"].as_str().unwrap().to_owned();
    let (status, config) = send(
        app.put(&admin, "/api/integrations/github/config")
            .json(&json!({
                "repo": REPO, "webhook_secret": SECRET, "token": TOKEN, "project_id": project_id,
                "auto_start_timer": true, "github_username": "OctoCat",
            })),
    )
    .await;
    assert_eq!(status, 200, "{config}");
    Setup {
        app,
        admin,
        project_id,
        github,
    }
}

/// Sends a delivery signed as GitHub signs it.
async fn deliver(app: &TestApp, event: &str, delivery: &str, payload: &Value) -> (u16, Value) {
    deliver_raw(app, event, delivery, payload.to_string(), SECRET).await
}

async fn deliver_raw(
    app: &TestApp,
    event: &str,
    delivery: &str,
    body: String,
    secret: &str,
) -> (u16, Value) {
    send(
        app.client
            .post(app.url("/api/integrations/github/webhook"))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header(
                "X-Hub-Signature-256",
                signature::sign(secret, body.as_bytes()),
            )
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .header("Content-Type", "application/json")
            .body(body),
    )
    .await
}

/// Sends a signed delivery with extra request headers (a proxy's, a misconfigured client's).
async fn deliver_with_headers(
    app: &TestApp,
    delivery: &str,
    payload: &Value,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let body = payload.to_string();
    let mut request = app
        .client
        .post(app.url("/api/integrations/github/webhook"))
        .header("X-GitHub-Event", "issues")
        .header("X-GitHub-Delivery", delivery)
        .header("X-GitHub-Hook-ID", "292430182")
        .header(
            "X-Hub-Signature-256",
            signature::sign(SECRET, body.as_bytes()),
        )
        .header("User-Agent", "GitHub-Hookshot/044aadd")
        .header("Content-Type", "application/json");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    send(request.body(body)).await
}

/// The inbound ledger's rows of a provider.
pub async fn ledger_rows(
    app: &TestApp,
    provider: timebridge::connectors::Provider,
) -> Vec<timebridge::connectors::entity::inbound::Model> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use timebridge::connectors::entity::inbound;
    inbound::Entity::find()
        .filter(inbound::Column::Provider.eq(provider))
        .all(app.db.conn())
        .await
        .unwrap()
}

/// Makes every query of the inbound ledger fail, as a broken database would.
pub async fn break_the_ledger(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    app.db
        .conn()
        .execute_unprepared("ALTER TABLE inbound_webhooks RENAME TO inbound_webhooks_gone")
        .await
        .unwrap();
}

/// Words of database errors (SQLite's and PostgreSQL's) that must never reach a client.
pub const DATABASE_WORDS: &[&str] = &[
    "inbound_webhooks",
    "relation",
    "no such table",
    "SQL",
    "database",
    "duplicate key",
    "UNIQUE",
];

fn issues_event(action: &str, number: u64, labels: &[&str]) -> Value {
    json!({
        "action": action,
        "issue": issue(number, &format!("Crash on save #{number}"), labels),
        "repository": {"id": 1296269, "name": "hello-world", "full_name": REPO, "private": false},
        "sender": {"login": "octocat", "id": 1},
    })
}

async fn tasks(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = send(app.get(token, "/api/v1/tasks?per_page=100")).await;
    assert_eq!(status, 200, "{body}");
    body["tasks"].as_array().cloned().unwrap()
}

both! {
    async fn an_opened_issue_becomes_one_task_however_often_it_is_delivered(backend) {
        let s = setup(backend, vec![]).await;
        let payload = issues_event("opened", 7, &["bug", "priority: high"]);
        let (status, body) = deliver(&s.app, "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", &payload).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], true);
        let list = tasks(&s.app, &s.admin).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["external_ref"], "github_issue_7");
        assert_eq!(list[0]["name"], "Crash on save #7");
        assert_eq!(list[0]["priority"], "high");
        assert_eq!(list[0]["status"], "todo");
        assert_eq!(list[0]["project_id"], s.project_id.as_str());

        // The same delivery again: acknowledged, not applied.
        let (status, again) = deliver(&s.app, "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", &payload).await;
        assert_eq!(status, 200);
        assert_eq!(again["duplicate"], true);
        // Another delivery, sent five times at once: applied once.
        let closing = issues_event("closed", 7, &["bug"]);
        let sends = (0..5).map(|_| deliver(&s.app, "issues", "a0000000-0000-0000-0000-000000000001", &closing));
        let answers = futures_util::future::join_all(sends).await;
        assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
        assert_eq!(answers.iter().filter(|(_, b)| b["duplicate"] == true).count(), 4, "{answers:?}");
        let list = tasks(&s.app, &s.admin).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "done");

        // Webhooks and the feed see the connector's changes, made by the integration.
        let events = events_after(&s.app, &s.admin, 0).await;
        let ours: Vec<_> = events.iter().filter(|e| e["actor"]["kind"] == "integration").collect();
        let types: Vec<_> = ours.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["task.created", "task.completed"]);
        assert_eq!(ours[0]["actor"]["via"], "github");
    }

    async fn a_burst_of_deliveries_is_applied_once_each_in_order_per_issue(backend) {
        let s = setup(backend, vec![]).await;
        // An issue synced before the burst: its "opened" is an update, not a second task.
        deliver(&s.app, "issues", "e-0", &issues_event("opened", 100, &[])).await;
        let mut burst = Vec::new();
        for n in 100..140u64 {
            burst.push((format!("e-{n}"), issues_event("opened", n, &["low"])));
        }
        // Opened then closed in the same burst, and repeats of earlier deliveries.
        burst.push(("e-close-120".into(), issues_event("closed", 120, &[])));
        burst.push(("e-105".into(), issues_event("opened", 105, &["low"])));
        burst.push(("e-0".into(), issues_event("opened", 100, &[])));
        let answers = futures_util::future::join_all(
            burst.iter().map(|(id, payload)| deliver(&s.app, "issues", id, payload)),
        )
        .await;
        assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
        let duplicates = answers.iter().filter(|(_, b)| b["duplicate"] == true).count();
        assert!(duplicates >= 2, "the repeated deliveries are duplicates: {answers:?}");
        let list = tasks(&s.app, &s.admin).await;
        assert_eq!(list.len(), 40, "one task per issue");
        let refs: std::collections::HashSet<_> = list.iter().map(|t| t["external_ref"].as_str().unwrap().to_owned()).collect();
        assert_eq!(refs.len(), 40);
        let t120 = list.iter().find(|t| t["external_ref"] == "github_issue_120").unwrap();
        // Done whichever arrived first: closing creates a missing task, opening never reopens.
        assert_eq!(t120["status"], "done", "{t120}");
        let events = events_after(&s.app, &s.admin, 0).await;
        let created = events.iter().filter(|e| e["type"] == "task.created").count();
        assert_eq!(created, 40, "one task.created per task");
    }

    async fn signatures_are_checked_before_anything_is_read(backend) {
        let s = setup(backend, vec![]).await;
        let payload = issues_event("opened", 8, &[]).to_string();
        let (status, body) = deliver_raw(&s.app, "issues", "b-1", payload.clone(), "not the secret").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["ok"], false);
        let (status, _) = send(s.app.client.post(s.app.url("/api/integrations/github/webhook"))
            .header("X-GitHub-Event", "issues").header("X-GitHub-Delivery", "b-2").body(payload)).await;
        assert_eq!(status, 401);
        // Signed garbage: a clear 400.
        let (status, body) = deliver_raw(&s.app, "issues", "b-3", "{not json".into(), SECRET).await;
        assert_eq!(status, 400, "{body}");
        assert!(tasks(&s.app, &s.admin).await.is_empty());
        // ping, and events it does not handle: acknowledged, recorded, ignored.
        let (status, body) = deliver(&s.app, "ping", "b-4", &json!({"zen": "Design for failure.", "hook_id": 1})).await;
        assert_eq!((status, body["message"].as_str()), (200, Some("pong")));
        let (status, body) = deliver(&s.app, "push", "b-5", &json!({"ref": "refs/heads/main"})).await;
        assert_eq!((status, body["ignored"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = deliver(&s.app, "issues", "b-6", &json!({"action": "opened", "issue": issue(9, "Elsewhere", &[]), "repository": {"full_name": "someone/else"}})).await;
        assert_eq!((status, body["ignored"].as_bool()), (200, Some(true)), "{body}");
        assert!(tasks(&s.app, &s.admin).await.is_empty());
    }

    async fn an_assigned_issue_starts_the_assignees_timer(backend) {
        let s = setup(backend, vec![]).await;
        let mut payload = issues_event("assigned", 11, &[]);
        payload["assignee"] = json!({"login": "octocat", "id": 1});
        let (status, body) = deliver(&s.app, "issues", "c-1", &payload).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["timer"]["started"], true, "{body}");
        let (_, timer) = send(s.app.get(&s.admin, "/api/v1/timer/status")).await;
        assert_eq!(timer["active"], true);
        assert_eq!(timer["timer"]["task_id"], body["task_id"]);

        // Someone who is not a member: the task is kept, no timer, and the answer says why.
        let mut payload = issues_event("assigned", 12, &[]);
        payload["assignee"] = json!({"login": "stranger", "id": 2});
        let (status, body) = deliver(&s.app, "issues", "c-2", &payload).await;
        assert_eq!(status, 200);
        assert_eq!(body["timer"]["started"], false);
        assert!(body["timer"]["reason"].as_str().unwrap().contains("stranger"));
        assert_eq!(tasks(&s.app, &s.admin).await.len(), 2);
    }

    async fn a_timer_an_assignment_started_stops_at_once_like_any_other(backend) {
        let s = setup(backend, vec![]).await;
        let mut payload = issues_event("assigned", 21, &[]);
        payload["assignee"] = json!({"login": "octocat", "id": 1});
        let (status, body) = deliver(&s.app, "issues", "s-1", &payload).await;
        assert_eq!(body["timer"]["started"], true, "{status} {body}");
        let id = body["timer"]["time_entry_id"].as_str().unwrap().to_owned();
        crate::timer::start_in_the_future(&s.app, &id).await;
        let (status, stopped) = send(s.app.post(&s.admin, "/api/v1/timer/stop")).await;
        assert_eq!(status, 200, "{stopped}");
        assert_eq!(stopped["time_entry"]["id"], id.as_str());
        assert_eq!(stopped["time_entry"]["duration_seconds"], 0);
        // The member's next assignment starts a timer again.
        let mut payload = issues_event("assigned", 22, &[]);
        payload["assignee"] = json!({"login": "octocat", "id": 1});
        let (_, body) = deliver(&s.app, "issues", "s-2", &payload).await;
        assert_eq!(body["timer"]["started"], true, "{body}");
    }

    async fn a_deactivated_assignee_gets_no_timer(backend) {
        let s = setup(backend, vec![]).await;
        // A second admin, so the first may be deactivated.
        let colleague = s.app.member(false, timebridge::directory::Plan::Free).await;
        let (status, body) = send(s.app.post(&s.admin, "/api/v1/users").json(&json!({"email": colleague.user.email, "role": "admin"}))).await;
        assert_eq!(status, 201, "{body}");
        let memberships = timebridge::directory::service::memberships_of(s.app.db.conn(), &colleague.user).await.unwrap();
        let here = memberships.into_iter().find(|m| m.workspace.id != colleague.workspace.id).expect("added to the workspace");
        let other_admin = s.app.token(&here, &["admin:all"]).await;
        let (_, me) = send(s.app.get(&s.admin, "/api/v1/users/me")).await;
        let path = format!("/api/v1/users/{}", me["user"]["id"].as_str().or(me["id"].as_str()).unwrap());
        let (status, body) = send(s.app.patch(&other_admin, &path).json(&json!({"is_active": false}))).await;
        assert_eq!(status, 200, "{body}");

        let mut payload = issues_event("assigned", 21, &[]);
        payload["assignee"] = json!({"login": "octocat", "id": 1});
        let (status, body) = deliver(&s.app, "issues", "deactivated-1", &payload).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["timer"]["started"], false, "{body}");
        assert!(body["timer"]["reason"].as_str().unwrap().contains("no active member"), "{body}");
    }

    async fn a_timer_the_connector_starts_is_announced_in_slack(backend) {
        let github = StandIn::github(TOKEN, vec![]).await;
        let slack = StandIn::slack("xoxb-announce").await;
        let app = TestApp::private(
            backend,
            &[("GITHUB_API_URL", &github.base), ("SLACK_API_URL", &slack.base), ("TIMEBRIDGE_JOBS", "false")],
        )
        .await;
        let admin = admin_token(&app).await;
        let (_, project) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "Website"}))).await;
        let (status, body) = send(app.put(&admin, "/api/integrations/github/config").json(&json!({
            "repo": REPO, "webhook_secret": SECRET, "project_id": project["project"]["id"],
            "auto_start_timer": true, "github_username": "octocat",
        }))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = send(app.put(&admin, "/api/integrations/slack/config").json(&json!({
            "bot_token": "xoxb-announce", "signing_secret": "s", "slack_user_id": "U1", "channel": "C42",
        }))).await;
        assert_eq!(status, 200, "{body}");

        let mut payload = issues_event("assigned", 7, &[]);
        payload["assignee"] = json!({"login": "octocat", "id": 1});
        let (status, body) = deliver(&app, "issues", "announce-1", &payload).await;
        assert_eq!((status, body["timer"]["started"].as_bool()), (200, Some(true)), "{body}");
        let posted = eventually(|| {
            let messages = slack.messages();
            async move { messages.into_iter().find(|m| m["channel"] == "C42") }
        })
        .await;
        assert!(posted["text"].as_str().unwrap().contains("started a timer on *Website*"), "{posted}");
    }

    async fn sync_pulls_every_page_of_open_issues_and_upserts(backend) {
        let mut issues: Vec<Value> = (1..=60).map(|n| issue(n, &format!("Issue {n}"), if n % 2 == 0 { &["backend"] } else { &[] })).collect();
        let mut pr = issue(61, "A pull request", &[]);
        pr["pull_request"] = json!({"url": "https://api.github.com/repos/octo-org/hello-world/pulls/61"});
        issues.push(pr);
        let s = setup(backend, issues).await;
        let (status, mut body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["binding_id"].as_str().map(str::len), Some(36), "{body}");
        body.as_object_mut().unwrap().remove("binding_id");
        assert_eq!(body, json!({"ok": true, "issues": 60, "created": 60, "updated": 0, "unchanged": 0}));
        let pages: Vec<_> = s.github.calls().into_iter().filter(|c| c.path.ends_with("/issues")).collect();
        assert_eq!(pages.len(), 2, "two pages of 50");
        assert_eq!(pages[0].query["per_page"], "50");
        assert_eq!(pages[0].query["state"], "open");
        let (_, list) = send(s.app.get(&s.admin, "/api/v1/tasks?per_page=100")).await;
        assert_eq!(list["pagination"]["total"], 60);

        // Again: nothing new.
        let (_, body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!(body["unchanged"], 60, "{body}");
        // With a label filter, only those issues are asked for.
        send(s.app.put(&s.admin, "/api/integrations/github/config").json(&json!({"label_filter": "backend"}))).await;
        let (_, body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!(body["issues"], 30, "{body}");
        assert_eq!(s.github.calls().last().unwrap().query["labels"], "backend");

        // Members may not sync.
        let member = s.app.member_in(&format!("ws-{}", uuid::Uuid::now_v7()), false, None).await;
        let token = s.app.token(&member, &["write:integrations"]).await;
        let (status, _) = send(s.app.post(&token, "/api/integrations/github/sync")).await;
        assert_eq!(status, 403);
    }

    async fn the_sync_is_a_binding_the_admin_can_see_and_change(backend) {
        let s = setup(backend, vec![issue(7, "Flaky login", &["p1"])]).await;
        let (_, body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!(body["created"], 1, "{body}");
        let (_, listed) = send(s.app.get(&s.admin, "/api/v1/integration/bindings?provider=github")).await;
        let bindings = listed["bindings"].as_array().unwrap();
        assert_eq!(bindings.len(), 1, "{listed}");
        let binding = &bindings[0];
        assert_eq!(binding["id"], body["binding_id"]);
        assert_eq!((binding["managed"].clone(), binding["collection"].clone(), binding["direction"].clone()), (json!(true), json!(REPO), json!("pull")));
        assert_eq!(binding["project_id"], s.project_id.as_str());
        assert_eq!(binding["mapping"], json!({"name": "title", "description": "description", "priority": "priority"}));
        assert_eq!(binding["last_run"]["created"], 1);

        // As before: the issue is the source; a local edit is put back by the next sync.
        let task = tasks(&s.app, &s.admin).await.remove(0);
        let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
        send(s.app.patch(&s.admin, &path).json(&json!({"description": "Notes of ours", "priority": "low"}))).await;
        send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        let (_, now) = send(s.app.get(&s.admin, &path)).await;
        assert!(now["task"]["description"].as_str().unwrap().starts_with("https://github.com/"), "{now}");
        assert_eq!(now["task"]["priority"], "high");

        // The admin maps less: the description is then ours to keep.
        let binding_path = format!("/api/v1/integration/bindings/{}", binding["id"].as_str().unwrap());
        let (status, changed) = send(s.app.patch(&s.admin, &binding_path).json(&json!({"mapping": {"name": "title", "priority": "priority"}}))).await;
        assert_eq!(status, 200, "{changed}");
        send(s.app.patch(&s.admin, &path).json(&json!({"description": "Notes of ours"}))).await;
        send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        let (_, now) = send(s.app.get(&s.admin, &path)).await;
        assert_eq!(now["task"]["description"], "Notes of ours");

        // What the integration's configuration decides stays there.
        let (status, body) = send(s.app.patch(&s.admin, &binding_path).json(&json!({"collection": "octo-org/other", "active": false}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["collection"].is_array() && body["errors"]["active"].is_array(), "{body}");
        let (status, _) = send(s.app.delete(&s.admin, &binding_path)).await;
        assert_eq!(status, 400);
        let (status, body) = send(s.app.patch(&s.admin, &binding_path).json(&json!({"direction": "both"}))).await;
        assert_eq!(status, 400, "GitHub pulls only: {body}");
    }

    async fn config_status_and_test_degrade_gracefully(backend) {
        let github = StandIn::github(TOKEN, vec![]).await;
        let app = TestApp::private(backend, &[("GITHUB_API_URL", &github.base)]).await;
        let admin = admin_token(&app).await;
        let not_configured = json!({"ok": false, "error": "Integration not configured"});
        for path in ["/api/integrations/github/status", "/api/integrations/slack/status"] {
            let (status, body) = send(app.get(&admin, path)).await;
            assert_eq!((status, &body), (200, &not_configured), "{path}");
        }
        let (_, body) = send(app.post(&admin, "/api/integrations/github/test")).await;
        assert_eq!(body, not_configured);
        let (status, _) = send(app.get(&admin, "/api/integrations/gitlab/status")).await;
        assert_eq!(status, 404);

        let (status, body) = send(app.put(&admin, "/api/integrations/github/config").json(&json!({"repo": "not a repo", "colour": "red"}))).await;
        assert_eq!(status, 400, "{body}");
        for field in ["repo", "colour", "webhook_secret", "project_id"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (_, project) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "P"}))).await;
        let (status, body) = send(app.put(&admin, "/api/integrations/github/config").json(&json!({
            "repo": REPO, "webhook_secret": SECRET, "token": "ghp_wrongtoken000", "project_id": project["project"]["id"],
        }))).await;
        assert_eq!(status, 200, "{body}");
        // Secrets are only ever shown truncated.
        assert_eq!(body["config"]["token"], "ghp_…");
        assert_eq!(body["config"]["webhook_secret"], "It'…");
        assert!(!body.to_string().contains("wrongtoken"));

        let (_, body) = send(app.post(&admin, "/api/integrations/github/test")).await;
        assert_eq!(body["ok"], false);
        assert!(body["error"].as_str().unwrap().contains("401"), "{body}");
        send(app.put(&admin, "/api/integrations/github/config").json(&json!({"token": TOKEN}))).await;
        let (_, body) = send(app.post(&admin, "/api/integrations/github/test")).await;
        assert_eq!(body, json!({"ok": true, "repository": REPO, "private": false}));
        let (_, status) = send(app.get(&admin, "/api/integrations/github/status")).await;
        assert_eq!(status["ok"], true);
        assert!(status["last_ok_at"].is_string());

        // Switched off: not configured, and its webhooks are refused.
        send(app.put(&admin, "/api/integrations/github/config").json(&json!({"active": false}))).await;
        let (_, body) = send(app.get(&admin, "/api/integrations/github/status")).await;
        assert_eq!(body, not_configured);
        let (status, _) = deliver(&app, "ping", "d-1", &json!({"zen": "x"})).await;
        assert_eq!(status, 401);
        // Removed.
        let (_, body) = send(app.delete(&admin, "/api/integrations/github/config")).await;
        assert_eq!(body["ok"], true);
        let (_, body) = send(app.get(&admin, "/api/integrations/github/config")).await;
        assert_eq!(body["configured"], false);
    }

    async fn a_delivery_id_longer_than_the_ledger_keeps_is_still_applied_once(backend) {
        let s = setup(backend, vec![]).await;
        let long = format!("delivery-{}", "7".repeat(250));
        let payload = issues_event("opened", 21, &[]);
        let (status, body) = deliver(&s.app, "issues", &long, &payload).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], true, "{body}");
        // The same long id again: a duplicate, not a clash on the ledger's unique index.
        let (status, again) = deliver(&s.app, "issues", &long, &issues_event("closed", 21, &[])).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["duplicate"], true, "{again}");
        // Another id sharing the first 200 characters is another delivery.
        let sibling = format!("{}8", &long[..long.len() - 1]);
        let (status, body) = deliver(&s.app, "issues", &sibling, &issues_event("closed", 21, &[])).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("duplicate").is_none(), "{body}");
        let list = tasks(&s.app, &s.admin).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "done", "the sibling was applied");
        // The whole id is still on record, in the delivery's headers.
        let rows = ledger_rows(&s.app, timebridge::connectors::Provider::Github).await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().any(|r| r.headers.contains(&long)), "{rows:?}");
    }

    async fn credential_headers_are_never_recorded_in_the_ledger(backend) {
        let s = setup(backend, vec![]).await;
        let credentials = [
            ("X-API-Key", "tb_pat_leaked-api-key"),
            ("Authorization", "Bearer leaked-bearer"),
            ("Cookie", "session=leaked-cookie"),
            ("X-Anything-Token", "leaked-token"),
            ("X-Proxy-Key", "leaked-proxy-key"),
            ("X-Forwarded-For", "203.0.113.9"),
        ];
        let (status, body) = deliver_with_headers(&s.app, "h-1", &issues_event("opened", 31, &[]), &credentials).await;
        assert_eq!(status, 200, "{body}");
        let rows = ledger_rows(&s.app, timebridge::connectors::Provider::Github).await;
        assert_eq!(rows.len(), 1);
        let recorded: Value = serde_json::from_str(&rows[0].headers).unwrap();
        assert_eq!(recorded, json!({
            "x-github-event": "issues",
            "x-github-delivery": "h-1",
            "x-github-hook-id": "292430182",
            "user-agent": "GitHub-Hookshot/044aadd",
            "content-type": "application/json",
        }));
        assert!(!rows[0].headers.contains("leaked") && !rows[0].headers.contains("sha256="), "{}", rows[0].headers);
    }

    async fn a_database_failure_answers_a_500_that_names_no_database_detail(backend) {
        let s = setup(backend, vec![]).await;
        break_the_ledger(&s.app).await;
        let response = s.app.client
            .post(s.app.url("/api/integrations/github/webhook"))
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "f-1")
            .header("X-Hub-Signature-256", signature::sign(SECRET, issues_event("opened", 41, &[]).to_string().as_bytes()))
            .header("Content-Type", "application/json")
            .body(issues_event("opened", 41, &[]).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        assert!(response.headers().contains_key("x-request-id"), "the request id finds the cause in the logs");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["ok"], false, "{body}");
        let text = body.to_string();
        for word in DATABASE_WORDS {
            assert!(!text.to_lowercase().contains(&word.to_lowercase()), "{word}: {text}");
        }
    }

    async fn a_saved_github_login_shows_at_once_in_every_workspace_of_the_member(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let ada = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = app.token(&ada, &["admin:all"]).await;
        // Ada also belongs to a second workspace, with a token there.
        let other = app.member(true, timebridge::directory::Plan::Free).await;
        {
            use sea_orm::{ActiveModelTrait, Set};
            use timebridge::directory::entity::membership;
            membership::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                workspace_id: Set(other.workspace.id),
                user_id: Set(ada.user.id),
                role: Set(timebridge::directory::Role::Member),
                is_active: Set(true),
                created_at: Set(timebridge::platform::time::now()),
            }
            .insert(app.db.conn())
            .await
            .unwrap();
        }
        let there = timebridge::directory::Member { user: ada.user.clone(), workspace: other.workspace.clone(), role: timebridge::directory::Role::Member, active_here: true };
        let there_token = app.token(&there, &["read:users"]).await;
        // Both answers are cached now.
        for t in [&token, &there_token] {
            let (status, me) = send(app.get(t, "/api/v1/users/me")).await;
            assert_eq!((status, &me["user"]["github_username"]), (200, &json!(null)), "{me}");
        }
        let other_admin = app.token(&other, &["admin:all"]).await;
        let seen_here = events_after(&app, &token, 0).await.len();
        let seen_there = events_after(&app, &other_admin, 0).await.len();

        let (_, project) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "P"}))).await;
        let (status, body) = send(app.put(&token, "/api/integrations/github/config").json(&json!({
            "repo": REPO, "webhook_secret": SECRET, "project_id": project["project"]["id"], "github_username": "OctoCat",
        }))).await;
        assert_eq!(status, 200, "{body}");
        for t in [&token, &there_token] {
            let (_, me) = send(app.get(t, "/api/v1/users/me")).await;
            assert_eq!(me["user"]["github_username"], "OctoCat", "right after the PUT: {me}");
        }
        // Each workspace's feed (and its webhooks) hears of it, as user.updated.
        for (admin, seen, role) in [(&token, seen_here, "admin"), (&other_admin, seen_there, "member")] {
            let events = events_after(&app, admin, 0).await;
            let updated: Vec<_> = events[seen..].iter().filter(|e| e["type"] == "user.updated").collect();
            assert_eq!(updated.len(), 1, "{events:?}");
            assert_eq!(updated[0]["resource"], json!({"type": "user", "id": ada.user.id}));
            assert_eq!(updated[0]["data"]["github_username"], "OctoCat");
            assert_eq!(updated[0]["data"]["role"], role);
        }
        // Saving the same login again changes nothing, and says nothing.
        let before = events_after(&app, &token, 0).await.len();
        send(app.patch(&token, "/api/integrations/github/config").json(&json!({"github_username": "OctoCat"}))).await;
        assert_eq!(events_after(&app, &token, 0).await.len(), before);
        // Cleared: null everywhere at once.
        send(app.patch(&token, "/api/integrations/github/config").json(&json!({"github_username": null}))).await;
        for t in [&token, &there_token] {
            let (_, me) = send(app.get(t, "/api/v1/users/me")).await;
            assert_eq!(me["user"]["github_username"], json!(null), "{me}");
        }
    }

    async fn a_sync_that_fails_on_our_side_names_no_database_detail(backend) {
        let issues = (1..=3).map(|n| issue(n, &format!("Issue {n}"), &[])).collect();
        let s = setup(backend, issues).await;
        use sea_orm::ConnectionTrait;
        s.app.db.conn().execute_unprepared("ALTER TABLE tasks RENAME TO tasks_gone").await.unwrap();
        let (status, body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!((status, &body["ok"]), (200, &json!(false)), "{body}");
        assert!(body["error"].as_str().unwrap().contains("Timebridge's side"), "{body}");
        let (_, state) = send(s.app.get(&s.admin, "/api/integrations/github/status")).await;
        assert!(state["last_error"].as_str().unwrap().contains("Timebridge's side"), "{state}");
        for shown in [body.to_string(), state.to_string()] {
            for word in DATABASE_WORDS.iter().chain(&["tasks"]) {
                assert!(!shown.to_lowercase().contains(&word.to_lowercase()), "{word}: {shown}");
            }
        }
    }
}
