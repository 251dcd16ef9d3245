//! `GET /api/v1/reports/summary` end to end: the numbers, visibility, date bounds, scopes.

use reqwest::Method;
use serde_json::{Value, json};
use timebridge::directory::Member;

use crate::{
    billing::{client, entry, project},
    both,
    support::*,
};

const SETUP: &[&str] = &["read:reports", "write:clients", "write:projects"];

/// A workspace with an admin and a member and a week of time:
/// - admin: Alpha 1 h billable and 0.5 h not (Mar 2), Beta 1.5 h billable (Mar 3), 20 min
///   billable without a project (Mar 3);
/// - member: Alpha 1 h 20 min billable (Mar 4, 23:30), a running timer (Mar 4);
/// - both: time outside Mar 1–4.
struct Fixture {
    admin: Member,
    admin_token: String,
    member: Member,
    member_token: String,
    alpha: String,
    beta: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let (admin, admin_token) = app.caller(true, SETUP).await;
    let member = app.member_in(&admin.workspace.name, false, None).await;
    let member_token = app.token(&member, &["read:reports"]).await;
    let acme = client(app, &admin_token, "Acme", Some("80")).await;
    let alpha = project(app, &admin_token, "Alpha", Some(&acme), Some("100")).await;
    let beta = project(app, &admin_token, "Beta", Some(&acme), None).await;
    entry(
        app,
        &admin,
        Some(&alpha),
        "2026-03-02T09:00:00Z",
        Some(3600),
        true,
    )
    .await;
    entry(
        app,
        &admin,
        Some(&alpha),
        "2026-03-02T14:00:00Z",
        Some(1800),
        false,
    )
    .await;
    entry(
        app,
        &admin,
        Some(&beta),
        "2026-03-03T10:00:00Z",
        Some(5400),
        true,
    )
    .await;
    entry(app, &admin, None, "2026-03-03T16:00:00Z", Some(1200), true).await;
    entry(
        app,
        &member,
        Some(&alpha),
        "2026-03-04T23:30:00Z",
        Some(4800),
        true,
    )
    .await;
    entry(
        app,
        &member,
        Some(&alpha),
        "2026-03-04T08:00:00Z",
        None,
        true,
    )
    .await;
    entry(
        app,
        &admin,
        Some(&alpha),
        "2026-02-28T23:59:59Z",
        Some(3600),
        true,
    )
    .await;
    entry(
        app,
        &member,
        Some(&beta),
        "2026-03-05T00:00:00Z",
        Some(3600),
        true,
    )
    .await;
    Fixture {
        admin,
        admin_token,
        member,
        member_token,
        alpha,
        beta,
    }
}

async fn summary(app: &TestApp, token: &str, query: &str) -> (u16, Value, String) {
    let response = app
        .get(token, &format!("/api/v1/reports/summary?{query}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

const MARCH: &str = "start_date=2026-03-01&end_date=2026-03-04";

/// Hundredths of a JSON number (hours and amounts have at most two decimals).
fn hundredths(v: &Value) -> i64 {
    (v.as_f64().unwrap_or_else(|| panic!("a number: {v}")) * 100.0).round() as i64
}

/// Every breakdown of a summary adds up to its totals: hours, billable hours, entries, amounts.
fn assert_rows_add_up(summary: &Value) {
    let total = |rows: &str, field: &str| -> i64 {
        summary[rows]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| hundredths(&r[field]))
            .sum()
    };
    for rows in ["by_project", "by_user", "by_day"] {
        assert_eq!(
            total(rows, "hours"),
            hundredths(&summary["total_hours"]),
            "{rows}: {summary}"
        );
        assert_eq!(
            total(rows, "billable_hours"),
            hundredths(&summary["billable_hours"]),
            "{rows}: {summary}"
        );
    }
    for rows in ["by_project", "by_user"] {
        let entries: u64 = summary[rows]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["entries"].as_u64().unwrap())
            .sum();
        assert_eq!(
            entries,
            summary["total_entries"].as_u64().unwrap(),
            "{rows}: {summary}"
        );
    }
    assert_eq!(
        total("by_project", "billable_amount"),
        hundredths(&summary["billable_amount"]),
        "{summary}"
    );
}

both! {
    async fn the_summary_adds_up_hours_and_amounts_by_project_user_and_day(backend) {
        let app = TestApp::start(backend).await;
        let f = fixture(&app).await;
        let (status, body, text) = summary(&app, &f.admin_token, MARCH).await;
        assert_eq!(status, 200, "{text}");
        // 16800 s = 4.67 h; billable 15000 s = 4.17 h. Each breakdown shares those hundredths
        // out: Alpha's 2.833 h and the 0.333 h without a project tie for the last one, which
        // goes to the larger (Alpha 2.84). Amounts follow the hours shown: Alpha 2.34 billable
        // h × 100 + Beta 1.5 h × 80 (the client's rate) = 354.00.
        assert!(text.contains(r#""total_hours":4.67,"billable_hours":4.17,"billable_amount":354.00,"total_entries":5"#), "{text}");
        let s = &body["summary"];
        assert_eq!(s["start_date"], "2026-03-01T00:00:00Z");
        assert_eq!(s["end_date"], "2026-03-04T23:59:59Z");
        assert_eq!(s["by_project"], json!([
            {"project_id": f.alpha, "project_name": "Alpha", "hours": 2.84, "billable_hours": 2.34, "billable_amount": 234.0, "entries": 3},
            {"project_id": f.beta, "project_name": "Beta", "hours": 1.5, "billable_hours": 1.5, "billable_amount": 120.0, "entries": 1},
            {"project_id": null, "project_name": "No project", "hours": 0.33, "billable_hours": 0.33, "billable_amount": 0.0, "entries": 1},
        ]));
        assert_eq!(s["by_user"], json!([
            {"user_id": f.admin.user.id, "user_name": "Test User", "hours": 3.34, "billable_hours": 2.84, "entries": 4},
            {"user_id": f.member.user.id, "user_name": "Test User", "hours": 1.33, "billable_hours": 1.33, "entries": 1},
        ]));
        assert_eq!(s["by_day"], json!([
            {"date": "2026-03-02", "hours": 1.5, "billable_hours": 1.0},
            {"date": "2026-03-03", "hours": 1.84, "billable_hours": 1.84},
            {"date": "2026-03-04", "hours": 1.33, "billable_hours": 1.33},
        ]));
        assert_rows_add_up(s);

        let (_, only_beta, _) = summary(&app, &f.admin_token, &format!("{MARCH}&project_id={}", f.beta)).await;
        assert_eq!(only_beta["summary"]["total_hours"], json!(1.5));
        assert_eq!(only_beta["summary"]["by_user"].as_array().unwrap().len(), 1);
    }

    async fn members_see_only_their_own_time_and_admins_anyones(backend) {
        let app = TestApp::start(backend).await;
        let f = fixture(&app).await;
        let (status, mine, _) = summary(&app, &f.member_token, MARCH).await;
        assert_eq!(status, 200);
        assert_eq!(mine["summary"]["total_entries"], 1);
        assert_eq!(mine["summary"]["by_user"][0]["user_id"], f.member.user.id.to_string());
        let (_, again, _) = summary(&app, &f.member_token, &format!("{MARCH}&user_id={}", f.member.user.id)).await;
        assert_eq!(again, mine);
        let (status, body, _) = summary(&app, &f.member_token, &format!("{MARCH}&user_id={}", f.admin.user.id)).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error_code"], "forbidden");
        let (_, theirs, _) = summary(&app, &f.admin_token, &format!("{MARCH}&user_id={}", f.member.user.id)).await;
        assert_eq!(theirs["summary"]["by_user"], mine["summary"]["by_user"]);
        assert_eq!(theirs["summary"]["billable_amount"], json!(133.0));
    }

    async fn date_bounds_cover_whole_days_or_exact_instants(backend) {
        let app = TestApp::start(backend).await;
        let f = fixture(&app).await;
        let (_, day, _) = summary(&app, &f.admin_token, "start_date=2026-03-04&end_date=2026-03-04").await;
        assert_eq!(day["summary"]["total_entries"], 1);
        let (_, instants, _) = summary(&app, &f.admin_token, "start_date=2026-03-02T12:00:00Z&end_date=2026-03-03T12:00:00%2B02:00").await;
        // Mar 2 14:00 and Mar 3 10:00 UTC (12:00+02:00 is 10:00 UTC, inclusive).
        assert_eq!(instants["summary"]["total_entries"], 2);
        assert_eq!(instants["summary"]["end_date"], "2026-03-03T10:00:00Z");

        let (status, body, _) = summary(&app, &f.admin_token, "start_date=2026-03-05&end_date=2026-03-04").await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["start_date"][0], "must not be after end_date", "{body}");
        // Without an end_date the range ends today: the refusal says so rather than naming a
        // field the client never sent.
        let (status, body, _) = summary(&app, &f.admin_token, "start_date=2999-01-01").await;
        assert_eq!(status, 400);
        let reason = body["errors"]["start_date"][0].as_str().unwrap_or_default();
        assert!(reason.starts_with("must not be after today"), "{body}");
        let (status, body, _) = summary(&app, &f.admin_token, "start_date=yesterday&end_date=2026-13-01").await;
        assert_eq!(status, 400);
        assert!(body["errors"]["start_date"].is_array(), "{body}");
        assert!(body["errors"]["end_date"].is_array(), "{body}");
        let (status, body, _) = summary(&app, &f.admin_token, "project_id=nope").await;
        assert_eq!(status, 400);
        assert!(body["errors"]["project_id"].is_array(), "{body}");
    }

    async fn by_default_the_summary_covers_the_last_30_days(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, SETUP).await;
        let now = time::OffsetDateTime::now_utc();
        let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
        entry(&app, &admin, None, &at(now - time::Duration::hours(2)), Some(3600), false).await;
        entry(&app, &admin, None, &at(now - time::Duration::days(20)), Some(1800), false).await;
        entry(&app, &admin, None, &at(now - time::Duration::days(40)), Some(3600), false).await;
        let (status, body, text) = summary(&app, &token, "").await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["summary"]["total_entries"], 2);
        assert_eq!(body["summary"]["total_hours"], json!(1.5));
        assert_eq!(body["summary"]["billable_amount"], json!(0.0));
        assert_eq!(body["summary"]["by_project"], json!([
            {"project_id": null, "project_name": "No project", "hours": 1.5, "billable_hours": 0.0, "billable_amount": 0.0, "entries": 2},
        ]));
        let today = timebridge::platform::time::format_date(now.date());
        assert_eq!(body["summary"]["end_date"], format!("{today}T23:59:59Z"));
        // New time shows at once: the summary is not served from a stale cache.
        entry(&app, &admin, None, &at(now - time::Duration::hours(1)), Some(1800), false).await;
        let (_, body, _) = summary(&app, &token, "").await;
        assert_eq!(body["summary"]["total_entries"], 3);
    }

    async fn the_summary_follows_the_scope_matrix(backend) {
        let app = TestApp::start(backend).await;
        scope_matrix(&app, false, "reports", &[
            (Method::GET, "/api/v1/reports/summary".into(), Needs::Read),
        ]).await;
    }

    async fn time_without_a_project_is_reported_in_a_row_of_its_own(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, SETUP).await;
        let site = project(&app, &token, "Website", None, Some("50")).await;
        entry(&app, &admin, Some(&site), "2026-03-02T09:00:00Z", Some(7200), true).await;
        entry(&app, &admin, None, "2026-03-02T13:00:00Z", Some(3600), true).await;
        let (status, body, text) = summary(&app, &token, "start_date=2026-03-02&end_date=2026-03-02").await;
        assert_eq!(status, 200, "{text}");
        let s = &body["summary"];
        assert_eq!(s["total_hours"], json!(3.0));
        assert_eq!(s["by_project"], json!([
            {"project_id": site, "project_name": "Website", "hours": 2.0, "billable_hours": 2.0, "billable_amount": 100.0, "entries": 1},
            {"project_id": null, "project_name": "No project", "hours": 1.0, "billable_hours": 1.0, "billable_amount": 0.0, "entries": 1},
        ]));
        assert_rows_add_up(s);
        // Asked for one project, there is no such row.
        let (_, body, _) = summary(&app, &token, &format!("start_date=2026-03-02&end_date=2026-03-02&project_id={site}")).await;
        assert_eq!(body["summary"]["by_project"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["summary"]["total_hours"], json!(2.0));
    }

    async fn the_rows_add_up_to_the_totals_whatever_the_rounding(backend) {
        let app = TestApp::start(backend).await;
        let (admin, token) = app.caller(true, SETUP).await;
        let colleague = app.member_in(&admin.workspace.name, false, None).await;
        let names = ["A", "B", "C"];
        let mut projects = Vec::new();
        for name in names {
            projects.push(project(&app, &token, name, None, Some("90")).await);
        }
        // 20-minute and 7-second entries: a third of an hour never rounds evenly.
        let mut minute = 0;
        for (i, who) in [&admin, &colleague, &admin, &colleague, &admin, &admin, &colleague].into_iter().enumerate() {
            let project = (i % 4 < 3).then(|| projects[i % 3].as_str());
            let start = format!("2026-03-0{}T{:02}:{:02}:00Z", 2 + i % 3, 8 + minute / 60, minute % 60);
            minute += 25;
            let seconds = if i % 2 == 0 { 1200 } else { 1207 };
            entry(&app, who, project, &start, Some(seconds), i != 3).await;
        }
        let (status, body, text) = summary(&app, &token, MARCH).await;
        assert_eq!(status, 200, "{text}");
        assert_rows_add_up(&body["summary"]);
    }
}
