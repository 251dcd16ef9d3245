//! The ClickUp connector against a stand-in speaking ClickUp's API v2: the workspace's OAuth
//! connection (state refused when replayed), the space sync and its cache, the per-workspace
//! budget (in process and shared through Redis by two instances), ClickUp's own 429, a
//! revoked token, and assigning a client to a space.

use serde_json::{Value, json};
use timebridge::connectors::clickup::{self, api::ClickUpError};

use crate::{both, clickup_stand_in::ClickUp, support::*};

pub(crate) async fn app_with(
    backend: Backend,
    stand_in: &ClickUp,
    extra: &[(&str, &str)],
) -> TestApp {
    let env = stand_in.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    TestApp::with_env(backend, &env).await
}

/// An admin connects the workspace's ClickUp through the browser flow; answers their token.
pub(crate) async fn connect(
    app: &TestApp,
    stand_in: &ClickUp,
    admin: &timebridge::directory::Member,
    code: &str,
) -> String {
    let token = app.token(admin, &["admin:all"]).await;
    let (status, started) = send(app.get(&token, "/api/v1/clickup/oauth/connect")).await;
    assert_eq!(status, 200, "{started}");
    stand_in.grant_code(code);
    let url = format!(
        "/api/v1/clickup/oauth/callback?state={}&code={code}",
        started["state"].as_str().unwrap()
    );
    let page = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    token
}

pub(crate) fn walk(stand_in: &ClickUp) {
    stand_in.add_team("9011", "Acme");
    stand_in.add_space("9011", "90110123", "Client work");
    stand_in.add_space("9011", "90110456", "Internal");
    stand_in.add_list("90110123", None, "901100001", "Tickets");
}

both! {
    async fn an_admin_connects_the_workspace_and_a_replayed_state_is_refused(backend) {
        let stand_in = ClickUp::start().await;
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = app.token(&admin, &["admin:all"]).await;
        let member = app.member_in(&admin.workspace.name, false, None).await;
        let member_token = app.token(&member, &["write:integrations"]).await;
        let (status, _) = send(app.get(&member_token, "/api/v1/clickup/oauth/connect")).await;
        assert_eq!(status, 403, "only admins connect the workspace's ClickUp");

        let (status, started) = send(app.get(&token, "/api/v1/clickup/oauth/connect")).await;
        assert_eq!(status, 200, "{started}");
        let url = reqwest::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], crate::clickup_stand_in::CLIENT_ID);
        assert_eq!(q["redirect_uri"], "http://localhost:3000/api/v1/clickup/oauth/callback");
        assert_eq!(q["state"], started["state"].as_str().unwrap());

        stand_in.grant_code("ck-code-1");
        let callback = format!("/api/v1/clickup/oauth/callback?state={}&code=ck-code-1", q["state"]);
        let page = app.client.get(app.url(&callback)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Connected to clickup"));
        let exchange = stand_in.requests().into_iter().find(|r| r.path.ends_with("/oauth/token")).expect("a token exchange");
        assert!(exchange.query.iter().any(|(k, v)| k == "client_secret" && v == crate::clickup_stand_in::CLIENT_SECRET), "{:?}", exchange.query);

        // The same state again: refused, nothing exchanged.
        let again = app.client.get(app.url(&callback)).send().await.unwrap();
        assert_eq!(again.status(), 400);
        assert_eq!(stand_in.count("POST", "/oauth/token"), 1);

        // One token serves the workspace: a member sees the connection in status.
        walk(&stand_in);
        let (_, status) = send(app.get(&member_token, "/api/integrations/clickup/status")).await;
        assert_eq!(status["ok"], false, "status is the connecting admin's integration: {status}");
        let (_, status) = send(app.get(&token, "/api/integrations/clickup/status")).await;
        assert_eq!(status["connected"], "active", "{status}");
        assert_eq!(status["team"]["name"], "Acme", "{status}");

        // Disconnecting forgets the token.
        let (status, body) = send(app.delete(&token, "/api/v1/clickup/oauth/disconnect")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ok"], true, "{body}");
        let (_, connections) = send(app.get(&token, "/api/v1/integration/oauth/connections")).await;
        assert_eq!(connections["connections"], json!([]));
    }

    async fn spaces_sync_into_the_workspace_and_the_cache_spares_clickup(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-sync").await;
        let (status, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(status, 200);
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!((reply["teams"].clone(), reply["spaces"].clone()), (json!(1), json!(2)), "{reply}");
        let (_, spaces) = send(app.get(&token, "/api/v1/clickup/spaces")).await;
        let names: Vec<&str> = spaces["spaces"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Client work", "Internal"]);

        // Inside the cache's lifetime (teams 1 h, spaces 30 min) a second sync asks ClickUp nothing.
        let (teams, spaces_calls) = (stand_in.count("GET", "/team"), stand_in.requests().len());
        let (_, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(reply["spaces"], 2);
        assert_eq!(stand_in.count("GET", "/team"), teams);
        assert_eq!(stand_in.requests().len(), spaces_calls, "no upstream request");

        // A client is assigned to a synced space, and only to one.
        let (_, client) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Globex"}))).await;
        let path = format!("/api/v1/clients/{}/clickup-space", client["client"]["id"].as_str().unwrap());
        let (status, body) = send(app.put(&token, &path).json(&json!({"space_id": "999"}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["space_id"].is_array());
        let (status, body) = send(app.put(&token, &path).json(&json!({"space_id": "90110123"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["space"]["name"], "Client work");
        let (_, shown) = send(app.get(&token, &path)).await;
        assert_eq!(shown["space"]["space_id"], "90110123");
        let (status, body) = send(app.delete(&token, &path)).await;
        assert_eq!(status, 200);
        assert_eq!(body["space"], Value::Null);
    }

    async fn the_workspace_budget_refuses_the_101st_call_in_a_minute(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        connect(&app, &stand_in, &admin, "ck-budget").await;
        let api = clickup::client_for(&app.state, admin.workspace.id).await.expect("connected");
        for n in 1..=100 {
            api.tasks("901100001", 0).await.unwrap_or_else(|e| panic!("call {n}: {e}"));
        }
        let sent = stand_in.count("GET", "/list/");
        let refused = api.tasks("901100001", 0).await.unwrap_err();
        let ClickUpError::RateLimited { retry_after } = refused else { panic!("{refused:?}") };
        assert!(retry_after > std::time::Duration::ZERO && retry_after <= std::time::Duration::from_secs(1), "{retry_after:?}");
        assert_eq!(stand_in.count("GET", "/list/"), sent, "the refused call was not sent");

        // ClickUp's own 429 carries when its window resets.
        let other = app.member(true, timebridge::directory::Plan::Enterprise).await;
        connect(&app, &stand_in, &other, "ck-429").await;
        let api = clickup::client_for(&app.state, other.workspace.id).await.unwrap();
        stand_in.rate_limit_next(1, 30);
        match api.tasks("901100001", 0).await {
            Err(ClickUpError::RateLimited { retry_after }) => assert!((25..=31).contains(&retry_after.as_secs()), "{retry_after:?}"),
            other => panic!("{other:?}"),
        }
    }

    async fn a_revoked_token_asks_an_admin_to_reconnect(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-revoked").await;
        stand_in.revoke_tokens();
        let (_, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(reply["ok"], false);
        assert!(reply["error"].as_str().unwrap().contains("connect ClickUp again"), "{reply}");
        let (_, connections) = send(app.get(&token, "/api/v1/integration/oauth/connections")).await;
        assert_eq!(connections["connections"][0]["status"], "needs_reauth", "{connections}");
        // Later calls say so at once, without asking ClickUp.
        let before = stand_in.requests().len();
        let (_, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert!(reply["error"].as_str().unwrap().contains("connect ClickUp again"));
        assert_eq!(stand_in.requests().len(), before);
    }
}

/// A task of a project of a client assigned to the ClickUp space `90110123`; answers the
/// task's id.
async fn ticket_ready(app: &TestApp, token: &str, name: &str) -> String {
    let (_, client) = send(
        app.post(token, "/api/v1/clients")
            .json(&json!({"name": format!("Client of {name}")})),
    )
    .await;
    let client_id = client["client"]["id"].as_str().unwrap().to_owned();
    let (status, body) = send(
        app.put(token, &format!("/api/v1/clients/{client_id}/clickup-space"))
            .json(&json!({"space_id": "90110123"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, project) = send(
        app.post(token, "/api/v1/projects")
            .json(&json!({"name": format!("Project of {name}"), "client_id": client_id})),
    )
    .await;
    let (status, task) = send(app.post(token, "/api/v1/tasks").json(&json!({
        "name": name, "project_id": project["project"]["id"], "priority": "high", "estimated_hours": 2.5
    }))).await;
    assert_eq!(status, 201, "{task}");
    task["task"]["id"].as_str().unwrap().to_owned()
}

/// The job's next try, now rather than after its backoff.
async fn fast_forward(app: &TestApp, job_id: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use timebridge::platform::jobs::job;
    {
        let _turn = app.db.write_turn().await;
        job::Entity::update_many()
            .col_expr(
                job::Column::RunAfter,
                Expr::val(time::OffsetDateTime::now_utc() - time::Duration::seconds(1)),
            )
            .filter(job::Column::Id.eq(job_id.parse::<uuid::Uuid>().unwrap()))
            .exec(app.db.conn())
            .await
            .unwrap();
    }
    timebridge::platform::jobs::jobs_queued(&app.db).raise_locally();
}

async fn ticket_state(
    app: &TestApp,
    token: &str,
    task_id: &str,
    until: impl Fn(&Value) -> bool,
) -> Value {
    eventually(|| async {
        let (_, state) =
            send(app.get(token, &format!("/api/v1/tasks/{task_id}/clickup-task"))).await;
        until(&state).then_some(state)
    })
    .await
}

both! {
    async fn a_task_becomes_one_clickup_task_however_often_it_is_asked_for(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-tasks").await;
        send(app.post(&token, "/api/integrations/clickup/sync")).await;
        let task_id = ticket_ready(&app, &token, "Fix checkout").await;
        let path = format!("/api/v1/tasks/{task_id}/clickup-task");
        let (status, first) = send(app.post(&token, &path)).await;
        assert_eq!(status, 202, "{first}");
        let (status, second) = send(app.post(&token, &path)).await;
        assert!(status == 202 || status == 200, "{second}");
        let done = ticket_state(&app, &token, &task_id, |s| s["status"] == "created").await;
        let made = stand_in.tasks("901100001");
        assert_eq!(made.len(), 1, "{made:?}");
        assert_eq!(made[0]["name"], format!("[TICKET-{task_id}] Fix checkout"));
        assert_eq!(made[0]["priority"]["priority"], "high", "{}", made[0]);
        assert!(made[0]["description"].as_str().unwrap().contains(&format!("Timebridge task {task_id}")));
        assert!(made[0]["description"].as_str().unwrap().contains("Estimated hours: 2.50"));
        assert_eq!(done["clickup_task_id"], made[0]["id"]);
        assert_eq!(done["url"], made[0]["url"]);
        let (status, again) = send(app.post(&token, &path)).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(stand_in.created(), 1);
    }

    async fn a_failing_creation_is_retried_with_its_backoff_and_a_lost_answer_makes_no_second_task(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-retry").await;
        send(app.post(&token, "/api/integrations/clickup/sync")).await;

        // Two failures, then it works: three attempts, waiting 60 then 120 seconds.
        let task_id = ticket_ready(&app, &token, "Flaky").await;
        // Warm the cache so the failures hit the task calls, not the list lookup.
        let api = timebridge::connectors::clickup::client_for(&app.state, admin.workspace.id).await.unwrap();
        api.folderless_lists("90110123").await.unwrap();
        stand_in.fail_next(2, 500);
        let (_, asked) = send(app.post(&token, &format!("/api/v1/tasks/{task_id}/clickup-task"))).await;
        let job_id = asked["job"]["id"].as_str().unwrap().to_owned();
        for (attempt, wait) in [(1, 60), (2, 120)] {
            let state = ticket_state(&app, &token, &task_id, |s| s["job"]["attempts"] == attempt && s["job"]["status"] == "pending").await;
            assert!(state["job"]["last_error"].as_str().unwrap().contains("500"), "{state}");
            let run_after = time::OffsetDateTime::parse(state["job"]["run_after"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
            let waits = (run_after - time::OffsetDateTime::now_utc()).whole_seconds();
            assert!((wait - 5..=wait).contains(&waits), "attempt {attempt} waits {waits} s: {state}");
            fast_forward(&app, &job_id).await;
        }
        let done = ticket_state(&app, &token, &task_id, |s| s["status"] == "created").await;
        assert_eq!(done["job"]["attempts"], 3, "{done}");
        assert_eq!(stand_in.created(), 1);

        // ClickUp makes the task but its answer is lost: the retry finds it by its prefix.
        let lost = ticket_ready(&app, &token, "Lost answer").await;
        stand_in.lose_next_create_response();
        let (_, asked) = send(app.post(&token, &format!("/api/v1/tasks/{lost}/clickup-task"))).await;
        let job_id = asked["job"]["id"].as_str().unwrap().to_owned();
        ticket_state(&app, &token, &lost, |s| s["job"]["attempts"] == 1 && s["job"]["status"] == "pending").await;
        fast_forward(&app, &job_id).await;
        let done = ticket_state(&app, &token, &lost, |s| s["status"] == "created").await;
        assert_eq!(stand_in.created(), 2, "one ClickUp task per Timebridge task");
        let named: Vec<Value> = stand_in.tasks("901100001").into_iter().filter(|t| t["name"].as_str().unwrap().contains(&lost)).collect();
        assert_eq!(named.len(), 1);
        assert_eq!(done["clickup_task_id"], named[0]["id"]);
    }
}

pub(crate) async fn deliver(app: &TestApp, secret: &str, payload: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(payload).unwrap();
    let signature = crate::clickup_stand_in::sign(secret, &body);
    send(
        app.client
            .post(app.url("/api/integrations/clickup/webhook"))
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .body(body),
    )
    .await
}

both! {
    async fn clickup_status_changes_reach_the_linked_task_once(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-hooks").await;
        let (_, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(reply["webhook_registered"], true, "{reply}");
        let hooks = stand_in.webhooks();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0]["endpoint"], "http://localhost:3000/api/integrations/clickup/webhook");
        assert_eq!(hooks[0]["events"], json!(["taskStatusUpdated", "taskTimeTrackedUpdated"]));
        let (webhook_id, secret) = (hooks[0]["id"].as_str().unwrap().to_owned(), hooks[0]["secret"].as_str().unwrap().to_owned());
        let (_, again) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(again["webhook_registered"], false, "registered once");

        let task_id = ticket_ready(&app, &token, "Ship it").await;
        send(app.post(&token, &format!("/api/v1/tasks/{task_id}/clickup-task"))).await;
        let made = ticket_state(&app, &token, &task_id, |s| s["status"] == "created").await;
        let clickup_id = made["clickup_task_id"].as_str().unwrap().to_owned();

        // Closed in ClickUp: done here, once however often ClickUp delivers it.
        let closed = crate::clickup_stand_in::task_status_updated_payload(&webhook_id, &clickup_id, "to do", "complete");
        let (status, body) = deliver(&app, &secret, &closed).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["applied"], "done", "{body}");
        let (_, task) = send(app.get(&token, &format!("/api/v1/tasks/{task_id}"))).await;
        assert_eq!(task["task"]["status"], "done", "{task}");
        let (status, body) = deliver(&app, &secret, &closed).await;
        assert_eq!(status, 200);
        assert_eq!(body["duplicate"], true, "{body}");

        // A wrong signature is refused before anything is read.
        let (status, _) = deliver(&app, "not-the-secret", &closed).await;
        assert_eq!(status, 401);

        // Reopened in ClickUp: back to todo.
        let reopened = crate::clickup_stand_in::task_status_updated_payload(&webhook_id, &clickup_id, "complete", "to do");
        let (_, body) = deliver(&app, &secret, &reopened).await;
        assert_eq!(body["applied"], "todo", "{body}");
        let (_, task) = send(app.get(&token, &format!("/api/v1/tasks/{task_id}"))).await;
        assert_eq!(task["task"]["status"], "todo");
        let events = events_after(&app, &token, 0).await;
        let changes: Vec<&str> = events
            .iter()
            .filter(|e| e["data"]["id"] == task_id.as_str() && e["actor"]["via"] == "clickup")
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(changes, ["task.completed", "task.updated"], "one event per change");
    }
}

/// Two instances on Redis draw on one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_redis_share_the_workspace_budget() {
    let stand_in = ClickUp::start().await;
    walk(&stand_in);
    let redis = redis_url();
    let env = stand_in.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("REDIS_URL", redis.as_str()));
    let (url, _dir) = private_database(Backend::Sqlite).await;
    let one = TestApp::on_database(&url, &env).await;
    let two = TestApp::on_database(&url, &env).await;
    let admin = one
        .member(true, timebridge::directory::Plan::Enterprise)
        .await;
    connect(&one, &stand_in, &admin, "ck-redis").await;
    let a = clickup::client_for(&one.state, admin.workspace.id)
        .await
        .unwrap();
    let b = clickup::client_for(&two.state, admin.workspace.id)
        .await
        .unwrap();
    for n in 0..100 {
        let api = if n % 2 == 0 { &a } else { &b };
        api.tasks("901100001", 0)
            .await
            .unwrap_or_else(|e| panic!("call {n}: {e}"));
    }
    assert!(matches!(
        a.tasks("901100001", 0).await,
        Err(ClickUpError::RateLimited { .. })
    ));
    assert!(matches!(
        b.tasks("901100001", 0).await,
        Err(ClickUpError::RateLimited { .. })
    ));
}
