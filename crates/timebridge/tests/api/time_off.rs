//! `/api/v1/time-off`: leave types and holidays (admins keep them), time-off requests (members
//! file their own, admins decide), scopes, visibility and events.

use reqwest::Method;
use serde_json::{Value, json};
use timebridge::directory::Member;

use crate::{both, support::*};

const ADMIN: &[&str] = &[
    "read:reports",
    "write:reports",
    "write:time_entries",
    "admin:all",
];
const MEMBER: &[&str] = &["read:reports", "write:reports", "write:time_entries"];

/// An admin of a new workspace and a member of the same one, with their tokens.
async fn team(app: &TestApp) -> (Member, String, Member, String) {
    let (admin, admin_token) = app.caller(true, ADMIN).await;
    let member = app.member_in(&admin.workspace.name, false, None).await;
    let member_token = app.token(&member, MEMBER).await;
    (admin, admin_token, member, member_token)
}

async fn leave_type(app: &TestApp, admin_token: &str, code: &str) -> String {
    let (status, body) = send(
        app.post(admin_token, "/api/v1/time-off/leave-types")
            .json(&json!({"name": code.to_uppercase(), "code": code})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["leave_type"]["id"].as_str().unwrap().to_owned()
}

async fn file(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, body) = send(app.post(token, "/api/v1/time-off/requests").json(&body)).await;
    assert_eq!(status, 201, "{body}");
    body["time_off_request"].clone()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn last_sequence(app: &TestApp, admin_token: &str) -> i64 {
    let events = events_after(app, admin_token, 0).await;
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

both! {
    async fn admins_create_list_and_delete_leave_types(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let (status, body) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({
            "name": " Vacation ", "code": " VACATION ", "annual_allowance_hours": "200.5"
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Leave type created successfully");
        let vacation = &body["leave_type"];
        assert_eq!(vacation["name"], "Vacation");
        assert_eq!(vacation["code"], "vacation");
        assert_eq!(vacation["is_paid"], true);
        assert_eq!(vacation["enabled"], true);
        assert_eq!(vacation["annual_allowance_hours"], json!(200.5));
        assert_eq!(vacation["accrual_hours_per_month"], json!(null));
        let (status, body) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({
            "name": "Archived", "code": "old", "is_paid": false, "enabled": false
        }))).await;
        assert_eq!(status, 201, "{body}");
        let archived = body["leave_type"]["id"].as_str().unwrap().to_owned();

        // Members read them too; disabled ones only when asked.
        let (status, list) = send(app.get(&member, "/api/v1/time-off/leave-types")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["leave_types"], json!([vacation]));
        assert_eq!(list["pagination"]["total"], 1);
        let (_, all) = send(app.get(&member, "/api/v1/time-off/leave-types?enabled_only=false")).await;
        let names: Vec<_> = all["leave_types"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Archived", "Vacation"]);

        let (status, body) = send(app.delete(&admin, &format!("/api/v1/time-off/leave-types/{archived}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["leave_type"]["code"], "old");
        let (_, all) = send(app.get(&admin, "/api/v1/time-off/leave-types?enabled_only=false")).await;
        assert_eq!(all["pagination"]["total"], 1);
        let (status, _) = send(app.delete(&admin, &format!("/api/v1/time-off/leave-types/{archived}"))).await;
        assert_eq!(status, 404);
    }

    async fn bad_leave_types_get_clear_errors(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, _) = team(&app).await;
        let (status, body) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({
            "name": "", "code": " ", "annual_allowance_hours": -1
        }))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        for field in ["name", "code", "annual_allowance_hours"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (status, body) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Sick"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["code"].is_array(), "{body}");
        leave_type(&app, &admin, "sick").await;
        let (status, body) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Sick again", "code": "SICK"}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "conflict");
    }

    async fn only_admins_manage_leave_types_and_holidays(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let (_, holiday) = send(app.post(&admin, "/api/v1/time-off/holidays").json(&json!({
            "name": "New Year", "start_date": "2027-01-01", "end_date": "2027-01-01"
        }))).await;
        let holiday = holiday["holiday"]["id"].as_str().unwrap().to_owned();
        for request in [
            app.post(&member, "/api/v1/time-off/leave-types").json(&json!({"name": "Mine", "code": "mine"})),
            app.delete(&member, &format!("/api/v1/time-off/leave-types/{vacation}")),
            app.post(&member, "/api/v1/time-off/holidays").json(&json!({"name": "Mine", "start_date": "2027-05-01", "end_date": "2027-05-01"})),
            app.delete(&member, &format!("/api/v1/time-off/holidays/{holiday}")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 403, "{body}");
            assert_eq!(body["error_code"], "forbidden");
        }
        let (_, types) = send(app.get(&member, "/api/v1/time-off/leave-types")).await;
        assert_eq!(types["pagination"]["total"], 1);
        let (_, holidays) = send(app.get(&member, "/api/v1/time-off/holidays")).await;
        assert_eq!(holidays["pagination"]["total"], 1);
    }

    async fn a_leave_type_with_requests_cannot_be_deleted(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-02"})).await;
        let before = last_sequence(&app, &admin).await;
        let (status, body) = send(app.delete(&admin, &format!("/api/v1/time-off/leave-types/{vacation}"))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["message"], "Cannot delete a leave type that has time-off requests");
        assert!(events_after(&app, &admin, before).await.is_empty());
        let (_, types) = send(app.get(&admin, "/api/v1/time-off/leave-types")).await;
        assert_eq!(types["pagination"]["total"], 1);
    }

    async fn holidays_are_listed_by_start_and_filtered_by_overlap(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let mut created = Vec::new();
        for (name, start, end) in [
            ("Summer break", "2027-08-02", "2027-08-13"),
            ("New Year", "2027-01-01", "2027-01-01"),
            ("Carnival", "2027-02-08", "2027-02-09"),
        ] {
            let (status, body) = send(app.post(&admin, "/api/v1/time-off/holidays").json(&json!({
                "name": name, "start_date": start, "end_date": end, "region": "BE"
            }))).await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["message"], "Holiday created successfully");
            assert_eq!(body["holiday"]["start_date"], start);
            assert_eq!(body["holiday"]["region"], "BE");
            assert_eq!(body["holiday"]["enabled"], true);
            created.push(body["holiday"]["id"].as_str().unwrap().to_owned());
        }
        let (status, list) = send(app.get(&member, "/api/v1/time-off/holidays")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(ids(&list, "holidays"), [created[1].clone(), created[2].clone(), created[0].clone()]);
        // Overlap: Carnival ends on the 9th, the break starts on the 2nd of August.
        let (_, some) = send(app.get(&member, "/api/v1/time-off/holidays?start_date=2027-02-09&end_date=2027-08-02")).await;
        assert_eq!(ids(&some, "holidays"), [created[2].clone(), created[0].clone()]);
        let (_, later) = send(app.get(&member, "/api/v1/time-off/holidays?start_date=2027-02-10")).await;
        assert_eq!(ids(&later, "holidays"), [created[0].clone()]);

        let (status, body) = send(app.delete(&admin, &format!("/api/v1/time-off/holidays/{}", created[1]))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["holiday"]["name"], "New Year");
        let (status, _) = send(app.delete(&admin, &format!("/api/v1/time-off/holidays/{}", created[1]))).await;
        assert_eq!(status, 404);
    }

    async fn bad_holiday_dates_get_400_naming_the_field(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, _) = team(&app).await;
        for (body, field) in [
            (json!({"name": "X", "start_date": "2027-05-02", "end_date": "2027-05-01"}), "end_date"),
            (json!({"name": "X", "start_date": "2027-02-30", "end_date": "2027-03-01"}), "start_date"),
            (json!({"name": "X", "start_date": "2027-05-01"}), "end_date"),
            (json!({"name": " ", "start_date": "2027-05-01", "end_date": "2027-05-01"}), "name"),
        ] {
            let (status, answer) = send(app.post(&admin, "/api/v1/time-off/holidays").json(&body)).await;
            assert_eq!(status, 400, "{body}: {answer}");
            assert!(answer["errors"][field].is_array(), "{field}: {answer}");
        }
        for (query, field) in [("start_date=2027-05-02&end_date=2027-05-01", "end_date"), ("start_date=soon", "start_date")] {
            let (status, answer) = send(app.get(&admin, &format!("/api/v1/time-off/holidays?{query}"))).await;
            assert_eq!(status, 400, "{query}: {answer}");
            assert!(answer["errors"][field].is_array(), "{field}: {answer}");
        }
    }

    async fn members_file_requests_and_admins_approve_or_reject_them(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member_user, member) = team(&app).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let (status, body) = send(app.post(&member, "/api/v1/time-off/requests").json(&json!({
            "leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-05",
            "requested_hours": 36.5, "comment": "Beach", "end_half_day": true
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Time-off request created successfully");
        let submitted = body["time_off_request"].clone();
        assert_eq!(submitted["status"], "submitted");
        assert_eq!(submitted["user_id"], member_user.user.id.to_string());
        assert_eq!(submitted["leave_type"], "VACATION");
        assert_eq!(submitted["requested_hours"], json!(36.5));
        assert_eq!(submitted["requested_comment"], "Beach");
        assert_eq!((submitted["start_half_day"].clone(), submitted["end_half_day"].clone()), (json!(false), json!(true)));
        assert!(submitted["submitted_at"].is_string());
        let draft = file(&app, &member, json!({
            "leave_type_id": vacation, "start_date": "2027-09-01", "end_date": "2027-09-01", "submit": false
        })).await;
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["submitted_at"], json!(null));
        assert_eq!(draft["requested_hours"], json!(null));

        // A member, even with write:time_entries, does not decide.
        let (status, _) = send(app.post(&member, &format!("/api/v1/time-off/requests/{}/approve", submitted["id"].as_str().unwrap()))).await;
        assert_eq!(status, 403);

        let (status, body) = send(app.post(&admin, &format!("/api/v1/time-off/requests/{}/approve", submitted["id"].as_str().unwrap())).json(&json!({"comment": "Enjoy"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Time-off request approved");
        assert_eq!(body["time_off_request"]["status"], "approved");
        assert_eq!(body["time_off_request"]["review_comment"], "Enjoy");
        assert_eq!(body["time_off_request"]["reviewed_by"], admin_user.user.id.to_string());
        assert!(body["time_off_request"]["reviewed_at"].is_string());
        for action in ["approve", "reject"] {
            let (status, body) = send(app.post(&admin, &format!("/api/v1/time-off/requests/{}/{action}", submitted["id"].as_str().unwrap()))).await;
            assert_eq!(status, 409, "{body}");
            assert_eq!(body["message"], "Request has already been processed");
        }
        // A draft may be decided directly (TimeTracker does), with no body at all.
        let (status, body) = send(app.post(&admin, &format!("/api/v1/time-off/requests/{}/reject", draft["id"].as_str().unwrap()))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Time-off request rejected");
        assert_eq!(body["time_off_request"]["status"], "rejected");
        assert_eq!(body["time_off_request"]["review_comment"], json!(null));
    }

    async fn bad_requests_get_400_naming_the_field(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let (_, disabled) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Off", "code": "off", "enabled": false}))).await;
        let disabled = disabled["leave_type"]["id"].as_str().unwrap().to_owned();
        let (_, stranger) = app.caller(true, ADMIN).await;
        let foreign = leave_type(&app, &stranger, "vacation").await;
        let ok = |extra: Value| {
            let mut body = json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-02"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        for (body, field) in [
            (ok(json!({"end_date": "2027-06-30"})), "end_date"),
            (ok(json!({"start_date": "01/07/2027"})), "start_date"),
            (json!({"leave_type_id": vacation, "end_date": "2027-07-02"}), "start_date"),
            (ok(json!({"leave_type_id": disabled})), "leave_type_id"),
            (ok(json!({"leave_type_id": foreign})), "leave_type_id"),
            (ok(json!({"leave_type_id": uuid::Uuid::now_v7()})), "leave_type_id"),
            (ok(json!({"requested_hours": -4})), "requested_hours"),
            (ok(json!({"requested_hours": "7.125"})), "requested_hours"),
        ] {
            let (status, answer) = send(app.post(&member, "/api/v1/time-off/requests").json(&body)).await;
            assert_eq!(status, 400, "{body}: {answer}");
            assert!(answer["errors"][field].is_array(), "{field}: {answer}");
        }
        let (_, list) = send(app.get(&member, "/api/v1/time-off/requests")).await;
        assert_eq!(list["pagination"]["total"], 0);
    }

    async fn members_see_their_own_requests_and_admins_see_everyones(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member_user, member) = team(&app).await;
        let colleague = app.member_in(&admin_user.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MEMBER).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let july = file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-10"})).await;
        let draft = file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-09-01", "end_date": "2027-09-01", "submit": false})).await;
        let theirs = file(&app, &colleague_token, json!({"leave_type_id": vacation, "start_date": "2027-08-01", "end_date": "2027-08-01"})).await;

        let (status, mine) = send(app.get(&member, "/api/v1/time-off/requests")).await;
        assert_eq!(status, 200, "{mine}");
        assert_eq!(ids(&mine, "time_off_requests"), [draft["id"].as_str().unwrap(), july["id"].as_str().unwrap()]);
        let (_, same) = send(app.get(&member, &format!("/api/v1/time-off/requests?user_id={}", member_user.user.id))).await;
        assert_eq!(same, mine);
        let (status, body) = send(app.get(&member, &format!("/api/v1/time-off/requests?user_id={}", colleague.user.id))).await;
        assert_eq!(status, 403, "{body}");

        let (_, all) = send(app.get(&admin, "/api/v1/time-off/requests")).await;
        assert_eq!(all["pagination"]["total"], 3);
        let (_, only) = send(app.get(&admin, &format!("/api/v1/time-off/requests?user_id={}", colleague.user.id))).await;
        assert_eq!(ids(&only, "time_off_requests"), [theirs["id"].as_str().unwrap()]);
        let (_, drafts) = send(app.get(&admin, "/api/v1/time-off/requests?status=draft")).await;
        assert_eq!(ids(&drafts, "time_off_requests"), [draft["id"].as_str().unwrap()]);
        let (_, summer) = send(app.get(&admin, "/api/v1/time-off/requests?start_date=2027-07-10&end_date=2027-08-01")).await;
        assert_eq!(ids(&summer, "time_off_requests"), [theirs["id"].as_str().unwrap(), july["id"].as_str().unwrap()]);
        let (status, body) = send(app.get(&admin, "/api/v1/time-off/requests?status=pending")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["status"].is_array(), "{body}");
        let (status, body) = send(app.get(&admin, "/api/v1/time-off/requests?end_date=2027-13-01")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["end_date"].is_array(), "{body}");
    }

    async fn requests_are_deleted_by_their_owner_or_an_admin_until_decided(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, _, member) = team(&app).await;
        let colleague = app.member_in(&admin_user.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MEMBER).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let body = json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-01"});
        let first = file(&app, &member, body.clone()).await;
        let second = file(&app, &member, body.clone()).await;
        let third = file(&app, &member, body).await;
        let path = |r: &Value| format!("/api/v1/time-off/requests/{}", r["id"].as_str().unwrap());

        let (status, answer) = send(app.delete(&colleague_token, &path(&first))).await;
        assert_eq!(status, 403, "{answer}");
        let (status, answer) = send(app.delete(&member, &path(&first))).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["message"], "Time-off request deleted successfully");
        assert_eq!(answer["time_off_request"]["id"], first["id"]);
        let (status, _) = send(app.delete(&member, &path(&first))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.delete(&admin, &path(&second))).await;
        assert_eq!(status, 200);
        send(app.post(&admin, &format!("{}/approve", path(&third)))).await;
        let (status, answer) = send(app.delete(&member, &path(&third))).await;
        assert_eq!(status, 409, "{answer}");
        assert_eq!(answer["message"], "Only draft, submitted, or cancelled requests can be deleted");
    }

    async fn another_workspaces_time_off_is_not_found(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let (_, stranger) = app.caller(true, ADMIN).await;
        let vacation = leave_type(&app, &admin, "vacation").await;
        let request = file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-01"})).await;
        let request = request["id"].as_str().unwrap();
        let (_, holiday) = send(app.post(&admin, "/api/v1/time-off/holidays").json(&json!({"name": "H", "start_date": "2027-01-01", "end_date": "2027-01-01"}))).await;
        let holiday = holiday["holiday"]["id"].as_str().unwrap();
        for request in [
            app.post(&stranger, &format!("/api/v1/time-off/requests/{request}/approve")),
            app.post(&stranger, &format!("/api/v1/time-off/requests/{request}/reject")),
            app.delete(&stranger, &format!("/api/v1/time-off/requests/{request}")),
            app.delete(&stranger, &format!("/api/v1/time-off/leave-types/{vacation}")),
            app.delete(&stranger, &format!("/api/v1/time-off/holidays/{holiday}")),
            app.delete(&stranger, "/api/v1/time-off/holidays/not-a-uuid"),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        for path in ["/api/v1/time-off/requests", "/api/v1/time-off/leave-types", "/api/v1/time-off/holidays"] {
            let (_, list) = send(app.get(&stranger, path)).await;
            assert_eq!(list["pagination"]["total"], 0, "{path}");
        }
    }

    async fn time_off_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = uuid::Uuid::now_v7();
        // Writes are admin-only: the matrix's member is an admin, so only scopes decide.
        scope_matrix(&app, true, "reports", &[
            (Method::GET, "/api/v1/time-off/leave-types".into(), Needs::Read),
            (Method::POST, "/api/v1/time-off/leave-types".into(), Needs::Write),
            (Method::DELETE, format!("/api/v1/time-off/leave-types/{id}"), Needs::Write),
            (Method::GET, "/api/v1/time-off/holidays".into(), Needs::Read),
            (Method::POST, "/api/v1/time-off/holidays".into(), Needs::Write),
            (Method::DELETE, format!("/api/v1/time-off/holidays/{id}"), Needs::Write),
        ]).await;
        scope_matrix(&app, true, "time_entries", &[
            (Method::GET, "/api/v1/time-off/requests".into(), Needs::Read),
            (Method::POST, "/api/v1/time-off/requests".into(), Needs::Write),
            (Method::POST, format!("/api/v1/time-off/requests/{id}/approve"), Needs::Write),
            (Method::POST, format!("/api/v1/time-off/requests/{id}/reject"), Needs::Write),
            (Method::DELETE, format!("/api/v1/time-off/requests/{id}"), Needs::Write),
        ]).await;
    }

    async fn each_time_off_change_is_one_event_and_a_failed_one_none(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, member) = team(&app).await;
        let after = last_sequence(&app, &admin).await;
        let (_, created_type) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Vacation", "code": "vacation"}))).await;
        let vacation = created_type["leave_type"]["id"].as_str().unwrap().to_owned();
        let (_, holiday) = send(app.post(&admin, "/api/v1/time-off/holidays").json(&json!({"name": "H", "start_date": "2027-01-01", "end_date": "2027-01-01"}))).await;
        let holiday_id = holiday["holiday"]["id"].as_str().unwrap().to_owned();
        let (_, deleted_holiday) = send(app.delete(&admin, &format!("/api/v1/time-off/holidays/{holiday_id}"))).await;
        let request = file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-07-01", "end_date": "2027-07-01"})).await;
        let request_id = request["id"].as_str().unwrap().to_owned();
        let (_, approved) = send(app.post(&admin, &format!("/api/v1/time-off/requests/{request_id}/approve"))).await;
        let other = file(&app, &member, json!({"leave_type_id": vacation, "start_date": "2027-08-01", "end_date": "2027-08-01"})).await;
        let (_, deleted) = send(app.delete(&member, &format!("/api/v1/time-off/requests/{}", other["id"].as_str().unwrap()))).await;
        let (_, lone) = send(app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Lone", "code": "lone"}))).await;
        let (_, deleted_type) = send(app.delete(&admin, &format!("/api/v1/time-off/leave-types/{}", lone["leave_type"]["id"].as_str().unwrap()))).await;

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, [
            "leave_type.created", "holiday.created", "holiday.deleted", "time_off_request.created",
            "time_off_request.updated", "time_off_request.created", "time_off_request.deleted",
            "leave_type.created", "leave_type.deleted",
        ]);
        assert_eq!(events[0]["data"], created_type["leave_type"]);
        assert_eq!(events[1]["data"], holiday["holiday"]);
        assert_eq!(events[2]["data"], deleted_holiday["holiday"]);
        assert_eq!(events[3]["data"], request);
        assert_eq!(events[4]["data"], approved["time_off_request"]);
        assert_eq!(events[4]["resource"], json!({"type": "time_off_request", "id": request_id}));
        assert_eq!(events[6]["data"], deleted["time_off_request"]);
        assert_eq!(events[8]["data"], deleted_type["leave_type"]);

        // Refused changes write nothing.
        let before = last_sequence(&app, &admin).await;
        for request in [
            app.post(&admin, &format!("/api/v1/time-off/requests/{request_id}/reject")),
            app.delete(&member, &format!("/api/v1/time-off/requests/{request_id}")),
            app.delete(&admin, &format!("/api/v1/time-off/leave-types/{vacation}")),
            app.post(&admin, "/api/v1/time-off/leave-types").json(&json!({"name": "Again", "code": "VACATION"})),
            app.post(&member, "/api/v1/time-off/holidays").json(&json!({"name": "H", "start_date": "2027-01-01", "end_date": "2027-01-01"})),
            app.post(&member, "/api/v1/time-off/requests").json(&json!({"leave_type_id": vacation, "start_date": "2027-07-02", "end_date": "2027-07-01"})),
        ] {
            let (status, body) = send(request).await;
            assert!((400..500).contains(&status), "{status}: {body}");
        }
        assert!(events_after(&app, &admin, before).await.is_empty());
    }
}
