//! OAuth connections end to end against a stand-in for Google's OAuth endpoints: the flow
//! (state bound to the member, single use, PKCE S256), tokens sealed at rest, one refresh at a
//! time under concurrency, refused refresh tokens, revocation on disconnect, pasted tokens,
//! the periodic refresh.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use timebridge::oauth::{
    entity::connection::{self, Column},
    tokens::{self, TokenError},
};
use uuid::Uuid;

use crate::{both, google_stand_in::GoogleOAuth, support::*};

const CONNECTIONS: &str = "/api/v1/integration/oauth/connections";
const CALLBACK: &str = "/api/v1/integration/oauth/callback";

async fn app_for(backend: Backend, google: &GoogleOAuth) -> TestApp {
    let env = google.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with_env(backend, &env).await
}

/// Starts a Google flow; returns the answer (authorization URL, state, expiry).
async fn start(app: &TestApp, token: &str) -> Value {
    let (status, body) = send(
        app.post(token, CONNECTIONS)
            .json(&json!({"oauth_app_id": "google"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Connects the member through the whole flow; returns the connection.
async fn connect(app: &TestApp, token: &str, google: &GoogleOAuth, code: &str) -> Value {
    let started = start(app, token).await;
    google.consent(started["authorization_url"].as_str().unwrap(), code);
    let (status, body) = send(
        app.post(token, CALLBACK)
            .json(&json!({"state": started["state"], "code": code})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["connection"].clone()
}

async fn row(app: &TestApp, id: &str) -> connection::Model {
    connection::Entity::find_by_id(id.parse::<Uuid>().unwrap())
        .one(app.db.conn())
        .await
        .unwrap()
        .expect("the connection exists")
}

/// Makes the connection's access token expire `seconds` from now.
async fn expire_in(app: &TestApp, id: &str, seconds: i64) {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    let _turn = app.db.write_turn().await;
    connection::Entity::update_many()
        .col_expr(Column::ExpiresAt, Expr::val(Some(at)))
        .filter(Column::Id.eq(id.parse::<Uuid>().unwrap()))
        .exec(app.db.conn())
        .await
        .unwrap();
}

both! {
    async fn the_apps_say_which_providers_the_operator_set_up(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (_, token) = app.caller(false, &["read:integrations"]).await;
        let (status, body) = send(app.get(&token, "/api/v1/integration/oauth/apps")).await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = body["apps"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["github", "google", "slack", "clickup"]);
        let (status, google_app) = send(app.get(&token, "/api/v1/integration/oauth/apps/google")).await;
        assert_eq!(status, 200);
        assert_eq!(google_app["configured"], true);
        assert_eq!(google_app["redirect_uri"], "http://localhost:3000/api/v1/integration/oauth/callback");
        assert!(google_app["scopes"].as_array().unwrap().iter().any(|s| s["scope"] == "https://www.googleapis.com/auth/calendar.events"));
        let (_, github_app) = send(app.get(&token, "/api/v1/integration/oauth/apps/github")).await;
        assert_eq!(github_app["configured"], false);
        let (status, _) = send(app.get(&token, "/api/v1/integration/oauth/apps/gitlab")).await;
        assert_eq!(status, 404);

        // An app the operator did not set up cannot be connected, and the answer says how.
        let (_, writer) = app.caller(false, &["write:integrations"]).await;
        let (status, body) = send(app.post(&writer, CONNECTIONS).json(&json!({"oauth_app_id": "github"}))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error_code"], "oauth_app_not_configured");
        assert!(body["message"].as_str().unwrap().contains("GITHUB_CLIENT_ID"), "{body}");
        let (status, body) = send(app.post(&writer, CONNECTIONS).json(&json!({"oauth_app_id": "google", "scopes": ["admin"]}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["scopes"].is_array(), "{body}");
    }

    async fn a_flow_connects_with_pkce_and_keeps_tokens_sealed(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (member, token) = app.caller(false, &["write:integrations"]).await;
        let started = start(&app, &token).await;
        let url = reqwest::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("accounts.google.com"));
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], crate::google_stand_in::CLIENT_ID);
        assert_eq!(q["redirect_uri"], "http://localhost:3000/api/v1/integration/oauth/callback");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["state"], started["state"].as_str().unwrap());
        assert!(q["scope"].contains("calendar.events"));

        google.consent(url.as_str(), "4/0AY0e-code-1");
        let (status, body) = send(app.post(&token, CALLBACK).json(&json!({"state": started["state"], "code": "4/0AY0e-code-1"}))).await;
        assert_eq!(status, 201, "{body}");
        let connection = &body["connection"];
        assert_eq!(connection["oauth_app_id"], "google");
        assert_eq!(connection["status"], "active");
        assert_eq!(connection["account_name"], "ada@example.com");
        assert_eq!(connection["refreshable"], true);
        assert_eq!(connection["user_id"], member.user.id.to_string());
        assert!(connection["expires_at"].is_string());
        // The stand-in checked the verifier against the challenge; the request carried it.
        let requests = google.token_requests();
        assert_eq!(requests.len(), 1);
        assert!(requests[0]["code_verifier"].len() >= 43, "{:?}", requests[0]);
        // Tokens never leave the server, and are sealed at rest.
        let text = body.to_string();
        assert!(!text.contains("ya29.") && !text.contains("1//0refresh"), "{text}");
        let stored = row(&app, connection["id"].as_str().unwrap()).await;
        let sealed = format!("{:?} {:?}", stored.access_token, stored.refresh_token);
        assert!(!sealed.contains("ya29.") && !sealed.contains("1//0refresh"), "{sealed}");
        assert_eq!(tokens::access_token(&app.state, stored.id).await.unwrap(), "ya29.access-1");

        let (status, list) = send(app.get(&token, CONNECTIONS)).await;
        assert_eq!(status, 200);
        assert_eq!(list["connections"].as_array().unwrap().len(), 1);
        let (status, one) = send(app.get(&token, &format!("{CONNECTIONS}/{}", stored.id))).await;
        assert_eq!(status, 200);
        assert_eq!(one["connection"]["account_name"], "ada@example.com");
    }

    async fn a_state_works_once_for_the_member_who_started_it(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (member, token) = app.caller(false, &["write:integrations"]).await;
        let started = start(&app, &token).await;
        google.consent(started["authorization_url"].as_str().unwrap(), "code-a");
        let callback = json!({"state": started["state"], "code": "code-a"});

        // Another member, even in the same workspace, cannot finish it; nothing is stored.
        let other = app.member_in(&member.workspace.name, false, None).await;
        let other_token = app.token(&other, &["write:integrations"]).await;
        let (status, body) = send(app.post(&other_token, CALLBACK).json(&callback)).await;
        assert_eq!(status, 403, "{body}");
        assert!(google.token_requests().is_empty(), "no code was exchanged");
        let (_, theirs) = send(app.get(&other_token, CONNECTIONS)).await;
        assert_eq!(theirs["connections"], json!([]));

        // Its owner can; a replay is refused and changes nothing.
        let (status, _) = send(app.post(&token, CALLBACK).json(&callback)).await;
        assert_eq!(status, 201);
        let (status, body) = send(app.post(&token, CALLBACK).json(&callback)).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["state"][0].as_str().unwrap().contains("already used"), "{body}");
        assert_eq!(google.token_requests().len(), 1);

        // An unknown state, and an expired one.
        let (status, body) = send(app.post(&token, CALLBACK).json(&json!({"state": "forged", "code": "x"}))).await;
        assert_eq!(status, 400, "{body}");
        let late = start(&app, &token).await;
        {
            use timebridge::oauth::entity::state;
            let _turn = app.db.write_turn().await;
            state::Entity::update_many()
                .col_expr(state::Column::ExpiresAt, Expr::val(time::OffsetDateTime::now_utc() - time::Duration::seconds(1)))
                .filter(state::Column::UserId.eq(member.user.id))
                .exec(app.db.conn())
                .await
                .unwrap();
        }
        google.consent(late["authorization_url"].as_str().unwrap(), "code-b");
        let (status, body) = send(app.post(&token, CALLBACK).json(&json!({"state": late["state"], "code": "code-b"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["state"][0].as_str().unwrap().contains("expired"), "{body}");

        // A member who declines at Google: the flow ends, nothing is stored.
        let declined = start(&app, &token).await;
        let (status, body) = send(app.post(&token, CALLBACK).json(&json!({"state": declined["state"], "error": "access_denied"}))).await;
        assert_eq!(status, 400);
        assert!(body["message"].as_str().unwrap().contains("access_denied"), "{body}");
        assert_eq!(google.token_requests().len(), 1);
    }

    async fn the_browser_lands_on_a_page_that_finishes_the_flow(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (_, token) = app.caller(false, &["write:integrations"]).await;
        let started = start(&app, &token).await;
        google.consent(started["authorization_url"].as_str().unwrap(), "code-page");
        let url = format!("{CALLBACK}?state={}&code=code-page", started["state"].as_str().unwrap());
        let page = app.client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let text = page.text().await.unwrap();
        assert!(text.contains("Connected to google as ada@example.com"), "{text}");
        let again = app.client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(again.status(), 400);
        assert!(again.text().await.unwrap().contains("already used"));
        let (_, list) = send(app.get(&token, CONNECTIONS)).await;
        assert_eq!(list["connections"].as_array().unwrap().len(), 1);
    }

    async fn twenty_concurrent_calls_on_an_expired_token_refresh_it_once(backend) {
        let google = GoogleOAuth::start().await;
        google.rotate_refresh_tokens();
        let app = app_for(backend, &google).await;
        let (_, token) = app.caller(false, &["write:integrations"]).await;
        let connection = connect(&app, &token, &google, "code-c").await;
        let id = connection["id"].as_str().unwrap().to_owned();
        expire_in(&app, &id, -60).await;
        google.slow_down(std::time::Duration::from_millis(300));

        let calls: Vec<_> = (0..20)
            .map(|_| {
                let state = app.state.clone();
                let id: Uuid = id.parse().unwrap();
                tokio::spawn(async move { tokens::access_token(&state, id).await })
            })
            .collect();
        let mut got = Vec::new();
        for call in calls {
            got.push(call.await.unwrap().expect("a token"));
        }
        assert_eq!(google.refreshes(), 1, "exactly one token request for 20 callers");
        assert!(got.iter().all(|t| t == &got[0]), "{got:?}");
        assert_ne!(got[0], "ya29.access-1", "a new access token");

        // The rotated refresh token was stored with the new access token: the next refresh
        // uses it (the old one is dead at the stand-in).
        let stored = row(&app, &id).await;
        assert!(stored.expires_at.unwrap() > time::OffsetDateTime::now_utc() + time::Duration::minutes(50));
        assert!(stored.lease_owner.is_none(), "the lease was let go");
        google.slow_down(std::time::Duration::ZERO);
        expire_in(&app, &id, 60).await;
        let next = tokens::access_token(&app.state, stored.id).await.expect("refreshed again");
        assert_ne!(next, got[0]);
        let refreshes: Vec<_> = google.token_requests().into_iter().filter(|r| r["grant_type"] == "refresh_token").collect();
        assert_eq!(refreshes.len(), 2);
        assert_ne!(refreshes[0]["refresh_token"], refreshes[1]["refresh_token"]);
    }

    async fn a_refused_refresh_token_asks_the_member_to_connect_again(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (member, token) = app.caller(true, &["admin:all"]).await;
        let connection = connect(&app, &token, &google, "code-d").await;
        let id = connection["id"].as_str().unwrap().to_owned();
        google.revoke_all();
        expire_in(&app, &id, -1).await;

        let err = tokens::access_token(&app.state, id.parse().unwrap()).await.unwrap_err();
        assert!(matches!(err, TokenError::NeedsReauth(ref reason) if reason.contains("invalid_grant")), "{err:?}");
        let (_, shown) = send(app.get(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(shown["connection"]["status"], "needs_reauth");
        assert!(shown["connection"]["status_reason"].as_str().unwrap().contains("invalid_grant"), "{shown}");

        // Nothing calls Google with it again.
        let before = google.refreshes();
        assert!(matches!(tokens::access_token(&app.state, id.parse().unwrap()).await, Err(TokenError::NeedsReauth(_))));
        assert_eq!(google.refreshes(), before);

        // One operational event, deliverable by webhooks.
        let events = events_after(&app, &token, 0).await;
        let raised: Vec<&Value> = events.iter().filter(|e| e["type"] == "integration.connection_needs_reauth").collect();
        assert_eq!(raised.len(), 1, "{events:?}");
        assert_eq!(raised[0]["data"]["id"], id.as_str());
        assert_eq!(raised[0]["data"]["user_id"], member.user.id.to_string());
        let (_, catalog) = send(app.get(&token, "/api/v1/integration/webhooks/events")).await;
        assert!(catalog.to_string().contains("integration.connection_needs_reauth"));

        // Connecting again makes it work.
        let again = connect(&app, &token, &google, "code-e").await;
        assert_eq!(again["id"], id.as_str(), "the member's one connection to Google");
        assert_eq!(again["status"], "active");
        assert!(tokens::access_token(&app.state, id.parse().unwrap()).await.is_ok());
    }

    async fn disconnecting_revokes_at_google_and_forgets_even_when_google_fails(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (_, token) = app.caller(false, &["write:integrations"]).await;
        let connection = connect(&app, &token, &google, "code-f").await;
        let id = connection["id"].as_str().unwrap();
        let (status, body) = send(app.delete(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revoked"], true);
        assert_eq!(google.revoked(), ["1//0refresh-1"], "the refresh token revokes the grant");
        let (status, _) = send(app.get(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 404);

        let connection = connect(&app, &token, &google, "code-g").await;
        let id = connection["id"].as_str().unwrap();
        google.fail_revocations();
        let (status, body) = send(app.delete(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["revoked"], false);
        assert!(body["revocation_error"].as_str().unwrap().contains("503"), "{body}");
        let gone = connection::Entity::find_by_id(id.parse::<Uuid>().unwrap()).one(app.db.conn()).await.unwrap();
        assert!(gone.is_none(), "the tokens are wiped even though Google failed");
    }

    async fn a_pasted_token_is_a_connection_and_idle_ones_are_refreshed_by_the_job(backend) {
        let google = GoogleOAuth::start().await;
        let app = app_for(backend, &google).await;
        let (_, token) = app.caller(true, &["admin:all"]).await;
        google.add_refresh_token("1//0pasted-refresh");
        let (status, body) = send(app.post(&token, CONNECTIONS).json(&json!({
            "oauth_app_id": "google", "access_token": "ya29.pasted", "refresh_token": "1//0pasted-refresh", "expires_in": 600
        }))).await;
        assert_eq!(status, 201, "{body}");
        let id = body["connection"]["id"].as_str().unwrap().to_owned();
        assert_eq!(body["connection"]["refreshable"], true);
        assert!(!body.to_string().contains("ya29.pasted"));
        let (status, body) = send(app.post(&token, CONNECTIONS).json(&json!({"oauth_app_id": "google", "access_token": "  "}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["access_token"].is_array(), "{body}");

        // Expiring within 15 minutes and unused: the periodic job refreshes it.
        let outcome = crate::restore_and_split::run_instance_job(&app, "oauth_refresh").await;
        assert_eq!(outcome["refreshed"], 1, "{outcome}");
        assert_eq!(google.refreshes(), 1);
        let stored = row(&app, &id).await;
        assert!(stored.expires_at.unwrap() > time::OffsetDateTime::now_utc() + time::Duration::minutes(50));
    }

    async fn two_instances_refresh_a_connection_once_between_them(backend) {
        let google = GoogleOAuth::start().await;
        let env = google.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (url, _dir) = private_database(backend).await;
        let one = TestApp::on_database(&url, &env).await;
        let two = TestApp::on_database(&url, &env).await;
        let (_, token) = one.caller(false, &["write:integrations"]).await;
        let connection = connect(&one, &token, &google, "code-two").await;
        let id: Uuid = connection["id"].as_str().unwrap().parse().unwrap();
        expire_in(&one, &id.to_string(), -30).await;
        google.slow_down(std::time::Duration::from_millis(300));
        let calls: Vec<_> = [&one, &two]
            .iter()
            .flat_map(|app| (0..10).map(|_| app.state.clone()))
            .map(|state| tokio::spawn(async move { tokens::access_token(&state, id).await }))
            .collect();
        let mut got = Vec::new();
        for call in calls {
            got.push(call.await.unwrap().expect("a token on either instance"));
        }
        assert_eq!(google.refreshes(), 1, "one refresh across both instances");
        assert!(got.iter().all(|t| t == &got[0]));
    }

    async fn github_and_slack_grants_are_revoked_their_own_way(backend) {
        let github = crate::stand_ins::StandIn::github("gho_member-token", Vec::new()).await;
        let slack = crate::stand_ins::StandIn::slack("xoxp-member-token").await;
        let env = [
            ("GITHUB_API_URL", github.base.as_str()),
            ("GITHUB_CLIENT_ID", "Iv1.stand-in"),
            ("GITHUB_CLIENT_SECRET", "secret-for-Iv1.stand-in"),
            ("SLACK_API_URL", slack.base.as_str()),
        ];
        let app = TestApp::with_env(backend, &env).await;
        let (_, token) = app.caller(false, &["write:integrations"]).await;

        // A pasted GitHub token: the account is its login; disconnecting deletes the grant.
        let (status, body) = send(app.post(&token, CONNECTIONS).json(&json!({"oauth_app_id": "github", "access_token": "gho_member-token"}))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["connection"]["account_name"], "octocat");
        let id = body["connection"]["id"].as_str().unwrap().to_owned();
        let (status, body) = send(app.delete(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revoked"], true, "{body}");
        let grant = github.calls().into_iter().find(|c| c.path == "applications/Iv1.stand-in/grant").expect("the grant was deleted");
        assert_eq!(grant.body["access_token"], "gho_member-token");

        // Slack: auth.revoke with the token itself.
        let (status, body) = send(app.post(&token, CONNECTIONS).json(&json!({"oauth_app_id": "slack", "access_token": "xoxp-member-token"}))).await;
        assert_eq!(status, 201, "{body}");
        let id = body["connection"]["id"].as_str().unwrap().to_owned();
        let (status, body) = send(app.delete(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revoked"], true, "{body}");
        assert!(slack.calls().iter().any(|c| c.path == "auth.revoke"));

        // ClickUp offers no revocation: the tokens are forgotten, and the answer says so.
        let (_, body) = send(app.post(&token, CONNECTIONS).json(&json!({"oauth_app_id": "clickup", "access_token": "pk_clickup"}))).await;
        let id = body["connection"]["id"].as_str().unwrap().to_owned();
        let (status, body) = send(app.delete(&token, &format!("{CONNECTIONS}/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!((body["revoked"].clone(), body["revocation_error"].clone()), (json!(false), Value::Null), "{body}");
        let (_, list) = send(app.get(&token, CONNECTIONS)).await;
        assert_eq!(list["connections"], json!([]));
    }
}
