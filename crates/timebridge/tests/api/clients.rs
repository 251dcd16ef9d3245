//! `/api/v1/clients` end to end: CRUD, uniqueness, deletion rules, scopes, events.

use reqwest::Method;
use serde_json::json;

use crate::{both, support::*};

const RW: &[&str] = &["read:clients", "write:clients", "write:projects"];

both! {
    async fn clients_are_created_read_updated_and_listed(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (status, body) = send(app.post(&token, "/api/v1/clients").json(&json!({
            "name": " Acme Corp ", "email": "billing@acme.test", "default_hourly_rate": "75.00"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Client created successfully");
        let client = &body["client"];
        assert_eq!(client["name"], "Acme Corp");
        assert_eq!(client["default_hourly_rate"], json!(75.0));
        assert_eq!(client["status"], "active");
        assert_eq!(client["is_active"], true);
        let id = client["id"].as_str().unwrap();

        let (status, got) = send(app.get(&token, &format!("/api/v1/clients/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["client"], *client);

        let (status, body) = send(app.patch(&token, &format!("/api/v1/clients/{id}")).json(&json!({"status": "inactive", "email": null}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["client"]["is_active"], false);
        assert_eq!(body["client"]["email"], json!(null));
        assert_eq!(body["client"]["name"], "Acme Corp");

        send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Beta"}))).await;
        let (_, list) = send(app.get(&token, "/api/v1/clients?status=active")).await;
        assert_eq!(list["clients"].as_array().unwrap().len(), 1);
        assert_eq!(list["clients"][0]["name"], "Beta");
        let (_, all) = send(app.get(&token, "/api/v1/clients?search=acm")).await;
        assert_eq!(all["pagination"]["total"], 1);
    }

    async fn bad_client_input_gets_clear_errors(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (status, body) = send(app.post(&token, "/api/v1/clients").json(&json!({
            "name": "", "email": "nope", "default_hourly_rate": -5
        }))).await;
        assert_eq!(status, 400);
        assert_eq!(body["error_code"], "validation_error");
        for field in ["name", "email", "default_hourly_rate"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let (status, body) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "conflict");
        let (status, _) = send(app.get(&token, &format!("/api/v1/clients/{}", uuid::Uuid::now_v7()))).await;
        assert_eq!(status, 404);
    }

    async fn a_client_with_projects_cannot_be_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, c) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let id = c["client"]["id"].as_str().unwrap().to_owned();
        let (status, p) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Site", "client_id": id}))).await;
        assert_eq!(status, 201, "{p}");
        assert_eq!(p["project"]["client_id"], *id);
        let (status, body) = send(app.delete(&token, &format!("/api/v1/clients/{id}"))).await;
        assert_eq!(status, 409, "{body}");

        let (_, lone) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Lone"}))).await;
        let lone = lone["client"]["id"].as_str().unwrap();
        let (status, _) = send(app.delete(&token, &format!("/api/v1/clients/{lone}"))).await;
        assert_eq!(status, 200);
        let (status, _) = send(app.get(&token, &format!("/api/v1/clients/{lone}"))).await;
        assert_eq!(status, 404);
    }

    async fn another_workspaces_client_is_not_found(backend) {
        let app = TestApp::start(backend).await;
        let (_, mine) = app.caller(false, RW).await;
        let (_, theirs) = app.caller(false, RW).await;
        let (_, c) = send(app.post(&theirs, "/api/v1/clients").json(&json!({"name": "Secret"}))).await;
        let id = c["client"]["id"].as_str().unwrap();
        for request in [
            app.get(&mine, &format!("/api/v1/clients/{id}")),
            app.patch(&mine, &format!("/api/v1/clients/{id}")).json(&json!({"name": "Mine now"})),
            app.delete(&mine, &format!("/api/v1/clients/{id}")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        // Nor can a project of mine point at it.
        let (status, body) = send(app.post(&mine, "/api/v1/projects").json(&json!({"name": "P", "client_id": id}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["client_id"].is_array());
    }

    async fn client_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = uuid::Uuid::now_v7();
        scope_matrix(&app, false, "clients", &[
            (Method::GET, "/api/v1/clients".into(), Needs::Read),
            (Method::GET, format!("/api/v1/clients/{id}"), Needs::Read),
            (Method::POST, "/api/v1/clients".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/clients/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/clients/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/clients/{id}"), Needs::Write),
        ]).await;
    }
}
