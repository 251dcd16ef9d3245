//! `/api/v1/expenses` end to end: CRUD with exact amounts, who may see and change what,
//! review statuses, filters, validation, scopes, events.

use reqwest::Method;
use serde_json::{Value, json};
use timebridge::directory::Member;
use uuid::Uuid;

use crate::{both, support::*};

const RW: &[&str] = &["read:expenses", "write:expenses"];

/// An admin (with an `admin:all` token) and two members (with expense tokens) of one workspace.
struct Team {
    admin: Member,
    admin_token: String,
    alice: Member,
    alice_token: String,
    bob: Member,
    bob_token: String,
}

async fn team(app: &TestApp) -> Team {
    let (admin, admin_token) = app.caller(true, &["admin:all"]).await;
    let alice = app.member_in(&admin.workspace.name, false, None).await;
    let bob = app.member_in(&admin.workspace.name, false, None).await;
    Team {
        alice_token: app.token(&alice, RW).await,
        bob_token: app.token(&bob, RW).await,
        admin,
        admin_token,
        alice,
        bob,
    }
}

async fn expense(app: &TestApp, token: &str, fields: Value) -> Value {
    let (status, body) = send(app.post(token, "/api/v1/expenses").json(&fields)).await;
    assert_eq!(status, 201, "{body}");
    body["expense"].clone()
}

fn titles(list: &Value) -> Vec<&str> {
    list["expenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect()
}

fn last_sequence(events: &[Value]) -> i64 {
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

both! {
    async fn a_member_records_reads_changes_and_deletes_an_expense(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&json!({
            "title": " Train to Berlin ", "amount": "42.50", "expense_date": "2026-03-01",
            "category": "travel"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Expense created successfully");
        let created = &body["expense"];
        assert_eq!(created["title"], "Train to Berlin");
        assert_eq!(created["amount"], json!(42.5));
        assert_eq!(created["currency"], "EUR");
        assert_eq!(created["currency_code"], "EUR");
        assert_eq!(created["expense_date"], "2026-03-01");
        assert_eq!(created["category"], "travel");
        assert_eq!(created["status"], "pending");
        assert_eq!(created["billable"], false);
        assert_eq!(created["reimbursable"], true);
        assert_eq!(created["user_id"], t.alice.user.id.to_string());
        assert_eq!(created["project_id"], Value::Null);
        let id = created["id"].as_str().unwrap().to_owned();

        let (status, got) = send(app.get(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["expense"], *created);

        let (status, body) = send(app.patch(&t.alice_token, &format!("/api/v1/expenses/{id}")).json(&json!({
            "amount": 0.1, "currency_code": "usd", "billable": true, "description": "Return"
        }))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Expense updated successfully");
        assert_eq!(body["expense"]["amount"], json!(0.1));
        assert_eq!(body["expense"]["currency"], "USD");
        assert_eq!(body["expense"]["billable"], true);
        assert_eq!(body["expense"]["title"], "Train to Berlin");
        let (status, body) = send(app.put(&t.alice_token, &format!("/api/v1/expenses/{id}")).json(&json!({"description": null, "status": "pending"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expense"]["description"], Value::Null);

        let defaults = expense(&app, &t.alice_token, json!({"title": "Pens", "amount": 3, "expense_date": "2026-03-02"})).await;
        assert_eq!(defaults["category"], "other");
        assert_eq!(defaults["amount"], json!(3.0));

        let (status, body) = send(app.delete(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Expense deleted successfully");
        assert_eq!(body["expense"]["id"], *id);
        let (status, _) = send(app.get(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 404);
    }

    async fn members_see_and_change_only_their_own_expenses_admins_everyones(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let mine = expense(&app, &t.alice_token, json!({"title": "Alice's", "amount": 10, "expense_date": "2026-03-01"})).await;
        expense(&app, &t.bob_token, json!({"title": "Bob's", "amount": 20, "expense_date": "2026-03-02"})).await;
        let id = mine["id"].as_str().unwrap();

        // The admin reads it first, so a cached body exists that Bob must not be served.
        let (status, seen) = send(app.get(&t.admin_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(seen["expense"], mine);
        for request in [
            app.get(&t.bob_token, &format!("/api/v1/expenses/{id}")),
            app.patch(&t.bob_token, &format!("/api/v1/expenses/{id}")).json(&json!({"title": "Mine now"})),
            app.delete(&t.bob_token, &format!("/api/v1/expenses/{id}")),
            app.get(&t.bob_token, &format!("/api/v1/expenses?user_id={}", t.alice.user.id)),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 403, "{body}");
            assert_eq!(body["error_code"], "forbidden");
        }

        let (_, all) = send(app.get(&t.admin_token, "/api/v1/expenses")).await;
        assert_eq!(titles(&all), ["Bob's", "Alice's"]);
        let (_, alices) = send(app.get(&t.alice_token, "/api/v1/expenses")).await;
        assert_eq!(titles(&alices), ["Alice's"]);
        let (_, bobs) = send(app.get(&t.bob_token, "/api/v1/expenses")).await;
        assert_eq!(titles(&bobs), ["Bob's"]);
        let (_, own) = send(app.get(&t.bob_token, &format!("/api/v1/expenses?user_id={}", t.bob.user.id))).await;
        assert_eq!(titles(&own), ["Bob's"]);
        let (_, filtered) = send(app.get(&t.admin_token, &format!("/api/v1/expenses?user_id={}", t.alice.user.id))).await;
        assert_eq!(titles(&filtered), ["Alice's"]);

        let (status, body) = send(app.patch(&t.admin_token, &format!("/api/v1/expenses/{id}")).json(&json!({"title": "Checked"}))).await;
        assert_eq!(status, 200, "{body}");
        let (_, theirs) = app.caller(true, &["admin:all"]).await;
        let (status, _) = send(app.get(&theirs, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 404, "another workspace's expense is not found");
    }

    async fn only_admins_review_expenses_or_record_them_for_someone_else(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let (outsider, _) = app.caller(false, RW).await;
        let base = json!({"title": "Hotel", "amount": 120, "expense_date": "2026-03-01"});
        let with = |extra: Value| {
            let mut body = base.clone();
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        for extra in [json!({"status": "approved"}), json!({"user_id": t.bob.user.id})] {
            let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&with(extra))).await;
            assert_eq!(status, 403, "{body}");
        }
        let own = expense(&app, &t.alice_token, with(json!({"user_id": t.alice.user.id, "status": "pending"}))).await;
        let path = format!("/api/v1/expenses/{}", own["id"].as_str().unwrap());
        for change in [json!({"status": "approved"}), json!({"status": "reimbursed"}), json!({"user_id": t.bob.user.id})] {
            let (status, body) = send(app.patch(&t.alice_token, &path).json(&change)).await;
            assert_eq!(status, 403, "{change}: {body}");
        }

        let (status, body) = send(app.patch(&t.admin_token, &path).json(&json!({"status": "approved"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expense"]["status"], "approved");
        let (status, _) = send(app.patch(&t.alice_token, &path).json(&json!({"status": "approved", "title": "Hotel (2 nights)"}))).await;
        assert_eq!(status, 200, "sending the status it already has is no review");

        let for_bob = expense(&app, &t.admin_token, with(json!({"user_id": t.bob.user.id, "status": "reimbursed"}))).await;
        assert_eq!(for_bob["user_id"], t.bob.user.id.to_string());
        assert_eq!(for_bob["status"], "reimbursed");
        let (status, _) = send(app.get(&t.bob_token, &format!("/api/v1/expenses/{}", for_bob["id"].as_str().unwrap()))).await;
        assert_eq!(status, 200);
        let (status, body) = send(app.post(&t.admin_token, "/api/v1/expenses").json(&with(json!({"user_id": outsider.user.id})))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["user_id"].is_array());
        let (status, body) = send(app.patch(&t.admin_token, &path).json(&json!({"user_id": t.bob.user.id}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expense"]["user_id"], t.bob.user.id.to_string());
        let _ = t.admin;
    }

    async fn bad_expense_input_names_every_field_and_writes_nothing(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let (_, stranger) = app.caller(true, &["admin:all"]).await;
        let (_, p) = send(app.post(&stranger, "/api/v1/projects").json(&json!({"name": "Theirs"}))).await;
        let (_, c) = send(app.post(&stranger, "/api/v1/clients").json(&json!({"name": "Theirs"}))).await;
        let before = events_after(&app, &t.admin_token, 0).await;

        let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&json!({"description": "?"}))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        for field in ["title", "amount", "expense_date"] {
            assert_eq!(body["errors"][field], json!(["is required"]), "{field}: {body}");
        }
        let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&json!({
            "title": "x".repeat(201), "amount": 0, "expense_date": "03/01/2026", "currency": "EURO",
            "project_id": p["project"]["id"], "client_id": c["client"]["id"]
        }))).await;
        assert_eq!(status, 400, "{body}");
        for field in ["title", "amount", "expense_date", "currency", "project_id", "client_id"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        for (amount, message) in [(json!(-1), "must not be negative"), (json!("1.005"), "must have at most 2 decimal places"), (json!(0), "must be greater than 0")] {
            let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&json!({"title": "x", "amount": amount, "expense_date": "2026-03-01"}))).await;
            assert_eq!(status, 400);
            assert_eq!(body["errors"]["amount"], json!([message]), "{amount}");
        }
        let (status, body) = send(app.post(&t.alice_token, "/api/v1/expenses").json(&json!({"title": "x", "amount": 1, "expense_date": "2026-03-01", "category": "food"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["category"][0].as_str().unwrap().contains("accommodation"), "{body}");

        let ok = expense(&app, &t.alice_token, json!({"title": "x", "amount": 1, "expense_date": "2026-03-01"})).await;
        let after = last_sequence(&events_after(&app, &t.admin_token, 0).await);
        let path = format!("/api/v1/expenses/{}", ok["id"].as_str().unwrap());
        for bad in [json!({"title": ""}), json!({"amount": -2}), json!({"expense_date": "yesterday"}), json!({"expense_date": ""}), json!({"currency": "E1R"}), json!({"project_id": p["project"]["id"]})] {
            let (status, body) = send(app.patch(&t.alice_token, &path).json(&bad)).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        let (status, _) = send(app.patch(&t.alice_token, &format!("/api/v1/expenses/{}", Uuid::now_v7())).json(&json!({"title": "y"}))).await;
        assert_eq!(status, 404);
        assert!(events_after(&app, &t.admin_token, after).await.is_empty());
        assert_eq!(events_after(&app, &t.admin_token, 0).await.len(), before.len() + 1);
    }

    async fn lists_filter_by_project_client_status_category_and_dates_newest_first(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let (_, p) = send(app.post(&t.admin_token, "/api/v1/projects").json(&json!({"name": "P"}))).await;
        let (_, c) = send(app.post(&t.admin_token, "/api/v1/clients").json(&json!({"name": "C"}))).await;
        let project = p["project"]["id"].as_str().unwrap().to_owned();
        let client = c["client"]["id"].as_str().unwrap().to_owned();
        let token = &t.admin_token;
        expense(&app, token, json!({"title": "Feb", "amount": 1, "expense_date": "2026-02-28", "category": "meals", "project_id": project})).await;
        expense(&app, token, json!({"title": "Mar A", "amount": 1, "expense_date": "2026-03-01", "client_id": client, "status": "approved"})).await;
        expense(&app, token, json!({"title": "Mar B", "amount": 1, "expense_date": "2026-03-01", "category": "meals"})).await;
        expense(&app, token, json!({"title": "Apr", "amount": 1, "expense_date": "2026-04-01"})).await;

        let (status, all) = send(app.get(token, "/api/v1/expenses")).await;
        assert_eq!(status, 200, "{all}");
        assert_eq!(titles(&all), ["Apr", "Mar B", "Mar A", "Feb"]);
        for (query, expected) in [
            (format!("project_id={project}"), vec!["Feb"]),
            (format!("client_id={client}"), vec!["Mar A"]),
            ("status=approved".to_owned(), vec!["Mar A"]),
            ("category=meals".to_owned(), vec!["Mar B", "Feb"]),
            ("start_date=2026-03-01".to_owned(), vec!["Apr", "Mar B", "Mar A"]),
            ("start_date=2026-03-01&end_date=2026-03-01".to_owned(), vec!["Mar B", "Mar A"]),
            ("end_date=2026-02-28".to_owned(), vec!["Feb"]),
            ("per_page=1&page=2".to_owned(), vec!["Mar B"]),
        ] {
            let (status, list) = send(app.get(token, &format!("/api/v1/expenses?{query}"))).await;
            assert_eq!(status, 200, "{query}: {list}");
            assert_eq!(titles(&list), expected, "{query}");
        }
        for bad in ["start_date=March", "end_date=2026-13-01", "start_date=2026-03-02&end_date=2026-03-01", "status=paid", "category=food", "page=0"] {
            let (status, body) = send(app.get(token, &format!("/api/v1/expenses?{bad}"))).await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert_eq!(body["error_code"], "validation_error");
        }
    }

    async fn each_expense_change_is_one_event_carrying_the_expense(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let after = last_sequence(&events_after(&app, &t.admin_token, 0).await);
        let created = expense(&app, &t.alice_token, json!({"title": "Taxi", "amount": "12.30", "expense_date": "2026-03-01"})).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let (_, updated) = send(app.patch(&t.alice_token, &format!("/api/v1/expenses/{id}")).json(&json!({"amount": "13.70"}))).await;
        let (status, _) = send(app.patch(&t.bob_token, &format!("/api/v1/expenses/{id}")).json(&json!({"amount": 1}))).await;
        assert_eq!(status, 403);
        let (_, deleted) = send(app.delete(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;

        let events = events_after(&app, &t.admin_token, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["expense.created", "expense.updated", "expense.deleted"]);
        assert_eq!(events[0]["data"], created);
        assert_eq!(events[1]["data"], updated["expense"]);
        assert_eq!(events[1]["data"]["amount"], json!(13.7));
        assert_eq!(events[2]["data"], deleted["expense"]);
        assert_eq!(events[2]["resource"], json!({"type": "expense", "id": id}));
        assert_eq!(events[0]["actor"]["user_id"], t.alice.user.id.to_string());
    }

    async fn expense_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        scope_matrix(&app, false, "expenses", &[
            (Method::GET, "/api/v1/expenses".into(), Needs::Read),
            (Method::GET, format!("/api/v1/expenses/{id}"), Needs::Read),
            (Method::POST, "/api/v1/expenses".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/expenses/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/expenses/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/expenses/{id}"), Needs::Write),
            (Method::POST, format!("/api/v1/expenses/{id}/restore"), Needs::Write),
        ]).await;
    }

    async fn a_deleted_expense_vanishes_and_comes_back_when_restored(backend) {
        let app = TestApp::start(backend).await;
        let t = team(&app).await;
        let (_, project) = send(app.post(&t.admin_token, "/api/v1/projects").json(&json!({"name": "Site"}))).await;
        let created = expense(&app, &t.alice_token, json!({"title": "Hotel", "amount": "120.40", "expense_date": "2026-03-01", "category": "accommodation", "billable": true, "project_id": project["project"]["id"]})).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let after = last_sequence(&events_after(&app, &t.admin_token, 0).await);
        let (status, _) = send(app.delete(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 200);
        let (_, list) = send(app.get(&t.admin_token, "/api/v1/expenses")).await;
        assert_eq!(list["pagination"]["total"], 0);
        let (status, _) = send(app.get(&t.alice_token, &format!("/api/v1/expenses/{id}"))).await;
        assert_eq!(status, 404);

        let (status, _) = send(app.post(&t.bob_token, &format!("/api/v1/expenses/{id}/restore"))).await;
        assert_eq!(status, 403, "a member restores only their own");
        let (status, restored) = send(app.post(&t.alice_token, &format!("/api/v1/expenses/{id}/restore"))).await;
        assert_eq!(status, 200, "{restored}");
        assert_eq!(restored["message"], "Expense restored successfully");
        let r = &restored["expense"];
        for field in ["id", "user_id", "project_id", "title", "category", "amount", "currency", "expense_date", "billable", "reimbursable", "status", "created_at"] {
            assert_eq!(r[field], created[field], "{field}");
        }
        let (_, list) = send(app.get(&t.alice_token, "/api/v1/expenses")).await;
        assert_eq!(titles(&list), ["Hotel"]);
        let (status, _) = send(app.post(&t.alice_token, &format!("/api/v1/expenses/{id}/restore"))).await;
        assert_eq!(status, 409, "it is not deleted any more");
        let (status, _) = send(app.post(&t.alice_token, &format!("/api/v1/expenses/{}/restore", Uuid::now_v7()))).await;
        assert_eq!(status, 404);

        let events = events_after(&app, &t.admin_token, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["expense.deleted", "expense.restored"]);
        assert_eq!(events[1]["data"], *r);
    }
}
