//! Invoices, `invoice-unbilled` and quotes end to end: exact totals, numbering, the billing of
//! time entries, cancellation, scopes, events.
//!
//! Time entries are written straight into the database (in a `WorkspaceChange`, so the read
//! cache sees them) by [`entry`].

use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use timebridge::{
    directory::Member,
    platform::{changes::WorkspaceChange, outbox::Actor, time::parse_datetime},
    tracking::time_entries::entity as time_entry,
};
use uuid::Uuid;

use crate::{both, support::*};

pub const BILLING: &[&str] = &[
    "read:invoices",
    "write:invoices",
    "read:quotes",
    "write:quotes",
    "write:clients",
    "write:projects",
];

/// A client with an optional default hourly rate; answers its id.
pub async fn client(app: &TestApp, token: &str, name: &str, rate: Option<&str>) -> String {
    let (status, body) = send(app.post(token, "/api/v1/clients").json(&json!({
        "name": name, "default_hourly_rate": rate
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    body["client"]["id"].as_str().unwrap().to_owned()
}

/// A project of a client with an optional hourly rate; answers its id.
pub async fn project(
    app: &TestApp,
    token: &str,
    name: &str,
    client_id: Option<&str>,
    rate: Option<&str>,
) -> String {
    let (status, body) = send(app.post(token, "/api/v1/projects").json(&json!({
        "name": name, "client_id": client_id, "hourly_rate": rate
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

/// A time entry of `member` starting at `start` and lasting `seconds` (`None`: running).
pub async fn entry(
    app: &TestApp,
    member: &Member,
    project_id: Option<&str>,
    start: &str,
    seconds: Option<i64>,
    billable: bool,
) -> String {
    let start = parse_datetime(start).unwrap();
    let now = timebridge::platform::time::now();
    let id = Uuid::now_v7();
    let change = WorkspaceChange::begin(&app.db, member.workspace.id, Actor::system())
        .await
        .unwrap();
    time_entry::ActiveModel {
        id: Set(id),
        workspace_id: Set(member.workspace.id),
        user_id: Set(member.user.id),
        project_id: Set(project_id.map(|p| p.parse().unwrap())),
        task_id: Set(None),
        start_time: Set(start),
        end_time: Set(seconds.map(|s| start + time::Duration::seconds(s))),
        duration_seconds: Set(seconds),
        notes: Set(None),
        billable: Set(billable),
        paid: Set(false),
        invoice_id: Set(None),
        source: Set("manual".into()),
        running_user_id: Set(seconds.is_none().then_some(member.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await
    .unwrap();
    change.commit().await.unwrap();
    id.to_string()
}

/// The invoice an entry is billed on.
pub async fn billed_on(app: &TestApp, entry_id: &str) -> Option<String> {
    let id: Uuid = entry_id.parse().unwrap();
    let entry = time_entry::Entity::find_by_id(id)
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    entry.invoice_id.map(|i| i.to_string())
}

/// Sends a request and returns the status and the body as text (to check exact numbers).
async fn raw(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn number_stem(prefix: &str) -> String {
    let d = today();
    format!(
        "{prefix}-{:04}{:02}{:02}-",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

fn last_sequence(events: &[Value]) -> i64 {
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

both! {
    async fn invoices_are_created_with_exact_totals_read_updated_and_listed(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let (status, text) = raw(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": acme, "tax_rate": 19, "notes": " Thanks ",
            "items": [{"description": "Pens", "quantity": 3, "unit_price": 0.10}]
        }))).await;
        assert_eq!(status, 201, "{text}");
        // 3 × 0.10 = 0.30 exactly; 19 % of it is 0.057 → 0.06; total 0.36.
        assert!(text.contains(r#""subtotal":0.30,"tax_amount":0.06,"total_amount":0.36"#), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["message"], "Invoice created successfully");
        let invoice = &body["invoice"];
        assert_eq!(invoice["invoice_number"], format!("{}001", number_stem("INV")));
        assert_eq!(invoice["status"], "draft");
        assert_eq!(invoice["client_id"], *acme);
        assert_eq!(invoice["client_name"], "Acme");
        assert_eq!(invoice["currency_code"], "EUR");
        assert_eq!(invoice["notes"], "Thanks");
        assert_eq!(invoice["tax_rate"], json!(19.0));
        let issue = today();
        assert_eq!(invoice["issue_date"], timebridge::platform::time::format_date(issue));
        assert_eq!(invoice["due_date"], timebridge::platform::time::format_date(issue + time::Duration::days(30)));
        assert_eq!(invoice["items"][0]["quantity"], json!(3));
        assert_eq!(invoice["items"][0]["total_amount"], json!(0.3));
        let id = invoice["id"].as_str().unwrap();

        let (status, got) = send(app.get(&token, &format!("/api/v1/invoices/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["invoice"], *invoice);

        // Items are replaced as a whole; totals follow; quantities keep 4 places.
        let (status, text) = raw(app.patch(&token, &format!("/api/v1/invoices/{id}")).json(&json!({
            "items": [
                {"description": "Consulting", "quantity": "1.3333", "unit_price": "90.00"},
                {"description": "Travel", "unit_price": "0.01"}
            ],
            "tax_rate": "7.5", "status": "sent", "notes": null, "currency": "usd"
        }))).await;
        assert_eq!(status, 200, "{text}");
        // 1.3333 × 90 = 119.997 → 120.00; + 0.01 = 120.01; 7.5 % = 9.00075 → 9.00.
        assert!(text.contains(r#""subtotal":120.01,"tax_amount":9.00,"total_amount":129.01"#), "{text}");
        let updated: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(updated["message"], "Invoice updated successfully");
        let items = updated["invoice"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["quantity"], json!(1.3333));
        assert_eq!(items[1]["quantity"], json!(1));
        assert_eq!(updated["invoice"]["notes"], json!(null));
        assert_eq!(updated["invoice"]["currency_code"], "USD");

        send(app.post(&token, "/api/v1/invoices").json(&json!({"client_id": acme}))).await;
        let (_, list) = send(app.get(&token, "/api/v1/invoices")).await;
        assert_eq!(list["pagination"]["total"], 2);
        assert_eq!(list["invoices"][1]["id"], *id);
        assert_eq!(list["invoices"][1]["items"].as_array().unwrap().len(), 2);
        let (_, sent) = send(app.get(&token, "/api/v1/invoices?status=sent")).await;
        assert_eq!(sent["pagination"]["total"], 1);
        assert_eq!(sent["invoices"][0]["id"], *id);
    }

    async fn invoice_numbers_count_per_day_in_each_workspace_even_when_created_at_once(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let (_, other) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let theirs = client(&app, &other, "Acme", None).await;
        let create = |token: String, client: String| {
            let request = app.post(&token, "/api/v1/invoices").json(&json!({"client_id": client}));
            async move {
                let (status, body) = send(request).await;
                assert_eq!(status, 201, "{body}");
                body["invoice"]["invoice_number"].as_str().unwrap().to_owned()
            }
        };
        let stem = number_stem("INV");
        assert_eq!(create(token.clone(), acme.clone()).await, format!("{stem}001"));
        assert_eq!(create(token.clone(), acme.clone()).await, format!("{stem}002"));
        assert_eq!(create(other.clone(), theirs.clone()).await, format!("{stem}001"));
        let at_once = (0..8).map(|_| create(token.clone(), acme.clone()));
        let mut numbers: Vec<String> = futures_join(at_once).await;
        numbers.sort();
        let expected: Vec<String> = (3..=10).map(|n| format!("{stem}{n:03}")).collect();
        assert_eq!(numbers, expected);
    }

    async fn bad_invoice_input_names_every_bad_field(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["client_id"].is_array(), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": acme, "tax_rate": 100.5, "currency_code": "EURO",
            "items": [
                {"description": "", "quantity": 0, "unit_price": -1},
                {"description": "x", "quantity": "0.00001", "unit_price": "1.001"}
            ]
        }))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        for field in ["tax_rate", "currency_code", "items[0].description", "items[0].quantity",
                      "items[0].unit_price", "items[1].quantity", "items[1].unit_price"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": acme, "issue_date": "2026-03-10", "due_date": "2026-03-09"
        }))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["due_date"].is_array(), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": acme, "issue_date": "10/03/2026"
        }))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["issue_date"].is_array(), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": Uuid::now_v7(), "items": [{"description": "x", "project_id": Uuid::now_v7()}]
        }))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["client_id"].is_array(), "{body}");

        let (_, other) = app.caller(false, BILLING).await;
        let theirs = client(&app, &other, "Theirs", None).await;
        let (_, created) = send(app.post(&other, "/api/v1/invoices").json(&json!({"client_id": theirs}))).await;
        let their_invoice = created["invoice"]["id"].as_str().unwrap();
        for request in [
            app.get(&token, &format!("/api/v1/invoices/{their_invoice}")),
            app.patch(&token, &format!("/api/v1/invoices/{their_invoice}")).json(&json!({"notes": "mine"})),
            app.delete(&token, &format!("/api/v1/invoices/{their_invoice}")),
            app.get(&token, &format!("/api/v1/invoices/{}", Uuid::now_v7())),
            app.post(&token, &format!("/api/v1/clients/{theirs}/invoice-unbilled")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        // Nor can my invoice be addressed to their client.
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({"client_id": theirs}))).await;
        assert_eq!(status, 400, "{body}");
    }

    async fn paid_and_cancelled_invoices_keep_their_items(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let items = json!([{"description": "Work", "quantity": 2, "unit_price": 50}]);
        let (_, paid) = send(app.post(&token, "/api/v1/invoices").json(&json!({
            "client_id": acme, "status": "paid", "items": items
        }))).await;
        let paid = paid["invoice"]["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/invoices/{paid}");
        let (status, body) = send(app.put(&token, &path).json(&json!({"items": []}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "conflict");
        let (status, _) = send(app.patch(&token, &path).json(&json!({"tax_rate": 10}))).await;
        assert_eq!(status, 409);
        let (status, _) = send(app.delete(&token, &path)).await;
        assert_eq!(status, 409);
        // Other fields may change, and an unchanged tax rate is no change.
        let (status, body) = send(app.patch(&token, &path).json(&json!({"notes": "Paid by wire", "tax_rate": 0}))).await;
        assert_eq!(status, 200, "{body}");

        let (_, draft) = send(app.post(&token, "/api/v1/invoices").json(&json!({"client_id": acme, "items": items}))).await;
        let path = format!("/api/v1/invoices/{}", draft["invoice"]["id"].as_str().unwrap());
        let (status, body) = send(app.delete(&token, &path)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Invoice cancelled successfully");
        assert_eq!(body["invoice"]["status"], "cancelled");
        assert_eq!(body["invoice"]["total_amount"], json!(100.0));
        let (status, _) = send(app.patch(&token, &path).json(&json!({"items": items}))).await;
        assert_eq!(status, 409);
        let (status, _) = send(app.patch(&token, &path).json(&json!({"status": "draft"}))).await;
        assert_eq!(status, 409);
        // Cancelling again changes nothing.
        let (status, again) = send(app.delete(&token, &path)).await;
        assert_eq!(status, 200);
        assert_eq!(again["invoice"], body["invoice"]);
        let (status, body) = send(app.post(&token, "/api/v1/invoices").json(&json!({"client_id": acme, "status": "cancelled"}))).await;
        assert_eq!(status, 400, "{body}");
    }

    async fn members_see_every_invoice_of_the_workspace(backend) {
        let app = TestApp::start(backend).await;
        let (admin, admin_token) = app.caller(true, BILLING).await;
        let colleague = app.member_in(&admin.workspace.name, false, None).await;
        let reader = app.token(&colleague, &["read:invoices"]).await;
        let acme = client(&app, &admin_token, "Acme", None).await;
        let (_, created) = send(app.post(&admin_token, "/api/v1/invoices").json(&json!({"client_id": acme}))).await;
        let (status, list) = send(app.get(&reader, "/api/v1/invoices")).await;
        assert_eq!(status, 200);
        assert_eq!(list["invoices"][0], created["invoice"]);
        let id = created["invoice"]["id"].as_str().unwrap();
        let (status, _) = send(app.get(&reader, &format!("/api/v1/invoices/{id}"))).await;
        assert_eq!(status, 200);
    }

    async fn invoice_unbilled_bills_each_projects_time_once(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, BILLING).await;
        let colleague = app.member_in(&admin.workspace.name, false, None).await;
        let acme = client(&app, &token, "Acme", Some("50")).await;
        let other = client(&app, &token, "Other", None).await;
        let beta = project(&app, &token, "Beta", Some(&acme), None).await;
        let alpha = project(&app, &token, "Alpha", Some(&acme), Some("100")).await;
        let theirs = project(&app, &token, "Theirs", Some(&other), Some("10")).await;
        let day = "2026-03-02T09:00:00Z";
        let billed = [
            entry(&app, &admin, Some(&alpha), day, Some(5400), true).await,
            entry(&app, &colleague, Some(&alpha), day, Some(1800), true).await,
            entry(&app, &admin, Some(&beta), day, Some(4800), true).await,
        ];
        let untouched = [
            entry(&app, &admin, Some(&alpha), day, Some(3600), false).await,
            entry(&app, &colleague, Some(&alpha), "2026-03-02T11:00:00Z", None, true).await,
            entry(&app, &admin, Some(&theirs), day, Some(3600), true).await,
            entry(&app, &admin, None, day, Some(3600), true).await,
        ];
        let path = format!("/api/v1/clients/{acme}/invoice-unbilled");
        let (status, text) = raw(app.post(&token, &path)).await;
        assert_eq!(status, 200, "{text}");
        // Alpha: 2.00 h × 100 = 200.00; Beta: 1.33 h × 50 (the client's rate) = 66.50.
        assert!(text.contains(r#""total":266.50,"item_count":2"#), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["invoice_number"], format!("{}001", number_stem("INV")));
        let invoice_id = body["invoice_id"].as_str().unwrap();

        let (_, got) = send(app.get(&token, &format!("/api/v1/invoices/{invoice_id}"))).await;
        let invoice = &got["invoice"];
        assert_eq!(invoice["status"], "draft");
        assert_eq!(invoice["client_id"], *acme);
        assert_eq!(invoice["tax_rate"], json!(0.0));
        let lines: Vec<_> = invoice["items"].as_array().unwrap().iter()
            .map(|l| (l["description"].as_str().unwrap(), l["quantity"].clone(), l["unit_price"].clone(), l["project_id"].clone()))
            .collect();
        assert_eq!(lines, [
            ("Project: Alpha", json!(2), json!(100.0), json!(alpha)),
            ("Project: Beta", json!(1.33), json!(50.0), json!(beta)),
        ]);
        for id in &billed {
            assert_eq!(billed_on(&app, id).await.as_deref(), Some(invoice_id));
        }
        for id in &untouched {
            assert_eq!(billed_on(&app, id).await, None);
        }

        let (status, body) = send(app.post(&token, &path)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "no_unbilled_entries");
        let (status, _) = send(app.post(&token, &format!("/api/v1/clients/{}/invoice-unbilled", Uuid::now_v7()))).await;
        assert_eq!(status, 404);
        let idle = client(&app, &token, "Idle", None).await;
        let (status, body) = send(app.post(&token, &format!("/api/v1/clients/{idle}/invoice-unbilled"))).await;
        assert_eq!(status, 400);
        assert_eq!(body["error_code"], "no_unbilled_entries");
    }

    async fn unbilled_time_without_any_rate_is_billed_at_zero(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let site = project(&app, &token, "Site", Some(&acme), None).await;
        entry(&app, &admin, Some(&site), "2026-03-02T09:00:00Z", Some(900), true).await;
        let (status, text) = raw(app.post(&token, &format!("/api/v1/clients/{acme}/invoice-unbilled"))).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(r#""total":0.00,"item_count":1"#), "{text}");
    }

    async fn cancelling_an_invoice_releases_its_time_entries(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, BILLING).await;
        let feed = app.token(&admin, &["admin:all"]).await;
        let acme = client(&app, &token, "Acme", None).await;
        let site = project(&app, &token, "Site", Some(&acme), Some("80")).await;
        let entries = [
            entry(&app, &admin, Some(&site), "2026-03-02T09:00:00Z", Some(3600), true).await,
            entry(&app, &admin, Some(&site), "2026-03-03T09:00:00Z", Some(3600), true).await,
        ];
        let path = format!("/api/v1/clients/{acme}/invoice-unbilled");
        let (_, first) = send(app.post(&token, &path)).await;
        let first_id = first["invoice_id"].as_str().unwrap();
        let after = last_sequence(&events_after(&app, &feed, 0).await);

        let (status, body) = send(app.delete(&token, &format!("/api/v1/invoices/{first_id}"))).await;
        assert_eq!(status, 200, "{body}");
        for id in &entries {
            assert_eq!(billed_on(&app, id).await, None);
        }
        let events = events_after(&app, &feed, after).await;
        assert_eq!(types(&events), ["invoice.cancelled", "time_entry.updated", "time_entry.updated"]);
        assert_eq!(events[0]["data"], body["invoice"]);
        assert_eq!(events[1]["data"]["id"], *entries[0]);
        assert_eq!(events[1]["data"]["invoice_id"], json!(null));

        // The released time can be invoiced again.
        let (status, second) = send(app.post(&token, &path)).await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(second["total"], json!(160.0));
        assert_eq!(second["invoice_number"], format!("{}002", number_stem("INV")));
    }

    async fn invoice_changes_are_events_and_failed_ones_leave_none(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, BILLING).await;
        let feed = app.token(&admin, &["admin:all"]).await;
        let acme = client(&app, &token, "Acme", None).await;
        let site = project(&app, &token, "Site", Some(&acme), Some("80")).await;
        let entries = [
            entry(&app, &admin, Some(&site), "2026-03-02T09:00:00Z", Some(3600), true).await,
            entry(&app, &admin, Some(&site), "2026-03-03T09:00:00Z", Some(1800), true).await,
        ];
        let after = last_sequence(&events_after(&app, &feed, 0).await);
        let (_, created) = send(app.post(&token, "/api/v1/invoices").json(&json!({"client_id": acme, "status": "paid"}))).await;
        let id = created["invoice"]["id"].as_str().unwrap();
        let (_, updated) = send(app.patch(&token, &format!("/api/v1/invoices/{id}")).json(&json!({"terms": "Net 10"}))).await;
        let (_, unbilled) = send(app.post(&token, &format!("/api/v1/clients/{acme}/invoice-unbilled"))).await;
        let events = events_after(&app, &feed, after).await;
        assert_eq!(types(&events), ["invoice.created", "invoice.updated", "invoice.created", "time_entry.updated", "time_entry.updated"]);
        assert_eq!(events[0]["data"], created["invoice"]);
        assert_eq!(events[1]["data"], updated["invoice"]);
        assert_eq!(events[2]["resource"]["id"], unbilled["invoice_id"]);
        assert_eq!(events[2]["data"]["items"][0]["quantity"], json!(1.5));
        for (event, entry_id) in events[3..].iter().zip(&entries) {
            assert_eq!(event["data"]["id"], **entry_id);
            assert_eq!(event["data"]["invoice_id"], unbilled["invoice_id"]);
        }

        let before = events_after(&app, &feed, 0).await;
        let failing = [
            app.post(&token, "/api/v1/invoices").json(&json!({"client_id": Uuid::now_v7()})),
            app.post(&token, "/api/v1/invoices").json(&json!({"client_id": acme, "items": [{"description": "x", "project_id": Uuid::now_v7()}]})),
            app.patch(&token, &format!("/api/v1/invoices/{id}")).json(&json!({"items": []})),
            app.delete(&token, &format!("/api/v1/invoices/{id}")),
            app.post(&token, &format!("/api/v1/clients/{acme}/invoice-unbilled")),
        ];
        for request in failing {
            let (status, body) = send(request).await;
            assert!((400..500).contains(&status), "{body}");
        }
        assert_eq!(events_after(&app, &feed, 0).await, before);
    }

    async fn invoice_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        scope_matrix(&app, false, "invoices", &[
            (Method::GET, "/api/v1/invoices".into(), Needs::Read),
            (Method::GET, format!("/api/v1/invoices/{id}"), Needs::Read),
            (Method::POST, "/api/v1/invoices".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/invoices/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/invoices/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/invoices/{id}"), Needs::Write),
            (Method::POST, format!("/api/v1/clients/{id}/invoice-unbilled"), Needs::Write),
        ]).await;
    }

    async fn quotes_are_created_updated_listed_and_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let site = project(&app, &token, "Site", Some(&acme), None).await;
        let (status, text) = raw(app.post(&token, "/api/v1/quotes").json(&json!({
            "client_id": acme, "title": " Relaunch ", "tax_rate": "19", "valid_until": "2026-12-31",
            "items": [
                {"description": "Design", "quantity": 10, "unit_price": 100, "project_id": site},
                {"description": "Hosting", "quantity": "0.5", "unit_price": "9.99"}
            ]
        }))).await;
        assert_eq!(status, 201, "{text}");
        // 1000 + 4.995 → 5.00 = 1005.00; 19 % = 190.95; total 1195.95.
        assert!(text.contains(r#""subtotal":1005.00,"tax_amount":190.95,"total_amount":1195.95"#), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["message"], "Quote created successfully");
        let quote = &body["quote"];
        assert_eq!(quote["quote_number"], format!("{}001", number_stem("QUO")));
        assert_eq!(quote["title"], "Relaunch");
        assert_eq!(quote["status"], "draft");
        assert_eq!(quote["valid_until"], "2026-12-31");
        assert_eq!(quote["items"][0]["project_id"], *site);
        let id = quote["id"].as_str().unwrap();
        let (status, got) = send(app.get(&token, &format!("/api/v1/quotes/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(got["quote"], *quote);

        let (status, body) = send(app.put(&token, &format!("/api/v1/quotes/{id}")).json(&json!({
            "status": "sent", "valid_until": null, "items": [{"description": "Design", "quantity": 2, "unit_price": 100}]
        }))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Quote updated successfully");
        assert_eq!(body["quote"]["valid_until"], json!(null));
        assert_eq!(body["quote"]["total_amount"], json!(238.0));
        assert_eq!(body["quote"]["title"], "Relaunch");

        let (_, second) = send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": acme, "title": "Small"}))).await;
        assert_eq!(second["quote"]["quote_number"], format!("{}002", number_stem("QUO")));
        let (_, sent) = send(app.get(&token, "/api/v1/quotes?status=sent")).await;
        assert_eq!(sent["pagination"]["total"], 1);
        assert_eq!(sent["quotes"][0]["id"], *id);

        let (status, deleted) = send(app.delete(&token, &format!("/api/v1/quotes/{id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(deleted["message"], "Quote deleted successfully");
        assert_eq!(deleted["quote"]["id"], *id);
        let (status, _) = send(app.get(&token, &format!("/api/v1/quotes/{id}"))).await;
        assert_eq!(status, 404);
        let (_, all) = send(app.get(&token, "/api/v1/quotes")).await;
        assert_eq!(all["pagination"]["total"], 1);
    }

    async fn bad_quote_input_gets_clear_errors(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, BILLING).await;
        let acme = client(&app, &token, "Acme", None).await;
        let (status, body) = send(app.post(&token, "/api/v1/quotes").json(&json!({
            "client_id": acme, "title": "", "tax_rate": -1, "items": [{"description": "x", "quantity": -2}]
        }))).await;
        assert_eq!(status, 400);
        for field in ["title", "tax_rate", "items[0].quantity"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (status, body) = send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": Uuid::now_v7(), "title": "T"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["client_id"].is_array(), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": acme, "title": "T", "status": "won"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["status"].is_array(), "{body}");
        for request in [
            app.get(&token, &format!("/api/v1/quotes/{}", Uuid::now_v7())),
            app.patch(&token, &format!("/api/v1/quotes/{}", Uuid::now_v7())).json(&json!({"title": "x"})),
            app.delete(&token, &format!("/api/v1/quotes/{}", Uuid::now_v7())),
        ] {
            assert_eq!(send(request).await.0, 404);
        }
        // A client with quotes or invoices cannot be deleted.
        send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": acme, "title": "T"}))).await;
        let (status, body) = send(app.delete(&token, &format!("/api/v1/clients/{acme}"))).await;
        assert_eq!(status, 409, "{body}");
    }

    async fn quote_changes_are_events_and_failed_ones_leave_none(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, BILLING).await;
        let feed = app.token(&admin, &["admin:all"]).await;
        let acme = client(&app, &token, "Acme", None).await;
        let after = last_sequence(&events_after(&app, &feed, 0).await);
        let (_, created) = send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": acme, "title": "T"}))).await;
        let id = created["quote"]["id"].as_str().unwrap();
        let (_, updated) = send(app.patch(&token, &format!("/api/v1/quotes/{id}")).json(&json!({"status": "accepted"}))).await;
        let (_, deleted) = send(app.delete(&token, &format!("/api/v1/quotes/{id}"))).await;
        let events = events_after(&app, &feed, after).await;
        assert_eq!(types(&events), ["quote.created", "quote.updated", "quote.deleted"]);
        assert_eq!(events[0]["data"], created["quote"]);
        assert_eq!(events[1]["data"], updated["quote"]);
        assert_eq!(events[2]["data"], deleted["quote"]);

        let before = events_after(&app, &feed, 0).await;
        let (status, _) = send(app.post(&token, "/api/v1/quotes").json(&json!({"client_id": acme, "title": "T", "items": [{"description": "x", "project_id": Uuid::now_v7()}]}))).await;
        assert_eq!(status, 400);
        assert_eq!(events_after(&app, &feed, 0).await, before);
    }

    async fn quote_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        scope_matrix(&app, false, "quotes", &[
            (Method::GET, "/api/v1/quotes".into(), Needs::Read),
            (Method::GET, format!("/api/v1/quotes/{id}"), Needs::Read),
            (Method::POST, "/api/v1/quotes".into(), Needs::Write),
            (Method::PUT, format!("/api/v1/quotes/{id}"), Needs::Write),
            (Method::PATCH, format!("/api/v1/quotes/{id}"), Needs::Write),
            (Method::DELETE, format!("/api/v1/quotes/{id}"), Needs::Write),
        ]).await;
    }
}

/// Runs futures concurrently on the test's runtime and collects their outputs in order.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
