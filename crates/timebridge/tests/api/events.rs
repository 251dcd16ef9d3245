//! The outbox and its feed: one event per change, written in the change's transaction, paged
//! in commit order.

use serde_json::json;

use crate::{both, support::*};

both! {
    async fn each_change_is_one_event_carrying_the_resource_as_the_api_shows_it(backend) {
        let app = TestApp::start(backend).await;
        let (member, admin) = app.caller(true, &["admin:all"]).await;
        let start = events_after(&app, &admin, 0).await;
        // Creating the user in a new workspace is the first event.
        assert_eq!(start.len(), 1);
        assert_eq!(start[0]["type"], "user.joined");
        assert_eq!(start[0]["data"]["id"], member.user.id.to_string());
        let after = start[0]["sequence"].as_i64().unwrap();

        let (_, created) = send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let id = created["client"]["id"].as_str().unwrap().to_owned();
        let (_, updated) = send(app.patch(&admin, &format!("/api/v1/clients/{id}")).json(&json!({"phone": "123"}))).await;
        send(app.delete(&admin, &format!("/api/v1/clients/{id}"))).await;

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["client.created", "client.updated", "client.deleted"]);
        assert_eq!(events[0]["data"], created["client"]);
        assert_eq!(events[1]["data"], updated["client"]);
        assert_eq!(events[2]["resource"], json!({"type": "client", "id": id}));
        let sequences: Vec<_> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
        assert_eq!(sequences, [after + 1, after + 2, after + 3]);
        assert_eq!(events[0]["actor"]["kind"], "user");
        assert_eq!(events[0]["actor"]["user_id"], member.user.id.to_string());
        assert_eq!(events[0]["workspace_id"], member.workspace.id.to_string());
    }

    async fn a_failed_change_leaves_no_event(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin) = app.caller(true, &["admin:all"]).await;
        send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let before = events_after(&app, &admin, 0).await;
        // A duplicate name fails at the database, after the transaction began.
        let (status, _) = send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        assert_eq!(status, 409);
        let (status, _) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "P", "client_id": uuid::Uuid::now_v7()}))).await;
        assert_eq!(status, 400);
        assert_eq!(events_after(&app, &admin, 0).await, before);
    }

    async fn the_feed_pages_by_sequence_or_id_and_stays_in_its_workspace(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin) = app.caller(true, &["admin:all"]).await;
        let (_, other) = app.caller(true, &["admin:all"]).await;
        for n in 0..5 {
            send(app.post(&admin, "/api/v1/projects").json(&json!({"name": format!("P{n}")}))).await;
        }
        send(app.post(&other, "/api/v1/projects").json(&json!({"name": "Theirs"}))).await;

        let (status, page) = send(app.get(&admin, "/api/v1/integration/events?limit=2")).await;
        assert_eq!(status, 200);
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        assert_eq!(page["has_more"], true);
        let next = page["next_after"].as_i64().unwrap();
        let by_id = page["events"][1]["id"].as_str().unwrap();
        let (_, rest) = send(app.get(&admin, &format!("/api/v1/integration/events?after={next}"))).await;
        let (_, rest_by_id) = send(app.get(&admin, &format!("/api/v1/integration/events?after={by_id}"))).await;
        assert_eq!(rest, rest_by_id);
        assert_eq!(rest["events"].as_array().unwrap().len(), 4);
        assert_eq!(rest["has_more"], false);
        assert!(rest["events"].as_array().unwrap().iter().all(|e| e["data"]["name"] != "Theirs"));

        let (status, body) = send(app.get(&admin, "/api/v1/integration/events?after=yesterday")).await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = send(app.get(&admin, &format!("/api/v1/integration/events?after={}", uuid::Uuid::now_v7()))).await;
        assert_eq!(status, 404);
        let (_, member) = app.caller(false, &["read:projects"]).await;
        let (status, _) = send(app.get(&member, "/api/v1/integration/events")).await;
        assert_eq!(status, 403);
    }
}
