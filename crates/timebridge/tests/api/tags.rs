//! `/api/v1/tags` end to end: CRUD, case-blind uniqueness, colours, isolation, scopes, events,
//! deletion from entries, and `find_or_create_by_names` for time entries and imports.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use timebridge::{
    platform::{changes::WorkspaceChange, outbox::Actor, time},
    tracking::{
        tags::{entity::entry_tag, service as tags},
        time_entries::entity as time_entry,
    },
};
use uuid::Uuid;

use crate::{both, support::*};

const RW: &[&str] = &["read:tags", "write:tags"];

async fn tag(app: &TestApp, token: &str, fields: Value) -> Value {
    let (status, body) = send(app.post(token, "/api/v1/tags").json(&fields)).await;
    assert_eq!(status, 201, "{body}");
    body["tag"].clone()
}

fn names(list: &Value) -> Vec<&str> {
    list["tags"]
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
    async fn tags_are_created_read_updated_listed_and_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (status, body) = send(app.post(&token, "/api/v1/tags").json(&json!({"name": " Backend ", "color": "#1F6FEB"}))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Tag created successfully");
        let created = &body["tag"];
        assert_eq!(created["name"], "Backend");
        assert_eq!(created["color"], "#1f6feb");
        let id = created["id"].as_str().unwrap().to_owned();

        let (status, got) = send(app.get(&token, &format!("/api/v1/tags/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["tag"], *created);

        let (status, body) = send(app.patch(&token, &format!("/api/v1/tags/{id}")).json(&json!({"color": null}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Tag updated successfully");
        assert_eq!(body["tag"]["color"], Value::Null);
        assert_eq!(body["tag"]["name"], "Backend");
        let (status, body) = send(app.put(&token, &format!("/api/v1/tags/{id}")).json(&json!({"name": "backend"}))).await;
        assert_eq!(status, 200, "renaming a tag to another case of its own name: {body}");
        assert_eq!(body["tag"]["name"], "backend");

        tag(&app, &token, json!({"name": "urgent"})).await;
        tag(&app, &token, json!({"name": "Frontend"})).await;
        let (_, list) = send(app.get(&token, "/api/v1/tags")).await;
        assert_eq!(names(&list), ["backend", "Frontend", "urgent"]);
        assert_eq!(list["pagination"]["total"], 3);
        let (_, found) = send(app.get(&token, "/api/v1/tags?search=END")).await;
        assert_eq!(names(&found), ["backend", "Frontend"]);

        let (status, body) = send(app.delete(&token, &format!("/api/v1/tags/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["message"], "Tag deleted successfully");
        assert_eq!(body["tag"]["name"], "backend");
        let (status, _) = send(app.get(&token, &format!("/api/v1/tags/{id}"))).await;
        assert_eq!(status, 404);
    }

    async fn tag_names_are_unique_in_any_case(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, other) = app.caller(false, RW).await;
        tag(&app, &token, json!({"name": "Dev"})).await;
        for name in ["Dev", "dev", " DEV "] {
            let (status, body) = send(app.post(&token, "/api/v1/tags").json(&json!({"name": name}))).await;
            assert_eq!(status, 409, "{name}: {body}");
            assert_eq!(body["error_code"], "conflict");
        }
        let ops = tag(&app, &token, json!({"name": "Ops"})).await;
        let (status, _) = send(app.patch(&token, &format!("/api/v1/tags/{}", ops["id"].as_str().unwrap())).json(&json!({"name": "dEv"}))).await;
        assert_eq!(status, 409);
        tag(&app, &other, json!({"name": "dev"})).await;
    }

    async fn bad_tag_input_is_named_and_others_tags_are_not_found(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, theirs) = app.caller(false, RW).await;
        for (body, field) in [
            (json!({"name": ""}), "name"),
            (json!({"name": "x".repeat(101)}), "name"),
            (json!({}), "name"),
            (json!({"name": "ok", "color": "red"}), "color"),
            (json!({"name": "ok", "color": "#12345g"}), "color"),
            (json!({"name": "ok", "color": "#1234567"}), "color"),
        ] {
            let (status, answer) = send(app.post(&token, "/api/v1/tags").json(&body)).await;
            assert_eq!(status, 400, "{body}: {answer}");
            assert_eq!(answer["error_code"], "validation_error");
            assert!(answer["errors"][field].is_array(), "{body}: {answer}");
        }
        let secret = tag(&app, &theirs, json!({"name": "secret"})).await;
        let id = secret["id"].as_str().unwrap();
        for request in [
            app.get(&token, &format!("/api/v1/tags/{id}")),
            app.patch(&token, &format!("/api/v1/tags/{id}")).json(&json!({"name": "mine"})),
            app.delete(&token, &format!("/api/v1/tags/{id}")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        let (_, list) = send(app.get(&token, "/api/v1/tags")).await;
        assert_eq!(list["pagination"]["total"], 0);
    }

    async fn each_tag_change_is_one_event_and_a_failed_one_none(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin) = app.caller(true, &["admin:all"]).await;
        let after = last_sequence(&events_after(&app, &admin, 0).await);
        let created = tag(&app, &admin, json!({"name": "a"})).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let (_, updated) = send(app.patch(&admin, &format!("/api/v1/tags/{id}")).json(&json!({"color": "#abcdef"}))).await;
        let (status, _) = send(app.post(&admin, "/api/v1/tags").json(&json!({"name": "A"}))).await;
        assert_eq!(status, 409);
        let (status, _) = send(app.patch(&admin, &format!("/api/v1/tags/{id}")).json(&json!({"color": "blue"}))).await;
        assert_eq!(status, 400);
        let (_, deleted) = send(app.delete(&admin, &format!("/api/v1/tags/{id}"))).await;

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["tag.created", "tag.updated", "tag.deleted"]);
        assert_eq!(events[0]["data"], created);
        assert_eq!(events[1]["data"], updated["tag"]);
        assert_eq!(events[2]["data"], deleted["tag"]);
        assert_eq!(events[2]["resource"], json!({"type": "tag", "id": id}));
    }

    async fn deleting_a_tag_takes_it_off_entries_and_records_only_tag_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (member, admin) = app.caller(true, &["admin:all"]).await;
        let t = tag(&app, &admin, json!({"name": "billable-later"})).await;
        let tag_id = Uuid::parse_str(t["id"].as_str().unwrap()).unwrap();
        let now = time::now();
        let entry = time_entry::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(member.workspace.id),
            user_id: Set(member.user.id),
            project_id: Set(None),
            task_id: Set(None),
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
        entry_tag::ActiveModel { time_entry_id: Set(entry.id), tag_id: Set(tag_id) }
            .insert(app.db.conn())
            .await
            .unwrap();
        let after = last_sequence(&events_after(&app, &admin, 0).await);

        let (status, _) = send(app.delete(&admin, &format!("/api/v1/tags/{tag_id}"))).await;
        assert_eq!(status, 200);
        let links = entry_tag::Entity::find()
            .filter(entry_tag::Column::TimeEntryId.eq(entry.id))
            .count(app.db.conn())
            .await
            .unwrap();
        assert_eq!(links, 0);
        assert!(time_entry::Entity::find_by_id(entry.id).one(app.db.conn()).await.unwrap().is_some());
        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["tag.deleted"]);
    }

    async fn names_become_tags_matching_existing_ones_in_any_case(backend) {
        let app = TestApp::start(backend).await;
        let (member, admin) = app.caller(true, &["admin:all"]).await;
        let dev = tag(&app, &admin, json!({"name": "Dev", "color": "#000000"})).await;
        let after = last_sequence(&events_after(&app, &admin, 0).await);
        let ws = member.workspace.id;
        let names: Vec<String> = [" dev ", "DEV", "", "  ", "New one", "new ONE", "Ops"].map(String::from).to_vec();

        let mut change = WorkspaceChange::begin(&app.db, ws, Actor::system()).await.unwrap();
        let found = tags::find_or_create_by_names(&mut change, ws, &names).await.unwrap();
        change.commit().await.unwrap();
        let got: Vec<_> = found.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(got, ["Dev", "New one", "Ops"]);
        assert_eq!(found[0].id.to_string(), dev["id"].as_str().unwrap());

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["tag.created", "tag.created"]);
        assert_eq!(events[0]["data"]["name"], "New one");
        let (_, one) = send(app.get(&admin, &format!("/api/v1/tags/{}", found[1].id))).await;
        assert_eq!(events[0]["data"], one["tag"]);

        // Again: everything exists now, nothing is created.
        let mut change = WorkspaceChange::begin(&app.db, ws, Actor::system()).await.unwrap();
        let again = tags::find_or_create_by_names(&mut change, ws, &["ops".to_owned(), "NEW ONE".to_owned()]).await.unwrap();
        change.commit().await.unwrap();
        assert_eq!(again.iter().map(|t| t.id).collect::<Vec<_>>(), [found[2].id, found[1].id]);
        assert_eq!(events_after(&app, &admin, after).await.len(), 2);

        let mut change = WorkspaceChange::begin(&app.db, ws, Actor::system()).await.unwrap();
        assert!(tags::find_or_create_by_names(&mut change, ws, &[]).await.unwrap().is_empty());
        let err = tags::find_or_create_by_names(&mut change, ws, &["x".repeat(101)]).await.unwrap_err();
        assert_eq!(err.status(), 400);
    }

    async fn concurrent_writers_never_make_two_tags_of_one_name(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(true, &["admin:all"]).await;
        let posts: Vec<_> = ["Dev", "dev", "DEV", "dEv", "Dev", "deV"]
            .map(|name| tokio::spawn(send(app.post(&token, "/api/v1/tags").json(&json!({"name": name})))))
            .into_iter()
            .collect();
        let mut statuses = Vec::new();
        for post in posts {
            statuses.push(post.await.unwrap().0);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");

        let ws = member.workspace.id;
        let mut handles = Vec::new();
        for _ in 0..6 {
            let db = app.db.clone();
            handles.push(tokio::spawn(async move {
                let mut change = WorkspaceChange::begin(&db, ws, Actor::system()).await.unwrap();
                let tags = tags::find_or_create_by_names(&mut change, ws, &["Shared".to_owned(), "dev".to_owned()]).await.unwrap();
                change.commit().await.unwrap();
                tags.iter().map(|t| t.id).collect::<Vec<_>>()
            }));
        }
        let mut ids = Vec::new();
        for handle in handles {
            ids.push(handle.await.unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        let (_, list) = send(app.get(&token, "/api/v1/tags")).await;
        assert_eq!(names(&list).len(), 2, "{list}");
        assert_eq!(names(&list)[1], "Shared");
    }

    async fn tag_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        scope_matrix(&app, false, "tags", &[
            (Method::GET, "/api/v1/tags".into(), Needs::Read),
            (Method::GET, format!("/api/v1/tags/{id}"), Needs::Read),
            (Method::POST, "/api/v1/tags".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/tags/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/tags/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/tags/{id}"), Needs::Write),
        ]).await;
    }
}
