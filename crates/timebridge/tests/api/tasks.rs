//! `/api/v1/tasks` end to end: CRUD, status and completion, filters, validation, isolation,
//! scopes, events, and the connectors' upsert by `external_ref`.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use timebridge::{
    platform::{acting::Acting, outbox::Actor, time},
    tracking::{
        tasks::{TaskPriority, service as tasks},
        time_entries::entity as time_entry,
    },
};
use uuid::Uuid;

use crate::{both, support::*};

const RW: &[&str] = &[
    "read:tasks",
    "write:tasks",
    "read:projects",
    "write:projects",
];

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = send(
        app.post(token, "/api/v1/projects")
            .json(&json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

async fn task(app: &TestApp, token: &str, fields: Value) -> Value {
    let (status, body) = send(app.post(token, "/api/v1/tasks").json(&fields)).await;
    assert_eq!(status, 201, "{body}");
    body["task"].clone()
}

fn names(list: &Value) -> Vec<&str> {
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

fn last_sequence(events: &[Value]) -> i64 {
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

both! {
    async fn tasks_are_created_read_updated_and_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(false, RW).await;
        let project_id = project(&app, &token, "Website").await;
        let (status, body) = send(app.post(&token, "/api/v1/tasks").json(&json!({
            "project_id": project_id, "name": " Homepage ", "description": "Hero and nav",
            "priority": "high", "assignee_id": member.user.id, "due_date": "2026-03-10",
            "estimated_hours": "2.5", "external_ref": "github_issue_42"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Task created successfully");
        let task = &body["task"];
        assert_eq!(task["name"], "Homepage");
        assert_eq!(task["project_id"], *project_id);
        assert_eq!(task["status"], "todo");
        assert_eq!(task["status_display"], "To Do");
        assert_eq!(task["priority"], "high");
        assert_eq!(task["assignee_id"], member.user.id.to_string());
        assert_eq!(task["assigned_to"], member.user.id.to_string());
        assert_eq!(task["due_date"], "2026-03-10");
        assert_eq!(task["estimated_hours"], json!(2.5));
        assert_eq!(task["external_ref"], "github_issue_42");
        assert_eq!(task["completed_at"], Value::Null);
        let id = task["id"].as_str().unwrap().to_owned();
        assert_eq!(Uuid::parse_str(&id).unwrap().get_version_num(), 7);

        let (status, got) = send(app.get(&token, &format!("/api/v1/tasks/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["task"], *task);

        let (status, body) = send(app.put(&token, &format!("/api/v1/tasks/{id}")).json(&json!({
            "status": "in_progress", "due_date": null, "estimated_hours": null, "assignee_id": null
        }))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Task updated successfully");
        assert_eq!(body["task"]["status"], "in_progress");
        assert_eq!(body["task"]["status_display"], "In Progress");
        assert_eq!(body["task"]["due_date"], Value::Null);
        assert_eq!(body["task"]["estimated_hours"], Value::Null);
        assert_eq!(body["task"]["assignee_id"], Value::Null);
        assert_eq!(body["task"]["description"], "Hero and nav", "fields not sent are kept");

        let (status, body) = send(app.delete(&token, &format!("/api/v1/tasks/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Task deleted successfully");
        assert_eq!(body["task"]["id"], *id);
        let (status, _) = send(app.get(&token, &format!("/api/v1/tasks/{id}"))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.delete(&token, &format!("/api/v1/tasks/{id}"))).await;
        assert_eq!(status, 404);
    }

    async fn becoming_done_stamps_completed_at_and_is_recorded_as_task_completed(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin) = app.caller(true, &["admin:all"]).await;
        let project_id = project(&app, &admin, "P").await;
        let after = last_sequence(&events_after(&app, &admin, 0).await);

        let created = task(&app, &admin, json!({"project_id": project_id, "name": "T"})).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/tasks/{id}");
        let (_, review) = send(app.patch(&admin, &path).json(&json!({"status": "review"}))).await;
        let (_, done) = send(app.patch(&admin, &path).json(&json!({"status": "done"}))).await;
        let stamp = done["task"]["completed_at"].as_str().expect("completed_at is set").to_owned();
        assert!(stamp.ends_with('Z'));
        let (_, renamed) = send(app.patch(&admin, &path).json(&json!({"name": "T2", "status": "done"}))).await;
        assert_eq!(renamed["task"]["completed_at"], *stamp, "staying done keeps the stamp");
        let (_, reopened) = send(app.patch(&admin, &path).json(&json!({"status": "todo"}))).await;
        assert_eq!(reopened["task"]["completed_at"], Value::Null);
        let (_, deleted) = send(app.delete(&admin, &path)).await;

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, [
            "task.created", "task.updated", "task.completed", "task.updated", "task.updated",
            "task.deleted",
        ]);
        for (event, body) in events.iter().zip([
            &created, &review["task"], &done["task"], &renamed["task"], &reopened["task"],
            &deleted["task"],
        ]) {
            assert_eq!(event["data"], *body);
            assert_eq!(event["resource"], json!({"type": "task", "id": id}));
        }

        // Created done: stamped at once, recorded as created.
        let born_done = task(&app, &admin, json!({"project_id": project_id, "name": "D", "status": "done"})).await;
        assert!(born_done["completed_at"].is_string());
    }

    async fn lists_filter_by_project_status_assignee_and_name_in_creation_order(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(false, RW).await;
        let web = project(&app, &token, "Web").await;
        let app_project = project(&app, &token, "App").await;
        task(&app, &token, json!({"project_id": web, "name": "Zeta login"})).await;
        task(&app, &token, json!({"project_id": web, "name": "Alpha", "status": "done", "assignee_id": member.user.id})).await;
        task(&app, &token, json!({"project_id": app_project, "name": "Login screen"})).await;

        let (status, all) = send(app.get(&token, "/api/v1/tasks")).await;
        assert_eq!(status, 200, "{all}");
        assert_eq!(names(&all), ["Zeta login", "Alpha", "Login screen"]);
        assert_eq!(all["pagination"]["total"], 3);
        let (_, list) = send(app.get(&token, &format!("/api/v1/tasks?project_id={web}"))).await;
        assert_eq!(names(&list), ["Zeta login", "Alpha"]);
        let (_, list) = send(app.get(&token, "/api/v1/tasks?status=done")).await;
        assert_eq!(names(&list), ["Alpha"]);
        let (_, list) = send(app.get(&token, &format!("/api/v1/tasks?assignee_id={}", member.user.id))).await;
        assert_eq!(names(&list), ["Alpha"]);
        let (_, list) = send(app.get(&token, "/api/v1/tasks?search=LOGIN")).await;
        assert_eq!(names(&list), ["Zeta login", "Login screen"]);
        let (_, page) = send(app.get(&token, "/api/v1/tasks?per_page=2&page=2")).await;
        assert_eq!(names(&page), ["Login screen"]);
        assert_eq!(page["pagination"]["pages"], 2);

        let (status, body) = send(app.get(&token, "/api/v1/tasks?status=finished")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["status"][0].as_str().unwrap().contains("in_progress"), "{body}");
        let (status, _) = send(app.get(&token, "/api/v1/tasks?project_id=nope")).await;
        assert_eq!(status, 400);
    }

    async fn bad_task_input_names_every_field_and_writes_nothing(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin) = app.caller(true, &["admin:all"]).await;
        let (_, stranger_token) = app.caller(true, &["admin:all"]).await;
        let (stranger, _) = app.caller(false, RW).await;
        let theirs = project(&app, &stranger_token, "Theirs").await;
        let mine = project(&app, &admin, "Mine").await;
        let before = events_after(&app, &admin, 0).await;

        let (status, body) = send(app.post(&admin, "/api/v1/tasks").json(&json!({"description": "x"}))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        assert_eq!(body["errors"]["name"], json!(["is required"]));
        assert_eq!(body["errors"]["project_id"], json!(["is required"]));

        let (status, body) = send(app.post(&admin, "/api/v1/tasks").json(&json!({
            "project_id": theirs, "name": "x".repeat(501), "due_date": "10/03/2026",
            "estimated_hours": "1.005", "assignee_id": stranger.user.id,
            "external_ref": "r".repeat(129)
        }))).await;
        assert_eq!(status, 400, "{body}");
        for field in ["project_id", "name", "due_date", "estimated_hours", "assignee_id", "external_ref"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }

        let (status, body) = send(app.post(&admin, "/api/v1/tasks").json(&json!({"project_id": mine, "name": "x", "status": "finished"}))).await;
        assert_eq!(status, 400, "{body}");
        let message = body["errors"]["status"][0].as_str().unwrap();
        for valid in ["todo", "in_progress", "review", "done", "cancelled"] {
            assert!(message.contains(valid), "{message}");
        }
        let (status, body) = send(app.post(&admin, "/api/v1/tasks").json(&json!({"project_id": mine, "name": "x", "priority": "asap"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["priority"].is_array(), "{body}");
        let (status, body) = send(app.post(&admin, "/api/v1/tasks").json(&json!({"project_id": mine, "name": "x", "estimated_hours": -1}))).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["estimated_hours"], json!(["must not be negative"]));

        let t = task(&app, &admin, json!({"project_id": mine, "name": "ok"})).await;
        let after = last_sequence(&events_after(&app, &admin, 0).await);
        let path = format!("/api/v1/tasks/{}", t["id"].as_str().unwrap());
        for bad in [json!({"name": " "}), json!({"project_id": theirs}), json!({"assignee_id": stranger.user.id}), json!({"status": "nope"})] {
            let (status, body) = send(app.patch(&admin, &path).json(&bad)).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        assert!(events_after(&app, &admin, after).await.is_empty(), "failed updates record nothing");
        assert_eq!(events_after(&app, &admin, 0).await.len(), before.len() + 1);
    }

    async fn external_refs_are_unique_within_a_workspace(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, other) = app.caller(false, RW).await;
        let p = project(&app, &token, "P").await;
        task(&app, &token, json!({"project_id": p, "name": "A", "external_ref": "gh_1"})).await;
        let (status, body) = send(app.post(&token, "/api/v1/tasks").json(&json!({"project_id": p, "name": "B", "external_ref": "gh_1"}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "conflict");
        let b = task(&app, &token, json!({"project_id": p, "name": "B", "external_ref": "gh_2"})).await;
        let (status, _) = send(app.patch(&token, &format!("/api/v1/tasks/{}", b["id"].as_str().unwrap())).json(&json!({"external_ref": "gh_1"}))).await;
        assert_eq!(status, 409);
        // Tasks without a reference never collide; another workspace may use the same one.
        task(&app, &token, json!({"project_id": p, "name": "C"})).await;
        task(&app, &token, json!({"project_id": p, "name": "D"})).await;
        let theirs = project(&app, &other, "Theirs").await;
        task(&app, &other, json!({"project_id": theirs, "name": "A", "external_ref": "gh_1"})).await;
    }

    async fn another_workspaces_task_is_not_found(backend) {
        let app = TestApp::start(backend).await;
        let (_, mine) = app.caller(false, RW).await;
        let (_, theirs) = app.caller(false, RW).await;
        let p = project(&app, &theirs, "P").await;
        let t = task(&app, &theirs, json!({"project_id": p, "name": "Secret"})).await;
        let id = t["id"].as_str().unwrap();
        for request in [
            app.get(&mine, &format!("/api/v1/tasks/{id}")),
            app.put(&mine, &format!("/api/v1/tasks/{id}")).json(&json!({"name": "Mine now"})),
            app.delete(&mine, &format!("/api/v1/tasks/{id}")),
            app.get(&mine, "/api/v1/tasks/not-a-uuid"),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        let (_, list) = send(app.get(&mine, "/api/v1/tasks")).await;
        assert_eq!(list["pagination"]["total"], 0);
    }

    async fn a_deleted_tasks_time_entries_keep_their_time_without_it(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(false, RW).await;
        let p = project(&app, &token, "P").await;
        let t = task(&app, &token, json!({"project_id": p, "name": "T"})).await;
        let task_id = Uuid::parse_str(t["id"].as_str().unwrap()).unwrap();
        let now = time::now();
        let entry = time_entry::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(member.workspace.id),
            user_id: Set(member.user.id),
            project_id: Set(Some(Uuid::parse_str(&p).unwrap())),
            task_id: Set(Some(task_id)),
            start_time: Set(now - ::time::Duration::HOUR),
            end_time: Set(Some(now)),
            duration_seconds: Set(Some(3600)),
            notes: Set(None),
            billable: Set(true),
            paid: Set(false),
            invoice_id: Set(None),
            source: Set("manual".into()),
            running_user_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(app.db.conn())
        .await
        .unwrap();
        let (status, _) = send(app.delete(&token, &format!("/api/v1/tasks/{task_id}"))).await;
        assert_eq!(status, 200);
        let kept = time_entry::Entity::find_by_id(entry.id).one(app.db.conn()).await.unwrap().unwrap();
        assert_eq!(kept.task_id, None);
        assert_eq!(kept.duration_seconds, Some(3600));
    }

    async fn connectors_upsert_tasks_by_external_ref(backend) {
        let app = TestApp::start(backend).await;
        let (member, admin) = app.caller(true, &["admin:all"]).await;
        let p = Uuid::parse_str(&project(&app, &admin, "Repo").await).unwrap();
        let acting = Acting {
            workspace_id: member.workspace.id,
            user_id: member.user.id,
            is_admin: true,
            actor: Actor::integration("github", Some(member.user.id)),
        };
        let after = last_sequence(&events_after(&app, &admin, 0).await);
        let (created, is_new) = tasks::upsert_by_external_ref(&app.db, &acting, p, "github_issue_7", "Fix login", Some("Steps…"), None).await.unwrap();
        assert!(is_new);
        assert_eq!(created.priority, TaskPriority::Medium);
        let (same, is_new) = tasks::upsert_by_external_ref(&app.db, &acting, p, "github_issue_7", "Fix login", Some("Steps…"), None).await.unwrap();
        assert!(!is_new);
        assert_eq!(same.id, created.id);
        assert_eq!(same.updated_at, created.updated_at, "nothing changed, nothing written");
        let (renamed, is_new) = tasks::upsert_by_external_ref(&app.db, &acting, p, "github_issue_7", "Fix login on Safari", None, Some(TaskPriority::Urgent)).await.unwrap();
        assert!(!is_new);
        assert_eq!(renamed.id, created.id);
        assert_eq!(renamed.description, None);
        assert_eq!(renamed.priority, TaskPriority::Urgent);

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["task.created", "task.updated"]);
        assert_eq!(events[0]["actor"]["kind"], "integration");
        assert_eq!(events[0]["actor"]["via"], "github");
        assert_eq!(events[1]["data"]["name"], "Fix login on Safari");

        let found = tasks::find(app.db.conn(), member.workspace.id, created.id).await.unwrap();
        assert_eq!(found.external_ref.as_deref(), Some("github_issue_7"));
        let missing = tasks::find(app.db.conn(), Uuid::now_v7(), created.id).await.unwrap_err();
        assert_eq!(missing.status(), 404);
        let bad = tasks::upsert_by_external_ref(&app.db, &acting, Uuid::now_v7(), "x", "y", None, None).await.unwrap_err();
        assert_eq!(bad.status(), 400);
    }

    async fn concurrent_upserts_of_one_reference_make_one_task(backend) {
        let app = TestApp::start(backend).await;
        let (member, admin) = app.caller(true, &["admin:all"]).await;
        let p = Uuid::parse_str(&project(&app, &admin, "Repo").await).unwrap();
        let acting = Acting::system(member.workspace.id, Actor::integration("github", None));
        let mut handles = Vec::new();
        for n in 0..6 {
            let (db, acting) = (app.db.clone(), acting.clone());
            handles.push(tokio::spawn(async move {
                let name = if n % 2 == 0 { "Issue" } else { "Issue (edited)" };
                tasks::upsert_by_external_ref(&db, &acting, p, "github_issue_9", name, None, None).await
            }));
        }
        let mut created = 0;
        let mut ids = Vec::new();
        for handle in handles {
            let (view, is_new) = handle.await.unwrap().expect("no upsert fails");
            created += usize::from(is_new);
            ids.push(view.id);
        }
        assert_eq!(created, 1);
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        let (_, list) = send(app.get(&admin, "/api/v1/tasks")).await;
        assert_eq!(list["pagination"]["total"], 1);
    }

    async fn task_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        scope_matrix(&app, false, "tasks", &[
            (Method::GET, "/api/v1/tasks".into(), Needs::Read),
            (Method::GET, format!("/api/v1/tasks/{id}"), Needs::Read),
            (Method::POST, "/api/v1/tasks".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/tasks/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/tasks/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/tasks/{id}"), Needs::Write),
        ]).await;
    }
}
