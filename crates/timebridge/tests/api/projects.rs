//! `/api/v1/projects` end to end: CRUD, pagination, validation, isolation.

use serde_json::json;

use crate::{both, support::*};

const RW: &[&str] = &["read:projects", "write:projects"];

both! {
    async fn created_projects_can_be_read_back_exactly(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({
            "name": "  Website relaunch ", "hourly_rate": "85.50", "description": "Phase 1"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Project created successfully");
        let project = &body["project"];
        assert_eq!(project["name"], "Website relaunch");
        assert_eq!(project["hourly_rate"], json!(85.5));
        assert_eq!(project["billable"], true);
        assert_eq!(project["status"], "active");
        let id = project["id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
        assert!(project["created_at"].as_str().unwrap().ends_with('Z'));

        let (status, got) = send(app.get(&token, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["project"], *project);

        // Cents are exact: 0.10 + 0.20 style values survive the round trip on both databases.
        let (_, cheap) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Cheap", "hourly_rate": 0.1}))).await;
        assert_eq!(cheap["project"]["hourly_rate"], json!(0.1));
    }

    async fn updates_change_only_the_fields_sent(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, created) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "A", "hourly_rate": 10, "description": "d"}))).await;
        let id = created["project"]["id"].as_str().unwrap().to_owned();

        let (status, body) = send(app.put(&token, &format!("/api/v1/projects/{id}")).json(&json!({"name": "B", "billable": false}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["project"]["name"], "B");
        assert_eq!(body["project"]["billable"], false);
        assert_eq!(body["project"]["hourly_rate"], json!(10.0));
        assert_eq!(body["project"]["description"], "d");

        let (status, body) = send(app.patch(&token, &format!("/api/v1/projects/{id}")).json(&json!({"hourly_rate": null, "description": null}))).await;
        assert_eq!(status, 200);
        assert_eq!(body["project"]["hourly_rate"], json!(null));
        assert_eq!(body["project"]["description"], json!(null));
        assert_eq!(body["project"]["name"], "B");
    }

    async fn delete_archives_and_the_status_filter_sees_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, a) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Keep"}))).await;
        let (_, b) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Old"}))).await;
        let old = b["project"]["id"].as_str().unwrap();

        let (status, body) = send(app.delete(&token, &format!("/api/v1/projects/{old}"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["project"]["status"], "archived");

        let (_, archived) = send(app.get(&token, "/api/v1/projects?status=archived")).await;
        assert_eq!(archived["projects"].as_array().unwrap().len(), 1);
        assert_eq!(archived["projects"][0]["id"], *old);
        let (_, active) = send(app.get(&token, "/api/v1/projects?status=active")).await;
        assert_eq!(active["projects"][0]["id"], a["project"]["id"]);
        let (_, all) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(all["pagination"]["total"], 2);
    }

    async fn lists_paginate_in_timetrackers_shape(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        for name in ["Gamma", "alpha", "Beta", "Delta", "Epsilon"] {
            let (status, _) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": name}))).await;
            assert_eq!(status, 201);
        }
        let (status, page2) = send(app.get(&token, "/api/v1/projects?page=2&per_page=2")).await;
        assert_eq!(status, 200);
        assert_eq!(page2["pagination"], json!({
            "page": 2, "per_page": 2, "total": 5, "pages": 3,
            "has_next": true, "has_prev": true, "next_page": 3, "prev_page": 1
        }));
        assert_eq!(page2["projects"].as_array().unwrap().len(), 2);

        let (_, capped) = send(app.get(&token, "/api/v1/projects?per_page=500")).await;
        assert_eq!(capped["pagination"]["per_page"], 100);
        let (_, default) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(default["pagination"]["per_page"], 50);

        let (_, found) = send(app.get(&token, "/api/v1/projects?search=ALP")).await;
        assert_eq!(found["projects"].as_array().unwrap().len(), 1);
        assert_eq!(found["projects"][0]["name"], "alpha");

        for bad in ["page=0", "per_page=0", "page=abc", "status=deleted"] {
            let (status, body) = send(app.get(&token, &format!("/api/v1/projects?{bad}"))).await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert_eq!(body["error_code"], "validation_error", "{bad}");
        }
    }

    async fn invalid_fields_are_named_and_nothing_is_written(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"description": "no name"}))).await;
        assert_eq!(status, 400);
        assert_eq!(body["error_code"], "validation_error");
        assert_eq!(body["errors"]["name"], json!(["is required"]));

        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": " ", "hourly_rate": -5}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["name"].is_array(), "{body}");
        assert_eq!(body["errors"]["hourly_rate"], json!(["must not be negative"]));

        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "x", "hourly_rate": "1.005"}))).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["hourly_rate"], json!(["must have at most 2 decimal places"]));

        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": 42}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["name"].is_array(), "{body}");

        let (status, body) = send(
            app.post(&token, "/api/v1/projects").header("content-type", "application/json").body("{\"name\": "),
        ).await;
        assert_eq!(status, 400);
        assert_eq!(body["error_code"], "bad_request");
        assert!(body["message"].as_str().unwrap().starts_with("Malformed JSON"));

        let (status, body) = send(app.post(&token, "/api/v1/projects").header("content-type", "text/plain").body("name=x")).await;
        assert_eq!(status, 415, "{body}");

        let (_, list) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(list["pagination"]["total"], 0, "no invalid request wrote anything");
    }

    async fn an_oversize_body_is_413(backend) {
        let app = TestApp::with_env(backend, &[("MAX_REQUEST_BODY_KB", "1")]).await;
        let (_, token) = app.caller(false, RW).await;
        let big = "x".repeat(4096);
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "n", "description": big}))).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error_code"], "payload_too_large");
        assert_eq!(body["limit_bytes"], 1024);
    }

    async fn unknown_and_foreign_projects_are_404(backend) {
        let app = TestApp::start(backend).await;
        let (_, mine) = app.caller(false, RW).await;
        let (_, theirs) = app.caller(false, RW).await;
        let (_, created) = send(app.post(&theirs, "/api/v1/projects").json(&json!({"name": "Secret"}))).await;
        let id = created["project"]["id"].as_str().unwrap();

        for path in [
            format!("/api/v1/projects/{id}"),
            format!("/api/v1/projects/{}", uuid::Uuid::now_v7()),
            "/api/v1/projects/not-a-uuid".to_owned(),
        ] {
            let (status, body) = send(app.get(&mine, &path)).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body["error_code"], "not_found");
        }
        let (status, _) = send(app.put(&mine, &format!("/api/v1/projects/{id}")).json(&json!({"name": "Mine now"}))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.delete(&mine, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(status, 404);
        let (_, list) = send(app.get(&mine, "/api/v1/projects")).await;
        assert_eq!(list["pagination"]["total"], 0, "another workspace's projects never leak");
        let (_, still) = send(app.get(&theirs, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(still["project"]["name"], "Secret");
        assert_eq!(still["project"]["status"], "active");
    }

    async fn a_permanent_delete_removes_the_project_with_its_tasks_and_emits_project_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, &["admin:all"]).await;
        let (_, created) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Typo", "hourly_rate": 10}))).await;
        let project = created["project"].clone();
        let id = project["id"].as_str().unwrap().to_owned();
        let (status, task) = send(app.post(&token, "/api/v1/tasks").json(&json!({"project_id": id, "name": "Draft"}))).await;
        assert_eq!(status, 201, "{task}");
        let task_id = task["task"]["id"].as_str().unwrap().to_owned();
        let before = events_after(&app, &token, 0).await.last().unwrap()["sequence"].as_i64().unwrap();

        let (status, body) = send(app.delete(&token, &format!("/api/v1/projects/{id}?permanent=true"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["project"], project, "the project as it was");
        let (status, _) = send(app.get(&token, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.get(&token, &format!("/api/v1/tasks/{task_id}"))).await;
        assert_eq!(status, 404, "its tasks go with it");
        let (_, list) = send(app.get(&token, "/api/v1/projects?status=archived")).await;
        assert_eq!(list["pagination"]["total"], 0, "deleted, not archived: {list}");

        let events = events_after(&app, &token, before).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["task.deleted", "project.deleted"]);
        assert_eq!(events[0]["resource"]["id"], task_id.as_str());
        assert_eq!(events[1]["resource"], json!({"type": "project", "id": id}));
        assert_eq!(events[1]["data"], project);
        // Gone: a second delete finds nothing.
        let (status, _) = send(app.delete(&token, &format!("/api/v1/projects/{id}?permanent=true"))).await;
        assert_eq!(status, 404);
    }

    async fn a_project_still_referred_to_is_kept_and_the_409_names_what_refers_to_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, &["admin:all"]).await;
        let (_, created) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Busy"}))).await;
        let id = created["project"]["id"].as_str().unwrap().to_owned();
        let (status, body) = send(app.post(&token, "/api/v1/time-entries").json(&json!({
            "start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z", "project_id": id,
        }))).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/expenses").json(&json!({
            "title": "Train", "amount": 12.5, "expense_date": "2026-03-02", "category": "travel", "project_id": id,
        }))).await;
        assert_eq!(status, 201, "{body}");
        let (_, client) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": client["client"]["id"],
            "items": [{"description": "Work", "quantity": 1, "unit_price": 100, "project_id": id}, {"description": "More", "quantity": 2, "unit_price": 50, "project_id": id}],
        }))).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/quotes").json(&json!({
            "client_id": client["client"]["id"], "title": "Next phase",
            "items": [{"description": "Design", "quantity": 1, "unit_price": 100, "project_id": id}],
        }))).await;
        assert_eq!(status, 201, "{body}");
        let before = events_after(&app, &token, 0).await.len();

        let (status, body) = send(app.delete(&token, &format!("/api/v1/projects/{id}?permanent=true"))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "project_in_use");
        assert_eq!(body["references"], json!({"time_entries": 1, "expenses": 1, "invoice_lines": 2, "quote_lines": 1}));
        let message = body["message"].as_str().unwrap();
        for named in ["1 time entry", "1 expense", "2 invoice lines", "1 quote line", "archive"] {
            assert!(message.contains(named), "{named}: {message}");
        }
        let (status, kept) = send(app.get(&token, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!((status, kept["project"]["status"].as_str()), (200, Some("active")));
        assert_eq!(events_after(&app, &token, 0).await.len(), before, "a refused delete records nothing");

        // Without permanent (or with permanent=false) it is archived, as before.
        let (status, body) = send(app.delete(&token, &format!("/api/v1/projects/{id}?permanent=false"))).await;
        assert_eq!((status, body["project"]["status"].as_str()), (200, Some("archived")), "{body}");
        let (status, body) = send(app.delete(&token, &format!("/api/v1/projects/{id}?permanent=sure"))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["permanent"].is_array(), "{body}");
    }
}
