//! The connector registry drives the integration routes: the uniform ones answer for the
//! registered connectors only, and each receiver a connector declares is a route of its own,
//! unguarded and documented.

use reqwest::Method;
use serde_json::json;

use crate::{both, support::*};

/// The uniform routes under `/api/integrations/{provider}/`.
const UNIFORM: &[(Method, &str)] = &[
    (Method::GET, "config"),
    (Method::PUT, "config"),
    (Method::PATCH, "config"),
    (Method::DELETE, "config"),
    (Method::GET, "status"),
    (Method::POST, "test"),
    (Method::POST, "sync"),
];

both! {
    async fn every_uniform_route_answers_404_for_a_provider_without_a_connector(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, &["write:integrations"]).await;
        for name in ["gitlab", "GitHub", "clockify"] {
            for (method, route) in UNIFORM {
                let path = format!("/api/integrations/{name}/{route}");
                let request = app.client.request(method.clone(), app.url(&path)).bearer_auth(&token);
                let (status, body) = send(request.json(&json!({}))).await;
                assert_eq!(status, 404, "{method} {path}: {body}");
                assert_eq!(body["message"], "Integration provider not found", "{method} {path}");
            }
        }
    }

    async fn every_registered_connector_answers_on_the_uniform_routes(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, &["write:integrations"]).await;
        let not_configured = json!({"ok": false, "error": "Integration not configured"});
        for connector in app.state.connectors.iter() {
            let provider = connector.provider();
            let (status, view) = send(app.get(&token, &format!("/api/integrations/{provider}/config"))).await;
            assert_eq!(status, 200, "{view}");
            assert_eq!(view["provider"], provider.path_name());
            assert_eq!(view["configured"], false);
            let fields: Vec<_> = connector.fields().iter().map(|f| f.name).collect();
            let shown: Vec<_> = view["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            assert_eq!(shown, fields, "{provider}");
            for (method, route) in [(Method::GET, "status"), (Method::POST, "test"), (Method::POST, "sync"), (Method::DELETE, "config")] {
                let path = format!("/api/integrations/{provider}/{route}");
                let (status, body) = send(app.client.request(method.clone(), app.url(&path)).bearer_auth(&token)).await;
                assert_eq!((status, &body), (200, &not_configured), "{method} {path}");
            }
        }
    }

    async fn each_declared_receiver_is_an_unguarded_documented_route(backend) {
        let app = TestApp::start(backend).await;
        let (_, doc) = send(app.client.get(app.url("/openapi.json"))).await;
        let mut receivers = 0;
        for connector in app.state.connectors.iter() {
            let provider = connector.provider();
            for receiver in connector.receivers() {
                receivers += 1;
                let path = receiver.path(provider);
                // No token and no signature: the connector refuses it (in its own body), not
                // the token guard and not the router.
                let (status, body) = send(app.client.post(app.url(&path)).body("{}")).await;
                assert_eq!(status, 401, "{path}: {body}");
                assert_eq!(body["ok"], false, "{path}: {body}");
                assert!(body.get("error_code").is_none(), "{path}: {body}");

                let operation = &doc["paths"][&path]["post"];
                assert_eq!(operation["operationId"], format!("{provider}_{}", receiver.name));
                assert_eq!(operation["summary"], receiver.summary);
                assert_eq!(operation["description"], receiver.description);
                assert_eq!(operation["requestBody"]["description"], receiver.request);
                assert!(operation.get("security").is_none(), "{path} takes no token");
                for (code, description) in receiver.responses {
                    assert_eq!(operation["responses"][code.to_string()]["description"], *description, "{path} {code}");
                }
            }
        }
        assert!(receivers >= 2, "GitHub's and Slack's receivers");
        // A name no connector declares is no route.
        let (status, body) = send(app.client.post(app.url("/api/integrations/github/events")).body("{}")).await;
        assert_eq!((status, body["error_code"].as_str()), (404, Some("not_found")), "{body}");
    }

    async fn member_settings_are_shown_beside_the_config_and_saved_from_a_put(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, &["write:integrations", "write:projects"]).await;
        let (_, project) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "P"}))).await;
        let config = json!({
            "repo": "octo-org/hello-world", "webhook_secret": "s", "project_id": project["project"]["id"],
        });
        // GitHub keeps the member's login on the user: it is checked with the fields...
        let mut bad = config.clone();
        bad["github_username"] = json!("not a login");
        bad["repo"] = json!("nope");
        let (status, body) = send(app.put(&token, "/api/integrations/github/config").json(&bad)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["github_username"].is_array(), "{body}");
        assert!(body["errors"]["repo"].is_array(), "{body}");
        // ...saved with them, and shown at the top level of the view.
        let mut good = config.clone();
        good["github_username"] = json!("OctoCat");
        let (status, body) = send(app.put(&token, "/api/integrations/github/config").json(&good)).await;
        assert_eq!((status, &body["github_username"]), (200, &json!("OctoCat")), "{body}");
        assert!(body["config"].get("github_username").is_none(), "{body}");
        let (_, body) = send(app.get(&token, "/api/integrations/github/config")).await;
        assert_eq!(body["github_username"], "OctoCat", "{body}");
        // Left out, it is kept; null clears it.
        let (_, body) = send(app.patch(&token, "/api/integrations/github/config").json(&json!({"active": true}))).await;
        assert_eq!(body["github_username"], "OctoCat", "{body}");
        let (_, body) = send(app.patch(&token, "/api/integrations/github/config").json(&json!({"github_username": null}))).await;
        assert!(body.get("github_username").is_none(), "{body}");
        // A connector without member settings takes no such field.
        let (status, body) = send(app.put(&token, "/api/integrations/slack/config").json(&json!({"github_username": "x"}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["github_username"].is_array(), "{body}");
    }
}

/// Bodies over `MAX_REQUEST_BODY_KB` are refused before anything reads them, with the API's
/// JSON 413 on every route, whichever way it reads its body: each receiver a connector
/// declares (raw bytes, checked against a signature) and the token-guarded sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_a_json_413_on_every_receiver() {
    let app = TestApp::with_env(Backend::Sqlite, &[("MAX_REQUEST_BODY_KB", "1")]).await;
    let (_, token) = app.caller(true, &["write:integrations"]).await;
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(4096));
    let mut requests = Vec::new();
    for connector in app.state.connectors.iter() {
        let provider = connector.provider();
        for receiver in connector.receivers() {
            requests.push(app.client.post(app.url(&receiver.path(provider))));
        }
        requests.push(app.post(&token, &format!("/api/integrations/{provider}/sync")));
    }
    assert!(requests.len() >= 4);
    for request in requests {
        let response = request
            .header("Content-Type", "application/json")
            .body(oversized.clone())
            .send()
            .await
            .unwrap();
        let url = response.url().path().to_owned();
        assert_eq!(response.status(), 413, "{url}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{url}: {content_type}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], "payload_too_large", "{url}: {body}");
        assert_eq!(body["limit_bytes"], 1024, "{url}: {body}");
    }
}
