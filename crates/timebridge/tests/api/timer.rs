//! `/api/v1/timer/{start,stop,status}`: one running timer per user, events, bad input.

use serde_json::json;

use crate::{both, support::*};

const RW: &[&str] = &[
    "read:time_entries",
    "write:time_entries",
    "write:projects",
    "admin:all",
];

async fn project(app: &TestApp, token: &str, body: serde_json::Value) -> String {
    let (status, p) = send(app.post(token, "/api/v1/projects").json(&body)).await;
    assert_eq!(status, 201, "{p}");
    p["project"]["id"].as_str().unwrap().to_owned()
}

both! {
    async fn a_timer_starts_runs_and_stops_into_an_entry(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site", "billable": false})).await;
        let (_, idle) = send(app.get(&token, "/api/v1/timer/status")).await;
        assert_eq!(idle, json!({"active": false, "timer": null}));

        let (status, started) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p, "notes": "Deep work"}))).await;
        assert_eq!(status, 201, "{started}");
        assert_eq!(started["message"], "Timer started successfully");
        let timer = &started["timer"];
        assert_eq!(timer["is_active"], true);
        assert_eq!(timer["end_time"], json!(null));
        assert_eq!(timer["billable"], false);
        assert_eq!(timer["source"], "timer");

        let (_, running) = send(app.get(&token, "/api/v1/timer/status")).await;
        assert_eq!(running["active"], true);
        assert_eq!(running["timer"]["id"], timer["id"]);

        let (status, again) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(again["error_code"], "timer_already_running");
        assert_eq!(again["timer"]["id"], timer["id"]);

        let (status, stopped) = send(app.post(&token, "/api/v1/timer/stop")).await;
        assert_eq!(status, 200, "{stopped}");
        assert_eq!(stopped["message"], "Timer stopped successfully");
        let entry = &stopped["time_entry"];
        assert_eq!(entry["id"], timer["id"]);
        assert_eq!(entry["is_active"], false);
        assert!(entry["duration_seconds"].as_i64().unwrap() >= 0);

        let (status, none) = send(app.post(&token, "/api/v1/timer/stop")).await;
        assert_eq!(status, 409);
        assert_eq!(none["error_code"], "no_active_timer");
        // The finished entry is listed; a new timer may start.
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["time_entries"][0]["id"], timer["id"]);
        let (status, _) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        assert_eq!(status, 201);

        let events = events_after(&app, &token, 0).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types.iter().filter(|t| **t == "timer.started").count(), 2);
        let stopped_event = events.iter().find(|e| e["type"] == "timer.stopped").unwrap();
        assert_eq!(stopped_event["data"], *entry);
    }

    async fn a_stop_time_is_checked(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site"})).await;
        send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        for bad in ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "noon"] {
            let (status, body) = send(app.post(&token, "/api/v1/timer/stop").json(&json!({"stop_time": bad}))).await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert!(body["errors"]["stop_time"].is_array());
        }
        let (_, running) = send(app.get(&token, "/api/v1/timer/status")).await;
        assert_eq!(running["active"], true);
    }

    async fn a_timer_stopped_in_the_second_it_started_becomes_a_zero_second_entry(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site"})).await;
        let (_, started) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        let id = started["timer"]["id"].as_str().unwrap();
        // The stop lands in the timer's own second (or, with another instance's clock a little
        // ahead, before it): move the start to the next seconds so that is certain.
        let start = start_in_the_future(&app, id).await;
        let before = (start - time::Duration::SECOND).format(&time::format_description::well_known::Rfc3339).unwrap();
        let (status, body) = send(app.post(&token, "/api/v1/timer/stop").json(&json!({"stop_time": before}))).await;
        assert_eq!(status, 400, "a stop_time the client sent before the start is refused: {body}");
        assert!(body["errors"]["stop_time"].is_array(), "{body}");

        let (status, stopped) = send(app.post(&token, "/api/v1/timer/stop")).await;
        assert_eq!(status, 200, "{stopped}");
        let entry = &stopped["time_entry"];
        assert_eq!(entry["duration_seconds"], 0);
        assert_eq!(entry["duration_hours"].as_f64(), Some(0.0));
        assert_eq!(entry["duration_formatted"], "00:00:00");
        assert_eq!(entry["end_time"], entry["start_time"]);
        assert_eq!(entry["is_active"], false);
        // The 0-second entry is an ordinary entry: listed, and editable.
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["time_entries"][0]["id"], id);
        let (status, body) = send(app.patch(&token, &format!("/api/v1/time-entries/{id}")).json(&json!({"notes": "quick call"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["time_entry"]["duration_seconds"], 0);
        let events = events_after(&app, &token, 0).await;
        let stopped_event = events.iter().find(|e| e["type"] == "timer.stopped").unwrap();
        assert_eq!(stopped_event["data"], *entry);
    }

    async fn a_stop_time_equal_to_the_start_is_accepted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site"})).await;
        let (_, started) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        let start = started["timer"]["start_time"].clone();
        let (status, stopped) = send(app.post(&token, "/api/v1/timer/stop").json(&json!({"stop_time": start}))).await;
        assert_eq!(status, 200, "{stopped}");
        assert_eq!(stopped["time_entry"]["duration_seconds"], 0);
    }

    async fn a_timer_needs_a_live_project_of_the_workspace(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let (_, other) = app.caller(true, RW).await;
        let theirs = project(&app, &other, json!({"name": "Theirs"})).await;
        let archived = project(&app, &token, json!({"name": "Old", "status": "archived"})).await;
        for body in [json!({}), json!({"project_id": theirs}), json!({"project_id": archived}), json!({"project_id": "nope"})] {
            let (status, answer) = send(app.post(&token, "/api/v1/timer/start").json(&body)).await;
            assert_eq!(status, 400, "{body}: {answer}");
        }
        let (_, idle) = send(app.get(&token, "/api/v1/timer/status")).await;
        assert_eq!(idle["active"], false);
        assert!(events_after(&app, &token, 0).await.iter().all(|e| e["type"] != "timer.started"));
    }

    async fn racing_starts_leave_one_running_timer(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site"})).await;
        let handles: Vec<_> = (0..8)
            .map(|_| tokio::spawn(send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p})))))
            .collect();
        let mut statuses = Vec::new();
        for h in handles {
            statuses.push(h.await.unwrap().0);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries?include_active=true")).await;
        assert_eq!(list["pagination"]["total"], 1);
    }

    async fn a_running_timer_cannot_be_deleted_or_given_an_end(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(true, RW).await;
        let p = project(&app, &token, json!({"name": "Site"})).await;
        let (_, started) = send(app.post(&token, "/api/v1/timer/start").json(&json!({"project_id": p}))).await;
        let id = started["timer"]["id"].as_str().unwrap();
        let (status, _) = send(app.delete(&token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(status, 409);
        let (status, _) = send(app.patch(&token, &format!("/api/v1/time-entries/{id}")).json(&json!({"end_time": "2999-01-01T00:00:00Z"}))).await;
        assert_eq!(status, 409);
        let (status, body) = send(app.post(&token, "/api/v1/time-entries/bulk").json(&json!({"entry_ids": [id], "action": "delete"}))).await;
        assert_eq!(status, 400, "{body}");
        let (_, running) = send(app.get(&token, "/api/v1/timer/status")).await;
        assert_eq!(running["active"], true);
    }
}

/// Moves a running timer's start two seconds ahead of the clock, as if it had started in this
/// very second on an instance whose clock runs a little ahead; returns the new start.
pub async fn start_in_the_future(app: &TestApp, id: &str) -> time::OffsetDateTime {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use timebridge::tracking::time_entries::entity as entry;
    let start = timebridge::platform::time::now() + time::Duration::seconds(2);
    entry::Entity::update_many()
        .col_expr(entry::Column::StartTime, Expr::value(start))
        .filter(entry::Column::Id.eq(uuid::Uuid::parse_str(id).unwrap()))
        .exec(&*app.db)
        .await
        .unwrap();
    start
}
