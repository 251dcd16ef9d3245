//! Scope enforcement: each route's declared scope, the 403 body, implications and wildcards.

use serde_json::json;

use crate::{both, support::*};

both! {
    async fn a_read_only_token_reads_but_gets_403_with_the_required_scope_on_write(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, &["read:projects", "read:time_entries"]).await;
        let (status, _) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(status, 200);
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Nope"}))).await;
        assert_eq!(status, 403);
        assert_eq!(body, json!({
            "error": "Insufficient permissions",
            "message": "This endpoint requires the 'write:projects' scope",
            "error_code": "forbidden",
            "required_scope": "write:projects",
            "available_scopes": ["read:projects", "read:time_entries"],
        }));
    }

    async fn the_scope_matrix_of_projects_and_users_holds(backend) {
        let app = TestApp::start(backend).await;
        let (_, none) = app.caller(false, &["read:tasks"]).await;
        let (_, read) = app.caller(false, &["read:projects"]).await;
        let (_, write) = app.caller(false, &["write:projects"]).await;
        let id = uuid::Uuid::now_v7();
        let cases: Vec<(&str, String, &str)> = vec![
            ("GET", "/api/v1/projects".into(), "read:projects"),
            ("GET", format!("/api/v1/projects/{id}"), "read:projects"),
            ("POST", "/api/v1/projects".into(), "write:projects"),
            ("PUT", format!("/api/v1/projects/{id}"), "write:projects"),
            ("PATCH", format!("/api/v1/projects/{id}"), "write:projects"),
            ("DELETE", format!("/api/v1/projects/{id}"), "write:projects"),
        ];
        for (method, path, required) in &cases {
            let request = |token: &str| {
                app.client
                    .request(method.parse().unwrap(), app.url(path))
                    .bearer_auth(token)
                    .json(&json!({"name": "x"}))
            };
            let (status, _) = send(app.client.request(method.parse().unwrap(), app.url(path))).await;
            assert_eq!(status, 401, "{method} {path} without a token");
            let (status, body) = send(request(&none)).await;
            assert_eq!(status, 403, "{method} {path} with an unrelated scope");
            assert_eq!(body["required_scope"], *required);
            let (status, _) = send(request(&read)).await;
            let expected_read = if required.starts_with("read") { [200, 404] } else { [403, 403] };
            assert!(expected_read.contains(&status), "{method} {path} with read: {status}");
            let (status, _) = send(request(&write)).await;
            assert_ne!(status, 403, "{method} {path}: write:projects implies read:projects");
        }
    }

    async fn users_me_needs_read_users_and_the_user_list_needs_admin_all(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(false, &["read:users"]).await;
        let (status, me) = send(app.get(&token, "/api/v1/users/me")).await;
        assert_eq!(status, 200);
        assert_eq!(me["user"]["email"], member.user.email);
        assert_eq!(me["user"]["is_admin"], false);
        assert_eq!(me["workspace"]["plan"], "free");
        let (status, body) = send(app.get(&token, "/api/v1/users")).await;
        assert_eq!(status, 403);
        assert_eq!(body["required_scope"], "admin:all");

        let (admin, admin_token) = app.caller(true, &["admin:all"]).await;
        let colleague = app.member_in(&admin.workspace.name, false, None).await;
        let _stranger = app.member(false, timebridge::directory::Plan::Free).await;
        let (status, list) = send(app.get(&admin_token, "/api/v1/users")).await;
        assert_eq!(status, 200);
        let emails: Vec<&str> = list["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(list["pagination"]["total"], 2, "only this workspace's members: {emails:?}");
        assert!(emails.contains(&colleague.user.email.as_str()));
        assert!(emails.contains(&admin.user.email.as_str()));
    }

    async fn admin_wildcards_open_everything_they_name(backend) {
        let app = TestApp::start(backend).await;
        let (_, reader) = app.caller(true, &["read:*"]).await;
        let (status, _) = send(app.get(&reader, "/api/v1/projects")).await;
        assert_eq!(status, 200);
        let (status, _) = send(app.get(&reader, "/api/v1/users/me")).await;
        assert_eq!(status, 200);
        let (status, body) = send(app.post(&reader, "/api/v1/projects").json(&json!({"name": "x"}))).await;
        assert_eq!(status, 403);
        assert_eq!(body["available_scopes"], json!(["read:*"]));
        let (_, star) = app.caller(true, &["*"]).await;
        let (status, _) = send(app.post(&star, "/api/v1/projects").json(&json!({"name": "x"}))).await;
        assert_eq!(status, 201);
        let (status, _) = send(app.get(&star, "/api/v1/users")).await;
        assert_eq!(status, 200);
    }
}
