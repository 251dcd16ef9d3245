//! Deleted time entries vanish from lists and reports and can be restored for
//! `DELETED_RETENTION_DAYS`; an entry can be split in two at a moment inside it.

use serde_json::{Value, json};

use crate::{both, support::*};

const RW: &[&str] = &[
    "read:time_entries",
    "write:time_entries",
    "write:projects",
    "read:reports",
    "admin:all",
];
const MEMBER: &[&str] = &["read:time_entries", "write:time_entries"];

async fn entry(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = send(app.post(token, "/api/v1/time-entries").json(&body)).await;
    assert_eq!(status, 201, "{created}");
    created["time_entry"].clone()
}

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = send(
        app.post(token, "/api/v1/projects")
            .json(&json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

async fn total_hours(app: &TestApp, token: &str) -> Value {
    let (status, report) = send(app.get(
        token,
        "/api/v1/reports/summary?start_date=2026-03-01&end_date=2026-03-31",
    ))
    .await;
    assert_eq!(status, 200, "{report}");
    report["summary"]["total_hours"].clone()
}

fn types_after(events: &[Value], sequence: i64) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["sequence"].as_i64().unwrap() > sequence)
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn last_sequence(events: &[Value]) -> i64 {
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

/// Moves the deletion of a record back by `days`.
async fn deleted_days_ago(app: &TestApp, id: &str, days: i64) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use timebridge::platform::trash::entity as deleted;
    let at = timebridge::platform::time::now() - time::Duration::days(days);
    let changed = deleted::Entity::update_many()
        .col_expr(deleted::Column::DeletedAt, Expr::value(at))
        .filter(deleted::Column::Id.eq(uuid::Uuid::parse_str(id).unwrap()))
        .exec(&*app.db)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected, 1);
}

both! {
    async fn a_deleted_entry_vanishes_and_comes_back_when_restored(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, "Site").await;
        let kept = entry(&app, &token, json!({"project_id": p, "start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z"})).await;
        let e = entry(&app, &token, json!({"project_id": p, "start_time": "2026-03-03T09:00:00Z", "end_time": "2026-03-03T10:30:00Z", "notes": "Design review", "tags": ["design", "client"], "billable": false})).await;
        let id = e["id"].as_str().unwrap();
        assert_eq!(total_hours(&app, &token).await, json!(2.5));
        let before = last_sequence(&events_after(&app, &token, 0).await);

        let (status, _) = send(app.delete(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 200);
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 1);
        assert_eq!(list["time_entries"][0]["id"], kept["id"]);
        assert_eq!(total_hours(&app, &token).await, json!(1.0));
        let (status, _) = send(app.get(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 404);

        let (status, restored) = send(app.post(&token, &format!("/api/v1/time-entries/{id}/restore"))).await;
        assert_eq!(status, 200, "{restored}");
        assert_eq!(restored["message"], "Time entry restored successfully");
        let r = &restored["time_entry"];
        for field in ["id", "user_id", "project_id", "start_time", "end_time", "duration_seconds", "notes", "tag_list", "billable", "paid", "source", "created_at"] {
            assert_eq!(r[field], e[field], "{field}");
        }
        let (_, got) = send(app.get(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(got["time_entry"], *r);
        assert_eq!(total_hours(&app, &token).await, json!(2.5));
        let events = events_after(&app, &token, 0).await;
        assert_eq!(types_after(&events, before), ["time_entry.deleted", "time_entry.restored"]);
        assert_eq!(events.last().unwrap()["data"], *r);

        // Restoring twice, or a live entry, or nothing at all.
        let (status, body) = send(app.post(&token, &format!("/api/v1/time-entries/{id}/restore"))).await;
        assert_eq!(status, 409, "{body}");
        let (status, _) = send(app.post(&token, &format!("/api/v1/time-entries/{}/restore", uuid::Uuid::now_v7()))).await;
        assert_eq!(status, 404);
    }

    async fn entries_deleted_in_bulk_are_restored_one_by_one_and_only_within_the_window(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let mut ids = Vec::new();
        for day in ["02", "03"] {
            let e = entry(&app, &token, json!({"start_time": format!("2026-03-{day}T09:00:00Z"), "end_time": format!("2026-03-{day}T10:00:00Z"), "tags": ["q1"]})).await;
            ids.push(e["id"].as_str().unwrap().to_owned());
        }
        let (status, _) = send(app.post(&token, "/api/v1/time-entries/bulk").json(&json!({"entry_ids": ids, "action": "delete"}))).await;
        assert_eq!(status, 200);
        let (status, restored) = send(app.post(&token, &format!("/api/v1/time-entries/{}/restore", ids[0]))).await;
        assert_eq!(status, 200, "{restored}");
        assert_eq!(restored["time_entry"]["tag_list"], json!(["q1"]));

        // Past the window the entry cannot come back, and the retention job forgets it.
        deleted_days_ago(&app, &ids[1], 31).await;
        let (status, body) = send(app.post(&token, &format!("/api/v1/time-entries/{}/restore", ids[1]))).await;
        assert_eq!(status, 404, "{body}");
        assert!(body["message"].as_str().unwrap().contains("30 days"), "{body}");
        let run = run_instance_job(&app, "deleted_time_entries_retention").await;
        assert!(run["deleted_time_entries_purged"].as_u64().unwrap() >= 1, "{run}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 1);
    }

    async fn members_restore_only_their_own_entries(backend) {
        let app = TestApp::start(backend).await;
        let ws = format!("ws-{}", uuid::Uuid::now_v7());
        let admin = app.member_in(&ws, true, None).await;
        let admin_token = app.token(&admin, RW).await;
        let ada = app.member_in(&ws, false, None).await;
        let ada_token = app.token(&ada, MEMBER).await;
        let bob = app.member_in(&ws, false, None).await;
        let bob_token = app.token(&bob, MEMBER).await;
        let times = json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z"});
        let adas = entry(&app, &ada_token, times.clone()).await;
        let id = adas["id"].as_str().unwrap();
        send(app.delete(&ada_token, &format!("/api/v1/time-entries/{id}"))).await;
        let (status, _) = send(app.post(&bob_token, &format!("/api/v1/time-entries/{id}/restore"))).await;
        assert_eq!(status, 403);
        let (_, outsider) = app.caller(true, RW).await;
        let (status, _) = send(app.post(&outsider, &format!("/api/v1/time-entries/{id}/restore"))).await;
        assert_eq!(status, 404, "another workspace's deleted entry is not found");
        let (status, body) = send(app.post(&admin_token, &format!("/api/v1/time-entries/{id}/restore"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["time_entry"]["user_id"], ada.user.id.to_string());
    }

    async fn an_entry_is_split_in_two_at_a_moment_inside_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, "Site").await;
        let e = entry(&app, &token, json!({"project_id": p, "start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T12:00:00Z", "notes": "Workshop", "tags": ["onsite"], "billable": false, "paid": true})).await;
        let id = e["id"].as_str().unwrap();
        let before = last_sequence(&events_after(&app, &token, 0).await);

        let (status, body) = send(app.post(&token, &format!("/api/v1/time-entries/{id}/split")).json(&json!({"at": "2026-03-02T11:30:00+01:00"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Time entry split successfully");
        let [first, second] = [&body["time_entries"][0], &body["time_entries"][1]];
        assert_eq!(first["id"], e["id"]);
        assert_eq!((first["start_time"].as_str(), first["end_time"].as_str()), (Some("2026-03-02T09:00:00Z"), Some("2026-03-02T10:30:00Z")));
        assert_eq!((second["start_time"].as_str(), second["end_time"].as_str()), (Some("2026-03-02T10:30:00Z"), Some("2026-03-02T12:00:00Z")));
        assert_eq!((first["duration_seconds"].clone(), second["duration_seconds"].clone()), (json!(5400), json!(5400)));
        assert_ne!(second["id"], e["id"]);
        for field in ["user_id", "project_id", "notes", "tag_list", "billable", "paid", "source"] {
            assert_eq!(second[field], e[field], "{field}");
        }
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 2);
        assert_eq!(total_hours(&app, &token).await, json!(3.0));

        let events = events_after(&app, &token, 0).await;
        assert_eq!(types_after(&events, before), ["time_entry.updated", "time_entry.created", "time_entry.split"]);
        let split = events.last().unwrap();
        assert_eq!(split["resource"]["id"], e["id"]);
        assert_eq!(split["data"]["time_entries"], body["time_entries"]);
    }

    async fn a_split_needs_a_moment_strictly_inside_a_finished_unbilled_entry(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, RW).await;
        let e = entry(&app, &token, json!({"start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T10:00:00Z"})).await;
        let path = format!("/api/v1/time-entries/{}/split", e["id"].as_str().unwrap());
        for at in [json!("2026-03-02T09:00:00Z"), json!("2026-03-02T10:00:00Z"), json!("2026-03-02T08:00:00Z"), json!("noon"), json!(null)] {
            let (status, body) = send(app.post(&token, &path).json(&json!({"at": at}))).await;
            assert_eq!(status, 400, "{at}: {body}");
            assert!(body["errors"]["at"].is_array(), "{body}");
        }
        let (status, _) = send(app.post(&token, &format!("/api/v1/time-entries/{}/split", uuid::Uuid::now_v7())).json(&json!({"at": "2026-03-02T09:30:00Z"}))).await;
        assert_eq!(status, 404);

        let p = project(&app, &token, "Timer").await;
        let (_, started) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        let running = started["timer"]["id"].as_str().unwrap();
        let (status, body) = send(app.post(&token, &format!("/api/v1/time-entries/{running}/split")).json(&json!({"at": "2026-03-02T09:30:00Z"}))).await;
        assert_eq!(status, 409, "{body}");

        // Another member's entry.
        let ada = app.member_in(&admin.workspace.name, false, None).await;
        let ada_token = app.token(&ada, MEMBER).await;
        let (status, _) = send(app.post(&ada_token, &path).json(&json!({"at": "2026-03-02T09:30:00Z"}))).await;
        assert_eq!(status, 403);
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 1, "nothing was split");
    }
}

/// Runs an instance job now, in the test's server, and answers its outcome.
pub async fn run_instance_job(app: &TestApp, kind: &str) -> Value {
    use timebridge::platform::jobs::runner::Runner;
    let runner = Runner {
        db: app.db.clone(),
        registry: app.state.jobs.clone(),
        state: app.state.clone(),
        owner: format!("test-{}", uuid::Uuid::now_v7().simple()),
        queues: None,
    };
    let found = app
        .state
        .jobs
        .get(kind)
        .expect("the job kind is registered");
    let run = runner.run_now(found, None, &json!({})).await.unwrap();
    assert!(run.last_error.is_none(), "{:?}", run.last_error);
    serde_json::from_str(run.outcome.as_deref().unwrap_or("null")).unwrap()
}
