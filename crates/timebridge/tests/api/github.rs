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
        let (status, body) = send(s.app.post(&s.admin, "/api/integrations/github/sync")).await;
        assert_eq!(status, 200, "{body}");
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
}
