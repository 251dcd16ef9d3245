//! `/api/v1/time-entries` end to end: CRUD, visibility, filters, idempotency, bulk actions,
//! CSV import (ours, Toggl Track, Clockify), scopes and events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{both, support::*};

const RW: &[&str] = &[
    "read:time_entries",
    "write:time_entries",
    "write:projects",
    "admin:all",
];
const MEMBER: &[&str] = &["read:time_entries", "write:time_entries", "read:projects"];

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = send(
        app.post(token, "/api/v1/projects")
            .json(&json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

async fn entry(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = send(app.post(token, "/api/v1/time-entries").json(&body)).await;
    assert_eq!(status, 201, "{created}");
    created["time_entry"].clone()
}

fn ids(list: &Value) -> Vec<String> {
    list["time_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

both! {
    async fn entries_are_created_read_updated_and_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, "Site").await;
        let (status, body) = send(app.post(&token, "/api/v1/time-entries").json(&json!({
            "project_id": p, "start_time": "2026-03-02T09:00:00+01:00", "end_time": "2026-03-02T09:30:00Z",
            "notes": " Hero layout ", "tags": "design, Frontend, design"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Time entry created successfully");
        let e = &body["time_entry"];
        assert_eq!(e["start_time"], "2026-03-02T08:00:00Z");
        assert_eq!(e["duration_seconds"], 5400);
        assert_eq!(e["duration_hours"], json!(1.5));
        assert_eq!(e["duration_formatted"], "01:30:00");
        assert_eq!(e["notes"], "Hero layout");
        assert_eq!(e["tag_list"], json!(["design", "Frontend"]));
        assert_eq!(e["tags"], "design, Frontend");
        assert_eq!((e["billable"].clone(), e["paid"].clone(), e["is_active"].clone()), (json!(true), json!(false), json!(false)));
        assert_eq!(e["source"], "manual");
        let id = e["id"].as_str().unwrap();

        let (status, got) = send(app.get(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["time_entry"], *e);

        let (status, updated) = send(app.put(&token, &format!("/api/v1/time-entries/{id}")).json(&json!({
            "end_time": "2026-03-02T10:00:00Z", "tags": ["review"], "paid": true, "notes": null
        }))).await;
        assert_eq!(status, 200, "{updated}");
        let u = &updated["time_entry"];
        assert_eq!(u["duration_seconds"], 7200);
        assert_eq!(u["tag_list"], json!(["review"]));
        assert_eq!(u["paid"], true);
        assert_eq!(u["notes"], json!(null));

        let (status, deleted) = send(app.delete(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(deleted["message"], "Time entry deleted successfully");
        let (status, _) = send(app.get(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 404);
    }

    async fn bad_entries_get_errors_naming_each_field(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let (_, other) = app.caller(true, RW).await;
        let theirs = project(&app, &other, "Theirs").await;
        let (status, body) = send(app.post(&token, "/api/v1/time-entries").json(&json!({
            "start_time": "2026-03-02T10:00:00Z", "end_time": "2026-03-02T09:00:00Z", "project_id": theirs
        }))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        assert!(body["errors"]["end_time"].is_array(), "{body}");
        assert!(body["errors"]["project_id"].is_array(), "{body}");

        let (status, body) = send(app.post(&token, "/api/v1/time-entries").json(&json!({"start_time": "yesterday"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["start_time"].is_array() && body["errors"]["end_time"].is_array(), "{body}");

        // A task of another project.
        let a = project(&app, &token, "A").await;
        let b = project(&app, &token, "B").await;
        let task = insert_task(&app, &token, &b).await;
        let (status, body) = send(app.post(&token, "/api/v1/time-entries").json(&json!({
            "start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z", "project_id": a, "task_id": task
        }))).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["task_id"][0], "the task belongs to another project");
        let (status, _) = send(app.get(&token, &format!("/api/v1/time-entries/{}", uuid::Uuid::now_v7()))).await;
        assert_eq!(status, 404);
    }

    async fn members_see_and_change_only_their_own_entries(backend) {
        let app = TestApp::start(backend).await;
        let ws = format!("ws-{}", uuid::Uuid::now_v7());
        let admin = app.member_in(&ws, true, None).await;
        let admin_token = app.token(&admin, RW).await;
        let ada = app.member_in(&ws, false, None).await;
        let ada_token = app.token(&ada, MEMBER).await;
        let bob = app.member_in(&ws, false, None).await;
        let bob_token = app.token(&bob, MEMBER).await;
        let times = json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z"});
        let mine = entry(&app, &ada_token, times.clone()).await;
        let his = entry(&app, &bob_token, times.clone()).await;
        let for_bob = entry(&app, &admin_token, json!({"start_time": "2026-03-03T09:00:00Z", "end_time": "2026-03-03T10:00:00Z", "user_id": bob.user.id})).await;
        assert_eq!(for_bob["user_id"], bob.user.id.to_string());

        let (_, list) = send(app.get(&ada_token, "/api/v1/time-entries")).await;
        assert_eq!(ids(&list), [mine["id"].as_str().unwrap()]);
        let (status, _) = send(app.get(&ada_token, &format!("/api/v1/time-entries?user_id={}", bob.user.id))).await;
        assert_eq!(status, 403);
        let his_id = his["id"].as_str().unwrap();
        for request in [
            app.get(&ada_token, &format!("/api/v1/time-entries/{his_id}")),
            app.patch(&ada_token, &format!("/api/v1/time-entries/{his_id}")).json(&json!({"notes": "mine"})),
            app.delete(&ada_token, &format!("/api/v1/time-entries/{his_id}")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 403, "{body}");
        }
        let (status, _) = send(app.post(&ada_token, "/api/v1/time-entries").json(&json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z", "user_id": bob.user.id}))).await;
        assert_eq!(status, 403);

        let (_, all) = send(app.get(&admin_token, "/api/v1/time-entries")).await;
        assert_eq!(all["pagination"]["total"], 3);
        let (_, bobs) = send(app.get(&admin_token, &format!("/api/v1/time-entries?user_id={}", bob.user.id))).await;
        assert_eq!(bobs["pagination"]["total"], 2);
        // Another workspace's entry is not found, even by an admin.
        let (_, outsider) = app.caller(true, RW).await;
        let (status, _) = send(app.get(&outsider, &format!("/api/v1/time-entries/{his_id}"))).await;
        assert_eq!(status, 404);
    }

    async fn lists_filter_by_date_project_and_billable_newest_first(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let a = project(&app, &token, "A").await;
        let b = project(&app, &token, "B").await;
        let mut made = Vec::new();
        for (day, project, billable) in [("01", &a, true), ("02", &b, false), ("03", &a, false), ("04", &a, true)] {
            let e = entry(&app, &token, json!({"project_id": project, "billable": billable,
                "start_time": format!("2026-03-{day}T09:00:00Z"), "end_time": format!("2026-03-{day}T10:00:00Z")})).await;
            made.push(e["id"].as_str().unwrap().to_owned());
        }
        let (_, all) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(ids(&all), [made[3].clone(), made[2].clone(), made[1].clone(), made[0].clone()]);
        let (_, range) = send(app.get(&token, "/api/v1/time-entries?start_date=2026-03-02&end_date=2026-03-03")).await;
        assert_eq!(ids(&range), [made[2].clone(), made[1].clone()]);
        let (_, a_billable) = send(app.get(&token, &format!("/api/v1/time-entries?project_id={a}&billable=true"))).await;
        assert_eq!(ids(&a_billable), [made[3].clone(), made[0].clone()]);
        let (_, page) = send(app.get(&token, "/api/v1/time-entries?per_page=3&page=2")).await;
        assert_eq!(ids(&page), [made[0].clone()]);
        assert_eq!(page["pagination"]["has_prev"], true);
        let (status, body) = send(app.get(&token, "/api/v1/time-entries?start_date=March")).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["start_date"].is_array());
        let (status, _) = send(app.get(&token, "/api/v1/time-entries?start_date=2026-03-05&end_date=2026-03-01")).await;
        assert_eq!(status, 400);
    }

    async fn an_idempotency_key_makes_a_retry_safe(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let body = json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z", "notes": "once"});
        let post = |body: &Value, key: &str| app.post(&token, "/api/v1/time-entries").header("Idempotency-Key", key).json(body);
        let first = post(&body, "key-1").send().await.unwrap();
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.unwrap();
        // The same body, keys in another order: the same answer, and no second entry.
        let reordered = json!({"notes": "once", "end_time": "2026-03-02T10:00:00Z", "start_time": "2026-03-02T09:00:00Z"});
        let again = post(&reordered, "key-1").send().await.unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 1);

        let (status, changed) = send(post(&json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T11:00:00Z"}), "key-1")).await;
        assert_eq!(status, 422, "{changed}");
        let (status, _) = send(post(&body, &"k".repeat(129))).await;
        assert_eq!(status, 400);
        // Keys belong to a token: another token's identical key is a new request.
        let (_, other) = app.caller(true, RW).await;
        let (status, _) = send(app.post(&other, "/api/v1/time-entries").header("Idempotency-Key", "key-1").json(&body)).await;
        assert_eq!(status, 201);
    }

    async fn concurrent_retries_with_one_key_create_one_entry(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let body = json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z"});
        let handles: Vec<_> = (0..6)
            .map(|_| tokio::spawn(send(app.post(&token, "/api/v1/time-entries").header("Idempotency-Key", "same").json(&body))))
            .collect();
        let mut answers = Vec::new();
        for handle in handles {
            answers.push(handle.await.unwrap());
        }
        let first_id = &answers[0].1["time_entry"]["id"];
        for (status, answer) in &answers {
            assert!(*status == 201 || *status == 409, "{status} {answer}");
            if *status == 201 {
                assert_eq!(&answer["time_entry"]["id"], first_id);
            }
        }
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 1);
    }

    async fn time_entry_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = uuid::Uuid::now_v7();
        scope_matrix(&app, false, "time_entries", &[
            (Method::GET, "/api/v1/time-entries".into(), Needs::Read),
            (Method::GET, format!("/api/v1/time-entries/{id}"), Needs::Read),
            (Method::POST, "/api/v1/time-entries".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/time-entries/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/time-entries/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/time-entries/{id}"), Needs::Write),
            (Method::POST, "/api/v1/time-entries/bulk".into(), Needs::Write),
            (Method::POST, "/api/v1/time-entries/import-csv".into(), Needs::Write),
            (Method::POST, format!("/api/v1/time-entries/{id}/restore"), Needs::Write),
            (Method::POST, format!("/api/v1/time-entries/{id}/split"), Needs::Write),
            (Method::GET, "/api/v1/timer/status".into(), Needs::Read),
            (Method::POST, "/api/v1/timer/start".into(), Needs::Write),
            (Method::POST, "/api/v1/timer/stop".into(), Needs::Write),
        ]).await;
    }

    async fn changes_are_events_carrying_the_entry_as_the_api_shows_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let start = events_after(&app, &token, 0).await.last().unwrap()["sequence"].as_i64().unwrap();
        let e = entry(&app, &token, json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z", "tags": ["new-tag"]})).await;
        let id = e["id"].as_str().unwrap();
        let (_, u) = send(app.patch(&token, &format!("/api/v1/time-entries/{id}")).json(&json!({"billable": false}))).await;
        send(app.delete(&token, &format!("/api/v1/time-entries/{id}"))).await;
        let events = events_after(&app, &token, start).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["tag.created", "time_entry.created", "time_entry.updated", "time_entry.deleted"]);
        assert_eq!(events[1]["data"], e);
        assert_eq!(events[2]["data"], u["time_entry"]);
    }
}

/// A task of a project, created through the tasks API: a broken tasks API fails here, loudly,
/// instead of being papered over.
pub async fn insert_task(app: &TestApp, token: &str, project_id: &str) -> String {
    let (status, body) = send(
        app.post(token, "/api/v1/tasks")
            .json(&json!({"project_id": project_id, "name": "T"})),
    )
    .await;
    assert_eq!(status, 201, "POST /api/v1/tasks: {body}");
    body["task"]["id"].as_str().unwrap().to_owned()
}

async fn three_entries(app: &TestApp, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for day in ["02", "03", "04"] {
        let e = entry(app, token, json!({"start_time": format!("2026-03-{day}T09:00:00Z"), "end_time": format!("2026-03-{day}T10:00:00Z")})).await;
        out.push(e["id"].as_str().unwrap().to_owned());
    }
    out
}

async fn bulk(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    send(app.post(token, "/api/v1/time-entries/bulk").json(&body)).await
}

both! {
    async fn bulk_actions_change_every_named_entry(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let ids = three_entries(&app, &token).await;
        let start = events_after(&app, &token, 0).await.last().unwrap()["sequence"].as_i64().unwrap();

        let (status, body) = bulk(&app, &token, json!({"entry_ids": ids[..2], "action": "set_billable", "value": false})).await;
        assert_eq!((status, body.clone()), (200, json!({"success": true, "affected": 2})));
        let (status, _) = bulk(&app, &token, json!({"entry_ids": ids, "action": "set_paid", "value": true})).await;
        assert_eq!(status, 200);
        let (status, _) = bulk(&app, &token, json!({"entry_ids": ids, "action": "add_tag", "value": "q1"})).await;
        assert_eq!(status, 200);
        let (status, _) = bulk(&app, &token, json!({"entry_ids": [ids[0].clone()], "action": "remove_tag", "value": "Q1"})).await;
        assert_eq!(status, 200);

        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        let by_id = |id: &str| list["time_entries"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
        assert_eq!(by_id(&ids[0])["billable"], false);
        assert_eq!(by_id(&ids[2])["billable"], true);
        assert!(list["time_entries"].as_array().unwrap().iter().all(|e| e["paid"] == true));
        assert_eq!(by_id(&ids[0])["tag_list"], json!([]));
        assert_eq!(by_id(&ids[1])["tag_list"], json!(["q1"]));

        let (status, body) = bulk(&app, &token, json!({"entry_ids": ids[1..], "action": "delete"})).await;
        assert_eq!((status, body["affected"].clone()), (200, json!(2)));
        let (_, left) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(ids_of(&left), [ids[0].clone()]);

        let events = events_after(&app, &token, start).await;
        let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
        assert_eq!(count("time_entry.updated"), 2 + 3 + 3 + 1);
        assert_eq!(count("time_entry.batch_deleted"), 2);
        assert_eq!(count("tag.created"), 1);
    }

    async fn bad_bulk_requests_change_nothing(backend) {
        let app = TestApp::start(backend).await;
        let ws = format!("ws-{}", uuid::Uuid::now_v7());
        let admin = app.member_in(&ws, true, None).await;
        let admin_token = app.token(&admin, RW).await;
        let ada = app.member_in(&ws, false, None).await;
        let ada_token = app.token(&ada, MEMBER).await;
        let mine = three_entries(&app, &ada_token).await;
        let others = three_entries(&app, &admin_token).await;
        let before = events_after(&app, &admin_token, 0).await;

        let (status, body) = bulk(&app, &ada_token, json!({"entry_ids": [], "action": "delete"})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["entry_ids"].is_array());
        let (status, body) = bulk(&app, &ada_token, json!({"entry_ids": mine, "action": "explode"})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["action"][0].as_str().unwrap().contains("set_billable"));
        let (status, _) = bulk(&app, &ada_token, json!({"entry_ids": [uuid::Uuid::now_v7()], "action": "delete"})).await;
        assert_eq!(status, 404);
        let (status, _) = bulk(&app, &ada_token, json!({"entry_ids": ["not-an-id"], "action": "delete"})).await;
        assert_eq!(status, 400);
        let (status, _) = bulk(&app, &ada_token, json!({"entry_ids": mine, "action": "add_tag", "value": ""})).await;
        assert_eq!(status, 400);
        // A name too long for a tag is the value's problem, named as such.
        let (status, body) = bulk(&app, &ada_token, json!({"entry_ids": mine, "action": "add_tag", "value": "x".repeat(101)})).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["value"][0], "a tag name is at most 100 characters", "{body}");
        // One entry of someone else: 403, and none of the member's own entries is deleted.
        let mut mixed = mine.clone();
        mixed.push(others[0].clone());
        let (status, _) = bulk(&app, &ada_token, json!({"entry_ids": mixed, "action": "delete"})).await;
        assert_eq!(status, 403);
        let (_, list) = send(app.get(&ada_token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 3);
        assert_eq!(events_after(&app, &admin_token, 0).await, before);
    }

    async fn imports_our_columns_all_or_nothing(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let (_, admin) = app.caller(true, RW).await;
        let _ = admin;
        let good = "project,start_time,end_time,notes,tags,billable\n\
            Site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,First,\"a, b\",yes\n\
            Site,2026-03-02 11:00,2026-03-02 11:30,Second,,no\n";
        let bad = format!("{good}Site,2026-03-02T12:00:00Z,2026-03-02T11:00:00Z,Backwards,,\nSite,noon,,Broken,,maybe\n");
        let before = send(app.get(&token, "/api/v1/time-entries")).await.1;

        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv").header("content-type", "text/csv").body(bad.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        assert_eq!(body["created"], 0);
        assert_eq!(body["failed"], 2);
        assert_eq!(body["row_errors"][0], json!({"row": 4, "column": "end_time", "error": "must be after the start"}));
        assert_eq!(body["row_errors"][1]["row"], 5);
        assert_eq!(body["row_errors"][1]["column"], "start_time");
        assert_eq!(body["errors"]["end_time"], json!(["row 4: must be after the start"]));
        assert_eq!(send(app.get(&token, "/api/v1/time-entries")).await.1, before);

        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv?partial=true").header("content-type", "text/csv").body(bad)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["created"].clone(), body["failed"].clone()), (json!(2), json!(2)));
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        let entries = list["time_entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["notes"], "Second");
        assert_eq!(entries[0]["billable"], false);
        assert_eq!(entries[1]["tag_list"], json!(["a", "b"]));
        assert_eq!(entries[1]["source"], "import");
        // The project named by the file was created once.
        let (_, projects) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(projects["pagination"]["total"], 1);

        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv").header("content-type", "text/csv").body("")).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Empty CSV");
        let (status, _) = send(app.post(&token, "/api/v1/time-entries/import-csv").header("content-type", "text/csv").body("a,b\n1,2\n")).await;
        assert_eq!(status, 400);
    }

    async fn a_toggl_track_export_imports_in_one_call(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let file = reqwest::multipart::Part::bytes(include_bytes!("../fixtures/toggl_detailed.csv").to_vec()).file_name("Toggl_time_entries.csv");
        let form = reqwest::multipart::Form::new().part("file", file);
        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv?utc_offset=%2B01:00").multipart(form)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"success": true, "created": 6, "skipped": 0, "failed": 0, "errors": [], "skipped_rows": [], "format": "toggl", "date_format": null}));

        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        let entries = list["time_entries"].as_array().unwrap();
        let hero = entries.iter().find(|e| e["notes"] == "Hero section layout").unwrap();
        assert_eq!(hero["start_time"], "2026-03-02T08:00:00Z");
        assert_eq!(hero["duration_seconds"], 5400);
        assert_eq!(hero["tag_list"], json!(["design", "frontend"]));
        assert!(hero["task_id"].is_string());
        let midnight = entries.iter().find(|e| e["notes"] == "Late fix (crosses midnight)").unwrap();
        assert_eq!(midnight["duration_seconds"], 2700);
        let deploy = entries.iter().find(|e| e["notes"] == "Deploy staging").unwrap();
        assert_eq!(deploy["billable"], false);
        assert!(deploy["task_id"].is_null());
        let review = entries.iter().find(|e| e["notes"] == "Review with client, round 2").unwrap();
        assert_eq!(review["task_id"], hero["task_id"]);

        let (_, projects) = send(app.get(&token, "/api/v1/projects")).await;
        let names: Vec<_> = projects["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Internal", "Mobile App", "Website Relaunch"]);
        assert!(projects["projects"][2]["client_id"].is_string());
    }

    async fn a_clockify_export_imports_in_one_call(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let csv = String::from_utf8(include_bytes!("../fixtures/clockify_detailed.csv").to_vec()).unwrap();
        // Its dates (03/09/2026, 03/10/2026) read either way: the caller says which.
        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv").json(&json!({"csv": csv}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["date_format"].is_array(), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/time-entries/import-csv?date_format=MM/DD/YYYY").json(&json!({"csv": csv}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], 5);
        assert_eq!((body["format"].as_str(), body["date_format"].as_str()), (Some("clockify"), Some("MM/DD/YYYY")));
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        let entries = list["time_entries"].as_array().unwrap();
        let push = entries.iter().find(|e| e["notes"] == "Push notifications").unwrap();
        assert_eq!(push["start_time"], "2026-03-09T10:30:00Z");
        assert_eq!(push["end_time"], "2026-03-09T13:00:00Z");
        assert_eq!(push["tag_list"], json!(["backend", "mobile"]));
        let timesheets = entries.iter().find(|e| e["notes"] == "Timesheets").unwrap();
        assert_eq!(timesheets["start_time"], "2026-03-10T17:00:00Z");
        assert_eq!(timesheets["billable"], false);
        let total: i64 = entries.iter().map(|e| e["duration_seconds"].as_i64().unwrap()).sum();
        assert_eq!(total, (75 + 150 + 40 + 30 + 10) * 60);
    }

    async fn admins_import_a_team_export_by_email(backend) {
        let app = TestApp::start(backend).await;
        let ws = format!("ws-{}", uuid::Uuid::now_v7());
        let admin = app.member_in(&ws, true, None).await;
        let admin_token = app.token(&admin, RW).await;
        let ada = app.member_in(&ws, false, None).await;
        let csv = format!("email,start_time,end_time\n{},2026-03-02T09:00:00Z,2026-03-02T10:00:00Z\nnobody@example.com,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z\n", ada.user.email.to_uppercase());
        let (status, body) = send(app.post(&admin_token, "/api/v1/time-entries/import-csv").body(csv.clone())).await;
        assert_eq!(status, 400);
        assert_eq!(body["row_errors"][0]["column"], "email");
        let (status, _) = send(app.post(&admin_token, "/api/v1/time-entries/import-csv?partial=true").body(csv)).await;
        assert_eq!(status, 200);
        let (_, list) = send(app.get(&admin_token, &format!("/api/v1/time-entries?user_id={}", ada.user.id))).await;
        assert_eq!(list["pagination"]["total"], 1);
    }
}

fn ids_of(list: &Value) -> Vec<String> {
    ids(list)
}
