//! `/api/v1/timesheet-periods`: weekly periods opened by date, submitted by their owner,
//! approved or rejected by an admin; hours worked, visibility, scopes and events.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, macros::datetime};
use timebridge::{directory::Member, tracking::time_entries::entity as time_entry};
use uuid::Uuid;

use crate::{both, support::*};

const ADMIN: &[&str] = &["read:time_entries", "write:time_entries", "admin:all"];
const MEMBER: &[&str] = &["read:time_entries", "write:time_entries"];

/// An admin of a new workspace and a member of the same one, with their tokens.
async fn team(app: &TestApp) -> (Member, String, Member, String) {
    let (admin, admin_token) = app.caller(true, ADMIN).await;
    let member = app.member_in(&admin.workspace.name, false, None).await;
    let member_token = app.token(&member, MEMBER).await;
    (admin, admin_token, member, member_token)
}

/// Opens the week of `date` for the token's user (or `user_id`), expecting `status`.
async fn open(app: &TestApp, token: &str, body: Value, status: u16) -> Value {
    let (got, body) = send(app.post(token, "/api/v1/timesheet-periods").json(&body)).await;
    assert_eq!(got, status, "{body}");
    body["timesheet_period"].clone()
}

fn path(period: &Value, action: &str) -> String {
    let id = period["id"].as_str().unwrap();
    if action.is_empty() {
        format!("/api/v1/timesheet-periods/{id}")
    } else {
        format!("/api/v1/timesheet-periods/{id}/{action}")
    }
}

/// A time entry written straight to the database: finished after `seconds`, or running.
async fn entry(
    app: &TestApp,
    member: &Member,
    start: OffsetDateTime,
    seconds: Option<i64>,
) -> Uuid {
    let id = Uuid::now_v7();
    time_entry::ActiveModel {
        id: Set(id),
        workspace_id: Set(member.workspace.id),
        user_id: Set(member.user.id),
        project_id: Set(None),
        task_id: Set(None),
        start_time: Set(start),
        end_time: Set(seconds.map(|s| start + Duration::seconds(s))),
        duration_seconds: Set(seconds),
        notes: Set(None),
        billable: Set(false),
        paid: Set(false),
        invoice_id: Set(None),
        source: Set("manual".into()),
        running_user_id: Set(seconds.is_none().then_some(member.user.id)),
        created_at: Set(start),
        updated_at: Set(start),
    }
    .insert(app.db.conn())
    .await
    .expect("entry inserted");
    id
}

async fn last_sequence(app: &TestApp, admin_token: &str) -> i64 {
    let events = events_after(app, admin_token, 0).await;
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

fn ids(list: &Value) -> Vec<String> {
    list["timesheet_periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

both! {
    async fn a_period_is_the_monday_to_sunday_week_of_the_reference_date(backend) {
        let app = TestApp::start(backend).await;
        let (_, _, member, token) = team(&app).await;
        let (status, body) = send(app.post(&token, "/api/v1/timesheet-periods").json(&json!({"reference_date": "2027-03-03"}))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "Timesheet period created successfully");
        let period = &body["timesheet_period"];
        assert_eq!(period["user_id"], member.user.id.to_string());
        assert_eq!(period["period_type"], "weekly");
        assert_eq!(period["period_start"], "2027-03-01");
        assert_eq!(period["period_end"], "2027-03-07");
        assert_eq!(period["status"], "draft");
        assert_eq!(period["total_hours"], json!(0.0), "hours print as 0.00 like everywhere else");
        assert_eq!(period["submitted_at"], json!(null));

        // Any day of the same week answers the same period, with 200.
        for day in ["2027-03-01", "2027-03-07"] {
            let again = open(&app, &token, json!({"reference_date": day, "period_type": "weekly"}), 200).await;
            assert_eq!(again, *period);
        }
        // Without a body: this week (UTC).
        let (status, body) = send(app.post(&token, "/api/v1/timesheet-periods")).await;
        assert_eq!(status, 201, "{body}");
        let today = OffsetDateTime::now_utc().date();
        let start = time::Date::parse(body["timesheet_period"]["period_start"].as_str().unwrap(), time::macros::format_description!("[year]-[month]-[day]")).unwrap();
        assert_eq!(start.weekday(), time::Weekday::Monday);
        assert!(start <= today && today < start + Duration::days(7));
    }

    async fn bad_period_input_gets_400_naming_the_field(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, token) = team(&app).await;
        let (_, stranger) = app.caller(true, ADMIN).await;
        let stranger_id = send(app.post(&stranger, "/api/v1/timesheet-periods")).await.1["timesheet_period"]["user_id"].clone();
        for (token, body, field) in [
            (&token, json!({"reference_date": "2027-02-30"}), "reference_date"),
            (&token, json!({"reference_date": "next week"}), "reference_date"),
            (&token, json!({"period_type": "monthly"}), "period_type"),
            (&admin, json!({"user_id": stranger_id}), "user_id"),
            (&admin, json!({"user_id": "me"}), "user_id"),
        ] {
            let (status, answer) = send(app.post(token, "/api/v1/timesheet-periods").json(&body)).await;
            assert_eq!(status, 400, "{body}: {answer}");
            assert!(answer["errors"][field].is_array(), "{field}: {answer}");
        }
        for (query, field) in [("start_date=2027-03-08&end_date=2027-03-01", "end_date"), ("start_date=monday", "start_date")] {
            let (status, answer) = send(app.get(&token, &format!("/api/v1/timesheet-periods?{query}"))).await;
            assert_eq!(status, 400, "{query}: {answer}");
            assert!(answer["errors"][field].is_array(), "{field}: {answer}");
        }
    }

    async fn total_hours_add_up_the_owners_finished_entries_of_the_week(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member, token) = team(&app).await;
        entry(&app, &member, datetime!(2027-03-01 00:00 UTC), Some(2 * 3600)).await;
        entry(&app, &member, datetime!(2027-03-07 23:00 UTC), Some(5400)).await;
        entry(&app, &member, datetime!(2027-03-04 09:00 UTC), None).await; // running
        entry(&app, &member, datetime!(2027-03-08 00:00 UTC), Some(3600)).await; // next week
        entry(&app, &member, datetime!(2027-02-28 23:59 UTC), Some(3600)).await; // last week
        entry(&app, &admin_user, datetime!(2027-03-02 09:00 UTC), Some(3600)).await; // someone else
        let period = open(&app, &token, json!({"reference_date": "2027-03-02"}), 201).await;
        assert_eq!(period["total_hours"], json!(3.5));
        let next = open(&app, &token, json!({"reference_date": "2027-03-08"}), 201).await;
        assert_eq!(next["total_hours"], json!(1.0));
        let theirs = open(&app, &admin, json!({"reference_date": "2027-03-02"}), 201).await;

        let (status, list) = send(app.get(&admin, "/api/v1/timesheet-periods")).await;
        assert_eq!(status, 200, "{list}");
        let totals: Vec<_> = list["timesheet_periods"].as_array().unwrap().iter().map(|p| (p["id"].clone(), p["total_hours"].clone())).collect();
        assert_eq!(totals.len(), 3);
        assert!(totals.contains(&(period["id"].clone(), json!(3.5))), "{list}");
        assert!(totals.contains(&(next["id"].clone(), json!(1.0))), "{list}");
        assert!(totals.contains(&(theirs["id"].clone(), json!(1.0))), "{list}");
    }

    async fn periods_are_submitted_then_approved_or_rejected_and_resubmitted(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member, token) = team(&app).await;
        let period = open(&app, &token, json!({"reference_date": "2027-03-01"}), 201).await;
        let (status, body) = send(app.post(&token, &path(&period, "submit"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Timesheet period submitted");
        assert_eq!(body["timesheet_period"]["status"], "submitted");
        assert_eq!(body["timesheet_period"]["submitted_by"], member.user.id.to_string());
        assert!(body["timesheet_period"]["submitted_at"].is_string());
        let (status, body) = send(app.post(&token, &path(&period, "submit"))).await;
        assert_eq!(status, 409, "{body}");

        let (status, body) = send(app.post(&admin, &path(&period, "approve")).json(&json!({"comment": "Thanks"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Timesheet period approved");
        let approved = &body["timesheet_period"];
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["approved_by"], admin_user.user.id.to_string());
        assert_eq!(approved["approval_comment"], "Thanks");
        for (request, action) in [
            (app.post(&admin, &path(&period, "approve")), "approve"),
            (app.post(&admin, &path(&period, "reject")).json(&json!({"reason": "Late"})), "reject"),
            (app.post(&token, &path(&period, "submit")), "submit"),
            (app.delete(&token, &path(&period, "")), "delete"),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 409, "{action}: {body}");
            assert_eq!(body["error_code"], "conflict");
        }

        let second = open(&app, &token, json!({"reference_date": "2027-03-08"}), 201).await;
        let (status, body) = send(app.post(&admin, &path(&second, "reject")).json(&json!({"reason": "Not yet"}))).await;
        assert_eq!(status, 409, "a draft cannot be rejected: {body}");
        send(app.post(&token, &path(&second, "submit"))).await;
        for body in [json!({}), json!({"reason": "  "})] {
            let (status, answer) = send(app.post(&admin, &path(&second, "reject")).json(&body)).await;
            assert_eq!(status, 400, "{answer}");
            assert!(answer["errors"]["reason"].is_array(), "{answer}");
        }
        let (status, body) = send(app.post(&admin, &path(&second, "reject")).json(&json!({"reason": "Missing Friday"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Timesheet period rejected");
        assert_eq!(body["timesheet_period"]["status"], "rejected");
        assert_eq!(body["timesheet_period"]["rejection_reason"], "Missing Friday");
        assert_eq!(body["timesheet_period"]["rejected_by"], admin_user.user.id.to_string());
        let (status, body) = send(app.post(&token, &path(&second, "submit"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["timesheet_period"]["status"], "submitted");
    }

    async fn only_admins_decide_and_only_owners_submit(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member, token) = team(&app).await;
        let colleague = app.member_in(&admin_user.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MEMBER).await;
        // Admins open a member's period; members cannot open someone else's.
        let period = open(&app, &admin, json!({"reference_date": "2027-03-01", "user_id": member.user.id}), 201).await;
        assert_eq!(period["user_id"], member.user.id.to_string());
        let (status, body) = send(app.post(&token, "/api/v1/timesheet-periods").json(&json!({"user_id": colleague.user.id}))).await;
        assert_eq!(status, 403, "{body}");

        for request in [
            app.post(&admin, &path(&period, "submit")),
            app.post(&colleague_token, &path(&period, "submit")),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 403, "{body}");
        }
        send(app.post(&token, &path(&period, "submit"))).await;
        for request in [
            app.post(&token, &path(&period, "approve")),
            app.post(&token, &path(&period, "reject")).json(&json!({"reason": "I changed my mind"})),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 403, "{body}");
            assert_eq!(body["error_code"], "forbidden");
        }
        let (_, list) = send(app.get(&token, "/api/v1/timesheet-periods")).await;
        assert_eq!(list["timesheet_periods"][0]["status"], "submitted");
    }

    async fn a_running_timer_in_the_period_blocks_submitting_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, member, token) = team(&app).await;
        let period = open(&app, &token, json!({"reference_date": "2027-03-01"}), 201).await;
        let running = entry(&app, &member, datetime!(2027-03-05 09:00 UTC), None).await;
        let before = last_sequence(&app, &admin).await;
        let (status, body) = send(app.post(&token, &path(&period, "submit"))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["message"], "Stop active timers in this period before submitting");
        assert!(events_after(&app, &admin, before).await.is_empty());

        time_entry::ActiveModel {
            id: Set(running),
            end_time: Set(Some(datetime!(2027-03-05 10:00 UTC))),
            duration_seconds: Set(Some(3600)),
            running_user_id: Set(None),
            ..Default::default()
        }
        .update(app.db.conn())
        .await
        .expect("timer stopped");
        let (status, body) = send(app.post(&token, &path(&period, "submit"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["timesheet_period"]["total_hours"], json!(1.0));
    }

    async fn only_draft_or_rejected_periods_are_deleted_by_owner_or_admin(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, _, token) = team(&app).await;
        let colleague = app.member_in(&admin_user.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MEMBER).await;
        let draft = open(&app, &token, json!({"reference_date": "2027-03-01"}), 201).await;
        let rejected = open(&app, &token, json!({"reference_date": "2027-03-08"}), 201).await;
        let submitted = open(&app, &token, json!({"reference_date": "2027-03-15"}), 201).await;
        send(app.post(&token, &path(&rejected, "submit"))).await;
        send(app.post(&admin, &path(&rejected, "reject")).json(&json!({"reason": "No"}))).await;
        send(app.post(&token, &path(&submitted, "submit"))).await;

        let (status, body) = send(app.delete(&colleague_token, &path(&draft, ""))).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = send(app.delete(&token, &path(&draft, ""))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Timesheet period deleted successfully");
        assert_eq!(body["timesheet_period"]["id"], draft["id"]);
        let (status, _) = send(app.delete(&token, &path(&draft, ""))).await;
        assert_eq!(status, 404);
        let (status, body) = send(app.delete(&admin, &path(&rejected, ""))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = send(app.delete(&admin, &path(&submitted, ""))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["message"], "Only draft or rejected periods can be deleted");
    }

    async fn members_see_their_own_periods_and_admins_see_everyones(backend) {
        let app = TestApp::start(backend).await;
        let (admin_user, admin, member, token) = team(&app).await;
        let colleague = app.member_in(&admin_user.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MEMBER).await;
        let march = open(&app, &token, json!({"reference_date": "2027-03-01"}), 201).await;
        let april = open(&app, &token, json!({"reference_date": "2027-04-05"}), 201).await;
        let theirs = open(&app, &colleague_token, json!({"reference_date": "2027-03-10"}), 201).await;
        send(app.post(&token, &path(&april, "submit"))).await;

        let (status, mine) = send(app.get(&token, "/api/v1/timesheet-periods")).await;
        assert_eq!(status, 200, "{mine}");
        assert_eq!(ids(&mine), [april["id"].as_str().unwrap(), march["id"].as_str().unwrap()]);
        assert_eq!(mine["pagination"]["total"], 2);
        let (status, _) = send(app.get(&token, &format!("/api/v1/timesheet-periods?user_id={}", colleague.user.id))).await;
        assert_eq!(status, 403);
        let (_, same) = send(app.get(&token, &format!("/api/v1/timesheet-periods?user_id={}", member.user.id))).await;
        assert_eq!(same, mine);

        let (_, all) = send(app.get(&admin, "/api/v1/timesheet-periods")).await;
        assert_eq!(ids(&all), [april["id"].as_str().unwrap(), theirs["id"].as_str().unwrap(), march["id"].as_str().unwrap()]);
        let (_, only) = send(app.get(&admin, &format!("/api/v1/timesheet-periods?user_id={}", colleague.user.id))).await;
        assert_eq!(ids(&only), [theirs["id"].as_str().unwrap()]);
        let (_, submitted) = send(app.get(&admin, "/api/v1/timesheet-periods?status=submitted")).await;
        assert_eq!(ids(&submitted), [april["id"].as_str().unwrap()]);
        let (_, range) = send(app.get(&admin, "/api/v1/timesheet-periods?start_date=2027-03-07&end_date=2027-03-08")).await;
        assert_eq!(ids(&range), [theirs["id"].as_str().unwrap(), march["id"].as_str().unwrap()]);
    }

    async fn another_workspaces_periods_are_not_found(backend) {
        let app = TestApp::start(backend).await;
        let (_, _, _, token) = team(&app).await;
        let (_, stranger) = app.caller(true, ADMIN).await;
        let period = open(&app, &token, json!({"reference_date": "2027-03-01"}), 201).await;
        send(app.post(&token, &path(&period, "submit"))).await;
        for request in [
            app.post(&stranger, &path(&period, "submit")),
            app.post(&stranger, &path(&period, "approve")),
            app.post(&stranger, &path(&period, "reject")).json(&json!({"reason": "No"})),
            app.delete(&stranger, &path(&period, "")),
            app.post(&stranger, "/api/v1/timesheet-periods/42/approve"),
        ] {
            let (status, body) = send(request).await;
            assert_eq!(status, 404, "{body}");
        }
        let (_, list) = send(app.get(&stranger, "/api/v1/timesheet-periods")).await;
        assert_eq!(list["pagination"]["total"], 0);
    }

    async fn timesheet_endpoints_follow_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        let id = Uuid::now_v7();
        // Approving and rejecting are admin-only: the matrix's member is an admin.
        scope_matrix(&app, true, "time_entries", &[
            (Method::GET, "/api/v1/timesheet-periods".into(), Needs::Read),
            (Method::POST, "/api/v1/timesheet-periods".into(), Needs::Write),
            (Method::POST, format!("/api/v1/timesheet-periods/{id}/submit"), Needs::Write),
            (Method::POST, format!("/api/v1/timesheet-periods/{id}/approve"), Needs::Write),
            (Method::POST, format!("/api/v1/timesheet-periods/{id}/reject"), Needs::Write),
            (Method::DELETE, format!("/api/v1/timesheet-periods/{id}"), Needs::Write),
        ]).await;
    }

    async fn each_period_change_is_one_event_and_a_failed_one_none(backend) {
        let app = TestApp::start(backend).await;
        let (_, admin, _, token) = team(&app).await;
        let after = last_sequence(&app, &admin).await;
        let (_, created) = send(app.post(&token, "/api/v1/timesheet-periods").json(&json!({"reference_date": "2027-03-01"}))).await;
        let period = created["timesheet_period"].clone();
        open(&app, &token, json!({"reference_date": "2027-03-02"}), 200).await;
        let (_, submitted) = send(app.post(&token, &path(&period, "submit"))).await;
        let (_, rejected) = send(app.post(&admin, &path(&period, "reject")).json(&json!({"reason": "No"}))).await;
        send(app.post(&token, &path(&period, "submit"))).await;
        let (_, approved) = send(app.post(&admin, &path(&period, "approve"))).await;
        let draft = open(&app, &token, json!({"reference_date": "2027-03-08"}), 201).await;
        let (_, deleted) = send(app.delete(&token, &path(&draft, ""))).await;

        let events = events_after(&app, &admin, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, [
            "timesheet_period.created", "approval.requested", "approval.status_updated",
            "approval.requested", "approval.status_updated", "timesheet_period.created",
            "timesheet_period.deleted",
        ]);
        assert_eq!(events[0]["data"], period);
        assert_eq!(events[1]["data"], submitted["timesheet_period"]);
        assert_eq!(events[1]["resource"], json!({"type": "timesheet_period", "id": period["id"]}));
        assert_eq!(events[2]["data"], rejected["timesheet_period"]);
        assert_eq!(events[4]["data"], approved["timesheet_period"]);
        assert_eq!(events[4]["data"]["status"], "approved");
        assert_eq!(events[6]["data"], deleted["timesheet_period"]);

        let before = last_sequence(&app, &admin).await;
        for request in [
            app.post(&token, &path(&period, "submit")),
            app.post(&admin, &path(&period, "approve")),
            app.post(&token, &path(&period, "approve")),
            app.delete(&token, &path(&period, "")),
            app.post(&token, "/api/v1/timesheet-periods").json(&json!({"reference_date": "2027-03-03"})),
        ] {
            let (status, body) = send(request).await;
            assert!(status == 200 || (400..500).contains(&status), "{status}: {body}");
        }
        assert!(events_after(&app, &admin, before).await.is_empty());
    }
}
