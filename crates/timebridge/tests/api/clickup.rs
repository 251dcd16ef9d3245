//! The ClickUp connector against a stand-in speaking ClickUp's API v2: the workspace's OAuth
//! connection (state refused when replayed), the space sync and its cache, the per-workspace
//! budget (in process and shared through Redis by two instances), ClickUp's own 429, a
//! revoked token, and assigning a client to a space.

use serde_json::{Value, json};
use timebridge::connectors::clickup::{self, api::ClickUpError};

use crate::{both, clickup_stand_in::ClickUp, support::*};

async fn app_with(backend: Backend, stand_in: &ClickUp, extra: &[(&str, &str)]) -> TestApp {
    let env = stand_in.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    TestApp::with_env(backend, &env).await
}

/// An admin connects the workspace's ClickUp through the browser flow; answers their token.
async fn connect(
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

fn walk(stand_in: &ClickUp) {
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
